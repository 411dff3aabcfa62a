// Journal segments at rest (server-stub/plan, lib fw_server_plan; docs/fleet-journal-witness.md,
// "Keeping uploaded journals"): uploaded journals are cardholder data even when masked, so the
// server can keep them encrypted under a key file named in fwserver.json (journal.encryption_key_file).
//
// Contract:
//  - Key file: 32 random bytes as 64 hex digits (+ optional newline), mode 0600 (a group/other
//    readable key file is refused, naming it). MakeVault("") = no encryption.
//  - Seal(body): "ptfw-seal-v1:" + base64(12-byte random nonce | AES-256-GCM ciphertext | 16-byte tag)
//    with associated data = the segment's "serial:first_seq:last_seq". Without a key, the body as is.
//  - Open(stored): a sealed text is authenticated and decrypted (a wrong key, another segment's AD or
//    a flipped bit -> kVerificationFailed naming the segment); a plain text is returned as is (segments
//    stored before encryption was switched on), and a sealed text without a key is kFailedPrecondition.
// Thread safety: a JournalVault is immutable after MakeVault; Seal/Open from any thread.
#pragma once

#include <memory>
#include <string>

#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::server {

class JournalVault {
 public:
  virtual ~JournalVault() = default;
  virtual bool encrypts() const = 0;
  virtual Result<std::string> Seal(const std::string& associated, const std::string& body) const = 0;
  virtual Result<std::string> Open(const std::string& associated, const std::string& stored) const = 0;
};

// "serial:first_seq:last_seq"
std::string SegmentAssociatedData(const std::string& serial, int64_t first_seq, int64_t last_seq);

Result<std::shared_ptr<const JournalVault>> MakeVault(const std::string& key_file);
// A vault over a key already in memory (exactly 32 bytes; tests, fuzzing): kInvalidArgument otherwise.
Result<std::shared_ptr<const JournalVault>> MakeVaultWithKey(ByteSpan key);

}  // namespace fw::server
