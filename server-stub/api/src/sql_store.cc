// The store of fw/server/store.h over an SqlConn (SQLite or PostgreSQL, sql_conn.h): the device side
// (devices, enrolment tokens, certificates, actions, events, segments) and opening a store. The
// operator side is in sql_store_ops.cc, rollout rows in sql_store_rollouts.cc; the class in
// sql_store_impl.h.
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <utility>

#include "fw/server/store.h"
#include "sql_store_impl.h"
#include "store_schema.h"

namespace fw::server {
namespace detail {
namespace {

ActionEvent ReadEvent(const SqlStmt& st) {
  ActionEvent e;
  e.action_id = st.ColumnInt(0);
  e.attempt = st.ColumnInt(1);
  e.seq = st.ColumnInt(2);
  e.state = st.ColumnText(3);
  e.body_json = st.ColumnText(4);
  e.received_s = st.ColumnInt(5);
  return e;
}

EnrolToken ReadEnrolToken(const SqlStmt& st) {
  EnrolToken t{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2), st.ColumnInt(3), std::nullopt};
  if (!st.ColumnIsNull(4)) t.used_s = st.ColumnInt(4);
  return t;
}

CertRecord ReadCert(const SqlStmt& st) {
  return {st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3), st.ColumnInt(4)};
}

SegmentRecord ReadSegment(const SqlStmt& st, bool body) {
  return {st.ColumnText(0),
          st.ColumnInt(1),
          st.ColumnInt(2),
          st.ColumnInt(3),
          st.ColumnText(4),
          st.ColumnInt(5),
          body ? st.ColumnText(6) : std::string()};
}

constexpr const char* kEnrolTokenColumns = "token_sha256, serial, created_s, expires_s, used_s";
constexpr const char* kCertColumns = "cert_serial, device_serial, spki_sha256, issued_s, not_after_s";
constexpr const char* kEventColumns = "action_id, attempt, seq, state, body, received_s";
constexpr const char* kSegmentColumns = "device_serial, first_seq, last_seq, records, sha256, received_s";

}  // namespace

Result<DeviceState> ParseDeviceState(std::string_view s) {
  if (s == "active") return DeviceState::kActive;
  if (s == "quarantined") return DeviceState::kQuarantined;
  if (s == "revoked") return DeviceState::kRevoked;
  return Corrupt("unknown device state '" + std::string(s) + "' in the store");
}

Result<Device> ReadDevice(const SqlStmt& st) {
  Device d;
  d.serial = st.ColumnText(0);
  d.spki_sha256_hex = st.ColumnText(1);
  FW_ASSIGN_OR_RETURN(d.state, ParseDeviceState(st.ColumnTextView(2)));
  d.state_reason = st.ColumnText(3);
  d.created_s = st.ColumnInt(4);
  d.last_seen_s = st.ColumnInt(5);
  d.manifest_json = st.ColumnText(6);
  d.witness_state = st.ColumnText(7);
  d.hardware_id = st.ColumnText(8);
  d.version = st.ColumnText(9);
  return d;
}

Action ReadAction(const SqlStmt& st) {
  Action a;
  a.id = st.ColumnInt(0);
  a.device_serial = st.ColumnText(1);
  a.kind = st.ColumnText(2);
  a.target_name = st.ColumnText(3);
  a.target_version = st.ColumnText(4);
  a.type = st.ColumnText(5);
  a.window = st.ColumnText(6);
  a.deadline_s = st.ColumnInt(7);
  a.backup_required = st.ColumnInt(8) != 0;
  a.state = st.ColumnText(9);
  a.attempt = st.ColumnInt(10);
  a.last_seq = st.ColumnInt(11);
  a.backup_done = st.ColumnInt(12) != 0;
  a.cancel_requested = st.ColumnInt(13) != 0;
  a.done = st.ColumnInt(14) != 0;
  a.failure_class = st.ColumnText(15);
  a.exit_code = st.ColumnInt(16);
  a.detail = st.ColumnText(17);
  a.created_s = st.ColumnInt(18);
  a.updated_s = st.ColumnInt(19);
  a.rollout_id = st.ColumnInt(20);
  return a;
}

