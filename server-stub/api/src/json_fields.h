// Bounded JSON bodies and typed field access for the device API's parsers (internal to
// fw_server_api; nlohmann::json stays inside the component's .cc files).
// Every failure is kCorrupt naming the field. Thread safety: stateless.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fw/status.h"

namespace fw::server::json_fields {

using Json = nlohmann::json;

inline constexpr int kMaxDepth = 8;

// An object at the top, at most max_bytes, nesting at most kMaxDepth.
Result<Json> ParseObject(std::string_view body, size_t max_bytes, std::string_view what);

// A string member: absent or null -> std::nullopt when !required (kCorrupt when required);
// not a string, longer than max_bytes, or holding a control character -> kCorrupt.
Result<std::optional<std::string>> String(const Json& obj, const char* name, bool required, size_t max_bytes);
// An integer member in [lo, hi] (no floats, no strings).
Result<std::optional<int64_t>> Int(const Json& obj, const char* name, bool required, int64_t lo, int64_t hi);
// An object member (absent/null -> nullopt when !required).
Result<const Json*> Object(const Json& obj, const char* name, bool required);

}  // namespace fw::server::json_fields
