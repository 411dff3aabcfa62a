// Signed firmware image format, version 1 — the freestanding core.
//
// This header and image_format.cc use no heap, no exceptions, no RTTI and no OS
// calls, so the bootloader links the very same parser it trusts. Storage and
// crypto are reached through the small interfaces below. The byte layout is
// documented in manifests/docs/image-format.md.
//
// Thread safety: functions are reentrant; interfaces are used from the calling
// thread only.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace fw::image {

inline constexpr uint8_t kMagic[4] = {'P', 'T', 'F', 'W'};
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr uint16_t kHeaderSize = 64;
inline constexpr uint64_t kMaxPayloadSize = uint64_t{1} << 30;  // 1 GiB
inline constexpr uint32_t kMaxProtectedTlvSize = 4096;
inline constexpr uint32_t kMaxUnprotectedTlvSize = 8192;
inline constexpr uint32_t kMaxTlvValue = 2048;
inline constexpr size_t kHardwareIdMax = 24;
inline constexpr uint16_t kTlvInfoMagic = 0x7446;  // bytes "Ft"
inline constexpr uint16_t kTlvInfoSize = 8;
inline constexpr uint16_t kTlvHeaderSize = 4;
inline constexpr uint16_t kTlvCriticalBit = 0x8000;
inline constexpr size_t kDigestSize = 32;
inline constexpr size_t kKeyIdSize = 32;
inline constexpr size_t kMaxSignatureSize = 72;  // DER ECDSA P-256 upper bound
inline constexpr size_t kMinScratchSize = 4096;

// TLV types. Unknown types with kTlvCriticalBit set are rejected; other unknown
// types are skipped (and preserved by tools).
enum TlvType : uint16_t {
  kTlvSha256 = 0x0010,        // unprotected; 32 bytes
  kTlvSigEd25519 = 0x0020,    // unprotected; key id (32) || signature (64)
  kTlvSigEcdsaP256 = 0x0021,  // unprotected; key id (32) || DER signature (8..72)
  kTlvDescription = 0x0040,   // protected; UTF-8 free text
};

enum class SigAlg : uint8_t { kEd25519 = 1, kEcdsaP256 = 2 };

enum class Error : uint8_t {
  kOk = 0,
  kTruncated,  // file shorter than a header
  kBadMagic,
  kUnsupportedVersion,
  kBadHeaderSize,
  kReservedNotZero,  // reserved field or undefined flag set
  kBadHardwareId,
  kPayloadEmpty,
  kPayloadTooLarge,   // beyond kMaxPayloadSize
  kPayloadBeyondEnd,  // payload (or protected TLVs) run past the end of the image
  kTlvAreaTooLarge,
  kBadTlvInfo,    // unprotected TLV info header wrong
  kTlvOverflow,   // a TLV's length runs past its area
  kTlvBadLength,  // known TLV with the wrong value length
  kTlvMisplaced,  // hash/signature inside the protected area, or similar
  kUnknownCriticalTlv,
  kDuplicateHash,
  kMissingHash,
  kTrailingData,  // bytes after the TLV area
  kIo,            // Reader failed
  kHashMismatch,
  kNoSignature,
  kUnknownKey,    // no signature by a trusted key
  kBadSignature,  // a trusted key's signature does not verify
  kWrongKeyType,  // trusted key id, but its type differs from the TLV's algorithm
  kWrongHardware,
  kSecurityCounterTooLow,
};

// Stable lower-case description, e.g. "hash mismatch".
const char* ErrorName(Error e);

// Where and why: `offset` is the byte offset in the image the problem was found
// at, `value` the offending value and `limit` what it was checked against.
struct ErrorInfo {
  Error code = Error::kOk;
  uint64_t offset = 0;
  uint64_t value = 0;
  uint64_t limit = 0;
  bool ok() const { return code == Error::kOk; }
};

struct Header {
  uint16_t format_version = kFormatVersion;
  uint16_t header_size = kHeaderSize;
  uint64_t payload_size = 0;
  uint16_t major = 0;
  uint16_t minor = 0;
  uint16_t patch = 0;
  uint32_t build = 0;
  uint32_t security_counter = 0;
  uint32_t flags = 0;
  uint32_t protected_tlv_size = 0;
  char hardware_id[kHardwareIdMax + 1] = {};  // NUL-terminated
};

