// The fleet server's store (server-stub/api): devices and their serial <-> key binding,
// enrolment tokens, issued certificates and the deny list, actions and their events, the
// journal witness state and journal segments; for the operator side (issue 16) labels, operator
// tokens, the hash-chained audit log (fw/server/audit.h), alerts with their deliveries and
// attempts, and settings. Owner: the api component (SQL: sql_store*.cc over sql_conn.h, store_schema.h).
//
// Contract:
//  - Store is a narrow interface over one backend connection. OpenSqliteStore() opens (or
//    creates) DIR/server.db and brings its schema to the latest version through
//    fw::sql::Migrator ("fleet server"); the schema is SQL that PostgreSQL also accepts
//    (TEXT, BIGINT only: booleans are BIGINT 0/1, binary data never stored — segments are
//    JSONL text; ids assigned by the store as MAX(id)+1 inside the write transaction).
//    OpenPostgresStore() runs the same SQL and migrations on PostgreSQL (libpq), where every write
//    transaction (and every single write) first takes one advisory lock, so writers are serialised
//    across processes exactly as SQLite serialises them.
//  - Every write method is atomic on its own; Atomically(fn) runs several calls as one
//    transaction (committed only when fn returns OK; rolled back otherwise). Calls inside
//    fn must not call Atomically again (kInternal if it does); code that may run either inside or
//    outside a transaction uses InTransaction() to decide. Write methods that take several
//    statements (CreateAction, AddAlert, AppendAudit, ...) join the caller's transaction.
//  - Lookups of something absent return std::nullopt, never an error. Errors are the SQL
//    error table of fw/sqlite.h (kFailedPrecondition: a uniqueness or reference rule refused
//    the write; kTimeout: another connection held the lock); on PostgreSQL by SQLSTATE to the
//    same codes, and a database that cannot be reached is kIoError ("database unreachable: ...").
//    Inside Atomically on PostgreSQL, a failed statement aborts the whole transaction: fn must
//    return the error, not carry on.
//  - Enrolment tokens are stored as SHA-256(token) in lower-case hex only; the clear token
//    exists only in the reply of `fwserver enrol-token create`.
// Thread safety: a Store belongs to one thread at a time (one per transport thread); several
// Stores may share one database file (SQLite WAL, busy timeout) or one PostgreSQL database.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fw/status.h"

