#include "fw/tuf_metadata.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "fw/canonical_json.h"
#include "fw/encoding.h"
#include "tuf_json.h"

namespace fw::tuf {
namespace {

using json::AsStringList;
using json::Field;
using json::GetObject;
using json::GetString;
using json::GetUint;
using json::Json;

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

// ---- keys ------------------------------------------------------------------

Result<Key> Key::FromPublicKey(const PublicKey& key) {
  Key k;
  switch (key.type()) {
    case KeyType::kEd25519:
      k.keytype = "ed25519";
      k.scheme = "ed25519";
      k.public_value = HexEncode(key.RawEd25519());
      return k;
    case KeyType::kEcdsaP256:
      k.keytype = "ecdsa";
      k.scheme = "ecdsa-sha2-nistp256";
      k.public_value = key.ToPem();
      return k;
    case KeyType::kRsaPss:
      k.keytype = "rsa";
      k.scheme = "rsassa-pss-sha256";
      k.public_value = key.ToPem();
      return k;
  }
  return Unsupported("unsupported key type");
}

Result<PublicKey> Key::ToPublicKey() const {
  if (keytype == "ed25519" && scheme == "ed25519") {
    if (public_value.rfind("-----BEGIN", 0) == 0) {
      FW_ASSIGN_OR_RETURN(auto k, PublicKey::FromPem(public_value));
      if (k.type() != KeyType::kEd25519) return VerificationFailed("ed25519 key holds another key type");
      return k;
    }
    FW_ASSIGN_OR_RETURN(Bytes raw, HexDecode(public_value));
    return PublicKey::FromRawEd25519(raw);
  }
  if ((keytype == "ecdsa" || keytype == "ecdsa-sha2-nistp256") && scheme == "ecdsa-sha2-nistp256") {
    FW_ASSIGN_OR_RETURN(auto k, PublicKey::FromPem(public_value));
    if (k.type() != KeyType::kEcdsaP256) return VerificationFailed("ecdsa-sha2-nistp256 key is not a P-256 key");
    return k;
  }
  if (keytype == "rsa" && scheme == "rsassa-pss-sha256") {
    FW_ASSIGN_OR_RETURN(auto k, PublicKey::FromPem(public_value));
    if (k.type() != KeyType::kRsaPss) return VerificationFailed("rsa key is not an RSA key");
    return k;
  }
  return Unsupported("unsupported key type/scheme \"" + keytype + "\"/\"" + scheme + "\"");
}

std::string Key::Canonical() const {
  auto c = json_internal::Canonical(json::KeyJson(*this));
  return c.ok() ? *c : std::string();
}

std::string Key::KeyId() const { return HexEncode(Sha256::Of(AsBytes(Canonical()))); }

// ---- delegations ---------------------------------------------------------------

bool DelegatedRole::MatchesTarget(std::string_view target_path) const {
  if (path_hash_prefixes) {
    const std::string h = HexEncode(Sha256::Of(AsBytes(target_path)));
    for (const auto& p : *path_hash_prefixes) {
      if (h.starts_with(p)) return true;
    }
    return false;
  }
  if (!paths) return false;
  // Each '/'-separated component matches its pattern component (so '*' never
  // crosses a '/'); the counts must be equal.
  auto split = [](std::string_view s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t slash = s.find('/', start);
      parts.emplace_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    return parts;
  };
  const auto target_parts = split(target_path);
  for (const auto& pattern : *paths) {
    const auto pattern_parts = split(pattern);
    if (pattern_parts.size() != target_parts.size()) continue;
    bool all = true;
    for (size_t i = 0; i < pattern_parts.size() && all; ++i) {
      all = ::fnmatch(pattern_parts[i].c_str(), target_parts[i].c_str(), 0) == 0;
    }
    if (all) return true;
  }
  return false;
}

// ---- firmware facts ------------------------------------------------------------

Result<std::optional<FirmwareFacts>> TargetFile::Firmware() const {
  if (!custom) return std::optional<FirmwareFacts>();
  Json c = Json::parse(*custom, nullptr, false);
  if (!c.is_object() || !c.contains("firmware")) return std::optional<FirmwareFacts>();
  const Json& f = c["firmware"];
  const std::string where = "custom.firmware";
  if (!f.is_object()) return Corrupt(where + " must be an object");
  FirmwareFacts facts;
  FW_ASSIGN_OR_RETURN(const Json* hw, Field(f, where, "hardware_ids"));
  FW_ASSIGN_OR_RETURN(facts.hardware_ids, AsStringList(*hw, where, "hardware_ids", false));
  FW_ASSIGN_OR_RETURN(facts.version, GetString(f, where, "version"));
  auto u32 = [&](const char* key) -> Result<uint32_t> {
    FW_ASSIGN_OR_RETURN(uint64_t v, GetUint(f, where, key));
    if (v > UINT32_MAX) return Corrupt(where + ": \"" + key + "\" out of range");
    return static_cast<uint32_t>(v);
  };
  FW_ASSIGN_OR_RETURN(facts.security_counter, u32("security_counter"));
  FW_ASSIGN_OR_RETURN(facts.chunk_size, u32("chunk_size"));
  if (facts.chunk_size == 0) return Corrupt(where + ": chunk_size must be positive");
  FW_ASSIGN_OR_RETURN(facts.chunk_index_sha256, GetString(f, where, "chunk_index_sha256"));
  FW_ASSIGN_OR_RETURN(const Json* js, GetObject(f, where, "journal_schema"));
  FW_ASSIGN_OR_RETURN(uint64_t jmin, GetUint(*js, where + ".journal_schema", "min"));
  FW_ASSIGN_OR_RETURN(uint64_t jmax, GetUint(*js, where + ".journal_schema", "max"));
  if (jmin > jmax || jmax > UINT32_MAX) return Corrupt(where + ": journal_schema range is empty or out of range");
  facts.journal_schema_min = static_cast<uint32_t>(jmin);
  facts.journal_schema_max = static_cast<uint32_t>(jmax);
  return std::optional<FirmwareFacts>(std::move(facts));
}

Status TargetFile::SetFirmware(const FirmwareFacts& facts) {
  Json c = custom ? Json::parse(*custom, nullptr, false) : Json::object();
  if (!c.is_object()) c = Json::object();
  Json f = c.contains("firmware") && c["firmware"].is_object() ? c["firmware"] : Json::object();
  f["hardware_ids"] = facts.hardware_ids;
  f["version"] = facts.version;
  f["security_counter"] = facts.security_counter;
  f["chunk_size"] = facts.chunk_size;
  f["chunk_index_sha256"] = facts.chunk_index_sha256;
  f["journal_schema"] = {{"min", facts.journal_schema_min}, {"max", facts.journal_schema_max}};
  c["firmware"] = f;
  FW_ASSIGN_OR_RETURN(custom, json_internal::Canonical(c));
  return Status::Ok();
}

Result<FirmwareFacts> CheckFirmwarePolicy(std::string_view target_path, const TargetFile& target,
                                          const FirmwarePolicy& policy) {
  const std::string where = "target \"" + std::string(target_path) + "\"";
  auto facts = target.Firmware();
  if (!facts.ok()) return facts.status().WithContext(where);
  if (!facts->has_value()) return VerificationFailed(where + ": no firmware facts in custom");
  const FirmwareFacts& f = **facts;
  if (std::find(f.hardware_ids.begin(), f.hardware_ids.end(), policy.hardware_id) == f.hardware_ids.end()) {
    return VerificationFailed(where + ": not for hardware \"" + policy.hardware_id + "\"");
  }
  if (f.security_counter < policy.installed_security_counter) {
    return VerificationFailed(where + ": security counter " + std::to_string(f.security_counter) +
                              " is lower than the installed " + std::to_string(policy.installed_security_counter));
  }
  return f;
}

// ---- time -------------------------------------------------------------------

Result<int64_t> ParseTufTime(std::string_view t) {
  auto bad = [&] { return Corrupt("expires \"" + std::string(t) + "\" is not YYYY-MM-DDTHH:MM:SSZ"); };
  if (t.size() != 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != 'Z') {
    return bad();
  }
  auto num = [&](size_t pos, size_t len, int64_t& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h, mi, s;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, s)) {
    return bad();
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || s > 60) return bad();
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return bad();
  return DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + s;
}

std::string FormatTufTime(int64_t unix_seconds) {
  int64_t days = unix_seconds / 86400, rem = unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  return buf;
}

void Common::SetExpires(int64_t unix_seconds) {
  expires = FormatTufTime(unix_seconds);
  expires_unix = unix_seconds;
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
        c == '~' || c == '-' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// ---- envelope and signatures ----------------------------------------------------

std::string SerializeEnvelope(std::string_view signed_bytes, const std::vector<Signature>& signatures) {
  std::string out = "{\"signatures\":[";
  bool first = true;
  for (const auto& s : signatures) {
    if (!first) out += ',';
    first = false;
    out += "{\"keyid\":" + CanonicalJsonString(s.keyid) + ",\"sig\":" + CanonicalJsonString(s.sig) + "}";
  }
  out += "],\"signed\":";
  // Canonical JSON leaves control characters (the newlines of a PEM key) raw
  // inside strings, which strict JSON parsers refuse; the file therefore escapes
  // them. Parsing the file and canonicalizing "signed" gives back signed_bytes.
  static constexpr char kHex[] = "0123456789abcdef";
  bool in_string = false, escaped = false;
  for (char c : signed_bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (in_string && !escaped && u < 0x20) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
      continue;
    }
    out.push_back(c);
    if (!in_string) {
      in_string = c == '"';
    } else if (escaped) {
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '"') {
      in_string = false;
    }
  }
  out += "}";
  return out;
}

Result<Signature> SignBytes(std::string_view signed_bytes, const Signer& signer) {
  FW_ASSIGN_OR_RETURN(Key k, Key::FromPublicKey(signer.public_key()));
  FW_ASSIGN_OR_RETURN(Bytes sig, signer.Sign(AsBytes(signed_bytes)));
  return Signature{k.KeyId(), HexEncode(sig)};
}

Status VerifyThreshold(std::string_view role_name, std::string_view signed_bytes,
                       const std::vector<Signature>& signatures, const std::map<std::string, Key>& keys,
                       const RoleKeys& role) {
  // One key counts once, however often and under whatever ids and encodings it is
  // listed (hex in either case, PEM with other line breaks, "ecdsa" or
  // "ecdsa-sha2-nistp256", a compressed EC point, an RSA key tagged RSASSA-PSS): keys
  // are compared by their decoded DER SubjectPublicKeyInfo in canonical form.
  std::set<Bytes> counted;
  for (const auto& keyid : role.keyids) {
    auto key_it = keys.find(keyid);
    if (key_it == keys.end()) continue;
    auto sig_it =
        std::find_if(signatures.begin(), signatures.end(), [&](const Signature& s) { return s.keyid == keyid; });
    if (sig_it == signatures.end()) continue;
    auto pub = key_it->second.ToPublicKey();
    if (!pub.ok()) continue;  // a key we cannot use cannot sign
    auto sig = HexDecode(sig_it->sig);
    if (!sig.ok()) continue;
    if (!pub->Verify(AsBytes(signed_bytes), *sig).ok()) continue;
    auto identity = pub->CanonicalDer();
    if (!identity.ok()) continue;  // cannot tell it apart from another key: it does not count
    counted.insert(std::move(*identity));
  }
  if (counted.size() < role.threshold) {
    return VerificationFailed(std::string(role_name) + ": " + std::to_string(counted.size()) +
                              " valid signature(s) from distinct keys, threshold is " + std::to_string(role.threshold));
  }
  return Status::Ok();
}

}  // namespace fw::tuf
