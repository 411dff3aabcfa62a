#include "fw/pkcs11_uri.h"

#include <strings.h>

#include <array>
#include <type_traits>

namespace fw {
namespace {

constexpr std::string_view kScheme = "pkcs11:";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view name, std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      out.push_back(v[i]);
      continue;
    }
    const int h = i + 1 < v.size() ? HexValue(v[i + 1]) : -1;
    const int l = i + 2 < v.size() ? HexValue(v[i + 2]) : -1;
    if (h < 0 || l < 0) {
      return InvalidArgument("pkcs11 URI attribute " + std::string(name) + ": bad %-escape at \"" +
                             std::string(v.substr(i, 3)) + "\" (expected %XX, two hex digits)");
    }
    out.push_back(static_cast<char>(h * 16 + l));
    i += 2;
  }
  return out;
}

// Characters written without escaping: unreserved ones, plus '/' and ':' (paths, "file:") in
// query values. Everything else is %XX, so the separators ; ? & = never appear raw in a value.
bool IsPlain(char c, bool query) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  if (c == '-' || c == '.' || c == '_' || c == '~') return true;
  return query && (c == '/' || c == ':');
}

std::string PercentEncode(std::string_view v, bool query) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : v) {
    if (IsPlain(c, query)) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += {'%', kHex[b >> 4], kHex[b & 15]};
    }
  }
  return out;
}

struct Attr {
  std::string_view name;
  bool query;
  size_t max_len;  // 0: unbounded (below the URI bound)
};

constexpr std::array<Attr, 11> kAttrs = {{{"token", false, 32},
                                          {"manufacturer", false, 32},
                                          {"serial", false, 16},
                                          {"model", false, 16},
                                          {"object", false, 0},
                                          {"id", false, 0},
                                          {"type", false, 0},
                                          {"module-path", true, 0},
                                          {"module-name", true, 0},
                                          {"pin-source", true, 0},
                                          {"pin-value", true, 0}}};

// The string member for an attribute name (every attribute but id); nullptr for others.
template <typename Uri>
auto* StringField(Uri& u, std::string_view name) {
  using Field = std::conditional_t<std::is_const_v<Uri>, const std::optional<std::string>, std::optional<std::string>>;
  Field* f = nullptr;
  if (name == "token") f = &u.token;
  if (name == "manufacturer") f = &u.manufacturer;
  if (name == "serial") f = &u.serial;
  if (name == "model") f = &u.model;
  if (name == "object") f = &u.object;
  if (name == "type") f = &u.type;
  if (name == "module-path") f = &u.module_path;
  if (name == "module-name") f = &u.module_name;
  if (name == "pin-source") f = &u.pin_source;
  if (name == "pin-value") f = &u.pin_value;
  return f;
}

Status SetAttribute(Pkcs11Uri& u, std::string_view item, bool query) {
  const size_t eq = item.find('=');
  const std::string_view name = item.substr(0, eq);
  const char* where = query ? "query" : "path";
  const Attr* attr = nullptr;
  for (const auto& a : kAttrs) {
    if (a.name == name) attr = &a;
  }
  if (attr == nullptr) {
    return InvalidArgument("pkcs11 URI: unknown " + std::string(where) + " attribute \"" + std::string(name) +
                           "\" (path: token, manufacturer, serial, model, object, id, type; query: module-path, "
                           "module-name, pin-source, pin-value)");
  }
  if (attr->query != query) {
    return InvalidArgument("pkcs11 URI: attribute " + std::string(name) + " belongs in the " +
                           (attr->query ? "query (after '?')" : "path (before '?')"));
  }
  if (eq == std::string_view::npos) return InvalidArgument("pkcs11 URI attribute " + std::string(name) + ": no '='");
  FW_ASSIGN_OR_RETURN(std::string value, PercentDecode(name, item.substr(eq + 1)));
  if (value.empty()) return InvalidArgument("pkcs11 URI attribute " + std::string(name) + ": empty value");
  if (attr->max_len != 0 && value.size() > attr->max_len) {
    return InvalidArgument("pkcs11 URI attribute " + std::string(name) + ": " + std::to_string(value.size()) +
                           " bytes, longer than the token's " + std::to_string(attr->max_len) + "-byte field");
  }
  if (name == "id") {
    if (u.id) return InvalidArgument("pkcs11 URI: attribute id given twice");
    u.id = std::vector<uint8_t>(value.begin(), value.end());
    return Status::Ok();
  }
  std::optional<std::string>* field = StringField(u, name);
  if (field->has_value()) return InvalidArgument("pkcs11 URI: attribute " + std::string(name) + " given twice");
  if (name == "type" && value != "private" && value != "public" && value != "cert" && value != "secret-key" &&
      value != "data") {
    return InvalidArgument("pkcs11 URI attribute type: \"" + value +
                           "\" is not one of private, public, cert, secret-key, data");
  }
  *field = std::move(value);
  return Status::Ok();
}