namespace fw::server {

enum class DeviceState { kActive, kQuarantined, kRevoked };
std::string_view DeviceStateName(DeviceState state);  // "active" | "quarantined" | "revoked"

struct Device {
  std::string serial;
  std::string spki_sha256_hex;  // the bound key
  DeviceState state = DeviceState::kActive;
  std::string state_reason;  // why quarantined / revoked ("" when active)
  int64_t created_s = 0;
  int64_t last_seen_s = 0;    // may lag: check-ins batch it (docs/fleet-protocol.md)
  std::string manifest_json;  // the last check-in's manifest, canonical text ("" before any)
  std::string witness_state;  // fw/server/journal_witness.h Serialize() text ("" before any)
  std::string hardware_id;    // from the last manifest ("" before any): a filter column
  std::string version;        // the running slot's version in the last manifest ("" before any)
};

// Operator queries page by key (keyset pagination): every Query* returns at most `limit` rows
// strictly after the `after` key, in key order. The operator API wraps the last key of a page in an
// opaque cursor. A negative limit (here and in List* pages) is kInvalidArgument.
struct DeviceQuery {
  std::string label;                     // "" = any; else devices carrying this label
  std::string hardware_id;               // "" = any
  std::string version;                   // "" = any
  std::optional<DeviceState> state;      // nullopt = any
  std::optional<int64_t> seen_after_s;   // last_seen_s >= this
  std::optional<int64_t> seen_before_s;  // last_seen_s < this
  std::string after_serial;              // keyset: serial > this ("" = from the start)
  int64_t limit = 100;
};

struct ActionQuery {
  std::string device_serial;  // "" = any
  std::string state;          // "" = any
  bool open_only = false;     // done == false
  int64_t after_id = 0;       // keyset: id > this
  int64_t limit = 100;
};

// An operator API bearer token (fw/server/operator_auth.h): stored as SHA-256 only.
struct OperatorToken {
  int64_t id = 0;  // assigned by AddOperatorToken
  std::string name;
  std::string token_sha256_hex;
  std::string role;           // viewer | operator | approver | admin
  bool journal_read = false;  // may read uploaded journal segments (cardholder data)
  int64_t created_s = 0;
  int64_t expires_s = 0;
  std::optional<int64_t> revoked_s;
  std::string created_by;  // the audit actor that made it
};

// One row of the hash-chained audit log (docs/fleet-audit.md). AppendAudit assigns seq,
// prev_hash_hex and hash_hex; the caller fills the rest.
struct AuditEntry {
  int64_t seq = 0;  // 1, 2, ... without gaps
  int64_t time_s = 0;
  std::string actor;        // "token:<id>:<name>", "cli:<user>", "device:<serial>", "system"
  std::string action;       // dotted verb, e.g. "device.quarantine", "action.create", "token.revoke"
  std::string object;       // what it acted on, e.g. "device:T-0001", "action:12", "token:3"
  std::string before_json;  // canonical JSON of the object before ("null" when it did not exist)
  std::string after_json;   // canonical JSON after ("null" when deleted)
  std::string prev_hash_hex;
  std::string hash_hex;
};

// An alert raised for the webhooks (fw/server/alerts.h), with one delivery per webhook.
struct Alert {
  int64_t id = 0;         // assigned by AddAlert
  std::string kind;       // journal_anomaly | clone | quarantine | rollout_paused | cert_expiring | audit_head
  std::string object;     // e.g. "device:T-0001"
  std::string body_json;  // the exact body POSTed (canonical JSON)
  int64_t created_s = 0;
};

struct AlertDelivery {
  int64_t alert_id = 0;
  std::string webhook;            // the webhook's configured name
  std::string state = "pending";  // pending | delivered | failed (gave up)
  int64_t attempts = 0;
  int64_t next_attempt_s = 0;
  int64_t last_status = 0;  // HTTP status of the last attempt (0: no answer)
  std::string last_error;
  int64_t updated_s = 0;
};

// One attempt of a delivery: the delivery log.
struct DeliveryAttempt {
  int64_t alert_id = 0;
  std::string webhook;
  int64_t attempt = 0;  // 1, 2, ...
  int64_t time_s = 0;
  int64_t http_status = 0;  // 0: no answer
  std::string error;        // "" when delivered
};

struct EnrolToken {
  std::string token_sha256_hex;
  std::string serial;
  int64_t created_s = 0;
  int64_t expires_s = 0;
  std::optional<int64_t> used_s;
};

struct CertRecord {
  std::string cert_serial_hex;
  std::string device_serial;
  std::string spki_sha256_hex;
  int64_t issued_s = 0;
  int64_t not_after_s = 0;
};

struct Action {
  int64_t id = 0;  // assigned by CreateAction
  std::string device_serial;
  std::string kind;            // install | rollback | journal_backup
  std::string target_name;     // "" for journal_backup
  std::string target_version;  // "" for journal_backup
  std::string type;            // forced | soft | time-forced | download-only
  std::string window;          // "HH:MM-HH:MM" in the terminal's local time, "" = any time
  int64_t deadline_s = 0;      // 0 = none
  bool backup_required = true;
  std::string state = "pending";  // docs/fleet-protocol.md, "Action states"
  int64_t attempt = 0;            // the attempt of the last event taken (0: none yet)
  int64_t last_seq = 0;           // its seq
  bool backup_done = false;       // a backup_done event was taken in this attempt
  bool cancel_requested = false;
  bool done = false;          // closed: no more events taken, not listed in check-ins
  std::string failure_class;  // when state == "failed"
  int64_t exit_code = 0;
  std::string detail;
  int64_t created_s = 0;
  int64_t updated_s = 0;
  int64_t rollout_id = 0;  // the rollout that assigned it (0: an operator's single-device action)
};

struct ActionEvent {
  int64_t action_id = 0;
  int64_t attempt = 0;
  int64_t seq = 0;
  std::string state;
  std::string body_json;  // canonical text of the event as received
  int64_t received_s = 0;
};

// Rollouts (issue 18; docs/fleet-rollouts.md; logic in fw/server/rollout.h). The store only keeps rows:
// every decision (membership, counters, pauses) is made by fw_server_rollout inside Atomically. The schema
// refuses a state or pause_kind outside the lists below (kFailedPrecondition), and members, groups and
// counters of a rollout that does not exist.
struct RolloutRow {
  int64_t id = 0;  // assigned by CreateRollout
  std::string name;
  std::string spec_json;          // the canonical spec (fw/server/rollout.h RolloutSpecJson)
  std::string target_name;        // TUF path
  std::string target_version;     // from the signed firmware facts
  std::string state = "created";  // created | running | paused | stopped | finished
  std::string pause_kind;         // "" | rule | operator | approval | fleet
  std::string pause_reason;       // the sentence shown to operators ("" when not paused)
  int64_t current_group = 0;      // index of the group being rolled out
  int64_t revert_of = 0;          // this rollout reverts rollout N (0: none)
  int64_t revert_rollout = 0;     // the revert rollout made for this one (0: none)
  std::string created_by;         // audit actor
  std::string started_by;
  std::string approved_by;  // the last approval's actor ("" none)
  int64_t created_s = 0;
  int64_t started_s = 0;
  int64_t paused_s = 0;
  int64_t updated_s = 0;
  int64_t group_started_s = 0;      // when current_group started (ramp, timeouts)
  int64_t ramp_window_start_s = 0;  // ramp token bucket: start of the current minute window
  int64_t ramp_window_assigned = 0;
};

struct RolloutGroupRow {
  int64_t rollout_id = 0;
  int64_t index = 0;  // 0, 1, ...
  std::string name;
  std::string state = "waiting";  // waiting | running | done
  int64_t members = 0;
  int64_t started_s = 0;
  int64_t finished_s = 0;
};

struct RolloutMemberRow {
  int64_t rollout_id = 0;
  std::string serial;
  int64_t group_index = 0;
  std::string state = "waiting";  // waiting | assigned | retry_wait | succeeded | failed | no_response | skipped
  int64_t action_id = 0;          // the current / last action (0: none yet)
  int64_t assignments = 0;        // actions created for this member so far
  std::string failure_class;      // when failed (or the last transient class while retry_wait)
  std::string detail;             // why (plan refusal sentence, failure detail)
  std::string from_version;       // the device's running version when membership was frozen
  int64_t next_assign_s = 0;      // retry_wait: not before
  int64_t updated_s = 0;
};

// A counter of one group: name is "assigned", "succeeded", "no_response", "skipped", "canceled",
// "retried", or "failed:<class>" (docs/fleet-rollouts.md "Counters").
struct RolloutCounter {
  int64_t rollout_id = 0;
  int64_t group_index = 0;
  std::string name;
  int64_t value = 0;
};

struct MemberQuery {
  int64_t rollout_id = 0;
  int64_t group_index = -1;  // -1 = any
  std::string state;         // "" = any
  std::string after_serial;  // keyset
  int64_t limit = 100;
};

struct SegmentRecord {
  std::string device_serial;
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int64_t records = 0;
  std::string sha256_hex;  // of the body
  int64_t received_s = 0;
  std::string body;  // the segment as uploaded (JSONL text); empty in listings
};

// Issue 20: devices per (version, state) (Store::CountDevices).
struct DeviceCount {
  std::string version;  // "" before the first check-in
  DeviceState state = DeviceState::kActive;
  int64_t devices = 0;
};

// Check-ins are counted per bucket of this many seconds (Store::AddCheckinCounts).
inline constexpr int64_t kCheckinBucketSeconds = 300;

// A dashboard login session (docs/dashboard.md): made from an operator token; the token is re-read
// on every request (revoking the token ends its sessions).
struct UiSession {
  std::string session_sha256_hex;  // SHA-256 of the cookie value, lower-case hex
  int64_t token_id = 0;
  int64_t created_s = 0;
  int64_t expires_s = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Status Atomically(const std::function<Status()>& fn) = 0;
  virtual bool InTransaction() const = 0;