Status SqlStore::Atomically(const std::function<Status()>& fn) {
  if (in_tx_) return Internal("Store::Atomically called inside Atomically");
  FW_RETURN_IF_ERROR_CTX(conn_->Begin(), "cannot start a transaction");
  in_tx_ = true;
  Status s = fn();
  in_tx_ = false;
  if (s.ok()) s = conn_->Commit().WithContext("cannot commit");
  if (!s.ok()) conn_->Rollback();  // harmless when the transaction has ended already
  return s;
}

Result<std::optional<Device>> SqlStore::GetDevice(const std::string& serial) {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare(std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE serial = ?"));
  st.Bind(1, serial);
  return FirstRow<Device>(st, ReadDevice);
}

Result<std::vector<Device>> SqlStore::ListDevices() {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare(std::string("SELECT ") + kDeviceColumns + " FROM devices ORDER BY serial"));
  return Rows<Device>(st, ReadDevice);
}

Status SqlStore::CreateDevice(const Device& d) {
  return Write(
      std::string("INSERT INTO devices (") + kDeviceColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [&](SqlStmt& st) {
        st.Bind(1, d.serial).Bind(2, d.spki_sha256_hex).Bind(3, DeviceStateName(d.state)).Bind(4, d.state_reason);
        st.Bind(5, d.created_s).Bind(6, d.last_seen_s).Bind(7, d.manifest_json).Bind(8, d.witness_state);
        st.Bind(9, d.hardware_id).Bind(10, d.version);
      },
      "recording device " + d.serial);
}

Status SqlStore::SetDeviceKey(const std::string& serial, const std::string& spki) {
  return Write(
      "UPDATE devices SET spki_sha256 = ? WHERE serial = ?", [&](SqlStmt& st) { st.Bind(1, spki).Bind(2, serial); },
      "binding device " + serial);
}

Status SqlStore::SetDeviceState(const std::string& serial, DeviceState state, const std::string& reason) {
  return Write(
      "UPDATE devices SET state = ?, state_reason = ? WHERE serial = ?",
      [&](SqlStmt& st) { st.Bind(1, DeviceStateName(state)).Bind(2, reason).Bind(3, serial); },
      "setting the state of device " + serial);
}

Status SqlStore::SetDeviceManifest(const std::string& serial, const std::string& manifest,
                                   const std::string& hardware_id, const std::string& version) {
  return Write(
      "UPDATE devices SET manifest = ?, hardware_id = ?, version = ? WHERE serial = ?",
      [&](SqlStmt& st) { st.Bind(1, manifest).Bind(2, hardware_id).Bind(3, version).Bind(4, serial); },
      "storing the manifest of " + serial);
}

Status SqlStore::SetWitnessState(const std::string& serial, const std::string& witness) {
  return Write(
      "UPDATE devices SET witness = ? WHERE serial = ?", [&](SqlStmt& st) { st.Bind(1, witness).Bind(2, serial); },
      "storing the witness of " + serial);
}

Status SqlStore::TouchLastSeen(const std::vector<std::pair<std::string, int64_t>>& seen) {
  if (seen.empty()) return Status::Ok();
  return MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto st,
                        conn_->Prepare("UPDATE devices SET last_seen_s = ? WHERE serial = ? AND last_seen_s < ?"));
    for (const auto& [serial, t] : seen) {
      st.Bind(1, t).Bind(2, serial).Bind(3, t);
      FW_RETURN_IF_ERROR_CTX(st.Run(), "recording when devices were last seen");
    }
    return Status::Ok();
  });
}

Status SqlStore::AddEnrolToken(const EnrolToken& t) {
  return Write(
      "INSERT INTO enrol_tokens (token_sha256, serial, created_s, expires_s, used_s) VALUES (?, ?, ?, ?, NULL)",
      [&](SqlStmt& st) { st.Bind(1, t.token_sha256_hex).Bind(2, t.serial).Bind(3, t.created_s).Bind(4, t.expires_s); },
      "storing an enrolment token for " + t.serial);
}

