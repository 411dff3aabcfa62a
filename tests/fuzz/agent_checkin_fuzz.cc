// libFuzzer target for the agent's check-in reply parser (fw::agent::ParseCheckinReply,
// docs/fleet-protocol.md): what a hostile or broken server can send a terminal. Whatever parses stays
// inside the documented bounds. Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/agent/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = fw::agent::ParseCheckinReply(text);
  if (!r.ok()) {
    if (r.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (size > fw::agent::kMaxReplyBytes) __builtin_trap();
  if (r->actions.size() > fw::agent::kMaxActions || r->cancels.size() > fw::agent::kMaxActions) __builtin_trap();
  if (r->device_state != "active" && r->device_state != "quarantined") __builtin_trap();
  for (const auto& a : r->actions) {
    if (a.id < 1 || a.attempt < 0 || a.last_seq < 0) __builtin_trap();
    if (a.kind != "journal_backup" && a.target_name.empty()) __builtin_trap();
    if (a.window && a.window->size() != 11) __builtin_trap();
  }
  if (r->journal_upload && (r->journal_upload->from_seq < 1 || r->journal_upload->epoch < 1)) __builtin_trap();
  return 0;
}