  // Devices.
  virtual Result<std::optional<Device>> GetDevice(const std::string& serial) = 0;
  virtual Result<std::vector<Device>> ListDevices() = 0;
  virtual Status CreateDevice(const Device& device) = 0;  // kFailedPrecondition when it exists
  virtual Status SetDeviceKey(const std::string& serial, const std::string& spki_sha256_hex) = 0;
  virtual Status SetDeviceState(const std::string& serial, DeviceState state, const std::string& reason) = 0;
  // Also sets the hardware_id and version columns (taken from the parsed manifest by the caller).
  virtual Status SetDeviceManifest(const std::string& serial, const std::string& manifest_json,
                                   const std::string& hardware_id, const std::string& version) = 0;
  virtual Result<std::vector<Device>> QueryDevices(const DeviceQuery& query) = 0;  // by serial
  virtual Status SetWitnessState(const std::string& serial, const std::string& witness_state) = 0;
  // One write for many devices: (serial, last_seen_s); never moves last_seen backwards.
  virtual Status TouchLastSeen(const std::vector<std::pair<std::string, int64_t>>& seen) = 0;

  // Enrolment tokens.
  virtual Status AddEnrolToken(const EnrolToken& token) = 0;
  virtual Result<std::optional<EnrolToken>> GetEnrolToken(const std::string& token_sha256_hex) = 0;
  // Marks the token used at now_s if it is unused; false when it was used already.
  virtual Result<bool> ConsumeEnrolToken(const std::string& token_sha256_hex, int64_t now_s) = 0;
  virtual Result<std::vector<EnrolToken>> ListEnrolTokens() = 0;  // newest first