Result<std::optional<EnrolToken>> SqlStore::GetEnrolToken(const std::string& hash) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kEnrolTokenColumns +
                                              " FROM enrol_tokens WHERE token_sha256 = ?"));
  st.Bind(1, hash);
  return FirstRow<EnrolToken>(st, ReadEnrolToken);
}

Result<bool> SqlStore::ConsumeEnrolToken(const std::string& hash, int64_t now_s) {
  // RETURNING (SQLite >= 3.35, PostgreSQL): the row comes back only when this UPDATE used it.
  bool row = false;
  FW_RETURN_IF_ERROR(Writing([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("UPDATE enrol_tokens SET used_s = ? WHERE token_sha256 = ? AND "
                                                "used_s IS NULL RETURNING serial"));
    st.Bind(1, now_s).Bind(2, hash);
    FW_ASSIGN_OR_RETURN(row, st.Step());
    return st.Reset();
  }));
  return row;
}

Result<std::vector<EnrolToken>> SqlStore::ListEnrolTokens() {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kEnrolTokenColumns +
                                              " FROM enrol_tokens ORDER BY created_s DESC, token_sha256"));
  return Rows<EnrolToken>(st, ReadEnrolToken);
}

Status SqlStore::AddCert(const CertRecord& c) {
  return Write(
      std::string("INSERT INTO certificates (") + kCertColumns + ") VALUES (?, ?, ?, ?, ?)",
      [&](SqlStmt& st) {
        st.Bind(1, c.cert_serial_hex).Bind(2, c.device_serial).Bind(3, c.spki_sha256_hex);
        st.Bind(4, c.issued_s).Bind(5, c.not_after_s);
      },
      "recording certificate " + c.cert_serial_hex);
}

Result<std::vector<CertRecord>> SqlStore::ListCerts(const std::string& device) {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare(std::string("SELECT ") + kCertColumns +
                                     " FROM certificates WHERE device_serial = ? ORDER BY issued_s, cert_serial"));
  st.Bind(1, device);
  return Rows<CertRecord>(st, ReadCert);
}

Result<std::vector<CertRecord>> SqlStore::ListCertsExpiringBefore(int64_t before_s) {
  // The newest certificate (issued_s, then cert_serial) of each device that is not revoked, when
  // it is not on the deny list and expires before before_s.
  FW_ASSIGN_OR_RETURN(
      auto st,
      conn_->Prepare("SELECT c.cert_serial, c.device_serial, c.spki_sha256, c.issued_s, c.not_after_s "
                     "FROM certificates c JOIN devices d ON d.serial = c.device_serial "
                     "WHERE d.state <> 'revoked' AND c.not_after_s < ? "
                     "AND NOT EXISTS (SELECT 1 FROM certificates n WHERE n.device_serial = c.device_serial "
                     "AND (n.issued_s > c.issued_s OR (n.issued_s = c.issued_s AND n.cert_serial > c.cert_serial))) "
                     "AND NOT EXISTS (SELECT 1 FROM cert_deny_list x WHERE x.cert_serial = c.cert_serial) "
                     "ORDER BY c.not_after_s, c.cert_serial"));
  st.Bind(1, before_s);
  return Rows<CertRecord>(st, ReadCert);
}

Status SqlStore::DenyCert(const std::string& cert_serial, const std::string& device, const std::string& reason,
                          int64_t now_s) {
  return Writing([&]() -> Status {
    FW_ASSIGN_OR_RETURN(bool denied, IsCertDenied(cert_serial));
    if (denied) return Status::Ok();
    return Write(
        "INSERT INTO cert_deny_list (cert_serial, device_serial, reason, denied_s) VALUES (?, ?, ?, ?)",
        [&](SqlStmt& st) { st.Bind(1, cert_serial).Bind(2, device).Bind(3, reason).Bind(4, now_s); },
        "denying certificate " + cert_serial);
  });
}

