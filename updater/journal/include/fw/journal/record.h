// A transaction record of the reference journal and its SHA-256 chain.
//
// Every record carries the hash of its predecessor (prev_hash) and its own hash:
//   hash = SHA-256(CanonicalBytes(record))   where CanonicalBytes includes prev_hash.
// The byte-exact definition is in docs/journal.md ("Chain hash"); it does not depend
// on the schema version, so a record hashes the same under schema v1 and v2.
//
// Thread safety: plain values; ChainHasher is one object per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::journal {

enum class Kind { kSale, kRefund, kVoid, kSettlement };

// "sale" | "refund" | "void" | "settlement".
std::string_view KindName(Kind kind);
Result<Kind> ParseKind(std::string_view name);

// The hash the first record links to: 32 zero bytes.
inline constexpr Digest kGenesisHash{};

// What the payment application hands to Append(); the journal assigns seq and hashes.
struct RecordInput {
  int64_t time_ms = 0;      // Unix time, milliseconds
  std::string terminal_id;  // 1..32 printable ASCII
  Kind kind = Kind::kSale;
  int64_t amount_minor = 0;  // minor units (cents); >= 0
  std::string currency;      // ISO 4217 alpha code, 3 upper-case letters
  std::string pan_masked;    // e.g. "411111******1111"; a full PAN is rejected
  std::string auth_code;     // 0..12 alphanumerics
  std::string result;        // "approved" | "declined" | "error"
  // Fields added by later schema versions (v2: "entry_mode"). Names are lower-case
  // [a-z0-9_]{1,32}; values printable, <= 256 bytes.
  std::map<std::string, std::string> extensions;
};

struct Record : RecordInput {
  int64_t seq = 0;
  Digest prev_hash{};
  Digest hash{};
};

// Validates every field; rejects a full (unmasked) PAN anywhere in the record with a
// message that says what to store instead. Nothing is written on failure.
Status ValidateRecordInput(const RecordInput& in);

// Validates a masked PAN alone: 12..19 characters, at most the first 6 and the last 4
// digits visible, the rest masked with '*' or 'X'.
Status ValidateMaskedPan(std::string_view pan);

// True if `digits` (all decimal) passes the Luhn check.
bool LuhnValid(std::string_view digits);

// The record as one line of JSON (no newline): what `fwupdate journal export --format jsonl`
// prints and what a journal segment uploaded to the fleet server carries
// (docs/fleet-journal-witness.md). Members in bytewise order, no whitespace; hashes in
// lower-case hex; "extensions" only when there are any.
std::string RecordJsonLine(const Record& r);

// Appends the canonical bytes of `r` (with r.prev_hash and r.seq) to `out`.
void AppendCanonicalBytes(const Record& r, std::vector<uint8_t>& out);

// The same bytes from views, for readers that serialize straight from storage
// without building a Record: the head (everything up to and including the number of
// extensions), then each extension in bytewise name order, names unique.
struct CanonicalHead {
  const uint8_t* prev_hash = nullptr;  // 32 bytes
  int64_t seq = 0;
  int64_t time_ms = 0;
  std::string_view terminal_id;
  std::string_view kind;  // KindName() of the kind
  int64_t amount_minor = 0;
  std::string_view currency;
  std::string_view pan_masked;
  std::string_view auth_code;
  std::string_view result;
  uint32_t extension_count = 0;
};
size_t CanonicalHeadSize(const CanonicalHead& head);
// Writes CanonicalHeadSize(head) bytes at `out`; returns the end.
uint8_t* WriteCanonicalHead(const CanonicalHead& head, uint8_t* out);
inline size_t CanonicalExtensionSize(std::string_view name, std::string_view value) {
  return 8 + name.size() + value.size();
}
// Writes CanonicalExtensionSize(name, value) bytes at `out`; returns the end.
uint8_t* WriteCanonicalExtension(std::string_view name, std::string_view value, uint8_t* out);

// Computes hashes with a reused buffer and a SHA-256 implementation fetched once
// (per-message setup dominates for ~150-byte records).
class ChainHasher {
 public:
  ChainHasher();
  ~ChainHasher();
  ChainHasher(ChainHasher&&) noexcept;
  ChainHasher& operator=(ChainHasher&&) noexcept;
  ChainHasher(const ChainHasher&) = delete;
  ChainHasher& operator=(const ChainHasher&) = delete;

  Digest Hash(const Record& r);
  // SHA-256 of arbitrary bytes with the same fast context.
  Digest HashBytes(ByteSpan data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<uint8_t> buf_;
};

}  // namespace fw::journal
