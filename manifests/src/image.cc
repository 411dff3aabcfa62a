#include "fw/image.h"

#include <fcntl.h>

#include <charconv>
#include <cstring>

#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/image_format.h"

namespace fw {

namespace img = fw::image;

// ---------------------------------------------------------------- SemVer

Result<SemVer> SemVer::Parse(std::string_view text) {
  SemVer v;
  auto bad = [&] {
    return InvalidArgument("version '" + std::string(text) +
                           "' is not MAJOR.MINOR.PATCH[+BUILD] with numbers (e.g. 2.1.0 or 2.1.0+7)");
  };
  uint32_t parts[4] = {0, 0, 0, 0};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    uint32_t value = 0;
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || next == p) return bad();
    parts[i] = value;
    p = next;
    if (i < 2) {
      if (p == end || *p != '.') return bad();
      ++p;
    } else if (i == 2) {
      if (p == end) break;
      if (*p != '+') return bad();
      ++p;
    }
  }
  if (p != end) return bad();
  for (int i = 0; i < 3; ++i) {
    if (parts[i] > 0xFFFF) return InvalidArgument("version '" + std::string(text) + "': each part must be ≤ 65535");
  }
  v.major = static_cast<uint16_t>(parts[0]);
  v.minor = static_cast<uint16_t>(parts[1]);
  v.patch = static_cast<uint16_t>(parts[2]);
  v.build = parts[3];
  return v;
}

std::string SemVer::ToString() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (build != 0) s += "+" + std::to_string(build);
  return s;
}

// ---------------------------------------------------------------- adapters

namespace {

class FileReader final : public img::Reader {
 public:
  explicit FileReader(File& f) : f_(f) {}
  bool Read(uint64_t offset, uint8_t* buf, size_t len) override {
    Status s = f_.ReadAt(offset, {buf, len});
    if (!s.ok()) error_ = s;
    return s.ok();
  }
  Status error_;

 private:
  File& f_;
};

class OpensslHash final : public img::HashEngine {
 public:
  void Init() override { h_ = Sha256(); }
  void Update(const uint8_t* data, size_t len) override { h_.Update({data, len}); }
  void Final(uint8_t out[img::kDigestSize]) override {
    Digest d = h_.Finish();
    std::memcpy(out, d.data(), d.size());
  }

 private:
  Sha256 h_;
};

class TrustedKeys final : public img::KeyRing {
 public:
  explicit TrustedKeys(const std::vector<PublicKey>& keys) : keys_(keys) {}
  img::KeyCheck Check(img::SigAlg alg, const uint8_t key_id[32], const uint8_t* sig, size_t sig_len,
                      const uint8_t digest[32]) override {
    seen_.emplace_back();
    std::memcpy(seen_.back().data(), key_id, 32);
    for (const PublicKey& k : keys_) {
      Digest id = k.KeyId();
      if (std::memcmp(id.data(), key_id, 32) != 0) continue;
      KeyType want = alg == img::SigAlg::kEd25519 ? KeyType::kEd25519 : KeyType::kEcdsaP256;
      if (k.type() != want) return img::KeyCheck::kWrongKeyType;
      return k.Verify({digest, 32}, {sig, sig_len}).ok() ? img::KeyCheck::kVerified : img::KeyCheck::kBadSignature;
    }
    return img::KeyCheck::kUnknownKey;
  }
  std::vector<Digest> seen_;

 private:
  const std::vector<PublicKey>& keys_;
};

class CollectTlvs final : public img::TlvVisitor {
 public:
  explicit CollectTlvs(ImageInfo* info) : info_(info) {}
  img::ErrorInfo Visit(bool is_protected, uint16_t type, const uint8_t* value, uint16_t len, uint64_t) override {
    if (type == img::kTlvSha256) {
      std::memcpy(info_->hash.data(), value, 32);
    } else if (type == img::kTlvSigEd25519 || type == img::kTlvSigEcdsaP256) {
      ImageSignature s;
      s.type = type == img::kTlvSigEd25519 ? KeyType::kEd25519 : KeyType::kEcdsaP256;
      std::memcpy(s.key_id.data(), value, 32);
      s.signature.assign(value + 32, value + len);
      info_->signatures.push_back(std::move(s));
    } else {
      if (type == img::kTlvDescription) info_->description = std::string(reinterpret_cast<const char*>(value), len);
      info_->other_tlvs.push_back(ImageTlv{type, is_protected, Bytes(value, value + len)});
    }
    return {};
  }

