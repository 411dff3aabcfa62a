#include "fw/boot/trust_store.h"

#include <sstream>

#include "fw/crypto.h"

#include "fw/image.h"

namespace fw::boot {
namespace {

constexpr std::string_view kFirstLine = "ptfw-trust-store 1";
constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----";
constexpr std::string_view kEnd = "-----END PUBLIC KEY-----";

Status Bad(const std::string& what) { return Corrupt("trust store: " + what); }

}  // namespace

Result<TrustStore> TrustStore::Parse(std::string_view text) {
  size_t end = text.find_first_of(std::string_view("\0\xff", 2));
  if (end != std::string_view::npos) text = text.substr(0, end);
  TrustStore ts;
  bool have_hw = false;
  size_t line_no = 0;
  size_t pos = 0;
  std::string pem;
  bool in_pem = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string at = "line " + std::to_string(line_no) + ": ";
    if (line_no == 1) {
      if (line != kFirstLine)
        return Bad(at + "expected \"" + std::string(kFirstLine) + "\" (not a trust store, or erased)");
      continue;
    }
    if (in_pem) {
      pem.append(line).append("\n");
      if (line == kEnd) {
        in_pem = false;
        if (ts.boot_keys.size() >= kMaxTrustedKeys)
          return Bad("more than " + std::to_string(kMaxTrustedKeys) + " keys");
        auto key = PublicKey::FromPem(pem);
        if (!key.ok()) return key.status().WithContext("trust store: " + at + "boot key");
        if (key->type() == KeyType::kRsaPss) return Bad(at + "RSA keys cannot sign boot images");
        ts.boot_keys.push_back(std::move(*key));
        pem.clear();
      }
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    if (line == kBegin) {
      in_pem = true;
      pem.assign(line).append("\n");
      continue;
    }
    constexpr std::string_view kHw = "hardware-id: ";
    if (line.substr(0, kHw.size()) == kHw) {
      if (have_hw) return Bad(at + "hardware-id given twice");
      ImageSpec spec;
      spec.hardware_id = std::string(line.substr(kHw.size()));
      if (Status s = ValidateImageSpec(spec); !s.ok()) return Bad(at + s.message());
      ts.hardware_id = spec.hardware_id;
      have_hw = true;
      continue;
    }
    return Bad(at + "unexpected line \"" + std::string(line.substr(0, 40)) + "\"");
  }
  if (line_no == 0) return Bad("empty (not provisioned?)");
  if (in_pem) return Bad("unterminated PEM block");
  if (!have_hw) return Bad("no hardware-id line");
  if (ts.boot_keys.empty()) return Bad("no boot verification key");
  return ts;
}

// ---- the two-copy region ----------------------------------------------------------

namespace {

constexpr char kCopyMagic[8] = {'P', 'T', 'F', 'W', 'T', 'R', 'S', 'T'};
constexpr uint32_t kCopyFormat = 2;

void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetLe(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return v;
}
Digest CopyHash(std::string_view head, std::string_view text) {
  Sha256 h;
  h.Update(AsBytes(head));
  h.Update(AsBytes(text));
  return h.Finish();
}

bool AllErased(std::string_view bytes) {
  if (bytes.empty()) return true;
  const char c = bytes[0];
  if (c != '\0' && static_cast<uint8_t>(c) != 0xff) return false;
  return bytes.find_first_not_of(c) == std::string_view::npos;
}

}  // namespace

std::string EncodeTrustStoreCopy(const std::string& text, uint64_t version) {
  std::string out(kCopyMagic, sizeof kCopyMagic);
  PutLe(out, kCopyFormat, 4);
  PutLe(out, text.size(), 4);
  PutLe(out, version, 8);
  Digest d = CopyHash(out, text);
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
  return out + text;
}

Result<TrustStore> DecodeTrustStoreCopy(std::string_view bytes, bool allow_legacy) {
  if (bytes.size() >= sizeof kCopyMagic && bytes.substr(0, sizeof kCopyMagic) == std::string_view(kCopyMagic, 8)) {
    if (bytes.size() < kTrustStoreCopyHeaderSize) return Bad("copy header truncated");
    if (GetLe(bytes, 8, 4) != kCopyFormat) return Bad("copy format " + std::to_string(GetLe(bytes, 8, 4)) + " unknown");
    const uint64_t len = GetLe(bytes, 12, 4);
    if (len > bytes.size() - kTrustStoreCopyHeaderSize) return Bad("copy length runs past the copy");
    std::string_view text = bytes.substr(kTrustStoreCopyHeaderSize, len);
    Digest d = CopyHash(bytes.substr(0, 24), text);
    if (bytes.substr(24, 32) != std::string_view(reinterpret_cast<const char*>(d.data()), d.size())) {
      return Bad("copy hash mismatch (torn or damaged)");
    }
    if (text.find_first_of(std::string_view("\0\xff", 2)) != std::string_view::npos) {
      return Bad("copy text holds a NUL or 0xFF byte");
    }
    FW_ASSIGN_OR_RETURN(TrustStore ts, TrustStore::Parse(text));
    ts.version = GetLe(bytes, 16, 8);
    return ts;
  }
  if (allow_legacy && bytes.substr(0, kFirstLine.size()) == kFirstLine) return TrustStore::Parse(bytes);
  if (AllErased(bytes)) return Bad("erased (not provisioned?)");
  if (allow_legacy) return TrustStore::Parse(bytes);  // its error names the first line
  return Bad("no trust store copy (bad magic)");
}

uint64_t TrustStore::CopySize(const Flash& region) {
  const uint64_t eb = region.EraseBlockSize();
  return eb == 0 ? 0 : region.Size() / 2 / eb * eb;
}

Result<TrustStore> TrustStore::Read(Flash& region) {
  std::string bytes(static_cast<size_t>(region.Size()), '\0');
  FlashError e = region.Read(0, reinterpret_cast<uint8_t*>(bytes.data()), bytes.size());
  if (e != FlashError::kOk) return IoError(std::string("trust store: ") + FlashErrorName(e));
  const uint64_t copy = CopySize(region);
  std::string_view all(bytes);
  Result<TrustStore> c1 = Bad("the region holds one copy");
  if (copy > 0) c1 = DecodeTrustStoreCopy(all.substr(copy, copy), false);
  // While copy 1 is not in use, the provisioned text may be as long as the region.
  Result<TrustStore> c0 = DecodeTrustStoreCopy(c1.ok() ? all.substr(0, copy) : all, true);
  TrustStoreCopyInfo info[2];
  const Result<TrustStore>* got[2] = {&c0, &c1};
  for (int i = 0; i < 2; ++i) {
    info[i].valid = got[i]->ok();
    if (info[i].valid) {
      info[i].version = (*got[i])->version;
      info[i].legacy = i == 0 && all.substr(0, kFirstLine.size()) == kFirstLine;
    } else {
      info[i].problem = got[i]->status().message();
    }
  }
  if (!c0.ok() && !c1.ok()) {
    if (copy == 0 || info[1].problem.find("erased") != std::string::npos) return c0.status();
    return Bad("no valid copy (copy 0: " + info[0].problem + "; copy 1: " + info[1].problem + ")");
  }
  const int pick = c0.ok() && (!c1.ok() || c0->version >= c1->version) ? 0 : 1;
  TrustStore ts = std::move(pick == 0 ? *c0 : *c1);
  ts.copy = pick;
  ts.copies[0] = info[0];
  ts.copies[1] = info[1];
  return ts;
}

Status TrustStore::CheckWritable(Flash& region, const TrustStore& current) const {
  const uint64_t copy_size = CopySize(region);
  if (copy_size == 0) {
    return FailedPrecondition("trust store: the " + std::to_string(region.Size()) +
                              "-byte region holds less than two erase blocks; a cut-safe update needs two copies");
  }
  std::string bytes = EncodeTrustStoreCopy(Serialize(), 0);
  const size_t align = region.WriteAlignment();
  bytes.resize((bytes.size() + align - 1) / align * align, static_cast<char>(region.ErasedValue()));
  if (bytes.size() > copy_size) {
    return FailedPrecondition("trust store: " + std::to_string(bytes.size()) + " bytes do not fit a " +
                              std::to_string(copy_size) + "-byte copy");
  }
  const int target = 1 - current.copy;
  if (target == 1 && current.copies[0].legacy) {
    // The provisioned text must end inside copy 0, or writing copy 1 would destroy it.
    std::string head(static_cast<size_t>(copy_size), '\0');
    FlashError e = region.Read(0, reinterpret_cast<uint8_t*>(head.data()), head.size());
    if (e != FlashError::kOk) return IoError(std::string("trust store: ") + FlashErrorName(e));
    if (head.find_first_of(std::string_view("\0\xff", 2)) == std::string::npos) {
      return FailedPrecondition("trust store: the provisioned text is longer than one copy (" +
                                std::to_string(copy_size) +
                                " bytes); re-provision with fewer keys or a larger trust_store region");
    }
  }
  return Status::Ok();
}

Status TrustStore::WriteVersion(Flash& region, const TrustStore& current, uint64_t new_version) const {
  FW_RETURN_IF_ERROR(CheckWritable(region, current));
  const uint64_t copy_size = CopySize(region);
  std::string bytes = EncodeTrustStoreCopy(Serialize(), new_version);
  const size_t align = region.WriteAlignment();
  bytes.resize((bytes.size() + align - 1) / align * align, static_cast<char>(region.ErasedValue()));
  const int target = 1 - current.copy;
  const uint64_t at = static_cast<uint64_t>(target) * copy_size;
  FlashError e = region.Erase(at, copy_size);
  if (e == FlashError::kOk) e = region.Write(at, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (e == FlashError::kOk) e = region.Sync();
  if (e != FlashError::kOk) {
    return IoError("trust store: writing copy " + std::to_string(target) + ": " + FlashErrorName(e));
  }
  // Read back from the medium: the region must now read as this store.
  std::string back(bytes.size(), '\0');
  e = region.ReadDurable(at, reinterpret_cast<uint8_t*>(back.data()), back.size());
  if (e != FlashError::kOk) return IoError(std::string("trust store: reading back: ") + FlashErrorName(e));
  if (back != bytes) return IoError("trust store: copy " + std::to_string(target) + " reads back different bytes");
  FW_ASSIGN_OR_RETURN(TrustStore now, Read(region));
  if (now.version != new_version || now.copy != target || now.Serialize() != Serialize()) {
    return IoError("trust store: after writing version " + std::to_string(new_version) +
                   " the region reads as version " + std::to_string(now.version));
  }
  return Status::Ok();
}

std::string TrustStore::Serialize() const {
  std::ostringstream out;
  out << kFirstLine << "\n# boot verification keys for this terminal; see bootloader/README.md\n"
      << "hardware-id: " << hardware_id << "\n";
  for (const PublicKey& k : boot_keys) out << k.ToPem();
  return out.str();
}

Status TrustStore::Write(Flash& region) const {
  std::string text = Serialize();
  const size_t align = region.WriteAlignment();
  // Pad with NUL (the end marker): never program bytes beyond the text's tail block.
  text.resize((text.size() + 1 + align - 1) / align * align, '\0');
  if (text.size() > region.Size()) {
    return InvalidArgument("trust store: " + std::to_string(text.size()) + " bytes do not fit the " +
                           std::to_string(region.Size()) + "-byte region");
  }
  FlashError e = region.Erase(0, region.Size());
  if (e == FlashError::kOk) e = region.Write(0, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  if (e == FlashError::kOk) e = region.Sync();
  if (e != FlashError::kOk) return IoError(std::string("trust store: ") + FlashErrorName(e));
  return Status::Ok();
}

}  // namespace fw::boot
