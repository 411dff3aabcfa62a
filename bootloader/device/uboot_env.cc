#include "fw/boot/uboot_env.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace fw::boot::uenv {
namespace {

// zlib's CRC-32 (reflected 0xEDB88320, init and final xor 0xFFFFFFFF), table-driven:
// environments are up to 1 MiB and the power-cut sweeps load them many times.
constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int b = 0; b < 8; ++b) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t Crc32(const uint8_t* data, size_t len) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; ++i) crc = kCrcTable[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

std::string Hex(uint64_t v, int width = 0) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

// A name or value for an error message: printable ASCII as is, other bytes as \xNN,
// at most 64 bytes of the input.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 64; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > 64) out += "...";
  return out + "'";
}

// Length of the valid UTF-8 sequence starting at s[i] and its code point, or 0 when the
// bytes there are not valid UTF-8 (overlong forms, surrogates, > U+10FFFF, truncated).
size_t Utf8Sequence(std::string_view s, size_t i, uint32_t* cp) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(i);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n = 0;
  uint32_t v = 0, min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

bool IsControl(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

const char* FlagsRuleName(FlagsRule rule) { return rule == FlagsRule::kBoolean ? "boolean" : "incremental"; }

Result<FlagsRule> ParseFlagsRule(std::string_view text) {
  if (text == "incremental") return FlagsRule::kIncremental;
  if (text == "boolean") return FlagsRule::kBoolean;
  return InvalidArgument("unknown u-boot env flags rule " + Quote(text) + " (expected incremental or boolean)");
}

Status ValidateName(std::string_view name) {
  if (name.empty()) return InvalidArgument("empty variable name");
  if (name.size() > kMaxNameSize) {
    return InvalidArgument("variable name " + Quote(name) + " is " + std::to_string(name.size()) +
                           " bytes, longer than " + std::to_string(kMaxNameSize));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c <= 0x20 || c >= 0x7F || c == '=') {
      return InvalidArgument("variable name " + Quote(name) + " has byte " + Hex(c, 2) + " at position " +
                             std::to_string(i) + " (names are printable ASCII without spaces or '=')");
    }
  }
  return Status::Ok();
}

Status ValidateValue(std::string_view name, std::string_view value) {
  if (value.size() > kMaxValueSize) {
    return InvalidArgument("value of " + Quote(name) + " is " + std::to_string(value.size()) + " bytes, longer than " +
                           std::to_string(kMaxValueSize));
  }
  for (size_t i = 0; i < value.size();) {
    uint32_t cp = 0;
    size_t n = Utf8Sequence(value, i, &cp);
    if (n == 0) {
      return InvalidArgument("value of " + Quote(name) + " is not valid UTF-8 at byte " + std::to_string(i));
    }
    if (IsControl(cp)) {
      return InvalidArgument("value of " + Quote(name) + " has control character U+" + Hex(cp, 4).substr(2) +
                             " at byte " + std::to_string(i));
    }
    i += n;
  }
  return Status::Ok();
}

