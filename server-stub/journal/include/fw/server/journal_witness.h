// The server's witness of each terminal's transaction journal (server-stub/journal).
// Owner: the journal component. Pure functions over plain values: no database, no
// socket; the store persists State as the text Serialize() returns.
//
// The journal itself stays on the terminal; the server keeps (a) the segments of records
// the terminal uploaded, re-verified with the project's chain code (fw/journal/record.h),
// and (b) the (last_seq, head) pairs check-ins reported. Together they detect what the
// chain alone cannot: a truncated tail (a later check-in reports a lower last_seq), a
// fork (two different heads for one sequence number: a rewritten journal or a cloned
// terminal), and gaps (records never uploaded), and say which range to ask for.
//
// Contract (the byte formats are in docs/fleet-protocol.md, § Journal segments):
//  - ObserveCheckin(state, last_seq, head_hex) records what a check-in reported and
//    returns findings plus the range the terminal should upload next (if any);
//    `changed` says whether `state` must be persisted (a steady-state check-in that
//    reports what the server already knows changes nothing).
//  - AcceptSegment(state, body) parses a segment from outside (bounded: kMaxSegmentBytes,
//    kMaxSegmentRecords), re-verifies every record's hash and the chain, requires the
//    first record to link to the last verified record the server holds (or to start at
//    sequence 1 from the genesis hash), refuses any record with something that looks
//    like a full card number (a 13-19 digit Luhn-valid run anywhere in a field), and
//    only then advances `state` (nothing changes on any error). Errors:
//      kCorrupt            malformed segment, bad hash or chain inside it   -> HTTP 400
//      kVerificationFailed card data in a record                           -> HTTP 422
//      kFailedPrecondition does not link to what the server holds (fork)    -> HTTP 409
//  - A Finding of kind kFork is the clone/rewrite signal the caller turns into a
//    quarantine.
// Thread safety: stateless functions on caller-owned values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"

namespace fw::server::witness {

inline constexpr uint64_t kMaxSegmentBytes = 8 * 1024 * 1024;
inline constexpr uint64_t kMaxSegmentRecords = 10000;

// What the server holds about one terminal's journal. Fields beyond these are the journal
// component's choice (bounded: the text form stays under 64 KiB).
struct State {
  int64_t epoch = 1;               // bumped when the server starts over (e.g. restored database)
  int64_t verified_seq = 0;        // last sequence number held verified in segments (0: none)
  std::string verified_head_hex;   // that record's hash, lower-case hex ("" when none)
  int64_t witnessed_seq = 0;       // highest last_seq a check-in reported
  std::string witnessed_head_hex;  // the head reported with it
  // More (e.g. bounded recent checkpoints) may be added by the journal component.
};

std::string Serialize(const State& state);
Result<State> ParseState(std::string_view text);  // kCorrupt on bad text

enum class FindingKind { kTruncated, kFork, kGap };
std::string_view FindingKindName(FindingKind kind);  // "truncated" | "fork" | "gap"

struct Finding {
  FindingKind kind;
  int64_t seq = 0;     // where it was seen
  std::string detail;  // one readable sentence with the numbers
};

struct CheckinObservation {
  std::vector<Finding> findings;
  std::optional<int64_t> upload_from_seq;  // ask the terminal for records from here on
  bool changed = false;                    // `state` must be persisted
};

// `head_hex`: 64 lower-case hex digits, or "" with last_seq == 0 (an empty journal).
// kCorrupt when the pair is malformed (nothing changed).
Result<CheckinObservation> ObserveCheckin(State& state, int64_t last_seq, std::string_view head_hex);

struct SegmentResult {
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int64_t records = 0;
  std::vector<Finding> findings;  // e.g. a witnessed head the segment contradicts
};

Result<SegmentResult> AcceptSegment(State& state, std::string_view body);

}  // namespace fw::server::witness