// Byte offset of the unprotected TLV area (end of hashed region).
inline uint64_t HashedSize(const Header& h) { return h.header_size + h.payload_size + h.protected_tlv_size; }

// Decodes and validates a 64-byte header against the total image size.
ErrorInfo DecodeHeader(const uint8_t* buf, uint64_t image_size, Header* out);
// Encodes `h` into 64 bytes.
void EncodeHeader(const Header& h, uint8_t* out);

// Compares versions: <0, 0, >0.
int CompareVersion(const Header& a, const Header& b);

// ---- interfaces the caller provides

class Reader {
 public:
  // Reads exactly `len` bytes at `offset`; false on any failure.
  virtual bool Read(uint64_t offset, uint8_t* buf, size_t len) = 0;

 protected:
  ~Reader() = default;
};

class HashEngine {
 public:
  virtual void Init() = 0;
  virtual void Update(const uint8_t* data, size_t len) = 0;
  virtual void Final(uint8_t out[kDigestSize]) = 0;

 protected:
  ~HashEngine() = default;
};

enum class KeyCheck : uint8_t { kVerified, kUnknownKey, kBadSignature, kWrongKeyType };

// The trusted keys: checks a signature over `digest` by the key `key_id`.
class KeyRing {
 public:
  virtual KeyCheck Check(SigAlg alg, const uint8_t key_id[kKeyIdSize], const uint8_t* sig, size_t sig_len,
                         const uint8_t digest[kDigestSize]) = 0;

 protected:
  ~KeyRing() = default;
};

// Called for every TLV in image order.
class TlvVisitor {
 public:
  virtual ErrorInfo Visit(bool is_protected, uint16_t type, const uint8_t* value, uint16_t len, uint64_t offset) = 0;

 protected:
  ~TlvVisitor() = default;
};

// How `image_size` bounds an image.
enum class Extent : uint8_t {
  // The image is exactly `image_size` bytes (a file). The unprotected TLV area
  // header is checked before the (long) hash, so truncation and trailing data are
  // reported without reading the payload.
  kExact,
  // The image starts an area of `image_size` bytes (a bank) and ends where its
  // TLV area says. Reads go strictly front to back: header, hashed region, then
  // the TLV area — so a reader that waits for bytes still being written (the
  // updater's read-back behind its writer) is never asked for the end first.
  kWithin,
};

// Walks an image: decodes the header, checks every bound, hashes header + payload
// + protected TLVs into `digest` (when `hash` is non-null), and visits every TLV.
// Structural rules (duplicate/missing hash, unknown critical TLVs, trailing data)
// are enforced here. `scratch` must be at least kMinScratchSize bytes; larger is
// faster. `image_end` (optional) receives the image's size.
ErrorInfo Walk(Reader& reader, uint64_t image_size, HashEngine* hash, uint8_t* scratch, size_t scratch_size,
               Header* header, uint8_t digest[kDigestSize], TlvVisitor* visitor, Extent extent = Extent::kExact,
               uint64_t* image_end = nullptr);

struct Verified {
  Header header;
  uint8_t digest[kDigestSize] = {};
  uint8_t signer_key_id[kKeyIdSize] = {};
  uint64_t image_size = 0;
};

// Full verification: structure, hash, and at least one signature by a trusted
// key (signatures by unknown keys are skipped; a failing signature by a trusted
// key rejects the image).
// `out->image_size` is the image's size (with Extent::kWithin, where its TLV area ends).
ErrorInfo Verify(Reader& reader, uint64_t image_size, HashEngine& hash, KeyRing& keys, uint8_t* scratch,
                 size_t scratch_size, Verified* out, Extent extent = Extent::kExact);

// Device policy: hardware id must match exactly; security counter must be at
// least `min_security_counter`.
ErrorInfo CheckPolicy(const Header& header, const char* hardware_id, uint32_t min_security_counter);

}  // namespace fw::image
