// libFuzzer target for the action event parser of fwserver's device API (ParseEvent) and the
// state machine it feeds (ApplyEvent): whatever parses round-trips through its canonical
// text; applying it never moves an action backwards, never reopens a closed one, and never
// calls trial_set a success. Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/server/device_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = fw::server::ParseEvent(text);
  if (!e.ok()) return 0;
  if (text.size() > fw::server::kMaxEventBytes) __builtin_trap();
  const std::string once = fw::server::EventJson(*e);
  auto again = fw::server::ParseEvent(once);
  if (!again.ok() || fw::server::EventJson(*again) != once) __builtin_trap();
  for (const char* state : {"pending", "downloaded", "installing", "trial_set", "confirmed", "failed"}) {
    fw::server::Action a;
    a.kind = "install";
    a.state = state;
    a.attempt = 1;
    a.last_seq = 3;
    a.done = a.state == "failed";
    const fw::server::Action before = a;
    auto d = fw::server::ApplyEvent(a, *e, 100);
    if (d.outcome != fw::server::EventOutcome::kApplied) {
      if (a.state != before.state || a.last_seq != before.last_seq || a.done != before.done) __builtin_trap();
      continue;
    }
    if (before.done) __builtin_trap();
    if (a.state == "succeeded") __builtin_trap();  // only a check-in makes an install a success
    if (a.attempt == before.attempt && a.last_seq <= before.last_seq) __builtin_trap();
  }
  return 0;
}
