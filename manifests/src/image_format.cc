// Freestanding image parser/verifier. See image_format.h for the contract.
#include "fw/image_format.h"

namespace fw::image {
namespace {

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t Le64(const uint8_t* p) { return Le32(p) | (static_cast<uint64_t>(Le32(p + 4)) << 32); }
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
bool BytesEqual(const uint8_t* a, const uint8_t* b, size_t n) {
  uint8_t diff = 0;
  for (size_t i = 0; i < n; ++i) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}
void Copy(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = src[i];
}

ErrorInfo Fail(Error code, uint64_t offset = 0, uint64_t value = 0, uint64_t limit = 0) {
  return ErrorInfo{code, offset, value, limit};
}

bool IsKnownType(uint16_t type) {
  return type == kTlvSha256 || type == kTlvSigEd25519 || type == kTlvSigEcdsaP256 || type == kTlvDescription;
}

}  // namespace

const char* ErrorName(Error e) {
  switch (e) {
    case Error::kOk:
      return "ok";
    case Error::kTruncated:
      return "image truncated";
    case Error::kBadMagic:
      return "wrong magic (not a signed firmware image)";
    case Error::kUnsupportedVersion:
      return "unsupported image format version";
    case Error::kBadHeaderSize:
      return "bad header size";
    case Error::kReservedNotZero:
      return "reserved field or undefined flag is set";
    case Error::kBadHardwareId:
      return "bad hardware id";
    case Error::kPayloadEmpty:
      return "payload is empty";
    case Error::kPayloadTooLarge:
      return "payload size exceeds the maximum";
    case Error::kPayloadBeyondEnd:
      return "payload size runs beyond the end of the image (truncated file or corrupt header)";
    case Error::kTlvAreaTooLarge:
      return "TLV area too large";
    case Error::kBadTlvInfo:
      return "bad TLV area header";
    case Error::kTlvOverflow:
      return "TLV length runs beyond its area";
    case Error::kTlvBadLength:
      return "TLV has the wrong length for its type";
    case Error::kTlvMisplaced:
      return "TLV in the wrong area";
    case Error::kUnknownCriticalTlv:
      return "unknown critical TLV";
    case Error::kDuplicateHash:
      return "duplicate hash TLV";
    case Error::kMissingHash:
      return "missing hash TLV";
    case Error::kTrailingData:
      return "trailing data after the TLV area";
    case Error::kIo:
      return "read error";
    case Error::kHashMismatch:
      return "hash mismatch (image modified or corrupt)";
    case Error::kNoSignature:
      return "image carries no signature";
    case Error::kUnknownKey:
      return "no signature by a trusted key";
    case Error::kBadSignature:
      return "signature does not verify";
    case Error::kWrongKeyType:
      return "signature algorithm does not match the trusted key's type";
    case Error::kWrongHardware:
      return "image is for different hardware";
    case Error::kSecurityCounterTooLow:
      return "security counter below the device minimum (rollback refused)";
  }
  return "unknown error";
}

ErrorInfo DecodeHeader(const uint8_t* buf, uint64_t image_size, Header* out) {
  if (image_size < kHeaderSize) return Fail(Error::kTruncated, 0, image_size, kHeaderSize);
  if (!BytesEqual(buf, kMagic, 4)) return Fail(Error::kBadMagic, 0, Le32(buf), Le32(kMagic));
  Header h;
  h.format_version = Le16(buf + 4);
  if (h.format_version != kFormatVersion) return Fail(Error::kUnsupportedVersion, 4, h.format_version, kFormatVersion);
  h.header_size = Le16(buf + 6);
  if (h.header_size != kHeaderSize) return Fail(Error::kBadHeaderSize, 6, h.header_size, kHeaderSize);
  h.payload_size = Le64(buf + 8);
  h.major = Le16(buf + 16);
  h.minor = Le16(buf + 18);
  h.patch = Le16(buf + 20);
  if (Le16(buf + 22) != 0) return Fail(Error::kReservedNotZero, 22, Le16(buf + 22), 0);
  h.build = Le32(buf + 24);
  h.security_counter = Le32(buf + 28);
  h.flags = Le32(buf + 32);
  if (h.flags != 0) return Fail(Error::kReservedNotZero, 32, h.flags, 0);
  h.protected_tlv_size = Le32(buf + 36);
  // Hardware id: 1..24 printable ASCII bytes, NUL-padded, no byte after the first NUL.
  size_t len = 0;
  while (len < kHardwareIdMax && buf[40 + len] != 0) {
    uint8_t c = buf[40 + len];
    if (c < 0x21 || c > 0x7e) return Fail(Error::kBadHardwareId, 40 + len, c, 0);
    h.hardware_id[len] = static_cast<char>(c);
    ++len;
  }
  if (len == 0) return Fail(Error::kBadHardwareId, 40, 0, 0);
  for (size_t i = len; i < kHardwareIdMax; ++i) {
    if (buf[40 + i] != 0) return Fail(Error::kBadHardwareId, 40 + i, buf[40 + i], 0);
  }
  h.hardware_id[len] = 0;

  if (h.payload_size == 0) return Fail(Error::kPayloadEmpty, 8, 0, 0);
  if (h.payload_size > kMaxPayloadSize) return Fail(Error::kPayloadTooLarge, 8, h.payload_size, kMaxPayloadSize);
  if (h.payload_size > image_size - kHeaderSize) {
    return Fail(Error::kPayloadBeyondEnd, 8, h.payload_size, image_size - kHeaderSize);
  }
  if (h.protected_tlv_size > kMaxProtectedTlvSize) {
    return Fail(Error::kTlvAreaTooLarge, 36, h.protected_tlv_size, kMaxProtectedTlvSize);
  }
  uint64_t hashed = HashedSize(h);
  if (hashed + kTlvInfoSize > image_size) return Fail(Error::kTruncated, hashed, image_size, hashed + kTlvInfoSize);
  *out = h;
  return {};
}

void EncodeHeader(const Header& h, uint8_t* out) {
  for (size_t i = 0; i < kHeaderSize; ++i) out[i] = 0;
  Copy(out, kMagic, 4);
  Put16(out + 4, h.format_version);
  Put16(out + 6, h.header_size);
  Put64(out + 8, h.payload_size);
  Put16(out + 16, h.major);
  Put16(out + 18, h.minor);
  Put16(out + 20, h.patch);
  Put32(out + 24, h.build);
  Put32(out + 28, h.security_counter);
  Put32(out + 32, h.flags);
  Put32(out + 36, h.protected_tlv_size);
  for (size_t i = 0; i < kHardwareIdMax && h.hardware_id[i] != 0; ++i)
    out[40 + i] = static_cast<uint8_t>(h.hardware_id[i]);
}

int CompareVersion(const Header& a, const Header& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.build != b.build) return a.build < b.build ? -1 : 1;
  return 0;
}

