// The dashboard's request parsers (forms.h).
#include "forms.h"

#include <utility>

namespace fw::server::dash {
namespace {

bool NameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<QueryValues> ParseUrlEncoded(std::string_view text, size_t max_pairs, size_t max_value_bytes) {
  QueryValues values;
  if (text.empty()) return values;
  size_t start = 0;
  for (size_t index = 1;; ++index) {
    size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view pair = text.substr(start, end - start);
    const std::string where = "pair " + std::to_string(index);
    if (pair.empty()) return InvalidArgument(where + " is empty");
    if (index > max_pairs) return InvalidArgument("more than " + std::to_string(max_pairs) + " fields");
    const size_t eq = pair.find('=');
    auto name = PercentDecode(pair.substr(0, eq), 32);
    if (!name.ok()) return InvalidArgument(where + ": name: " + name.status().message());
    if (name->empty()) return InvalidArgument(where + ": empty name");
    for (char c : *name) {
      if (!NameChar(c)) return InvalidArgument(where + ": a name is [a-z0-9_]");
    }
    if (values.contains(*name)) return InvalidArgument("field " + *name + " given twice");
    const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto value = PercentDecode(raw, max_value_bytes);
    if (!value.ok()) return InvalidArgument("field " + *name + ": " + value.status().message());
    values.emplace(std::move(*name), std::move(*value));
    if (end == text.size()) break;
    start = end + 1;
  }
  return values;
}

std::optional<std::string> CookieValue(std::string_view header, std::string_view name) {
  if (header.size() > kMaxCookieHeaderBytes || name.empty()) return std::nullopt;
  std::optional<std::string> found;
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(';', start);
    if (end == std::string_view::npos) end = header.size();
    const std::string_view pair = TrimSpaces(header.substr(start, end - start));
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && TrimSpaces(pair.substr(0, eq)) == name) {
      if (found) return std::nullopt;  // twice: ambiguous
      std::string_view value = TrimSpaces(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      found = std::string(value);
    }
    if (end == header.size()) break;
    start = end + 1;
  }
  return found;
}

std::optional<std::string> SafeUiPath(std::string_view text) {
  if (text.empty() || text.size() > kMaxUiPathBytes) return std::nullopt;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '#' || c == '`') {
      return std::nullopt;
    }
  }
  const std::string_view path = text.substr(0, text.find('?'));
  if (path != "/ui" && !path.starts_with("/ui/")) return std::nullopt;
  if (path.find("//") != std::string_view::npos) return std::nullopt;
  // Path segments "." and ".." (also percent-encoded: a browser normalises "%2e%2e" too).
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string segment(path.substr(start, end - start));
    for (auto& c : segment) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (segment == "." || segment == ".." || segment == "%2e" || segment == "%2e%2e" || segment == ".%2e" ||
        segment == "%2e.") {
      return std::nullopt;
    }
    if (end == path.size()) break;
    start = end + 1;
  }
  return std::string(text);
}

}  // namespace fw::server::dash
