#include "stream_reply.h"

#include <algorithm>
#include <cctype>

namespace fw::net::internal {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Decimal digits only, at most 19 of them (no overflow); nullopt otherwise.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

bool ReplyHead::Add(std::string_view line) {
  if (line.substr(0, 5) == "HTTP/") {
    *this = ReplyHead();
    const size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      const auto code = ParseDecimal(Trim(line.substr(sp + 1, 3)));
      status = code && *code < 1000 ? static_cast<int>(*code) : 0;
    }
    return false;
  }
  const std::string_view t = Trim(line);
  if (t.empty()) {
    if (status >= 200) complete = true;
    return complete;
  }
  const size_t colon = t.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view name = Trim(t.substr(0, colon));
  const std::string value(Trim(t.substr(colon + 1)));
  if (EqualsNoCase(name, "etag")) {
    etag = value;
  } else if (EqualsNoCase(name, "last-modified")) {
    last_modified = value;
  } else if (EqualsNoCase(name, "content-range")) {
    content_range = value;
  } else if (EqualsNoCase(name, "location")) {
    location = value;
  } else if (EqualsNoCase(name, "retry-after")) {
    retry_after = value;
  } else if (EqualsNoCase(name, "content-length")) {
    content_length = ParseDecimal(value);
  }
  return false;
}

std::optional<ContentRange> ParseContentRange(std::string_view text) {
  text = Trim(text);
  if (text.size() < 6 || !EqualsNoCase(text.substr(0, 6), "bytes ")) return std::nullopt;
  text = Trim(text.substr(6));
  const size_t dash = text.find('-');
  const size_t slash = text.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) return std::nullopt;
  const auto first = ParseDecimal(text.substr(0, dash));
  const auto last = ParseDecimal(text.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) return std::nullopt;
  ContentRange r{*first, *last, std::nullopt};
  const std::string_view total = text.substr(slash + 1);
  if (total != "*") {
    r.total = ParseDecimal(total);
    if (!r.total || *r.total <= *last) return std::nullopt;
  }
  return r;
}

std::optional<uint64_t> ParseRetryAfterSeconds(std::string_view text, uint64_t cap) {
  const auto v = ParseDecimal(Trim(text));
  if (!v) return std::nullopt;
  return std::min(*v, cap);
}

bool IsStrongEtag(std::string_view etag) {
  return etag.size() >= 2 && etag.front() == '"' && etag.back() == '"' && etag.find('"', 1) == etag.size() - 1;
}

}  // namespace fw::net::internal
