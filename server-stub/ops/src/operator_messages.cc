// The operator API's request parsers (fw/server/operator_messages.h).
#include "fw/server/operator_messages.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "fw/canonical_json.h"
#include "fw/crypto.h"
#include "fw/encoding.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;

constexpr int kMaxBodyDepth = 4;
constexpr int64_t kMaxExpiresIn = 10LL * 366 * 86400;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 64)) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  return out + (text.size() > 64 ? "...\"" : "\"");
}

std::string Digest16(std::string_view text) { return HexEncode(Sha256::Of(AsBytes(text))).substr(0, 16); }

}  // namespace

std::pair<std::string, std::string> SplitTarget(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {std::string(target), ""};
  return {std::string(target.substr(0, q)), std::string(target.substr(q + 1))};
}

Result<std::string> PercentDecode(std::string_view text, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return InvalidArgument("truncated %-escape");
      const int hi = HexDigit(text[i + 1]), lo = HexDigit(text[i + 2]);
      if (hi < 0 || lo < 0) return InvalidArgument("bad %-escape " + Quoted(text.substr(i, 3)));
      c = static_cast<char>((hi << 4) | lo);
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return InvalidArgument("a control character in the query");
    if (out.size() >= max_bytes) return InvalidArgument("longer than " + std::to_string(max_bytes) + " bytes");
    out.push_back(c);
  }
  return out;
}

Result<QueryValues> ParseQuery(std::string_view query, std::span<const QueryParamSpec> allowed) {
  if (query.size() > kMaxQueryBytes) {
    return InvalidArgument("the query string exceeds " + std::to_string(kMaxQueryBytes) + " bytes");
  }
  QueryValues values;
  size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) {
      if (end == query.size()) break;
      continue;  // "a=1&&b=2": an empty pair carries nothing
    }
    const size_t eq = pair.find('=');
    auto name = PercentDecode(pair.substr(0, eq), 32);
    if (!name.ok()) return InvalidArgument("query parameter name: " + name.status().message());
    const QueryParamSpec* spec = nullptr;
    for (const auto& s : allowed) {
      if (s.name == *name) spec = &s;
    }
    if (spec == nullptr) return InvalidArgument("unknown query parameter " + Quoted(*name));
    if (values.contains(*name)) return InvalidArgument("query parameter " + Quoted(*name) + " given twice");
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto value = PercentDecode(raw, spec->max_bytes);
    if (!value.ok()) return InvalidArgument("query parameter " + Quoted(*name) + ": " + value.status().message());
    values.emplace(std::move(*name), std::move(*value));
    if (end == query.size()) break;
  }
  return values;
}

Result<int64_t> ParseDecimal(std::string_view name, std::string_view text, int64_t lo, int64_t hi) {
  const std::string what = "\"" + std::string(name) + "\" ";
  bool negative = false;
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '-' && lo < 0) {
    negative = true;
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.size() > 19) return InvalidArgument(what + "must be a decimal integer");
  if (digits.size() > 1 && digits[0] == '0') return InvalidArgument(what + "has a leading zero");
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return InvalidArgument(what + "must be a decimal integer");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(INT64_MAX)) return InvalidArgument(what + "is out of range");
  const int64_t s = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  if (s < lo || s > hi) {
    return InvalidArgument(what + "= " + std::to_string(s) + " is outside " + std::to_string(lo) + ".." +
                           std::to_string(hi));
  }
  return s;
}

Result<bool> ParseBoolText(std::string_view name, std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return InvalidArgument("\"" + std::string(name) + "\" must be true or false");
}

std::string EncodeCursor(std::string_view list, std::string_view filters, std::string_view key) {
  std::string text = "v1|" + std::string(list) + "|" + Digest16(filters) + "|" + std::string(key);
  text += "|" + Digest16(text);
  return Base64UrlEncode(AsBytes(text));
}

