#include "fw/journal/record.h"

#include <openssl/evp.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "fw/encoding.h"

namespace fw::journal {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kSale:
      return "sale";
    case Kind::kRefund:
      return "refund";
    case Kind::kVoid:
      return "void";
    case Kind::kSettlement:
      return "settlement";
  }
  return "sale";
}

Result<Kind> ParseKind(std::string_view name) {
  if (name == "sale") return Kind::kSale;
  if (name == "refund") return Kind::kRefund;
  if (name == "void") return Kind::kVoid;
  if (name == "settlement") return Kind::kSettlement;
  return InvalidArgument("unknown record kind '" + std::string(name) + "' (expected sale, refund, void or settlement)");
}

bool LuhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it < '0' || *it > '9') return false;
    int d = *it - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

namespace {

bool IsMask(char c) { return c == '*' || c == 'X' || c == 'x'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A run of 13..19 digits (ignoring spaces and dashes inside it) is treated as a PAN.
bool ContainsFullPan(std::string_view s) {
  std::string run;
  auto flush = [&]() {
    bool pan = run.size() >= 13 && run.size() <= 19 && LuhnValid(run);
    bool long_run = run.size() >= 13;
    run.clear();
    return pan || long_run;
  };
  for (char c : s) {
    if (IsDigit(c)) {
      run += c;
    } else if ((c == ' ' || c == '-') && !run.empty()) {
      continue;
    } else if (flush()) {
      return true;
    }
  }
  return flush();
}

Status CheckPrintable(std::string_view field, std::string_view v, size_t min, size_t max) {
  if (v.size() < min || v.size() > max) {
    return InvalidArgument(std::string(field) + " must be " + std::to_string(min) + ".." + std::to_string(max) +
                           " characters, got " + std::to_string(v.size()));
  }
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
      return InvalidArgument(std::string(field) + " must be printable ASCII");
    }
  }
  if (ContainsFullPan(v)) {
    return InvalidArgument(std::string(field) +
                           " contains what looks like a full card number; a journal never stores one");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateMaskedPan(std::string_view pan) {
  const std::string hint = " (store a masked PAN such as 411111******1111: at most the first 6 and last 4 digits)";
  if (pan.size() < 12 || pan.size() > 19) {
    return InvalidArgument("masked PAN must be 12..19 characters, got " + std::to_string(pan.size()) + hint);
  }
  size_t i = 0;
  while (i < pan.size() && IsDigit(pan[i])) ++i;
  size_t prefix = i;
  while (i < pan.size() && IsMask(pan[i])) ++i;
  size_t masked = i - prefix;
  size_t suffix_start = i;
  while (i < pan.size() && IsDigit(pan[i])) ++i;
  size_t suffix = i - suffix_start;
  if (i != pan.size()) {
    return InvalidArgument("masked PAN may hold only digits and '*'/'X' as DIGITS MASK DIGITS" + hint);
  }
  if (masked == 0) return InvalidArgument("refusing a full (unmasked) PAN" + hint);
  if (prefix > 6 || suffix > 4) {
    return InvalidArgument("masked PAN shows " + std::to_string(prefix) + " leading and " + std::to_string(suffix) +
                           " trailing digits" + hint);
  }
  return Status::Ok();
}

Status ValidateRecordInput(const RecordInput& in) {
  if (in.time_ms < 0) return InvalidArgument("time must not be negative");
  FW_RETURN_IF_ERROR(CheckPrintable("terminal id", in.terminal_id, 1, 32));
  if (in.amount_minor < 0) return InvalidArgument("amount must not be negative (use kind refund)");
  if (in.currency.size() != 3 || !std::isupper(static_cast<unsigned char>(in.currency[0])) ||
      !std::isupper(static_cast<unsigned char>(in.currency[1])) ||
      !std::isupper(static_cast<unsigned char>(in.currency[2]))) {
    return InvalidArgument("currency must be an ISO 4217 code of 3 upper-case letters, got '" + in.currency + "'");
  }
  FW_RETURN_IF_ERROR_CTX(ValidateMaskedPan(in.pan_masked), "pan");
  if (in.auth_code.size() > 12) return InvalidArgument("auth code must be at most 12 characters");
  for (char c : in.auth_code) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return InvalidArgument("auth code must be alphanumeric");
  }
  if (ContainsFullPan(in.auth_code)) return InvalidArgument("auth code looks like a card number");
  if (in.result != "approved" && in.result != "declined" && in.result != "error") {
    return InvalidArgument("result must be approved, declined or error, got '" + in.result + "'");
  }
  if (in.extensions.size() > 16) return InvalidArgument("at most 16 extension fields");
  for (const auto& [name, value] : in.extensions) {
    if (name.empty() || name.size() > 32) return InvalidArgument("extension name must be 1..32 characters");
    for (char c : name) {
      if (!(std::islower(static_cast<unsigned char>(c)) || IsDigit(c) || c == '_')) {
        return InvalidArgument("extension name '" + name + "' must be [a-z0-9_]");
      }
    }
    FW_RETURN_IF_ERROR(CheckPrintable("extension " + name, value, 0, 256));
  }
  return Status::Ok();
}

namespace {

constexpr std::string_view kDomain = "ptfw-journal-record-v1";

uint8_t* PutU32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i) *p++ = static_cast<uint8_t>(v >> (8 * i));
  return p;
}
uint8_t* PutU64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) *p++ = static_cast<uint8_t>(v >> (8 * i));
  return p;
}
uint8_t* PutStr(uint8_t* p, std::string_view s) {
  p = PutU32(p, static_cast<uint32_t>(s.size()));
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

}  // namespace

