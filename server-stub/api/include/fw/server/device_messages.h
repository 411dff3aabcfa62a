// The device API's request bodies and the action state machine (server-stub/api), as pure
// functions: parsers of bytes from outside (each bounded, each with a fuzz target) and the
// event transition rules. The bytes are documented in docs/fleet-protocol.md.
// Owner: the api component. No third-party type appears here.
//
// Contract:
//  - Parse*() take the raw body; anything malformed, out of bounds or of the wrong type is
//    kCorrupt naming the field (the route answers 400 bad_request); unknown fields are
//    ignored (forward compatibility). Strings are bounded (see the k* constants).
//  - ApplyEvent() decides what one event does to an action: it never touches a store.
//  - FailureClassFor() maps the agent's stage and fwupdate's exit code to a failure class
//    (docs/exit-codes.md, "Retry or give up"; FLEET.md's classes).
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

inline constexpr size_t kMaxCheckinBytes = 8 * 1024;
inline constexpr size_t kMaxEventBytes = 4 * 1024;
inline constexpr size_t kMaxEnrolBytes = 24 * 1024;  // a 16 KiB CSR plus the JSON around it
inline constexpr size_t kMaxNameBytes = 128;         // versions, names, slots, time zones, hardware ids
inline constexpr size_t kMaxDetailBytes = 1024;
inline constexpr size_t kMaxClockSuspectBytes = 256;

// --- Check-in manifest.
struct SlotReport {
  std::string slot;     // "A" | "B" (any short name)
  std::string version;  // "" when the slot holds nothing
  std::string state;    // running: "confirmed" | "trial"; other: "bootable" | "trial_pending" | "invalid" | "empty"
};

// A witness receipt as the terminal echoes it (fw/server/journal_witness.h; docs/fleet-protocol.md).
struct WitnessReceiptReport {
  int64_t epoch = 0;
  int64_t seq = 0;
  std::string mac;
};

struct Manifest {
  std::string hardware_id;
  std::string time_zone;  // IANA name, e.g. "Europe/Berlin"
  SlotReport running;
  std::optional<SlotReport> other;
  int64_t security_counter = 0;
  int64_t root_version = 0;
  int64_t journal_last_seq = 0;
  std::string journal_head_hex;  // "" when last_seq == 0
  int64_t outbox = 0;            // events the agent still has to deliver
  int64_t free_bytes = 0;
  std::string agent_version;
  std::string clock_suspect;  // "" unless the agent reports its clock looks wrong (docs/agent.md, "Time")
  // Issue 19 (a database restored from an older backup); neither is part of ManifestJson:
  int64_t max_action_id = 0;                            // the highest action id the terminal saw (0: not sent)
  std::optional<WitnessReceiptReport> journal_receipt;  // the last segment receipt it holds
};

Result<Manifest> ParseManifest(std::string_view body);
// The manifest's canonical JSON (what the store keeps; equal text = nothing changed).
std::string ManifestJson(const Manifest& manifest);

// --- Action events.
struct EventReport {
  int64_t attempt = 0;  // >= 1
  int64_t seq = 0;      // >= 1, per attempt
  std::string state;    // docs/fleet-protocol.md, "Action states"
  int64_t bytes = 0;    // downloading: bytes so far / of total
  int64_t total = 0;
  std::string stage;  // failed: the agent's stage
  int64_t exit_code = 0;
  std::string error_kind;  // failed: fwupdate's error kind ("I/O error", "resource exhausted", ...)
  std::string detail;
};

Result<EventReport> ParseEvent(std::string_view body);
// Canonical JSON of the event (stored with it).
std::string EventJson(const EventReport& event);

// What one event did to an action.
enum class EventOutcome {
  kApplied,  // state moved (or progress recorded)
  kOlder,    // an older (attempt, seq): ignored
  kInvalid,  // the transition is not allowed: 409 invalid_transition
  kClosed,   // the action is closed already: 409 action_closed
};

struct EventDecision {
  EventOutcome outcome = EventOutcome::kInvalid;
  std::string reason;  // for kInvalid / kClosed: a sentence naming both states
};

// Applies `event` to `action` when allowed (state, attempt, last_seq, backup_done, done,
// failure_class, exit_code, detail, updated_s = now_s); `action` is unchanged otherwise.
EventDecision ApplyEvent(Action& action, const EventReport& event, int64_t now_s);

// "download" | "verify" | "plan_refused" | "snapshot_failed" | "boot_failed" | "health_failed" |
// "journal_check" | "timed_out" | "internal"; kCorrupt for an unknown stage.
Result<std::string> FailureClassFor(std::string_view stage, int64_t exit_code, std::string_view error_kind);

// What a check-in's manifest means for an action that reached the trial (trial_set,
// rebooting, confirmed): "succeeded", "failed" (boot_failed) or "" (no verdict yet).
std::string CheckinVerdict(const Action& action, const Manifest& manifest);

// --- Enrolment and renewal.
struct EnrolRequest {
  std::string token;   // 64 lower-case hex digits
  std::string serial;  // [A-Za-z0-9._-]{1,64}
  std::string csr_pem;
};
Result<EnrolRequest> ParseEnrolRequest(std::string_view body);

struct RenewRequest {
  std::string csr_pem;
};
Result<RenewRequest> ParseRenewRequest(std::string_view body);

bool IsValidSerial(std::string_view serial);
// "HH:MM-HH:MM" (00:00-23:59 each; start == end refused; a window may wrap midnight).
bool IsValidWindow(std::string_view window);

}  // namespace fw::server
