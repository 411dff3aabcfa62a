// Range, If-Range, If-None-Match and HTTP dates (fw/server/static_files.h): parsers of request
// headers, i.e. outside input — fuzzed by tests/fuzz/range_fuzz.cc.
#include <ctime>
#include <limits>
#include <string>
#include <string_view>

#include "fw/server/static_files.h"

namespace fw::server {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits, saturating at UINT64_MAX (a huge first-pos is simply beyond the end).
std::optional<uint64_t> ParseDigits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    v = (v > (kMax - d) / 10) ? kMax : v * 10 + d;
  }
  return v;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The opaque part of an entity tag ("abc" or W/"abc"), with its weakness; nullopt if malformed.
struct EntityTag {
  bool weak = false;
  std::string_view opaque;  // including the quotes
};
std::optional<EntityTag> ParseEntityTag(std::string_view s) {
  EntityTag t;
  if (s.size() >= 2 && s[0] == 'W' && s[1] == '/') {
    t.weak = true;
    s.remove_prefix(2);
  }
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::nullopt;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c < 0x21 || c == 0x7f) return std::nullopt;
  }
  t.opaque = s;
  return t;
}

}  // namespace

RangeDecision DecideRange(std::string_view range_header, uint64_t size) {
  RangeDecision whole;
  std::string_view s = Trim(range_header);
  const size_t eq = s.find('=');
  if (eq == std::string_view::npos || !EqualsNoCase(Trim(s.substr(0, eq)), "bytes")) return whole;
  std::string_view spec = Trim(s.substr(eq + 1));
  // Several ranges (a comma) are answered with the whole representation: see the header.
  if (spec.empty() || spec.find(',') != std::string_view::npos) return whole;
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view first_text = spec.substr(0, dash);
  const std::string_view last_text = spec.substr(dash + 1);
  RangeDecision r;
  if (first_text.empty()) {  // suffix range: the last N bytes
    const auto suffix = ParseDigits(last_text);
    if (!suffix) return whole;
    if (*suffix == 0) return {RangeDecision::Kind::kUnsatisfiable, 0, 0};
    if (size == 0) return whole;  // a 206 cannot describe zero bytes: the (empty) whole
    r.length = *suffix < size ? *suffix : size;
    r.offset = size - r.length;
  } else {
    const auto first = ParseDigits(first_text);
    if (!first) return whole;
    uint64_t last = kMax;
    if (!last_text.empty()) {
      const auto parsed = ParseDigits(last_text);
      if (!parsed || *parsed < *first) return whole;  // invalid spec: ignored
      last = *parsed;
    }
    if (*first >= size) return {RangeDecision::Kind::kUnsatisfiable, 0, 0};
    if (last >= size) last = size - 1;
    r.offset = *first;
    r.length = last - *first + 1;
  }
  r.kind = RangeDecision::Kind::kPartial;
  return r;
}

bool IfRangeMatches(std::string_view if_range, std::string_view etag, int64_t mtime_s) {
  const std::string_view v = Trim(if_range);
  if (!v.empty() && (v.front() == '"' || v.front() == 'W')) {
    const auto tag = ParseEntityTag(v);
    return tag && !tag->weak && tag->opaque == etag;
  }
  const auto date = ParseHttpDate(v);
  return date && *date == mtime_s;
}

bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag) {
  std::string_view rest = Trim(if_none_match);
  if (rest == "*") return true;
  const auto ours = ParseEntityTag(etag);
  if (!ours) return false;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto tag = ParseEntityTag(item);
    if (tag && tag->opaque == ours->opaque) return true;  // weak comparison
  }
  return false;
}

std::string HttpDate(int64_t unix_s) {
  const time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return "";
  char buf[64];
  const size_t n = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  // IMF-fixdate only, 29 characters: "Sun, 06 Nov 1994 08:49:37 GMT".
  if (text.size() != 29) return std::nullopt;
  const std::string s(text);
  struct tm tm {};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const int64_t t = static_cast<int64_t>(timegm(&tm));
  if (HttpDate(t) != s) return std::nullopt;  // canonical form only (no "32 Feb", wrong weekday)
  return t;
}

}  // namespace fw::server
