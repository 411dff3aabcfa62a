// libFuzzer target for the audit heads file (fw::server::ParseAuditHeads, docs/fleet-audit.md):
// any text either parses or is refused with an error; what parses prints back, line by line, to
// text that parses to the same lines. Under g++ it replays the corpus.
#include <cstdint>
#include <string>
#include <string_view>

#include "fw/server/audit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lines = fw::server::ParseAuditHeads(text, "fuzz");
  if (!lines.ok()) {
    if (lines.status().code() != fw::ErrorCode::kCorrupt) __builtin_trap();
    return 0;
  }
  std::string again;
  for (const auto& l : *lines) {
    if (l.seq < 1 || l.time_s < 0 || l.exported_s < 0 || l.hash_hex.size() != 64) __builtin_trap();
    again += fw::server::AuditHeadLineText(l);
  }
  auto reparsed = fw::server::ParseAuditHeads(again, "fuzz");
  if (!reparsed.ok() || reparsed->size() != lines->size()) __builtin_trap();
  for (size_t i = 0; i < lines->size(); ++i) {
    const auto& a = (*lines)[i];
    const auto& b = (*reparsed)[i];
    if (a.seq != b.seq || a.hash_hex != b.hash_hex || a.time_s != b.time_s || a.exported_s != b.exported_s) {
      __builtin_trap();
    }
  }
  return 0;
}