Result<std::string> DecodeCursor(std::string_view cursor, std::string_view list, std::string_view filters) {
  const Status bad = InvalidArgument("cursor was not made by this server for this list and these filters");
  if (cursor.empty() || cursor.size() > 512) return bad;
  auto raw = Base64UrlDecode(cursor);
  if (!raw.ok()) return bad;
  const std::string text(raw->begin(), raw->end());
  const size_t bar = text.rfind('|');
  if (bar == std::string::npos || text.substr(bar + 1) != Digest16(text.substr(0, bar))) return bad;
  const std::string prefix = "v1|" + std::string(list) + "|" + Digest16(filters) + "|";
  if (!text.starts_with(prefix) || bar < prefix.size()) return bad;
  return text.substr(prefix.size(), bar - prefix.size());
}

bool IsValidLabel(std::string_view label) {
  if (label.empty() || label.size() > 64) return false;
  for (char c : label) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

bool IsValidSerialText(std::string_view serial) {
  if (serial.empty() || serial.size() > 64) return false;
  for (char c : serial) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

Result<std::pair<int64_t, int64_t>> ParseSegmentRange(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) return InvalidArgument("a segment is named FIRST-LAST");
  FW_ASSIGN_OR_RETURN(int64_t first, ParseDecimal("first", text.substr(0, dash), 1, INT64_MAX));
  FW_ASSIGN_OR_RETURN(int64_t last, ParseDecimal("last", text.substr(dash + 1), 1, INT64_MAX));
  if (last < first) return InvalidArgument("a segment's last sequence number is below its first");
  return std::make_pair(first, last);
}

namespace {

// A flat JSON object: no duplicate keys, only `fields` allowed.
Result<Json> ParseBodyObject(std::string_view body, std::initializer_list<std::string_view> fields) {
  if (body.size() > kMaxOperatorBodyBytes) {
    return InvalidArgument("the body exceeds " + std::to_string(kMaxOperatorBodyBytes) + " bytes");
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Json::object();
  if (JsonNestingDepth(body) > kMaxBodyDepth) return InvalidArgument("the body is nested too deeply");
  bool duplicate = false;
  std::string duplicate_name;
  std::set<std::string> keys;
  Json::parser_callback_t cb = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      if (!keys.insert(parsed.get<std::string>()).second && !duplicate) {
        duplicate = true;
        duplicate_name = parsed.get<std::string>();
      }
    }
    return true;
  };
  Json j = Json::parse(body, cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("the body is not JSON");
  if (!j.is_object()) return InvalidArgument("the body is not a JSON object");
  if (duplicate) return InvalidArgument("field " + Quoted(duplicate_name) + " given twice");
  for (const auto& [name, value] : j.items()) {
    bool known = false;
    for (auto f : fields) known = known || f == name;
    if (!known) return InvalidArgument("unknown field " + Quoted(name));
  }
  return j;
}

Result<std::optional<std::string>> Text(const Json& obj, const char* name, bool required, size_t max_bytes) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) return InvalidArgument(std::string("missing field \"") + name + "\"");
    return std::optional<std::string>();
  }
  if (!it->is_string()) return InvalidArgument(std::string("field \"") + name + "\" is not a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return InvalidArgument(std::string("field \"") + name + "\" is longer than " + std::to_string(max_bytes) +
                           " bytes");
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return InvalidArgument(std::string("field \"") + name + "\" holds a control character");
  }
  return std::optional<std::string>(s);
}

Result<std::optional<int64_t>> Integer(const Json& obj, const char* name, int64_t lo, int64_t hi) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer() && !it->is_number_unsigned()) {
    return InvalidArgument(std::string("field \"") + name + "\" is not an integer");
  }
  int64_t v = 0;
  if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) return InvalidArgument(std::string("field \"") + name + "\" is out of range");
    v = static_cast<int64_t>(u);
  } else {
    v = it->get<int64_t>();
  }
  if (v < lo || v > hi) {
    return InvalidArgument(std::string("field \"") + name + "\" = " + std::to_string(v) + " is outside " +
                           std::to_string(lo) + ".." + std::to_string(hi));
  }
  return std::optional<int64_t>(v);
}

Result<std::optional<bool>> Boolean(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return InvalidArgument(std::string("field \"") + name + "\" is not true or false");
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<int64_t>> ExpiresIn(const Json& obj) { return Integer(obj, "expires_in", 60, kMaxExpiresIn); }

}  // namespace