  // Labels (operator-defined tags; [A-Za-z0-9._:-]{1,64}, checked by the callers).
  virtual Status AddLabel(const std::string& serial, const std::string& label) = 0;     // idempotent
  virtual Status RemoveLabel(const std::string& serial, const std::string& label) = 0;  // idempotent
  virtual Result<std::vector<std::string>> ListLabels(const std::string& serial) = 0;   // sorted
  virtual Result<std::vector<std::pair<std::string, int64_t>>> LabelCounts() = 0;       // label -> devices

  // Operator tokens.
  virtual Result<int64_t> AddOperatorToken(const OperatorToken& token) = 0;  // kFailedPrecondition on a duplicate hash
  virtual Result<std::optional<OperatorToken>> GetOperatorTokenByHash(const std::string& token_sha256_hex) = 0;
  virtual Result<std::optional<OperatorToken>> GetOperatorToken(int64_t id) = 0;
  virtual Result<std::vector<OperatorToken>> ListOperatorTokens() = 0;  // by id
  // Sets revoked_s when the token exists and is not revoked; false otherwise.
  virtual Result<bool> RevokeOperatorToken(int64_t id, int64_t now_s) = 0;

  // Audit log. AppendAudit reads the head inside the write transaction (its own, or Atomically's),
  // assigns seq = head + 1, prev_hash_hex = the head's hash (64 zeros for the first row) and
  // hash_hex = AuditEntryHash(entry) (fw/server/audit.h), inserts, and returns the stored row.
  virtual Result<AuditEntry> AppendAudit(const AuditEntry& entry) = 0;
  virtual Result<std::vector<AuditEntry>> ListAudit(int64_t after_seq, int64_t limit) = 0;  // by seq
  virtual Result<std::optional<AuditEntry>> AuditHead() = 0;

  // Alerts and their deliveries.
  // Inserts the alert and one pending delivery (next_attempt_s = created_s) per webhook name.
  virtual Result<int64_t> AddAlert(const Alert& alert, const std::vector<std::string>& webhooks) = 0;
  virtual Result<std::vector<Alert>> ListAlerts(int64_t after_id, int64_t limit) = 0;  // by id
  virtual Result<std::optional<Alert>> GetAlert(int64_t id) = 0;
  virtual Result<std::vector<AlertDelivery>> ListDeliveries(int64_t alert_id) = 0;
  // Pending deliveries with next_attempt_s <= now_s, oldest first.
  virtual Result<std::vector<AlertDelivery>> DueDeliveries(int64_t now_s, int64_t limit) = 0;
  virtual Status UpdateDelivery(const AlertDelivery& delivery) = 0;  // by (alert_id, webhook)
  virtual Status AddDeliveryAttempt(const DeliveryAttempt& attempt) = 0;
  virtual Result<std::vector<DeliveryAttempt>> ListDeliveryAttempts(int64_t alert_id) = 0;

  // Small named values the server keeps for itself (e.g. "cert_expiring:<cert serial>" once alerted).
  virtual Result<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  virtual Status SetSetting(const std::string& key, const std::string& value) = 0;
  // Inserts the setting unless it exists; returns the stored value either way. Race-free between
  // processes (INSERT ... ON CONFLICT DO NOTHING, then SELECT): the first writer wins.
  virtual Result<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) = 0;
  virtual Status DeleteSetting(const std::string& key) = 0;  // absent: OK
  // Keys starting with `prefix`, sorted.
  virtual Result<std::vector<std::string>> ListSettingKeys(const std::string& prefix) = 0;

  // Issue 19: several fwserver processes share one database.
  // Readiness: one round trip to the database. kIoError (unreachable) or kTimeout when it fails.
  virtual Status Ping() = 0;
  // A lease named `name` has at most one holder at a time among every process sharing the database.
  // Takes it when it is free or expired (expires_s <= now_s) or renews it when `holder` holds it
  // (expires_s = now_s + ttl_s); true when `holder` holds it after the call.
  virtual Result<bool> TryLease(const std::string& name, const std::string& holder, int64_t now_s, int64_t ttl_s) = 0;
  virtual Status ReleaseLease(const std::string& name, const std::string& holder) = 0;  // not held: OK