// Calls `fn` for each non-empty item of `s` split at `sep`.
template <typename Fn>
Status ForEachItem(std::string_view s, char sep, Fn fn) {
  while (!s.empty()) {
    const size_t end = s.find(sep);
    const std::string_view item = s.substr(0, end);
    if (item.empty()) return InvalidArgument(std::string("pkcs11 URI: empty attribute (\"") + sep + sep + "\")");
    FW_RETURN_IF_ERROR(fn(item));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
    if (s.empty()) break;  // a trailing separator is harmless
  }
  return Status::Ok();
}

}  // namespace

Result<Pkcs11Uri> Pkcs11Uri::Parse(std::string_view text) {
  if (text.size() < kScheme.size() || ::strncasecmp(text.data(), kScheme.data(), kScheme.size()) != 0) {
    return InvalidArgument("not a pkcs11 URI (it must start with \"pkcs11:\")");
  }
  if (text.size() > kMaxUriLength) {
    return InvalidArgument("pkcs11 URI is " + std::to_string(text.size()) + " bytes; the limit is " +
                           std::to_string(kMaxUriLength));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return InvalidArgument("pkcs11 URI: character " + std::to_string(i + 1) +
                             " is a space, control or non-ASCII byte; percent-encode it (%XX)");
    }
  }
  text.remove_prefix(kScheme.size());
  const size_t q = text.find('?');
  Pkcs11Uri u;
  FW_RETURN_IF_ERROR(
      ForEachItem(text.substr(0, q), ';', [&](std::string_view item) { return SetAttribute(u, item, false); }));
  if (q != std::string_view::npos) {
    FW_RETURN_IF_ERROR(
        ForEachItem(text.substr(q + 1), '&', [&](std::string_view item) { return SetAttribute(u, item, true); }));
  }
  // Normalising percent-encodes more (e.g. '=' and ':' in the path): a URI whose normal form is
  // over the limit could be read but never written back, so it is refused here.
  if (const size_t normal = u.ToString(true).size(); normal > kMaxUriLength) {
    return InvalidArgument("pkcs11 URI is " + std::to_string(normal) + " bytes once normalised; the limit is " +
                           std::to_string(kMaxUriLength));
  }
  return u;
}

std::string Pkcs11Uri::ToString(bool with_pin) const {
  std::string path;
  auto add = [](std::string& out, char sep, std::string_view name, const std::string& value, bool query) {
    if (!out.empty()) out.push_back(sep);
    out += std::string(name) + "=" + PercentEncode(value, query);
  };
  for (const auto& a : kAttrs) {
    if (a.query) continue;
    if (a.name == "id") {
      if (id) add(path, ';', "id", std::string(id->begin(), id->end()), false);
      continue;
    }
    const auto* f = StringField(*this, a.name);
    if (f->has_value()) add(path, ';', a.name, **f, false);
  }
  std::string query;
  if (module_path) add(query, '&', "module-path", *module_path, true);
  if (module_name) add(query, '&', "module-name", *module_name, true);
  if (pin_source) add(query, '&', "pin-source", *pin_source, true);
  if (pin_value) add(query, '&', "pin-value", with_pin ? *pin_value : "***", true);
  return "pkcs11:" + path + (query.empty() ? "" : "?" + query);
}

}  // namespace fw
