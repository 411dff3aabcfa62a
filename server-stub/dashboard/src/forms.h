// The dashboard's request parsers (internal to fw_server_dashboard, lib fw_server_dashboard_forms;
// docs/dashboard.md): form bodies and query strings (application/x-www-form-urlencoded), the Cookie
// header, and the /ui/ paths a request may send the browser back to. Input from the browser, checked
// before anything looks at it. Fuzzed by dashboard_forms_fuzz.
//
// Contract:
//  - ParseUrlEncoded: "name=value" pairs joined by '&' (an empty text is no pairs; an empty pair is
//    refused). Names and values are percent-decoded strictly (PercentDecode of operator_messages.h:
//    '%' + two hex digits, '+' = space, no decoded control character or NUL); a name is
//    [a-z0-9_]{1,32}, at most once, at most `max_pairs` pairs; a value at most `max_value_bytes`.
//    Every refusal is kInvalidArgument naming the pair.
//  - CookieValue: the value of cookie `name` in a Cookie header ("a=1; b=2", RFC 6265 section 5.4);
//    nullopt when the cookie is absent, appears twice (ambiguous: never guess which one is ours) or
//    the header is longer than kMaxCookieHeaderBytes.
//  - SafeUiPath: the text when it is a path on the dashboard the browser may be sent to (a redirect
//    after login or after a form): "/ui" or "/ui/..." with an optional query, printable ASCII without
//    space, backslash, quotes, '<', '>', '#', no "//" and no "." or ".." path segment (so neither a
//    scheme-relative URL "//host" nor a path out of /ui/ can pass), at most kMaxUiPathBytes; else nullopt.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "fw/server/operator_messages.h"
#include "fw/status.h"

namespace fw::server::dash {

inline constexpr size_t kMaxCookieHeaderBytes = 8 * 1024;
inline constexpr size_t kMaxUiPathBytes = 512;

Result<QueryValues> ParseUrlEncoded(std::string_view text, size_t max_pairs, size_t max_value_bytes);
std::optional<std::string> CookieValue(std::string_view header, std::string_view name);
std::optional<std::string> SafeUiPath(std::string_view text);

}  // namespace fw::server::dash