  // Certificates and the deny list.
  virtual Status AddCert(const CertRecord& cert) = 0;
  virtual Result<std::vector<CertRecord>> ListCerts(const std::string& device_serial) = 0;
  // The newest certificate (by issued_s, then serial) of every device that is not revoked, whose
  // not_after_s < before_s and which is not on the deny list; soonest expiry first.
  virtual Result<std::vector<CertRecord>> ListCertsExpiringBefore(int64_t before_s) = 0;
  virtual Status DenyCert(const std::string& cert_serial_hex, const std::string& device_serial,
                          const std::string& reason, int64_t now_s) = 0;
  virtual Result<bool> IsCertDenied(const std::string& cert_serial_hex) = 0;

  // Actions and events.
  virtual Result<int64_t> CreateAction(const Action& action) = 0;
  // The id CreateAction assigns next: max(MAX(id), the kActionIdFloorSetting setting) + 1. Issue 19: a
  // database restored from an older backup must never hand a terminal an id it already finished; check-ins
  // raise the floor to the highest id the terminal reports having seen (docs/fleet-protocol.md).
  virtual Result<int64_t> NextActionId() = 0;
  virtual Result<std::optional<Action>> GetAction(int64_t id) = 0;
  // A device's actions, oldest first; only the open ones (done == false) when open_only.
  virtual Result<std::vector<Action>> ListActions(const std::string& device_serial, bool open_only) = 0;
  virtual Result<std::vector<Action>> ListAllActions() = 0;
  virtual Result<std::vector<Action>> QueryActions(const ActionQuery& query) = 0;  // by id
  // Writes every mutable field of `action` (state .. updated_s) by id.
  virtual Status UpdateAction(const Action& action) = 0;
  // kFailedPrecondition when (action, attempt, seq) is stored already.
  virtual Status AddEvent(const ActionEvent& event) = 0;
  virtual Result<std::optional<ActionEvent>> GetEvent(int64_t action_id, int64_t attempt, int64_t seq) = 0;
  virtual Result<std::vector<ActionEvent>> ListEvents(int64_t action_id) = 0;

  // Actions of a rollout (open only when open_only), by id.
  virtual Result<std::vector<Action>> ListRolloutActions(int64_t rollout_id, bool open_only) = 0;
  // Open actions of rollouts created before created_before_s (timeouts), by id; at most limit.
  virtual Result<std::vector<Action>> ListOpenRolloutActionsCreatedBefore(int64_t created_before_s, int64_t limit) = 0;

  // Rollouts (rows only; fw/server/rollout.h decides). Create* assign ids (MAX+1).
  virtual Result<int64_t> CreateRollout(const RolloutRow& rollout) = 0;
  virtual Result<std::optional<RolloutRow>> GetRollout(int64_t id) = 0;
  virtual Result<std::vector<RolloutRow>> ListRollouts(int64_t after_id, int64_t limit) = 0;  // by id
  virtual Result<std::vector<RolloutRow>> ListRolloutsInState(const std::string& state) = 0;  // by id
  // UpdateRollout / UpdateRolloutMember write every field but the key; kNotFound when no row has the key.
  virtual Status UpdateRollout(const RolloutRow& rollout) = 0;                             // every mutable field, by id
  virtual Status PutRolloutGroup(const RolloutGroupRow& group) = 0;                        // insert or replace
  virtual Result<std::vector<RolloutGroupRow>> ListRolloutGroups(int64_t rollout_id) = 0;  // by index
  // Inserts many members in one statement batch (membership freeze); kFailedPrecondition on a duplicate
  // (or a serial that is not a device, a rollout that does not exist), and then none of the batch is
  // written, also inside the caller's Atomically (a savepoint).
  virtual Status AddRolloutMembers(const std::vector<RolloutMemberRow>& members) = 0;
  virtual Status UpdateRolloutMember(const RolloutMemberRow& member) = 0;  // by (rollout_id, serial)
  virtual Result<std::optional<RolloutMemberRow>> GetRolloutMember(int64_t rollout_id, const std::string& serial) = 0;
  virtual Result<std::optional<RolloutMemberRow>> GetRolloutMemberByAction(int64_t action_id) = 0;
  virtual Result<std::vector<RolloutMemberRow>> QueryRolloutMembers(const MemberQuery& query) = 0;  // by serial
  // Members of one group that may be assigned now (state waiting, or retry_wait with
  // next_assign_s <= now_s), by serial, at most limit.
  virtual Result<std::vector<RolloutMemberRow>> AssignableMembers(int64_t rollout_id, int64_t group_index,
                                                                  int64_t now_s, int64_t limit) = 0;
  // Member count per (group, state) of a rollout.
  virtual Result<std::vector<std::pair<std::pair<int64_t, std::string>, int64_t>>> CountRolloutMembers(
      int64_t rollout_id) = 0;
  // Adds delta to a counter (created at 0 when absent).
  virtual Status BumpRolloutCounter(int64_t rollout_id, int64_t group_index, const std::string& name,
                                    int64_t delta) = 0;
  virtual Result<std::vector<RolloutCounter>> ListRolloutCounters(int64_t rollout_id) = 0;  // by group, name