Result<ActionBody> ParseActionBody(std::string_view body) {
  FW_ASSIGN_OR_RETURN(Json j,
                      ParseBodyObject(body, {"kind", "target", "type", "window", "deadline", "backup_required"}));
  ActionBody a;
  FW_ASSIGN_OR_RETURN(auto kind, Text(j, "kind", true, 32));
  a.kind = *kind;
  FW_ASSIGN_OR_RETURN(auto target, Text(j, "target", false, 1024));
  a.target = target.value_or("");
  FW_ASSIGN_OR_RETURN(auto type, Text(j, "type", false, 32));
  a.type = type.value_or("forced");
  FW_ASSIGN_OR_RETURN(auto window, Text(j, "window", false, 32));
  a.window = window.value_or("");
  FW_ASSIGN_OR_RETURN(auto deadline, Integer(j, "deadline", 0, INT64_MAX / 2));
  a.deadline_s = deadline.value_or(0);
  FW_ASSIGN_OR_RETURN(auto backup, Boolean(j, "backup_required"));
  a.backup_required = backup.value_or(true);
  return a;
}

Result<ReasonBody> ParseReasonBody(std::string_view body) {
  FW_ASSIGN_OR_RETURN(Json j, ParseBodyObject(body, {"reason"}));
  FW_ASSIGN_OR_RETURN(auto reason, Text(j, "reason", true, kMaxReasonBytes));
  if (reason->empty()) return InvalidArgument("field \"reason\" is empty: say why");
  return ReasonBody{*reason};
}

Result<ExpiresBody> ParseExpiresBody(std::string_view body) {
  FW_ASSIGN_OR_RETURN(Json j, ParseBodyObject(body, {"expires_in"}));
  FW_ASSIGN_OR_RETURN(auto expires, ExpiresIn(j));
  return ExpiresBody{expires};
}

Result<EnrolTokenBody> ParseEnrolTokenBody(std::string_view body) {
  FW_ASSIGN_OR_RETURN(Json j, ParseBodyObject(body, {"serial", "expires_in"}));
  EnrolTokenBody b;
  FW_ASSIGN_OR_RETURN(auto serial, Text(j, "serial", true, 64));
  if (!IsValidSerialText(*serial)) return InvalidArgument("field \"serial\" must be 1-64 of [A-Za-z0-9._-]");
  b.serial = *serial;
  FW_ASSIGN_OR_RETURN(b.expires_in, ExpiresIn(j));
  return b;
}

Result<TokenBody> ParseTokenBody(std::string_view body) {
  FW_ASSIGN_OR_RETURN(Json j, ParseBodyObject(body, {"name", "role", "journal_read", "expires_in"}));
  TokenBody b;
  FW_ASSIGN_OR_RETURN(auto name, Text(j, "name", true, 64));
  if (name->empty()) return InvalidArgument("field \"name\" is empty");
  b.name = *name;
  FW_ASSIGN_OR_RETURN(auto role, Text(j, "role", true, 16));
  if (*role != "viewer" && *role != "operator" && *role != "approver" && *role != "admin") {
    return InvalidArgument("field \"role\" must be viewer, operator, approver or admin");
  }
  b.role = *role;
  FW_ASSIGN_OR_RETURN(auto journal, Boolean(j, "journal_read"));
  b.journal_read = journal.value_or(false);
  FW_ASSIGN_OR_RETURN(b.expires_in, ExpiresIn(j));
  return b;
}

Result<RolloutOpBody> ParseRolloutOpBody(std::string_view body, bool reason_required, bool revert_allowed) {
  FW_ASSIGN_OR_RETURN(Json j, ParseBodyObject(body, {"reason", "revert"}));
  RolloutOpBody b;
  FW_ASSIGN_OR_RETURN(auto reason, Text(j, "reason", reason_required, kMaxReasonBytes));
  if (reason) b.reason = *reason;
  if (reason_required && b.reason.empty()) return InvalidArgument("field \"reason\" is empty: say why");
  FW_ASSIGN_OR_RETURN(auto revert, Boolean(j, "revert"));
  if (revert && !revert_allowed) return InvalidArgument("field \"revert\" is only taken by stop");
  b.revert = revert.value_or(false);
  return b;
}

}  // namespace fw::server
