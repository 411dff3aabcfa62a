// Canonical JSON (OLPC / securesystemslib flavour), the byte form TUF signs.
//
// Rules, byte-compatible with python-tuf/securesystemslib and tuf-js:
// - no whitespace; object members sorted by key (byte order of the UTF-8 key);
// - strings are emitted as raw UTF-8 with only `"` and `\` escaped;
// - integers in decimal; floating-point numbers are refused;
// - true, false, null as usual.
// Input is any JSON text; parsing is bounded (size, nesting depth) so hostile input
// yields an error, never a crash.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fw/status.h"

namespace fw {

// Deepest nesting of arrays/objects any parser here accepts.
inline constexpr int kMaxJsonDepth = 32;

// Parses `json_text` (at most `max_bytes`) and returns its canonical form.
Result<std::string> CanonicalizeJson(std::string_view json_text, uint64_t max_bytes = 16 * 1024 * 1024);

// The canonical form of one string value, quotes included.
std::string CanonicalJsonString(std::string_view value);

// Deepest nesting of [ and { in `text`, counting brackets outside strings only: lets a parser of
// outside JSON refuse hostile nesting before any recursive code sees it (no parsing, O(n)).
int JsonNestingDepth(std::string_view text);

}  // namespace fw
