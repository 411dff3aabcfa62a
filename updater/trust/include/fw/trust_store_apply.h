// Installing a signed trust-store update on a terminal (`fwupdate trust-store apply`)
// and describing the installed trust store (`fwupdate trust-store show`).
// Document format: manifests/docs/trust-store-update.md; region format and cut
// safety: bootloader/README.md, "Trust store".
//
// ApplyTrustStoreUpdate, in order, writing nothing until every check passed:
//  1. parse the document (Corrupt, exit 3);
//  2. open the terminal, take the terminal lock (DATA_DIR/.fwupdate.lock, operation
//     "trust-store"; Timeout, exit 6), read the installed trust store;
//  3. verify the signatures against the root role of the terminal's trusted TUF root
//     (DATA_DIR/tuf/root.json; missing: FailedPrecondition, exit 5) with its
//     threshold (VerificationFailed, exit 3); then hardware id and expiry (exit 3);
//  4. version: below the installed one → FailedPrecondition (exit 5, never rolled
//     back); equal with the same hardware id and key set → OK, already_installed,
//     nothing written; equal with other content → exit 5;
//  5. the image in the active confirmed slot must verify with the new keys, or the
//     next boot would find nothing to run → exit 5 naming the slot and the reason;
//  6. flash history intent ("trust-store", from/to version), the two-copy write
//     (TrustStore::WriteVersion: the copy not in use, read back from the medium),
//     history outcome.
// Thread safety: none; one call at a time per terminal (the lock enforces it across
// processes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/boot/trust_store.h"
#include "fw/status.h"

namespace fw::trust {

struct ApplyOptions {
  int64_t now = 0;              // seconds since the epoch, for the document's expiry
  int lock_timeout_ms = 10000;  // waiting for another writer of the terminal
  std::string operator_name = "technician";
};

struct ApplyResult {
  uint64_t old_version = 0;
  uint64_t new_version = 0;
  bool already_installed = false;  // the same version and content were installed: nothing written
  std::string hardware_id;
  std::vector<std::string> added;     // boot key ids (hex)
  std::vector<std::string> removed;   // boot key ids (hex)
  std::vector<std::string> warnings;  // e.g. a fallback or trial slot the new keys do not verify
  int copy = 0;                       // the copy written
};

Result<ApplyResult> ApplyTrustStoreUpdate(const std::string& layout_path, std::string_view document,
                                          const ApplyOptions& options);

}  // namespace fw::trust
