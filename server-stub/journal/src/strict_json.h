// Strict, bounded JSON parsing for the witness (internal to fw_server_journal).
// One JSON text -> nlohmann::json, refusing duplicate keys and nesting deeper than asked,
// and scanning every string (names and values) for something that looks like a full card
// number on the way, so a value later overwritten or discarded is scanned too.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fw/status.h"

namespace fw::server::witness::internal {

// Number of digits of the first digit run in `s` (spaces and dashes inside a run ignored)
// that looks like a full card number: a 13..19 digit window of it is Luhn-valid, or the run
// is longer than 64 digits (it may hide one). 0 when there is none.
size_t CardLikeDigits(std::string_view s);

struct CardHit {
  std::string field;  // a printable label: "pan_masked", "extensions.note", "an extension name"
  size_t digits = 0;
};

struct StrictJson {
  nlohmann::json value;         // valid only when error is empty
  std::string error;            // why the text is refused (never quotes the text)
  std::optional<CardHit> card;  // first string that looks like a card number
};

// With `scan_cards`, the values of the top-level members "hash" and "prev_hash" are not scanned
// when they are exactly 64 lower-case hex digits (hashes are checked by recomputation, and hex
// often holds long digit runs); every other string, member names included, is.
StrictJson ParseStrict(std::string_view text, int max_depth, bool scan_cards);

// True for [a-z0-9_]{1,32} with no card-like run: safe to quote in a message.
bool QuotableName(std::string_view name);
bool IsHex64(std::string_view s);

// Reads an integer member in [min, max]; kCorrupt naming `what` otherwise.
Result<int64_t> IntField(const nlohmann::json& obj, const char* key, int64_t min, int64_t max, const std::string& what);
Result<std::string> StringField(const nlohmann::json& obj, const char* key, const std::string& what);

// Every member of `obj` is one of `allowed`; the first `required` ones must be present.
Status CheckMembers(const nlohmann::json& obj, std::initializer_list<const char*> required,
                    std::initializer_list<const char*> optional, const std::string& what);

}  // namespace fw::server::witness::internal
