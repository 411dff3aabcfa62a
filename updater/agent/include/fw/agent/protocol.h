// The agent's side of the fleet device protocol (docs/fleet-protocol.md): typed messages and their
// codecs. Library fw_agent_protocol: pure functions, no I/O, fuzzed (tests/fuzz: agent_checkin_fuzz,
// agent_reply_fuzz).
//
// Parsers take what the server sent (outside input): bounded (a body over kMaxReplyBytes, nesting
// deeper than 8, a string over its field's bound, more than kMaxActions actions or cancels → kCorrupt
// naming the field); integers are JSON integers in range; unknown members are ignored; a missing
// required member or a wrong type is kCorrupt naming it. Encoders produce exactly the request bodies
// the protocol documents. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"

namespace fw::agent {

inline constexpr size_t kMaxReplyBytes = 1 << 20;
inline constexpr size_t kMaxActions = 64;

struct SlotInfo {
  std::string slot;     // "A" | "B"
  std::string version;  // may be empty for other.state == "empty"
  std::string state;    // running: confirmed | trial; other: bootable | trial_pending | invalid | empty
};

// A segment reply's proof that the server held journal records up to `seq` in witness epoch `epoch`
// (`mac`: the server's HMAC over the serial, epoch and seq; opaque to the agent, echoed as is).
struct WitnessReceipt {
  int64_t epoch = 0;
  int64_t seq = 0;
  std::string mac;  // 32 lower-case hex
};

// The check-in request body (the terminal's manifest).
struct Manifest {
  std::string hardware_id;
  std::string time_zone;
  std::string agent_version;
  SlotInfo running;
  std::optional<SlotInfo> other;
  uint32_t security_counter = 0;
  uint32_t root_version = 0;
  int64_t journal_last_seq = 0;
  std::string journal_head;  // 64 hex; empty when last_seq is 0
  int64_t outbox = 0;
  int64_t free_bytes = 0;
  // Reported when the agent's clock looks wrong (docs/agent.md, "Time"); the server may ignore it.
  std::optional<std::string> clock_suspect;
  // Issue 19, a server database restored from an older backup: the highest action id this terminal saw
  // in a check-in reply (the server keeps new ids above it), and the last witness receipt a segment
  // reply gave (the server starts a new journal epoch when it holds less than it once acknowledged).
  std::optional<int64_t> max_action_id;
  std::optional<WitnessReceipt> journal_receipt;
};

std::string EncodeManifest(const Manifest& m);

struct Action {
  int64_t id = 0;
  std::string kind;                   // install | rollback | journal_backup
  std::string target_name;            // empty for journal_backup
  std::string target_version;         // the server's idea; the agent resolves through TUF
  std::string type;                   // forced | soft | time-forced | download-only
  std::optional<std::string> window;  // "HH:MM-HH:MM", terminal local time
  std::optional<int64_t> deadline;    // Unix seconds
  bool backup_required = true;
  std::string state;  // the server's view
  int64_t attempt = 0;
  int64_t last_seq = 0;
};

struct JournalUpload {
  int64_t from_seq = 0;
  int64_t epoch = 0;
};

struct CheckinReply {
  bool not_modified = false;  // 304: the previous reply still holds
  std::string etag;
  std::string device_state;  // active | quarantined
  std::vector<Action> actions;
  std::vector<int64_t> cancels;
  std::optional<JournalUpload> journal_upload;
  std::string repository;   // path ("/repo/") or https:// URL
  int64_t server_time = 0;  // informational only: never a clock source
  int64_t poll_seconds = 0;
};
Result<CheckinReply> ParseCheckinReply(std::string_view body);

// POST /v1/actions/{id}/events
struct Event {
  int64_t action = 0;
  int64_t attempt = 1;
  int64_t seq = 1;
  std::string state;  // accepted … confirmed | failed | rolled_back | rejected | canceled
  std::optional<int64_t> bytes, total;
  std::string stage;  // when failed
  std::optional<int> exit_code;
  std::string error_kind;
  std::string detail;  // ≤ 1024 bytes (the encoder cuts at a UTF-8 boundary)
};
std::string EncodeEvent(const Event& e);  // the body (the action id is in the path)

struct EventReply {
  std::string result;  // applied | duplicate | ignored_older
  std::string state;
  int64_t attempt = 0;
  int64_t last_seq = 0;
};
Result<EventReply> ParseEventReply(std::string_view body);

struct SegmentReply {
  int64_t first_seq = 0, last_seq = 0, verified_seq = 0;
  bool duplicate = false;
  std::vector<std::string> findings;      // "kind at seq N: detail"
  std::optional<WitnessReceipt> receipt;  // from servers with issue 19
};
Result<SegmentReply> ParseSegmentReply(std::string_view body);

// The 200 body of /v1/enrol and /v1/renew.
struct CertificateReply {
  std::string serial;
  std::string certificate;  // PEM, the device certificate
  std::string chain;        // PEM, issuing CA + root
  std::string cert_serial;  // hex
  int64_t not_after = 0;
};
Result<CertificateReply> ParseCertificateReply(std::string_view body);

// Every error body: {"error": CODE, "message": TEXT}.
struct ServerError {
  int http_status = 0;
  std::string code;
  std::string message;
  int64_t retry_after_s = -1;    // from Retry-After, when sent
  std::string Describe() const;  // "HTTP 409 invalid_transition: …"
};
ServerError ParseServerError(int http_status, std::string_view body, std::string_view retry_after);

}  // namespace fw::agent
