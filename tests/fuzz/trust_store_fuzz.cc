// libFuzzer target for the trust store parser (the text in the trust_store region: written
// at provisioning, but read from flash that may be erased, torn or tampered with).
// Whatever parses round-trips: Serialize() parses back to the same hardware id and keys.
// Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/boot/trust_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto store = fw::boot::TrustStore::Parse(text);
  if (!store.ok()) return 0;
  if (store->hardware_id.empty() || store->boot_keys.empty() || store->boot_keys.size() > fw::boot::kMaxTrustedKeys) {
    __builtin_trap();
  }
  auto again = fw::boot::TrustStore::Parse(store->Serialize());
  if (!again.ok() || again->hardware_id != store->hardware_id || again->boot_keys.size() != store->boot_keys.size()) {
    __builtin_trap();
  }
  for (size_t i = 0; i < store->boot_keys.size(); ++i) {
    if (again->boot_keys[i].ToPem() != store->boot_keys[i].ToPem()) __builtin_trap();
  }
  return 0;
}
