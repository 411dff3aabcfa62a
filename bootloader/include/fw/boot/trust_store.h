// Trust store: the device's hardware id and the public keys that may sign boot
// images. Stored as text in the trust_store region (read-only to the updater);
// the bytes after the text are padding (NUL or the erased value). Format
// (bootloader/README.md):
//
//   ptfw-trust-store 1
//   hardware-id: POS-X1
//   -----BEGIN PUBLIC KEY-----
//   ...                               one PEM block per boot verification key
//   -----END PUBLIC KEY-----
//
// Lines starting with '#' and blank lines are ignored; anything else is refused.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fw/boot/flash.h"
#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::boot {

inline constexpr size_t kMaxTrustedKeys = 16;

struct TrustStore {
  std::string hardware_id;
  std::vector<PublicKey> boot_keys;

  // Parses the text (up to the first NUL / 0xFF byte).
  static Result<TrustStore> Parse(std::string_view text);
  // Reads the whole region and parses it.
  static Result<TrustStore> Read(Flash& region);
  std::string Serialize() const;
  // Erases the region and writes Serialize() padded to the write alignment.
  Status Write(Flash& region) const;
};

}  // namespace fw::boot
