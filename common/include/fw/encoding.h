// Hex, base64 and base64url encoding, little-endian integer packing and UTC timestamps as text.
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
// Base64url (RFC 4648 section 5) without padding, e.g. operator tokens and API cursors.
std::string Base64UrlEncode(std::span<const uint8_t> data);
// Strict: only [A-Za-z0-9_-], no padding, no whitespace, a length that is not 1 mod 4 and zero
// unused trailing bits (one text per byte string). Anything else is a Corrupt error.
Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);
// Standard base64 (RFC 4648 section 4, with '=' padding, no line breaks).
std::string Base64Encode(std::span<const uint8_t> data);
// Strict: only the alphabet, length a multiple of 4, padding only at the end, unused bits zero
// (one text per byte string). Anything else is a Corrupt error naming the position.
Result<std::vector<uint8_t>> Base64Decode(std::string_view text);
// Seconds since the epoch as ISO 8601 UTC, e.g. "2026-11-26T15:04:05Z".
std::string IsoTimeUtc(int64_t seconds);

}  // namespace fw
