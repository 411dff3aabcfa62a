// Hex encoding and little-endian integer packing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"

namespace fw {

// Lower-case hex of `data`.
std::string HexEncode(std::span<const uint8_t> data);
// Decodes hex (either case). Odd length or a non-hex digit is a Corrupt error.
Result<std::vector<uint8_t>> HexDecode(std::string_view hex);

}  // namespace fw