size_t CanonicalHeadSize(const CanonicalHead& h) {
  return kDomain.size() + 32 + 8 + 8 + 4 + h.terminal_id.size() + 4 + h.kind.size() + 8 + 4 + h.currency.size() + 4 +
         h.pan_masked.size() + 4 + h.auth_code.size() + 4 + h.result.size() + 4;
}

uint8_t* WriteCanonicalHead(const CanonicalHead& h, uint8_t* p) {
  std::memcpy(p, kDomain.data(), kDomain.size());
  p += kDomain.size();
  std::memcpy(p, h.prev_hash, 32);
  p += 32;
  p = PutU64(p, static_cast<uint64_t>(h.seq));
  p = PutU64(p, static_cast<uint64_t>(h.time_ms));
  p = PutStr(p, h.terminal_id);
  p = PutStr(p, h.kind);
  p = PutU64(p, static_cast<uint64_t>(h.amount_minor));
  p = PutStr(p, h.currency);
  p = PutStr(p, h.pan_masked);
  p = PutStr(p, h.auth_code);
  p = PutStr(p, h.result);
  return PutU32(p, h.extension_count);
}

uint8_t* WriteCanonicalExtension(std::string_view name, std::string_view value, uint8_t* p) {
  return PutStr(PutStr(p, name), value);
}

std::string RecordJsonLine(const Record& r) {
  nlohmann::json j = {{"seq", r.seq},
                      {"time_ms", r.time_ms},
                      {"terminal_id", r.terminal_id},
                      {"kind", KindName(r.kind)},
                      {"amount_minor", r.amount_minor},
                      {"currency", r.currency},
                      {"pan_masked", r.pan_masked},
                      {"auth_code", r.auth_code},
                      {"result", r.result},
                      {"prev_hash", HexEncode(r.prev_hash)},
                      {"hash", HexEncode(r.hash)}};
  for (const auto& [k, v] : r.extensions) j["extensions"][k] = v;
  // A record read from a damaged file may hold bytes that are not UTF-8: replaced, so the
  // line stays JSON (and its hash no longer verifies, which is the truth).
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AppendCanonicalBytes(const Record& r, std::vector<uint8_t>& out) {
  CanonicalHead h;
  h.prev_hash = r.prev_hash.data();
  h.seq = r.seq;
  h.time_ms = r.time_ms;
  h.terminal_id = r.terminal_id;
  h.kind = KindName(r.kind);
  h.amount_minor = r.amount_minor;
  h.currency = r.currency;
  h.pan_masked = r.pan_masked;
  h.auth_code = r.auth_code;
  h.result = r.result;
  h.extension_count = static_cast<uint32_t>(r.extensions.size());
  size_t size = CanonicalHeadSize(h);
  for (const auto& [name, value] : r.extensions) size += CanonicalExtensionSize(name, value);
  const size_t at = out.size();
  out.resize(at + size);
  uint8_t* p = WriteCanonicalHead(h, out.data() + at);
  for (const auto& [name, value] : r.extensions) {  // std::map: sorted by name (bytewise)
    p = WriteCanonicalExtension(name, value, p);
  }
}

// OpenSSL directly (not the fw::Sha256 facade): the facade re-initialises with an
// implicit algorithm fetch per message, which costs more than hashing a record.
struct ChainHasher::Impl {
  struct MdFree {
    void operator()(EVP_MD* p) const { EVP_MD_free(p); }
  };
  struct CtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  };
  std::unique_ptr<EVP_MD, MdFree> md{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx{EVP_MD_CTX_new()};
};

ChainHasher::ChainHasher() : impl_(std::make_unique<Impl>()) {
  if (!impl_->md || !impl_->ctx) std::abort();  // no SHA-256 in libcrypto: nothing can work
}
ChainHasher::~ChainHasher() = default;
ChainHasher::ChainHasher(ChainHasher&&) noexcept = default;
ChainHasher& ChainHasher::operator=(ChainHasher&&) noexcept = default;

Digest ChainHasher::HashBytes(ByteSpan data) {
  Digest d{};
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(impl_->ctx.get(), impl_->md.get(), nullptr) != 1 ||
      EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(impl_->ctx.get(), d.data(), &len) != 1 || len != d.size()) {
    std::abort();
  }
  return d;
}

Digest ChainHasher::Hash(const Record& r) {
  buf_.clear();
  AppendCanonicalBytes(r, buf_);
  return HashBytes(buf_);
}

}  // namespace fw::journal
