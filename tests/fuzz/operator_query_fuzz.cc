// libFuzzer target for the operator API's query, cursor and path parsers (fw/server/operator_messages.h):
// ParseQuery never accepts an unknown or repeated name or an over-long value, a decoded value holds no
// control character, a cursor decodes only for what it was made for, and segment ranges are ordered.
// Under g++ it replays the corpus.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/server/operator_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fw::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::vector<QueryParamSpec> kSpecs = {{"label", 64}, {"state", 16}, {"limit", 4}, {"cursor", 512}};
  auto q = ParseQuery(text, kSpecs);
  if (q.ok()) {
    if (q->size() > kSpecs.size()) __builtin_trap();
    for (const auto& [name, value] : *q) {
      size_t cap = 0;
      for (const auto& s : kSpecs) cap = s.name == name ? s.max_bytes : cap;
      if (cap == 0 || value.size() > cap) __builtin_trap();
      for (unsigned char c : value) {
        if (c < 0x20 || c == 0x7f) __builtin_trap();
      }
    }
    auto cursor = q->find("cursor");
    if (cursor != q->end()) {
      auto key = DecodeCursor(cursor->second, "devices", "");
      if (key.ok() && EncodeCursor("devices", "", *key) != cursor->second) __builtin_trap();
      if (DecodeCursor(cursor->second, "actions", "").ok() && key.ok()) __builtin_trap();
    }
  }
  auto key = DecodeCursor(text, "audit", "");
  if (key.ok() && EncodeCursor("audit", "", *key) != text) __builtin_trap();
  auto range = ParseSegmentRange(text);
  if (range.ok() && (range->first < 1 || range->second < range->first)) __builtin_trap();
  auto n = ParseDecimal("n", text, -1000, 1000);
  if (n.ok() && (*n < -1000 || *n > 1000)) __builtin_trap();
  return 0;
}
