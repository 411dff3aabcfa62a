// libFuzzer target for the check-in manifest parser of fwserver's device API (ParseManifest,
// docs/fleet-protocol.md). Whatever parses round-trips through its canonical text, and the
// canonical text of a manifest is stable. Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/server/device_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = fw::server::ParseManifest(text);
  if (!m.ok()) return 0;
  if (text.size() > fw::server::kMaxCheckinBytes) __builtin_trap();
  const std::string once = fw::server::ManifestJson(*m);
  auto again = fw::server::ParseManifest(once);
  if (!again.ok() || fw::server::ManifestJson(*again) != once) __builtin_trap();
  fw::server::Action a;
  a.kind = "install";
  a.target_version = m->running.version;
  for (const char* state : {"trial_set", "rebooting", "confirmed", "downloading"}) {
    a.state = state;
    const std::string v = fw::server::CheckinVerdict(a, *m);
    if (v != "" && v != "succeeded" && v != "failed") __builtin_trap();
    if (v == "succeeded" && a.state != "confirmed") __builtin_trap();  // trial_set is never success
  }
  return 0;
}
