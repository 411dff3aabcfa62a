// The fleet server's store (server-stub/api): devices and their serial <-> key binding,
// enrolment tokens, issued certificates and the deny list, actions and their events, the
// journal witness state and journal segments. Owner: the api component.
//
// Contract:
//  - Store is a narrow interface over one backend connection. OpenSqliteStore() opens (or
//    creates) DIR/server.db and brings its schema to the latest version through
//    fw::sql::Migrator ("fleet server"); the schema is SQL that PostgreSQL also accepts
//    (TEXT, BIGINT only: booleans are BIGINT 0/1, binary data never stored — segments are
//    JSONL text; ids assigned by the store as MAX(id)+1 inside the write transaction).
//  - Every write method is atomic on its own; Atomically(fn) runs several calls as one
//    transaction (committed only when fn returns OK; rolled back otherwise). Calls inside
//    fn must not call Atomically again.
//  - Lookups of something absent return std::nullopt, never an error. Errors are the SQL
//    error table of fw/sqlite.h (kFailedPrecondition: a uniqueness or reference rule refused
//    the write; kTimeout: another connection held the lock).
//  - Enrolment tokens are stored as SHA-256(token) in lower-case hex only; the clear token
//    exists only in the reply of `fwserver enrol-token create`.
// Thread safety: a Store belongs to one thread at a time (one per transport thread); several
// Stores may share one database file (SQLite WAL, busy timeout).
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
};

struct ActionEvent {
  int64_t action_id = 0;
  int64_t attempt = 0;
  int64_t seq = 0;
  std::string state;
  std::string body_json;  // canonical text of the event as received
  int64_t received_s = 0;
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

class Store {
 public:
  virtual ~Store() = default;

  virtual Status Atomically(const std::function<Status()>& fn) = 0;

  // Devices.
  virtual Result<std::optional<Device>> GetDevice(const std::string& serial) = 0;
  virtual Result<std::vector<Device>> ListDevices() = 0;
  virtual Status CreateDevice(const Device& device) = 0;  // kFailedPrecondition when it exists
  virtual Status SetDeviceKey(const std::string& serial, const std::string& spki_sha256_hex) = 0;
  virtual Status SetDeviceState(const std::string& serial, DeviceState state, const std::string& reason) = 0;
  virtual Status SetDeviceManifest(const std::string& serial, const std::string& manifest_json) = 0;
  virtual Status SetWitnessState(const std::string& serial, const std::string& witness_state) = 0;
  // One write for many devices: (serial, last_seen_s); never moves last_seen backwards.
  virtual Status TouchLastSeen(const std::vector<std::pair<std::string, int64_t>>& seen) = 0;

  // Enrolment tokens.
  virtual Status AddEnrolToken(const EnrolToken& token) = 0;
  virtual Result<std::optional<EnrolToken>> GetEnrolToken(const std::string& token_sha256_hex) = 0;
  // Marks the token used at now_s if it is unused; false when it was used already.
  virtual Result<bool> ConsumeEnrolToken(const std::string& token_sha256_hex, int64_t now_s) = 0;

  // Certificates and the deny list.
  virtual Status AddCert(const CertRecord& cert) = 0;
  virtual Result<std::vector<CertRecord>> ListCerts(const std::string& device_serial) = 0;
  virtual Status DenyCert(const std::string& cert_serial_hex, const std::string& device_serial,
                          const std::string& reason, int64_t now_s) = 0;
  virtual Result<bool> IsCertDenied(const std::string& cert_serial_hex) = 0;

  // Actions and events.
  virtual Result<int64_t> CreateAction(const Action& action) = 0;
  virtual Result<std::optional<Action>> GetAction(int64_t id) = 0;
  // A device's actions, oldest first; only the open ones (done == false) when open_only.
  virtual Result<std::vector<Action>> ListActions(const std::string& device_serial, bool open_only) = 0;
  virtual Result<std::vector<Action>> ListAllActions() = 0;
  // Writes every mutable field of `action` (state .. updated_s) by id.
  virtual Status UpdateAction(const Action& action) = 0;
  // kFailedPrecondition when (action, attempt, seq) is stored already.
  virtual Status AddEvent(const ActionEvent& event) = 0;
  virtual Result<std::optional<ActionEvent>> GetEvent(int64_t action_id, int64_t attempt, int64_t seq) = 0;
  virtual Result<std::vector<ActionEvent>> ListEvents(int64_t action_id) = 0;

  // Journal segments.
  virtual Status AddSegment(const SegmentRecord& segment) = 0;
  virtual Result<std::vector<SegmentRecord>> ListSegments(const std::string& device_serial) = 0;
};

// DIR/server.db of a data directory.
std::string StorePath(const std::string& data_dir);

// Opens the SQLite store at `path` (created when `create`), migrated to the latest schema.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool create = true);

}  // namespace fw::server
