// The operator API's request parsers (server-stub/ops, lib fw_server_ops_messages; docs/fleet-operator.md,
// "Requests"): query strings, cursors, path pieces and JSON bodies from outside, checked before any
// handler looks at them. Fuzzed by operator_query_fuzz and operator_body_fuzz.
//
// Contract:
//  - Pure functions over their arguments; no I/O, no globals. Every refusal is kInvalidArgument
//    (HTTP 400 bad_request) with a sentence naming the parameter or field and what was wrong.
//  - Query strings: "name=value" pairs joined by '&'; names and values percent-decoded strictly
//    ('%' + two hex digits, '+' = space; a decoded control character or NUL is refused); each name at
//    most once; a name not in the route's list is refused naming it; every value bounded by its spec.
//  - Cursors are opaque to clients: base64url("v1|<list>|<filters digest>|<key>|<check>"). A cursor is
//    accepted only for the list and filters it was made for; anything else (edited, truncated, made
//    for another query) is refused. They carry no secret and give no access: only a position.
//  - Bodies: one JSON object of at most kMaxOperatorBodyBytes, nesting at most 4, no duplicate keys,
//    no unknown fields (each refused naming it), every field type- and range-checked. An empty body
//    counts as {} (for routes whose fields are all optional).
// Thread safety: stateless.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "fw/status.h"

namespace fw::server {

inline constexpr size_t kMaxOperatorBodyBytes = 16 * 1024;
inline constexpr size_t kMaxQueryBytes = 4 * 1024;
inline constexpr size_t kMaxReasonBytes = 512;
// POST /v1/rollouts: the spec (fw/server/rollout.h ParseRolloutSpec bounds it the same way).
inline constexpr size_t kMaxRolloutSpecBytes = 64 * 1024;

// "path?query" -> (path, query); no '?' -> query "".
std::pair<std::string, std::string> SplitTarget(std::string_view target);

struct QueryParamSpec {
  std::string_view name;
  size_t max_bytes = 128;  // of the decoded value
};
using QueryValues = std::map<std::string, std::string, std::less<>>;

Result<std::string> PercentDecode(std::string_view text, size_t max_bytes);
Result<QueryValues> ParseQuery(std::string_view query, std::span<const QueryParamSpec> allowed);

// A decimal integer in [lo, hi] ("-" allowed only when lo < 0; no '+', no leading zeros but "0").
Result<int64_t> ParseDecimal(std::string_view name, std::string_view text, int64_t lo, int64_t hi);
// "true" | "false".
Result<bool> ParseBoolText(std::string_view name, std::string_view text);

std::string EncodeCursor(std::string_view list, std::string_view filters, std::string_view key);
// The key, or kInvalidArgument when the cursor was not made by EncodeCursor(list, filters, ·).
Result<std::string> DecodeCursor(std::string_view cursor, std::string_view list, std::string_view filters);

// Labels: [A-Za-z0-9._:-]{1,64}. Serials: [A-Za-z0-9._-]{1,64} (as the device API).
bool IsValidLabel(std::string_view label);
bool IsValidSerialText(std::string_view serial);
// "FIRST-LAST" of a journal segment (1 <= FIRST <= LAST).
Result<std::pair<int64_t, int64_t>> ParseSegmentRange(std::string_view text);

struct ActionBody {
  std::string kind;  // required
  std::string target;
  std::string type = "forced";
  std::string window;
  int64_t deadline_s = 0;
  bool backup_required = true;
};
struct ReasonBody {
  std::string reason;  // required, 1..kMaxReasonBytes, no control characters
};
struct ExpiresBody {
  std::optional<int64_t> expires_in;  // seconds, 60 .. 10 years
};
struct EnrolTokenBody {
  std::string serial;  // required
  std::optional<int64_t> expires_in;
};
struct TokenBody {
  std::string name;  // required, 1..64 printable ASCII
  std::string role;  // required: viewer | operator | approver | admin
  bool journal_read = false;
  std::optional<int64_t> expires_in;
};

// POST /v1/rollouts/{id}/{start|pause|resume|stop|approve}: {"reason": TEXT, "revert": BOOL}.
struct RolloutOpBody {
  std::string reason;   // 1..kMaxReasonBytes, no control characters; "" only when not required
  bool revert = false;  // only where allowed (stop)
};

Result<ActionBody> ParseActionBody(std::string_view body);
// reason_required: a missing or empty reason is refused; revert_allowed: else "revert" is refused.
Result<RolloutOpBody> ParseRolloutOpBody(std::string_view body, bool reason_required, bool revert_allowed);
Result<ReasonBody> ParseReasonBody(std::string_view body);
Result<ExpiresBody> ParseExpiresBody(std::string_view body);
Result<EnrolTokenBody> ParseEnrolTokenBody(std::string_view body);
Result<TokenBody> ParseTokenBody(std::string_view body);

}  // namespace fw::server
