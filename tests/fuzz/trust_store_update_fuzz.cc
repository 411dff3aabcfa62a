// libFuzzer target for trust-store update documents (manifests/docs/trust-store-update.md):
// the bytes a technician hands to `fwupdate trust-store apply`, hostile until verified.
// Whatever parses is well-formed (1..16 distinct boot keys, version >= 1, a hardware id)
// and round-trips: SerializeUpdate parses back to the same signed bytes, keys and
// signatures. Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/trust_store_update.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = fw::trust::ParseUpdate(text);
  if (!doc.ok()) return 0;
  const auto& u = doc->update;
  if (u.version < 1 || u.hardware_id.empty() || u.boot_keys.empty() ||
      u.boot_keys.size() > fw::trust::kMaxUpdateBootKeys) {
    __builtin_trap();
  }
  auto again = fw::trust::ParseUpdate(fw::trust::SerializeUpdate(*doc));
  if (!again.ok() || again->signed_bytes != doc->signed_bytes || again->signatures.size() != doc->signatures.size() ||
      again->update.boot_keys.size() != u.boot_keys.size()) {
    __builtin_trap();
  }
  for (size_t i = 0; i < u.boot_keys.size(); ++i) {
    if (again->update.boot_keys[i].Der() != u.boot_keys[i].Der()) __builtin_trap();
  }
  // The model serializes back to exactly the signed bytes (the document is canonical).
  auto re = fw::trust::SerializeUpdateSigned(u);
  if (!re.ok() || *re != doc->signed_bytes) __builtin_trap();
  return 0;
}