  // Issue 20: the dashboard.
  // Devices per (version, state): the fleet overview's counts, one GROUP BY (never a full device read).
  virtual Result<std::vector<DeviceCount>> CountDevices() = 0;  // by version, state
  // Devices not seen since before_s: last_seen_s < before_s, where a never-seen device (last_seen_s
  // 0) counts only when it was created before before_s. One COUNT (the "not seen for a day" figure).
  virtual Result<int64_t> CountDevicesSeenBefore(int64_t before_s) = 0;
  // Adds check-ins to per-bucket counters (bucket_s = start of a kCheckinBucketSeconds bucket; an
  // existing bucket is increased, not replaced: several processes add to the same bucket).
  virtual Status AddCheckinCounts(const std::vector<std::pair<int64_t, int64_t>>& bucket_counts) = 0;
  // Buckets with bucket_s >= from_s, oldest first: (bucket_s, check-ins).
  virtual Result<std::vector<std::pair<int64_t, int64_t>>> ListCheckinCounts(int64_t from_s) = 0;
  virtual Result<int64_t> PurgeCheckinCountsBefore(int64_t before_s) = 0;  // how many buckets deleted
  // The newest alerts (by id, newest first) whose kind is one of `kinds`, at most limit.
  virtual Result<std::vector<Alert>> ListRecentAlerts(const std::vector<std::string>& kinds, int64_t limit) = 0;
  // Dashboard sessions (docs/dashboard.md): stored by the SHA-256 of the cookie's value only.
  virtual Status AddUiSession(const UiSession& session) = 0;  // kFailedPrecondition on a duplicate hash
  virtual Result<std::optional<UiSession>> GetUiSession(const std::string& session_sha256_hex) = 0;
  virtual Status DeleteUiSession(const std::string& session_sha256_hex) = 0;  // absent: OK
  virtual Result<int64_t> PurgeUiSessions(int64_t now_s) = 0;                 // expired ones; how many

  // Journal segments.
  virtual Status AddSegment(const SegmentRecord& segment) = 0;
  virtual Result<std::vector<SegmentRecord>> ListSegments(const std::string& device_serial) = 0;
  // One segment with its body (as stored: possibly sealed, fw/server/journal_vault.h).
  virtual Result<std::optional<SegmentRecord>> GetSegment(const std::string& device_serial, int64_t first_seq,
                                                          int64_t last_seq) = 0;
  // Retention: deletes segments received before before_s; returns how many.
  virtual Result<int64_t> PurgeSegmentsReceivedBefore(int64_t before_s) = 0;
};

// The settings row that keeps action ids above every id a terminal has seen (a decimal integer).
inline constexpr const char* kActionIdFloorSetting = "action_id_floor";

// DIR/server.db of a data directory.
std::string StorePath(const std::string& data_dir);

// Opens the SQLite store at `path` (created when `create`), migrated to the latest schema.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool create = true);

// True for a PostgreSQL connection URI: "postgresql://..." or "postgres://..." (docs/deployment.md).
bool IsPostgresDatabase(std::string_view database);
// The store named by ServerConfig.database: a PostgreSQL URI (OpenPostgresStore), else an SQLite file
// path (OpenSqliteStore). Migrated to the latest schema either way.
Result<std::unique_ptr<Store>> OpenStore(const std::string& database, bool create = true);
// Connects to PostgreSQL (libpq; no libpq type leaves the store) and brings the schema to the latest
// version under an advisory lock (several instances may start at once). `create` is ignored: the
// database itself must exist. Unreachable: kIoError naming the database (password redacted).
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& uri);

}  // namespace fw::server
