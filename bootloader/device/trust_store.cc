#include "fw/boot/trust_store.h"

#include <sstream>

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

Result<TrustStore> TrustStore::Read(Flash& region) {
  std::string text(static_cast<size_t>(region.Size()), '\0');
  FlashError e = region.Read(0, reinterpret_cast<uint8_t*>(text.data()), text.size());
  if (e != FlashError::kOk) return IoError(std::string("trust store: ") + FlashErrorName(e));
  return Parse(text);
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