std::optional<std::string> Env::Get(std::string_view name) const {
  auto it = vars_.find(name);
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

Status Env::Set(std::string_view name, std::string_view value) {
  FW_RETURN_IF_ERROR(ValidateName(name));
  FW_RETURN_IF_ERROR(ValidateValue(name, value));
  vars_.insert_or_assign(std::string(name), std::string(value));
  return Status::Ok();
}

void Env::Erase(std::string_view name) {
  auto it = vars_.find(name);
  if (it != vars_.end()) vars_.erase(it);
}

Result<DecodedCopy> DecodeCopy(ByteSpan bytes, bool redundant) {
  const size_t h = HeaderSize(redundant);
  if (bytes.size() < h + 2) {
    return Corrupt("u-boot env copy of " + std::to_string(bytes.size()) + " bytes is shorter than its header (" +
                   std::to_string(h) + ") + 2");
  }
  if (bytes.size() > kMaxEnvSize) {
    return Corrupt("u-boot env copy of " + std::to_string(bytes.size()) + " bytes is larger than the limit of " +
                   std::to_string(kMaxEnvSize));
  }
  uint32_t stored = Le32(bytes.data());
  uint32_t computed = Crc32(bytes.data() + h, bytes.size() - h);
  if (stored != computed) {
    return Corrupt("u-boot env copy: crc mismatch (stored " + Hex(stored, 8) + ", computed " + Hex(computed, 8) +
                   " over bytes " + std::to_string(h) + ".." + std::to_string(bytes.size()) + ")");
  }
  DecodedCopy out;
  out.flags = redundant ? bytes[4] : 0;
  std::string_view data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  size_t pos = h;
  while (true) {
    if (pos >= data.size()) {
      return Corrupt("u-boot env copy: no terminating empty string (the data runs to the end of the copy)");
    }
    if (data[pos] == '\0') break;  // the empty string after the last entry
    size_t end = data.find('\0', pos);
    if (end == std::string_view::npos) {
      return Corrupt("u-boot env copy: no terminating empty string (the entry at byte " + std::to_string(pos) +
                     " runs to the end of the copy)");
    }
    std::string_view entry = data.substr(pos, end - pos);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) {
      return Corrupt("u-boot env copy: entry " + Quote(entry) + " at byte " + std::to_string(pos) + " has no '='");
    }
    std::string_view name = entry.substr(0, eq), value = entry.substr(eq + 1);
    if (name.empty()) return Corrupt("u-boot env copy: entry at byte " + std::to_string(pos) + " has an empty name");
    if (Status s = ValidateName(name); !s.ok()) {
      return Corrupt("u-boot env copy: entry at byte " + std::to_string(pos) + ": " + s.message());
    }
    if (Status s = ValidateValue(name, value); !s.ok()) {
      return Corrupt("u-boot env copy: entry at byte " + std::to_string(pos) + ": " + s.message());
    }
    if (out.env.Get(name)) {
      return Corrupt("u-boot env copy: duplicate variable " + Quote(name) + " at byte " + std::to_string(pos));
    }
    Status set = out.env.Set(name, value);
    if (!set.ok()) return Corrupt("u-boot env copy: " + set.message());
    pos = end + 1;
  }
  return out;
}

Bytes EncodeData(const Env& env) {
  Bytes out;
  for (const auto& [name, value] : env.vars()) {
    out.insert(out.end(), name.begin(), name.end());
    out.push_back('=');
    out.insert(out.end(), value.begin(), value.end());
    out.push_back(0);
  }
  out.push_back(0);
  if (out.size() == 1) out.push_back(0);  // an empty environment is "\0\0"
  return out;
}

Result<Bytes> EncodeCopy(const Env& env, size_t size, bool redundant, uint8_t flags, uint8_t pad) {
  const size_t h = HeaderSize(redundant);
  if (size < h + 2 || size > kMaxEnvSize) {
    return InvalidArgument("u-boot env copy size " + std::to_string(size) + " is outside " + std::to_string(h + 2) +
                           ".." + std::to_string(kMaxEnvSize));
  }
  if (pad != 0xFF && pad != 0x00) return InvalidArgument("u-boot env padding must be 0xff or 0x00, not " + Hex(pad, 2));
  Bytes data = EncodeData(env);
  if (data.size() > size - h) {
    return InvalidArgument("u-boot env of " + std::to_string(data.size()) + " bytes (" +
                           std::to_string(env.vars().size()) + " variables) does not fit in a copy of " +
                           std::to_string(size) + " bytes (" + std::to_string(size - h) + " for data)");
  }
  Bytes out(size, pad);
  std::copy(data.begin(), data.end(), out.begin() + static_cast<ptrdiff_t>(h));
  uint32_t crc = Crc32(out.data() + h, size - h);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(crc >> (8 * i));
  if (redundant) out[4] = flags;
  return out;
}

std::optional<uint8_t> SelectCopy(FlagsRule rule, const bool valid[2], const uint8_t flags[2]) {
  if (!valid[0] && !valid[1]) return std::nullopt;
  if (!valid[1]) return 0;
  if (!valid[0]) return 1;
  uint8_t current = flags[1] > flags[0] ? 1 : 0;
  if (rule == FlagsRule::kBoolean) {
    if (flags[1] == 0xFF) {
      current = 1;
    } else if (flags[0] == 0xFF) {
      current = 0;
    }
  } else {
    if (flags[0] == 0xFF && flags[1] == 0x00) {
      current = 1;
    } else if (flags[1] == 0xFF && flags[0] == 0x00) {
      current = 0;
    }
  }
  return current;
}

}  // namespace fw::boot::uenv