namespace {

// Iterates the TLVs in [start, end), reading each value into `scratch`.
ErrorInfo WalkTlvs(Reader& reader, bool is_protected, uint64_t start, uint64_t end, uint8_t* scratch, bool* seen_hash,
                   TlvVisitor* visitor) {
  uint64_t pos = start;
  while (pos < end) {
    if (end - pos < kTlvHeaderSize) return Fail(Error::kTlvOverflow, pos, end - pos, kTlvHeaderSize);
    uint8_t th[kTlvHeaderSize];
    if (!reader.Read(pos, th, sizeof th)) return Fail(Error::kIo, pos);
    uint16_t type = Le16(th);
    uint16_t len = Le16(th + 2);
    if (len > end - pos - kTlvHeaderSize) return Fail(Error::kTlvOverflow, pos, len, end - pos - kTlvHeaderSize);
    if (len > kMaxTlvValue) return Fail(Error::kTlvOverflow, pos, len, kMaxTlvValue);
    if (!IsKnownType(type) && (type & kTlvCriticalBit)) return Fail(Error::kUnknownCriticalTlv, pos, type, 0);
    bool unprotected_only = type == kTlvSha256 || type == kTlvSigEd25519 || type == kTlvSigEcdsaP256;
    if (unprotected_only == is_protected && IsKnownType(type)) return Fail(Error::kTlvMisplaced, pos, type, 0);
    if (type == kTlvSha256) {
      if (len != kDigestSize) return Fail(Error::kTlvBadLength, pos, len, kDigestSize);
      if (*seen_hash) return Fail(Error::kDuplicateHash, pos, type, 0);
      *seen_hash = true;
    } else if (type == kTlvSigEd25519) {
      if (len != kKeyIdSize + 64) return Fail(Error::kTlvBadLength, pos, len, kKeyIdSize + 64);
    } else if (type == kTlvSigEcdsaP256) {
      if (len < kKeyIdSize + 8 || len > kKeyIdSize + kMaxSignatureSize) {
        return Fail(Error::kTlvBadLength, pos, len, kKeyIdSize + kMaxSignatureSize);
      }
    }
    if (len > 0 && !reader.Read(pos + kTlvHeaderSize, scratch, len)) return Fail(Error::kIo, pos + kTlvHeaderSize);
    if (visitor) {
      ErrorInfo e = visitor->Visit(is_protected, type, scratch, len, pos);
      if (!e.ok()) return e;
    }
    pos += kTlvHeaderSize + len;
  }
  return {};
}

}  // namespace

