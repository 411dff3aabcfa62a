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
// Contract (the byte formats and every rule are in docs/fleet-journal-witness.md):
//  - ObserveCheckin(state, last_seq, head_hex) records what a check-in reported and
//    returns findings plus the range the terminal should upload next (if any);
//    `changed` says whether `state` must be persisted (a steady-state check-in that
//    reports what the server already knows changes nothing).
//  - AcceptSegment(state, body) parses a segment from outside (bounded: kMaxSegmentBytes,
//    kMaxSegmentRecords, kMaxSegmentLineBytes), re-verifies every record's hash and the
//    chain, requires the first record to link to the last verified record the server
//    holds (or to start at sequence 1 from the genesis hash), refuses any record with
//    something that looks like a full card number (a 13-19 digit Luhn-valid run in any
//    text field, extension names and values included), and only then advances `state`
//    (nothing changes on any error). Errors:
//      kCorrupt            malformed or oversize segment, bad hash or chain inside it -> HTTP 400
//      kVerificationFailed card data in a record (names seq and field, never the digits) -> HTTP 422
//      kFailedPrecondition does not link to what the server holds ("fork"), or
//                          a segment of another epoch ("epoch")                      -> HTTP 409
//    Replaying a segment already accepted is harmless: it is accepted again with
//    `duplicate` set and nothing changed (see the doc for the exact rule).
//  - A Finding of kind kFork is the clone/rewrite signal the caller turns into a
//    quarantine; kTruncated means records the terminal had are gone (a journal_check
//    alarm); kGap is informational (the upload request that goes with it).
//  - StartNewEpoch(state) is the operator's "start over" (after the server's database
//    was restored, or a technician legitimately restored/replaced the terminal's journal).
// Thread safety: stateless functions on caller-owned values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/journal/record.h"
#include "fw/status.h"

namespace fw::server::witness {

inline constexpr uint64_t kMaxSegmentBytes = 8 * 1024 * 1024;
inline constexpr uint64_t kMaxSegmentRecords = 10000;
inline constexpr uint64_t kMaxSegmentLineBytes = 32 * 1024;  // one record line, header included
inline constexpr size_t kMaxCheckpoints = 64;                // recent (seq, head) pairs kept in State
inline constexpr size_t kMaxStateBytes = 64 * 1024;          // ParseState refuses larger text
inline constexpr std::string_view kSegmentFormat = "ptfw-journal-segment-v1";

// One (seq, head) pair the server has seen: from a check-in, or the hash of a verified record.
struct Checkpoint {
  int64_t seq = 0;
  std::string head_hex;   // 64 lower-case hex digits
  bool verified = false;  // the hash of a record the server verified in a segment
};

// What the server holds about one terminal's journal. Bounded: the text form stays under 64 KiB.
struct State {
  int64_t epoch = 1;               // bumped when the server starts over (StartNewEpoch)
  int64_t verified_seq = 0;        // last sequence number held verified in segments (0: none)
  std::string verified_head_hex;   // that record's hash, lower-case hex ("" when none)
  int64_t witnessed_seq = 0;       // last_seq of the latest check-in (lowered by a truncation)
  std::string witnessed_head_hex;  // the head reported with it
  // Added by the journal component:
  bool has_witness = false;             // a check-in was observed in this epoch
  int64_t truncations = 0;              // truncations seen in this epoch (a second one is a fork)
  std::vector<Checkpoint> checkpoints;  // most recent last, at most kMaxCheckpoints, seqs unique
  int64_t previous_epoch_seq = 0;       // what the previous epoch ended with (audit; 0: none)
  std::string previous_epoch_head_hex;
};

std::string Serialize(const State& state);
Result<State> ParseState(std::string_view text);  // kCorrupt on bad text

// Starts over: epoch + 1, forgets every witnessed and verified position (kept only as
// previous_epoch_*). The next check-in is witnessed afresh and the server asks for the whole
// journal again (upload from seq 1). Segments of the old epoch are refused (409 "epoch").
void StartNewEpoch(State& state);

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
  std::string last_hash_hex;      // hash of the record at last_seq
  bool duplicate = false;         // every record was already held: nothing changed
  bool changed = false;           // `state` must be persisted
  std::vector<Finding> findings;  // e.g. a witnessed head the segment contradicts (kFork)
};

Result<SegmentResult> AcceptSegment(State& state, std::string_view body);

// The segment the agent uploads: the header line, then one line per record exactly as
// `fwupdate journal export --format jsonl` prints it (records: consecutive seqs, at most
// kMaxSegmentRecords; the caller splits longer ranges).
std::string EncodeSegment(int64_t epoch, const std::vector<fw::journal::Record>& records);

}  // namespace fw::server::witness
