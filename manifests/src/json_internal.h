// Internal to fw_tuf_metadata: nlohmann-json helpers shared by the canonical
// serializer and the TUF model. Not a public header (no third-party types leak).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fw/status.h"

namespace fw::json_internal {

using Json = nlohmann::json;

// Parses bounded JSON text: refuses more than `max_bytes`, nesting deeper than
// kMaxJsonDepth, and malformed text, with a message naming the problem.
Result<Json> ParseBounded(std::string_view text, uint64_t max_bytes);

// Canonical JSON of a parsed value (floats refused).
Result<std::string> Canonical(const Json& value);

}  // namespace fw::json_internal
