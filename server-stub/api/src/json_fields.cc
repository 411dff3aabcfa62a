#include "json_fields.h"

#include "fw/canonical_json.h"

namespace fw::server::json_fields {

Result<Json> ParseObject(std::string_view body, size_t max_bytes, std::string_view what) {
  const std::string w(what);
  if (body.size() > max_bytes) {
    return Corrupt(w + " of " + std::to_string(body.size()) + " bytes exceeds its cap of " + std::to_string(max_bytes));
  }
  if (JsonNestingDepth(body) > kMaxDepth)
    return Corrupt(w + " nested deeper than " + std::to_string(kMaxDepth) + " levels");
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt(w + " is not JSON");
  if (!j.is_object()) return Corrupt(w + " is not a JSON object");
  return j;
}

Result<std::optional<std::string>> String(const Json& obj, const char* name, bool required, size_t max_bytes) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return Corrupt(std::string("missing field \"") + name + "\"");
    return std::optional<std::string>();
  }
  if (!it->is_string()) return Corrupt(std::string("field \"") + name + "\" is not a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return Corrupt(std::string("field \"") + name + "\" is longer than " + std::to_string(max_bytes) + " bytes");
  }
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\n' && c != '\r') {
      return Corrupt(std::string("field \"") + name + "\" holds a control character");
    }
  }
  return std::optional<std::string>(s);
}

Result<std::optional<int64_t>> Int(const Json& obj, const char* name, bool required, int64_t lo, int64_t hi) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return Corrupt(std::string("missing field \"") + name + "\"");
    return std::optional<int64_t>();
  }
  int64_t v = 0;
  if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return Corrupt(std::string("field \"") + name + "\" is out of range");
    v = static_cast<int64_t>(u);
  } else if (it->is_number_integer()) {
    v = it->get<int64_t>();
  } else {
    return Corrupt(std::string("field \"") + name + "\" is not an integer");
  }
  if (v < lo || v > hi) {
    return Corrupt(std::string("field \"") + name + "\" = " + std::to_string(v) + " is outside " + std::to_string(lo) +
                   ".." + std::to_string(hi));
  }
  return std::optional<int64_t>(v);
}

Result<const Json*> Object(const Json& obj, const char* name, bool required) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return Corrupt(std::string("missing field \"") + name + "\"");
    return static_cast<const Json*>(nullptr);
  }
  if (!it->is_object()) return Corrupt(std::string("field \"") + name + "\" is not an object");
  return &*it;
}

}  // namespace fw::server::json_fields