 private:
  ImageInfo* info_;
};

// Turns a core ErrorInfo into a readable Status.
Status ToStatus(const img::ErrorInfo& e, const Status& io_error) {
  using img::Error;
  std::string what = img::ErrorName(e.code);
  std::string at = " (at byte " + std::to_string(e.offset) + ")";
  switch (e.code) {
    case Error::kOk:
      return Status::Ok();
    case Error::kIo:
      return io_error.ok() ? IoError("read error" + at) : io_error;
    case Error::kTruncated:
      return Corrupt("image truncated: " + std::to_string(e.value) + " bytes where at least " +
                     std::to_string(e.limit) + " are needed" + at);
    case Error::kBadMagic:
      return Corrupt(what + ": expected \"PTFW\"");
    case Error::kUnsupportedVersion:
      return Unsupported(what + " " + std::to_string(e.value) + " (this tool reads version " + std::to_string(e.limit) +
                         ")");
    case Error::kBadHeaderSize:
      return Corrupt(what + " " + std::to_string(e.value) + ", expected " + std::to_string(e.limit) + at);
    case Error::kPayloadTooLarge:
    case Error::kPayloadBeyondEnd:
      return Corrupt(what + ": payload size " + std::to_string(e.value) + at + ", limit " + std::to_string(e.limit) +
                     " bytes");
    case Error::kTlvAreaTooLarge:
    case Error::kTlvOverflow:
    case Error::kTlvBadLength:
      return Corrupt(what + ": length " + std::to_string(e.value) + ", limit " + std::to_string(e.limit) + at);
    case Error::kUnknownCriticalTlv:
      return Corrupt(
          what + " type 0x" +
          HexEncode(std::vector<uint8_t>{static_cast<uint8_t>(e.value >> 8), static_cast<uint8_t>(e.value)}) + at);
    case Error::kTrailingData:
      return Corrupt(what + ": " + std::to_string(e.value) + " extra bytes" + at);
    case Error::kHashMismatch:
    case Error::kBadSignature:
    case Error::kWrongKeyType:
      return VerificationFailed(what + at);
    case Error::kNoSignature:
    case Error::kUnknownKey:
    case Error::kWrongHardware:
      return VerificationFailed(what);
    case Error::kSecurityCounterTooLow:
      return VerificationFailed(what + ": image has " + std::to_string(e.value) + ", device requires at least " +
                                std::to_string(e.limit));
    default:
      return Corrupt(what + at);
  }
}

void FillFromHeader(const img::Header& h, ImageInfo* info) {
  info->format_version = h.format_version;
  info->payload_size = h.payload_size;
  info->version = SemVer{h.major, h.minor, h.patch, h.build};
  info->security_counter = h.security_counter;
  info->flags = h.flags;
  info->hardware_id = h.hardware_id;
  info->payload_offset = h.header_size;
  info->hashed_size = img::HashedSize(h);
}

constexpr size_t kIoBuffer = 64 << 10;  // read+hash while bytes are cache-hot (bench/image_bench.sh)  // fits L2: read
                                        // and hash while the bytes are cache-hot

}  // namespace

// ---------------------------------------------------------------- signing

Status ValidateImageSpec(const ImageSpec& spec) {
  if (spec.hardware_id.empty() || spec.hardware_id.size() > img::kHardwareIdMax) {
    return InvalidArgument("hardware id '" + spec.hardware_id + "' must be 1 to 24 characters");
  }
  for (char c : spec.hardware_id) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgument("hardware id '" + spec.hardware_id + "' may hold only printable ASCII without spaces");
    }
  }
  if (spec.description && spec.description->size() > img::kMaxTlvValue) {
    return InvalidArgument("description longer than " + std::to_string(img::kMaxTlvValue) + " bytes");
  }
  return Status::Ok();
}

namespace {
void AppendTlv(Bytes& out, uint16_t type, ByteSpan value) {
  out.push_back(static_cast<uint8_t>(type));
  out.push_back(static_cast<uint8_t>(type >> 8));
  out.push_back(static_cast<uint8_t>(value.size()));
  out.push_back(static_cast<uint8_t>(value.size() >> 8));
  out.insert(out.end(), value.begin(), value.end());
}
}  // namespace