namespace {

// Reads and checks the unprotected TLV area header at `hashed`; `*area` receives its size.
ErrorInfo ReadTlvInfo(Reader& reader, uint64_t hashed, uint64_t image_size, Extent extent, uint32_t* area) {
  // DecodeHeader checked that the info header fits: hashed + kTlvInfoSize <= image_size.
  uint8_t info[kTlvInfoSize];
  if (!reader.Read(hashed, info, sizeof info)) return Fail(Error::kIo, hashed);
  if (Le16(info) != kTlvInfoMagic || Le16(info + 2) != 0)
    return Fail(Error::kBadTlvInfo, hashed, Le16(info), kTlvInfoMagic);
  *area = Le32(info + 4);
  if (*area < kTlvInfoSize || *area > kMaxUnprotectedTlvSize) {
    return Fail(Error::kTlvAreaTooLarge, hashed + 4, *area, kMaxUnprotectedTlvSize);
  }
  if (hashed + *area > image_size) return Fail(Error::kTruncated, hashed + 4, hashed + *area, image_size);
  if (extent == Extent::kExact && hashed + *area < image_size) {
    return Fail(Error::kTrailingData, hashed + *area, image_size - (hashed + *area), 0);
  }
  return {};
}

}  // namespace

ErrorInfo Walk(Reader& reader, uint64_t image_size, HashEngine* hash, uint8_t* scratch, size_t scratch_size,
               Header* header, uint8_t digest[kDigestSize], TlvVisitor* visitor, Extent extent, uint64_t* image_end) {
  if (scratch_size < kMinScratchSize) return Fail(Error::kIo, 0, scratch_size, kMinScratchSize);
  uint8_t hb[kHeaderSize];
  if (image_size < kHeaderSize) return Fail(Error::kTruncated, 0, image_size, kHeaderSize);
  if (!reader.Read(0, hb, sizeof hb)) return Fail(Error::kIo, 0);
  ErrorInfo e = DecodeHeader(hb, image_size, header);
  if (!e.ok()) return e;
  const uint64_t hashed = HashedSize(*header);

  uint32_t area = 0;
  if (extent == Extent::kExact) {
    e = ReadTlvInfo(reader, hashed, image_size, extent, &area);
    if (!e.ok()) return e;
  }
  if (hash) {
    hash->Init();
    uint64_t pos = 0;
    while (pos < hashed) {
      size_t n = hashed - pos < scratch_size ? static_cast<size_t>(hashed - pos) : scratch_size;
      if (!reader.Read(pos, scratch, n)) return Fail(Error::kIo, pos);
      hash->Update(scratch, n);
      pos += n;
    }
    hash->Final(digest);
  }
  if (extent == Extent::kWithin) {
    e = ReadTlvInfo(reader, hashed, image_size, extent, &area);
    if (!e.ok()) return e;
  }

  bool seen_hash = false;
  e = WalkTlvs(reader, true, kHeaderSize + header->payload_size, hashed, scratch, &seen_hash, visitor);
  if (!e.ok()) return e;
  e = WalkTlvs(reader, false, hashed + kTlvInfoSize, hashed + area, scratch, &seen_hash, visitor);
  if (!e.ok()) return e;
  if (!seen_hash) return Fail(Error::kMissingHash, hashed, 0, 0);
  if (image_end) *image_end = hashed + area;
  return {};
}

