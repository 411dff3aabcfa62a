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
//
// Versions and cut-safe updates (bootloader/README.md, "Trust store"): the region is
// split into two copies of TrustStore::CopySize() bytes each (half the region, rounded down
// to erase blocks). A copy is either the provisioned text above at offset 0 (version
// 0, "legacy", as `fwboot provision` writes it) or a versioned copy: a 56-byte header
// (magic, format, text length, version, SHA-256 over header and text) followed by the
// same text. Read() takes the valid copy with the highest version; WriteVersion()
// writes only the other copy (erase, program, sync), reads it back from the medium,
// and never touches the copy in use, so a power cut at any write leaves the old or
// the new store. Failure model: errors are values (Corrupt for bytes that are no
// store, IoError for the flash, FailedPrecondition for a region that cannot hold
// two copies).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fw/boot/flash.h"
#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::boot {

inline constexpr size_t kMaxTrustedKeys = 16;

inline constexpr size_t kTrustStoreCopyHeaderSize = 56;

// What Read() found in each copy (for `fwupdate trust-store show` and tests).
struct TrustStoreCopyInfo {
  bool valid = false;
  bool legacy = false;   // the provisioned text format (version 0)
  uint64_t version = 0;  // when valid
  std::string problem;   // when not valid: why ("erased", "hash mismatch", ...)
};

struct TrustStore {
  std::string hardware_id;
  std::vector<PublicKey> boot_keys;
  uint64_t version = 0;  // 0: as provisioned; set by Read()
  int copy = 0;          // the copy Read() took (0 or 1)
  TrustStoreCopyInfo copies[2];

  // Parses the text (up to the first NUL / 0xFF byte).
  static Result<TrustStore> Parse(std::string_view text);
  // Reads the region: the valid copy with the highest version (see above).
  static Result<TrustStore> Read(Flash& region);
  // Bytes of one copy (0 when the region is smaller than two erase blocks).
  static uint64_t CopySize(const Flash& region);
  std::string Serialize() const;
  // Provisioning: erases the region and writes Serialize() (version 0, text) at offset 0.
  Status Write(Flash& region) const;
  // An update, `current` being what Read() returned just before: writes this store as
  // `version` into the copy `current` does not use, syncs, reads the region back and
  // checks that it now reads as this store at `version`. Refuses (FailedPrecondition)
  // a region without room for two copies, a store that does not fit one, and a
  // provisioned text that reaches into the second copy.
  Status WriteVersion(Flash& region, const TrustStore& current, uint64_t new_version) const;
  // The refusals of WriteVersion, checked without writing.
  Status CheckWritable(Flash& region, const TrustStore& current) const;
};

// The bytes of a versioned copy (header + text), unpadded; exposed for tests and fuzzing.
std::string EncodeTrustStoreCopy(const std::string& text, uint64_t version);
// Decodes one copy's bytes (a versioned copy, or with `allow_legacy` the provisioned text).
Result<TrustStore> DecodeTrustStoreCopy(std::string_view bytes, bool allow_legacy);

}  // namespace fw::boot