Result<bool> SqlStore::IsCertDenied(const std::string& cert_serial) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT 1 FROM cert_deny_list WHERE cert_serial = ?"));
  st.Bind(1, cert_serial);
  return st.Step();
}

void SqlStore::BindMutable(SqlStmt& st, const Action& a, int first) {
  st.Bind(first, a.state).Bind(first + 1, a.attempt).Bind(first + 2, a.last_seq).Bind(first + 3, a.backup_done ? 1 : 0);
  st.Bind(first + 4, a.cancel_requested ? 1 : 0).Bind(first + 5, a.done ? 1 : 0).Bind(first + 6, a.failure_class);
  st.Bind(first + 7, a.exit_code).Bind(first + 8, a.detail).Bind(first + 9, a.created_s).Bind(first + 10, a.updated_s);
}

Result<int64_t> SqlStore::NextActionId() {
  FW_ASSIGN_OR_RETURN(int64_t max_id, conn_->QueryInt("SELECT COALESCE(MAX(id), 0) FROM actions"));
  FW_ASSIGN_OR_RETURN(auto floor, GetSetting(kActionIdFloorSetting));
  int64_t f = 0;
  if (floor) {
    const auto [end, ec] = std::from_chars(floor->data(), floor->data() + floor->size(), f);
    if (ec != std::errc() || end != floor->data() + floor->size() || f < 0) {
      return Corrupt(std::string("setting ") + kActionIdFloorSetting + " is not a count: " + *floor);
    }
  }
  return std::max(max_id, f) + 1;
}

Result<int64_t> SqlStore::CreateAction(const Action& a) {
  int64_t id = 0;
  Status written = MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(id, NextActionId());
    return Write(
        std::string("INSERT INTO actions (") + kActionColumns +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [&](SqlStmt& st) {
          st.Bind(1, id).Bind(2, a.device_serial).Bind(3, a.kind).Bind(4, a.target_name);
          st.Bind(5, a.target_version).Bind(6, a.type).Bind(7, a.window).Bind(8, a.deadline_s);
          st.Bind(9, a.backup_required ? 1 : 0);
          BindMutable(st, a, 10);
          st.Bind(21, a.rollout_id);  // set at creation only: UpdateAction leaves it
        },
        "creating an action for " + a.device_serial);
  });
  if (!written.ok()) return written;
  return id;
}

Result<std::optional<Action>> SqlStore::GetAction(int64_t id) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kActionColumns + " FROM actions WHERE id = ?"));
  st.Bind(1, id);
  return FirstRow<Action>(st, ReadAction);
}

Result<std::vector<Action>> SqlStore::ListActions(const std::string& device, bool open_only) {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare(std::string("SELECT ") + kActionColumns + " FROM actions WHERE device_serial = ?" +
                                     (open_only ? " AND done = 0" : "") + " ORDER BY id"));
  st.Bind(1, device);
  return Rows<Action>(st, ReadAction);
}

Result<std::vector<Action>> SqlStore::ListAllActions() {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kActionColumns + " FROM actions ORDER BY id"));
  return Rows<Action>(st, ReadAction);
}

Status SqlStore::UpdateAction(const Action& a) {
  return Write(
      "UPDATE actions SET state = ?, attempt = ?, last_seq = ?, backup_done = ?, cancel_requested = ?, done = ?, "
      "failure_class = ?, exit_code = ?, detail = ?, created_s = ?, updated_s = ? WHERE id = ?",
      [&](SqlStmt& st) {
        BindMutable(st, a, 1);
        st.Bind(12, a.id);
      },
      "updating action " + std::to_string(a.id));
}

Status SqlStore::AddEvent(const ActionEvent& e) {
  return Write(
      std::string("INSERT INTO action_events (") + kEventColumns + ") VALUES (?, ?, ?, ?, ?, ?)",
      [&](SqlStmt& st) {
        st.Bind(1, e.action_id).Bind(2, e.attempt).Bind(3, e.seq).Bind(4, e.state).Bind(5, e.body_json);
        st.Bind(6, e.received_s);
      },
      "recording an event of action " + std::to_string(e.action_id));
}