namespace {

class VerifyVisitor final : public TlvVisitor {
 public:
  VerifyVisitor(KeyRing& keys, const uint8_t* digest, Verified* out) : keys_(keys), digest_(digest), out_(out) {}

  ErrorInfo Visit(bool is_protected, uint16_t type, const uint8_t* value, uint16_t len, uint64_t offset) override {
    if (is_protected) return {};
    if (type == kTlvSha256) {
      if (!BytesEqual(value, digest_, kDigestSize)) return Fail(Error::kHashMismatch, offset, 0, 0);
      hash_ok_ = true;
      return {};
    }
    if (type != kTlvSigEd25519 && type != kTlvSigEcdsaP256) return {};
    ++signatures_;
    // The hash TLV precedes signatures (the signer writes it first); a signature
    // before it is accepted only once the hash has been confirmed below.
    SigAlg alg = type == kTlvSigEd25519 ? SigAlg::kEd25519 : SigAlg::kEcdsaP256;
    KeyCheck c = keys_.Check(alg, value, value + kKeyIdSize, len - kKeyIdSize, digest_);
    switch (c) {
      case KeyCheck::kVerified:
        if (!verified_) Copy(out_->signer_key_id, value, kKeyIdSize);
        verified_ = true;
        return {};
      case KeyCheck::kUnknownKey:
        return {};
      case KeyCheck::kBadSignature:
        return Fail(Error::kBadSignature, offset, 0, 0);
      case KeyCheck::kWrongKeyType:
        return Fail(Error::kWrongKeyType, offset, static_cast<uint64_t>(alg), 0);
    }
    return {};
  }

  bool hash_ok_ = false;
  bool verified_ = false;
  int signatures_ = 0;

 private:
  KeyRing& keys_;
  const uint8_t* digest_;
  Verified* out_;
};

}  // namespace

ErrorInfo Verify(Reader& reader, uint64_t image_size, HashEngine& hash, KeyRing& keys, uint8_t* scratch,
                 size_t scratch_size, Verified* out, Extent extent) {
  Verified v;
  VerifyVisitor visitor(keys, v.digest, &v);
  uint64_t end = 0;
  ErrorInfo e = Walk(reader, image_size, &hash, scratch, scratch_size, &v.header, v.digest, &visitor, extent, &end);
  if (!e.ok()) return e;
  if (!visitor.hash_ok_) return Fail(Error::kHashMismatch, HashedSize(v.header), 0, 0);
  if (visitor.signatures_ == 0) return Fail(Error::kNoSignature, HashedSize(v.header), 0, 0);
  if (!visitor.verified_) return Fail(Error::kUnknownKey, HashedSize(v.header), 0, 0);
  v.image_size = end;
  *out = v;
  return {};
}

ErrorInfo CheckPolicy(const Header& header, const char* hardware_id, uint32_t min_security_counter) {
  size_t i = 0;
  for (; i <= kHardwareIdMax; ++i) {
    if (header.hardware_id[i] != hardware_id[i]) return Fail(Error::kWrongHardware, 40, 0, 0);
    if (header.hardware_id[i] == 0) break;
  }
  if (header.security_counter < min_security_counter) {
    return Fail(Error::kSecurityCounterTooLow, 28, header.security_counter, min_security_counter);
  }
  return {};
}

}  // namespace fw::image
