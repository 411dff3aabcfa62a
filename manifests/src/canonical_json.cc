#include "fw/canonical_json.h"

#include "json_internal.h"

namespace fw {
namespace json_internal {
namespace {

void AppendString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

Status AppendCanonical(std::string& out, const Json& v, int depth) {
  if (depth > kMaxJsonDepth) return Corrupt("JSON nested deeper than " + std::to_string(kMaxJsonDepth));
  switch (v.type()) {
    case Json::value_t::null:
      out += "null";
      return Status::Ok();
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return Status::Ok();
    case Json::value_t::number_integer:
      out += std::to_string(v.get<int64_t>());
      return Status::Ok();
    case Json::value_t::number_unsigned:
      out += std::to_string(v.get<uint64_t>());
      return Status::Ok();
    case Json::value_t::number_float:
      return Corrupt("canonical JSON does not allow floating-point numbers");
    case Json::value_t::string:
      AppendString(out, v.get_ref<const std::string&>());
      return Status::Ok();
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out.push_back(',');
        first = false;
        FW_RETURN_IF_ERROR(AppendCanonical(out, e, depth + 1));
      }
      out.push_back(']');
      return Status::Ok();
    }
    case Json::value_t::object: {
      // nlohmann's default object is a std::map<std::string, ...>: iteration is
      // already in byte order of the keys, which is what canonical JSON wants.
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : v.items()) {
        if (!first) out.push_back(',');
        first = false;
        AppendString(out, key);
        out.push_back(':');
        FW_RETURN_IF_ERROR(AppendCanonical(out, value, depth + 1));
      }
      out.push_back('}');
      return Status::Ok();
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      break;
  }
  return Corrupt("value has no JSON representation");
}

}  // namespace

Result<Json> ParseBounded(std::string_view text, uint64_t max_bytes) {
  if (text.size() > max_bytes) {
    return ResourceExhausted("JSON document of " + std::to_string(text.size()) + " bytes exceeds the cap of " +
                             std::to_string(max_bytes) + " bytes");
  }
  if (JsonNestingDepth(text) > kMaxJsonDepth) {
    return Corrupt("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt("malformed JSON");
  return j;
}

Result<std::string> Canonical(const Json& value) {
  std::string out;
  FW_RETURN_IF_ERROR(AppendCanonical(out, value, 0));
  return out;
}

}  // namespace json_internal

Result<std::string> CanonicalizeJson(std::string_view json_text, uint64_t max_bytes) {
  FW_ASSIGN_OR_RETURN(auto j, json_internal::ParseBounded(json_text, max_bytes));
  return json_internal::Canonical(j);
}

int JsonNestingDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

std::string CanonicalJsonString(std::string_view value) {
  std::string out;
  json_internal::AppendString(out, value);
  return out;
}

}  // namespace fw