Status SignImageFile(const std::string& payload_path, const ImageSpec& spec, const std::vector<const Signer*>& signers,
                     const std::string& out_path) {
  FW_RETURN_IF_ERROR(ValidateImageSpec(spec));
  if (signers.empty()) return InvalidArgument("at least one signing key is required");
  for (const Signer* signer : signers) {
    if (signer->type() != KeyType::kEd25519 && signer->type() != KeyType::kEcdsaP256) {
      return Unsupported(signer->describe() + ": " + std::string(KeyTypeName(signer->type())) +
                         " keys cannot sign images (ed25519 or ecdsa-p256)");
    }
  }
  FW_ASSIGN_OR_RETURN(File payload, File::OpenRead(payload_path));
  FW_ASSIGN_OR_RETURN(uint64_t payload_size, payload.Size());
  if (payload_size == 0) return InvalidArgument("payload " + payload_path + " is empty; an image needs firmware bytes");
  if (payload_size > img::kMaxPayloadSize) {
    return InvalidArgument("payload " + payload_path + " is " + std::to_string(payload_size) +
                           " bytes, more than the maximum of " + std::to_string(img::kMaxPayloadSize));
  }

  Bytes protected_tlvs;
  if (spec.description) AppendTlv(protected_tlvs, img::kTlvDescription, AsBytes(*spec.description));

  img::Header h;
  h.payload_size = payload_size;
  h.major = spec.version.major;
  h.minor = spec.version.minor;
  h.patch = spec.version.patch;
  h.build = spec.version.build;
  h.security_counter = spec.security_counter;
  h.protected_tlv_size = static_cast<uint32_t>(protected_tlvs.size());
  std::memcpy(h.hardware_id, spec.hardware_id.data(), spec.hardware_id.size());
  uint8_t hb[img::kHeaderSize];
  img::EncodeHeader(h, hb);

  FW_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Create(out_path));
  Sha256 hash;
  hash.Update({hb, sizeof hb});
  FW_RETURN_IF_ERROR(out.Write({hb, sizeof hb}));
  std::vector<uint8_t> buf(kIoBuffer);
  uint64_t copied = 0;
  while (copied < payload_size) {
    FW_ASSIGN_OR_RETURN(size_t n, payload.Read(buf));
    if (n == 0) break;
    if (copied + n > payload_size) n = static_cast<size_t>(payload_size - copied);  // file grew: sign what we sized
    hash.Update({buf.data(), n});
    FW_RETURN_IF_ERROR(out.Write({buf.data(), n}));
    copied += n;
  }
  if (copied != payload_size) return IoError("payload " + payload_path + " shrank while it was being read");
  hash.Update(protected_tlvs);
  FW_RETURN_IF_ERROR(out.Write(protected_tlvs));
  Digest digest = hash.Finish();

  Bytes area = {0, 0, 0, 0, 0, 0, 0, 0};
  AppendTlv(area, img::kTlvSha256, digest);
  for (const Signer* signer : signers) {
    FW_ASSIGN_OR_RETURN(Bytes sig, signer->Sign(digest).WithContext("signing with " + signer->describe()));
    Digest id = signer->public_key().KeyId();
    Bytes value(id.begin(), id.end());
    value.insert(value.end(), sig.begin(), sig.end());
    AppendTlv(area, signer->type() == KeyType::kEd25519 ? img::kTlvSigEd25519 : img::kTlvSigEcdsaP256, value);
  }
  if (area.size() > img::kMaxUnprotectedTlvSize) return InvalidArgument("too many signatures for the TLV area");
  area[0] = static_cast<uint8_t>(img::kTlvInfoMagic);
  area[1] = static_cast<uint8_t>(img::kTlvInfoMagic >> 8);
  for (int i = 0; i < 4; ++i) area[4 + i] = static_cast<uint8_t>(area.size() >> (8 * i));
  FW_RETURN_IF_ERROR(out.Write(area));
  return out.Commit();
}

// ---------------------------------------------------------------- inspect / verify

Result<ImageInfo> InspectImageFile(const std::string& path) {
  FW_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  FW_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  FileReader reader(f);
  ImageInfo info;
  info.image_size = size;
  CollectTlvs collect(&info);
  std::vector<uint8_t> scratch(img::kMinScratchSize);
  img::Header h;
  uint8_t digest[32];
  img::ErrorInfo e = img::Walk(reader, size, nullptr, scratch.data(), scratch.size(), &h, digest, &collect);
  if (!e.ok()) return ToStatus(e, reader.error_).WithContext("image " + path);
  FillFromHeader(h, &info);
  return info;
}

Result<ImageInfo> VerifyImageFile(const std::string& path, const std::vector<PublicKey>& trusted,
                                  const ImagePolicy& policy) {
  if (trusted.empty()) return InvalidArgument("no trusted public key given");
  FW_ASSIGN_OR_RETURN(ImageInfo info, InspectImageFile(path));
  FW_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  ::posix_fadvise(f.fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
  FileReader reader(f);
  OpensslHash hash;
  TrustedKeys keys(trusted);
  std::vector<uint8_t> scratch(kIoBuffer);
  img::Verified v;
  img::ErrorInfo e = img::Verify(reader, info.image_size, hash, keys, scratch.data(), scratch.size(), &v);
  if (e.code == img::Error::kUnknownKey) {
    std::string ids;
    for (const Digest& d : keys.seen_) ids += (ids.empty() ? "" : ", ") + HexEncode(d).substr(0, 16);
    return VerificationFailed("image " + path + ": no signature by a trusted key (signed by key id " + ids +
                              "; trusted: " + HexEncode(trusted.front().KeyId()).substr(0, 16) +
                              (trusted.size() > 1 ? ", …" : "") + ")");
  }
  if (!e.ok()) return ToStatus(e, reader.error_).WithContext("image " + path);
  if (policy.hardware_id) {
    e = img::CheckPolicy(v.header, policy.hardware_id->c_str(), policy.min_security_counter);
    if (e.code == img::Error::kWrongHardware) {
      return VerificationFailed("image " + path + " is for hardware '" + info.hardware_id + "', this device is '" +
                                *policy.hardware_id + "'");
    }
    if (!e.ok()) return ToStatus(e, reader.error_).WithContext("image " + path);
  } else if (v.header.security_counter < policy.min_security_counter) {
    return ToStatus({img::Error::kSecurityCounterTooLow, 28, v.header.security_counter, policy.min_security_counter},
                    Status::Ok())
        .WithContext("image " + path);
  }
  Digest signer;
  std::memcpy(signer.data(), v.signer_key_id, 32);
  info.signer_key_id = signer;
  return info;
}

}  // namespace fw