Result<std::optional<ActionEvent>> SqlStore::GetEvent(int64_t action_id, int64_t attempt, int64_t seq) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kEventColumns +
                                              " FROM action_events WHERE action_id = ? AND attempt = ? AND seq = ?"));
  st.Bind(1, action_id).Bind(2, attempt).Bind(3, seq);
  return FirstRow<ActionEvent>(st, ReadEvent);
}

Result<std::vector<ActionEvent>> SqlStore::ListEvents(int64_t action_id) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kEventColumns +
                                              " FROM action_events WHERE action_id = ? ORDER BY attempt, seq"));
  st.Bind(1, action_id);
  return Rows<ActionEvent>(st, ReadEvent);
}

Status SqlStore::AddSegment(const SegmentRecord& s) {
  return Write(
      std::string("INSERT INTO journal_segments (") + kSegmentColumns + ", body) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [&](SqlStmt& st) {
        st.Bind(1, s.device_serial).Bind(2, s.first_seq).Bind(3, s.last_seq).Bind(4, s.records);
        st.Bind(5, s.sha256_hex).Bind(6, s.received_s).Bind(7, s.body);
      },
      "storing a journal segment of " + s.device_serial);
}

Result<std::vector<SegmentRecord>> SqlStore::ListSegments(const std::string& device) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kSegmentColumns +
                                              " FROM journal_segments WHERE device_serial = ? ORDER BY first_seq"));
  st.Bind(1, device);
  return Rows<SegmentRecord>(st, [](const SqlStmt& s) { return ReadSegment(s, false); });
}

Result<std::optional<SegmentRecord>> SqlStore::GetSegment(const std::string& device, int64_t first_seq,
                                                          int64_t last_seq) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kSegmentColumns +
                                              ", body FROM journal_segments WHERE device_serial = ? AND first_seq = ? "
                                              "AND last_seq = ?"));
  st.Bind(1, device).Bind(2, first_seq).Bind(3, last_seq);
  return FirstRow<SegmentRecord>(st, [](const SqlStmt& s) { return ReadSegment(s, true); });
}

Result<int64_t> SqlStore::PurgeSegmentsReceivedBefore(int64_t before_s) {
  int64_t purged = 0;
  Status written = MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto count, conn_->Prepare("SELECT COUNT(*) FROM journal_segments WHERE received_s < ?"));
    count.Bind(1, before_s);
    FW_ASSIGN_OR_RETURN(bool row, count.Step());
    purged = row ? count.ColumnInt(0) : 0;
    FW_RETURN_IF_ERROR(count.Reset());
    return Write(
        "DELETE FROM journal_segments WHERE received_s < ?", [&](SqlStmt& st) { st.Bind(1, before_s); },
        "purging journal segments");
  });
  if (!written.ok()) return written;
  return purged;
}

}  // namespace detail

std::string_view DeviceStateName(DeviceState state) {
  switch (state) {
    case DeviceState::kActive:
      return "active";
    case DeviceState::kQuarantined:
      return "quarantined";
    case DeviceState::kRevoked:
      return "revoked";
  }
  return "active";
}

std::string StorePath(const std::string& data_dir) { return data_dir + "/server.db"; }

namespace {

Result<std::unique_ptr<Store>> OpenOver(Result<std::unique_ptr<detail::SqlConn>> conn) {
  if (!conn.ok()) return conn.status();
  FW_RETURN_IF_ERROR((*conn)->Migrate(StoreMigrator(), "fleet server"));
  return std::unique_ptr<Store>(new detail::SqlStore(std::move(*conn)));
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool create) {
  return OpenOver(detail::OpenSqliteConn(path, create));
}

bool IsPostgresDatabase(std::string_view database) {
  return database.starts_with("postgresql://") || database.starts_with("postgres://");
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& database, bool create) {
  if (IsPostgresDatabase(database)) return OpenPostgresStore(database);
  return OpenSqliteStore(database, create);
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& uri) {
  return OpenOver(detail::OpenPostgresConn(uri));
}

}  // namespace fw::server
