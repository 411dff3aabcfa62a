// The SQLite backend of fw/server/store.h over fw::sql (the project's one SQLite facade).
#include <filesystem>
#include <utility>

#include "fw/server/store.h"
#include "fw/sqlite.h"
#include "store_schema.h"

namespace fw::server {
namespace {

constexpr const char* kDeviceColumns =
    "serial, spki_sha256, state, state_reason, created_s, last_seen_s, manifest, witness";
constexpr const char* kActionColumns =
    "id, device_serial, kind, target_name, target_version, type, window_local, deadline_s, backup_required, "
    "state, attempt, last_seq, backup_done, cancel_requested, done, failure_class, exit_code, detail, "
    "created_s, updated_s";

Result<DeviceState> ParseDeviceState(std::string_view s) {
  if (s == "active") return DeviceState::kActive;
  if (s == "quarantined") return DeviceState::kQuarantined;
  if (s == "revoked") return DeviceState::kRevoked;
  return Corrupt("unknown device state '" + std::string(s) + "' in the store");
}

Result<Device> ReadDevice(const sql::Statement& st) {
  Device d;
  d.serial = st.ColumnText(0);
  d.spki_sha256_hex = st.ColumnText(1);
  FW_ASSIGN_OR_RETURN(d.state, ParseDeviceState(st.ColumnTextView(2)));
  d.state_reason = st.ColumnText(3);
  d.created_s = st.ColumnInt(4);
  d.last_seen_s = st.ColumnInt(5);
  d.manifest_json = st.ColumnText(6);
  d.witness_state = st.ColumnText(7);
  return d;
}

Action ReadAction(const sql::Statement& st) {
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
  return a;
}

ActionEvent ReadEvent(const sql::Statement& st) {
  ActionEvent e;
  e.action_id = st.ColumnInt(0);
  e.attempt = st.ColumnInt(1);
  e.seq = st.ColumnInt(2);
  e.state = st.ColumnText(3);
  e.body_json = st.ColumnText(4);
  e.received_s = st.ColumnInt(5);
  return e;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sql::Database db) : db_(std::move(db)) {}

  Status Atomically(const std::function<Status()>& fn) override {
    FW_ASSIGN_OR_RETURN(auto tx, sql::Transaction::Begin(db_));
    in_tx_ = true;
    Status s = fn();
    in_tx_ = false;
    if (!s.ok()) return s;
    return tx.Commit();
  }

  Result<std::optional<Device>> GetDevice(const std::string& serial) override {
    FW_ASSIGN_OR_RETURN(auto st,
                        db_.Prepare(std::string("SELECT ") + kDeviceColumns + " FROM devices WHERE serial = ?"));
    st.Bind(1, serial);
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<Device>();
    FW_ASSIGN_OR_RETURN(auto d, ReadDevice(st));
    return std::optional<Device>(std::move(d));
  }

  Result<std::vector<Device>> ListDevices() override {
    FW_ASSIGN_OR_RETURN(auto st,
                        db_.Prepare(std::string("SELECT ") + kDeviceColumns + " FROM devices ORDER BY serial"));
    std::vector<Device> out;
    while (true) {
      FW_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      FW_ASSIGN_OR_RETURN(auto d, ReadDevice(st));
      out.push_back(std::move(d));
    }
    return out;
  }

  Status CreateDevice(const Device& d) override {
    return Write(
        "INSERT INTO devices (serial, spki_sha256, state, state_reason, created_s, last_seen_s, manifest, witness) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [&](sql::Statement& st) {
          st.Bind(1, d.serial).Bind(2, d.spki_sha256_hex).Bind(3, DeviceStateName(d.state)).Bind(4, d.state_reason);
          st.Bind(5, d.created_s).Bind(6, d.last_seen_s).Bind(7, d.manifest_json).Bind(8, d.witness_state);
        },
        "recording device " + d.serial);
  }

  Status SetDeviceKey(const std::string& serial, const std::string& spki) override {
    return Write(
        "UPDATE devices SET spki_sha256 = ? WHERE serial = ?",
        [&](sql::Statement& st) { st.Bind(1, spki).Bind(2, serial); }, "binding device " + serial);
  }

  Status SetDeviceState(const std::string& serial, DeviceState state, const std::string& reason) override {
    return Write(
        "UPDATE devices SET state = ?, state_reason = ? WHERE serial = ?",
        [&](sql::Statement& st) { st.Bind(1, DeviceStateName(state)).Bind(2, reason).Bind(3, serial); },
        "setting the state of device " + serial);
  }

  Status SetDeviceManifest(const std::string& serial, const std::string& manifest, const std::string&,
                           const std::string&) override {
    return Write(
        "UPDATE devices SET manifest = ? WHERE serial = ?",
        [&](sql::Statement& st) { st.Bind(1, manifest).Bind(2, serial); }, "storing the manifest of " + serial);
  }

  // SKELETON (issue 16): the store helper replaces every override below with the real SQL.
  static Status Todo() { return Internal("SKELETON: not implemented yet"); }
  Result<std::vector<Device>> QueryDevices(const DeviceQuery&) override { return Todo(); }
  Result<std::vector<EnrolToken>> ListEnrolTokens() override { return Todo(); }
  Status AddLabel(const std::string&, const std::string&) override { return Todo(); }
  Status RemoveLabel(const std::string&, const std::string&) override { return Todo(); }
  Result<std::vector<std::string>> ListLabels(const std::string&) override { return Todo(); }
  Result<std::vector<std::pair<std::string, int64_t>>> LabelCounts() override { return Todo(); }
  Result<int64_t> AddOperatorToken(const OperatorToken&) override { return Todo(); }
  Result<std::optional<OperatorToken>> GetOperatorTokenByHash(const std::string&) override { return Todo(); }
  Result<std::optional<OperatorToken>> GetOperatorToken(int64_t) override { return Todo(); }
  Result<std::vector<OperatorToken>> ListOperatorTokens() override { return Todo(); }
  Result<bool> RevokeOperatorToken(int64_t, int64_t) override { return Todo(); }
  Result<AuditEntry> AppendAudit(const AuditEntry&) override { return Todo(); }
  Result<std::vector<AuditEntry>> ListAudit(int64_t, int64_t) override { return Todo(); }
  Result<std::optional<AuditEntry>> AuditHead() override { return Todo(); }
  Result<int64_t> AddAlert(const Alert&, const std::vector<std::string>&) override { return Todo(); }
  Result<std::vector<Alert>> ListAlerts(int64_t, int64_t) override { return Todo(); }
  Result<std::optional<Alert>> GetAlert(int64_t) override { return Todo(); }
  Result<std::vector<AlertDelivery>> ListDeliveries(int64_t) override { return Todo(); }
  Result<std::vector<AlertDelivery>> DueDeliveries(int64_t, int64_t) override { return Todo(); }
  Status UpdateDelivery(const AlertDelivery&) override { return Todo(); }
  Status AddDeliveryAttempt(const DeliveryAttempt&) override { return Todo(); }
  Result<std::vector<DeliveryAttempt>> ListDeliveryAttempts(int64_t) override { return Todo(); }
  Result<std::optional<std::string>> GetSetting(const std::string&) override { return Todo(); }
  Status SetSetting(const std::string&, const std::string&) override { return Todo(); }
  Result<std::vector<Action>> QueryActions(const ActionQuery&) override { return Todo(); }
  Result<std::vector<CertRecord>> ListCertsExpiringBefore(int64_t) override { return Todo(); }
  Result<std::optional<SegmentRecord>> GetSegment(const std::string&, int64_t, int64_t) override { return Todo(); }
  Result<int64_t> PurgeSegmentsReceivedBefore(int64_t) override { return Todo(); }

  Status SetWitnessState(const std::string& serial, const std::string& witness) override {
    return Write(
        "UPDATE devices SET witness = ? WHERE serial = ?",
        [&](sql::Statement& st) { st.Bind(1, witness).Bind(2, serial); }, "storing the witness of " + serial);
  }

  Status TouchLastSeen(const std::vector<std::pair<std::string, int64_t>>& seen) override {
    if (seen.empty()) return Status::Ok();
    return MaybeAtomically([&]() -> Status {
      FW_ASSIGN_OR_RETURN(auto st,
                          db_.Prepare("UPDATE devices SET last_seen_s = ? WHERE serial = ? AND last_seen_s < ?"));
      for (const auto& [serial, t] : seen) {
        st.Bind(1, t).Bind(2, serial).Bind(3, t);
        FW_RETURN_IF_ERROR_CTX(st.Run(), "recording when devices were last seen");
      }
      return Status::Ok();
    });
  }

  Status AddEnrolToken(const EnrolToken& t) override {
    return Write(
        "INSERT INTO enrol_tokens (token_sha256, serial, created_s, expires_s, used_s) VALUES (?, ?, ?, ?, NULL)",
        [&](sql::Statement& st) {
          st.Bind(1, t.token_sha256_hex).Bind(2, t.serial).Bind(3, t.created_s).Bind(4, t.expires_s);
        },
        "storing an enrolment token for " + t.serial);
  }

  Result<std::optional<EnrolToken>> GetEnrolToken(const std::string& hash) override {
    FW_ASSIGN_OR_RETURN(auto st,
                        db_.Prepare("SELECT token_sha256, serial, created_s, expires_s, used_s FROM enrol_tokens "
                                    "WHERE token_sha256 = ?"));
    st.Bind(1, hash);
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<EnrolToken>();
    EnrolToken t{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2), st.ColumnInt(3), std::nullopt};
    if (!st.ColumnIsNull(4)) t.used_s = st.ColumnInt(4);
    return std::optional<EnrolToken>(std::move(t));
  }

  Result<bool> ConsumeEnrolToken(const std::string& hash, int64_t now_s) override {
    // RETURNING (SQLite >= 3.35, PostgreSQL): the row comes back only when this UPDATE used it.
    FW_ASSIGN_OR_RETURN(auto st,
                        db_.Prepare("UPDATE enrol_tokens SET used_s = ? WHERE token_sha256 = ? AND used_s IS NULL "
                                    "RETURNING serial"));
    st.Bind(1, now_s).Bind(2, hash);
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    FW_RETURN_IF_ERROR(st.Reset());
    return row;
  }

  Status AddCert(const CertRecord& c) override {
    return Write(
        "INSERT INTO certificates (cert_serial, device_serial, spki_sha256, issued_s, not_after_s) VALUES (?, ?, ?, ?, "
        "?)",
        [&](sql::Statement& st) {
          st.Bind(1, c.cert_serial_hex).Bind(2, c.device_serial).Bind(3, c.spki_sha256_hex);
          st.Bind(4, c.issued_s).Bind(5, c.not_after_s);
        },
        "recording certificate " + c.cert_serial_hex);
  }

  Result<std::vector<CertRecord>> ListCerts(const std::string& device) override {
    FW_ASSIGN_OR_RETURN(auto st,
                        db_.Prepare("SELECT cert_serial, device_serial, spki_sha256, issued_s, not_after_s "
                                    "FROM certificates WHERE device_serial = ? ORDER BY issued_s, cert_serial"));
    st.Bind(1, device);
    std::vector<CertRecord> out;
    while (true) {
      FW_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3), st.ColumnInt(4)});
    }
    return out;
  }

  Status DenyCert(const std::string& cert_serial, const std::string& device, const std::string& reason,
                  int64_t now_s) override {
    FW_ASSIGN_OR_RETURN(bool denied, IsCertDenied(cert_serial));
    if (denied) return Status::Ok();
    return Write(
        "INSERT INTO cert_deny_list (cert_serial, device_serial, reason, denied_s) VALUES (?, ?, ?, ?)",
        [&](sql::Statement& st) { st.Bind(1, cert_serial).Bind(2, device).Bind(3, reason).Bind(4, now_s); },
        "denying certificate " + cert_serial);
  }

  Result<bool> IsCertDenied(const std::string& cert_serial) override {
    FW_ASSIGN_OR_RETURN(auto st, db_.Prepare("SELECT 1 FROM cert_deny_list WHERE cert_serial = ?"));
    st.Bind(1, cert_serial);
    return st.Step();
  }

  Result<int64_t> CreateAction(const Action& a) override {
    int64_t id = 0;
    FW_RETURN_IF_ERROR(MaybeAtomically([&]() -> Status {
      FW_ASSIGN_OR_RETURN(id, db_.QueryInt("SELECT COALESCE(MAX(id), 0) + 1 FROM actions"));
      return Write(
          std::string("INSERT INTO actions (") + kActionColumns +
              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          [&](sql::Statement& st) {
            st.Bind(1, id).Bind(2, a.device_serial).Bind(3, a.kind).Bind(4, a.target_name);
            st.Bind(5, a.target_version).Bind(6, a.type).Bind(7, a.window).Bind(8, a.deadline_s);
            st.Bind(9, a.backup_required ? 1 : 0);
            BindMutable(st, a, 10);
          },
          "creating an action for " + a.device_serial);
    }));
    return id;
  }

  Result<std::optional<Action>> GetAction(int64_t id) override {
    FW_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string("SELECT ") + kActionColumns + " FROM actions WHERE id = ?"));
    st.Bind(1, id);
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<Action>();
    return std::optional<Action>(ReadAction(st));
  }

  Result<std::vector<Action>> ListActions(const std::string& device, bool open_only) override {
    FW_ASSIGN_OR_RETURN(auto st,
                        db_.Prepare(std::string("SELECT ") + kActionColumns + " FROM actions WHERE device_serial = ?" +
                                    (open_only ? " AND done = 0" : "") + " ORDER BY id"));
    st.Bind(1, device);
    return Actions(st);
  }

  Result<std::vector<Action>> ListAllActions() override {
    FW_ASSIGN_OR_RETURN(auto st, db_.Prepare(std::string("SELECT ") + kActionColumns + " FROM actions ORDER BY id"));
    return Actions(st);
  }

  Status UpdateAction(const Action& a) override {
    return Write(
        "UPDATE actions SET state = ?, attempt = ?, last_seq = ?, backup_done = ?, cancel_requested = ?, done = ?, "
        "failure_class = ?, exit_code = ?, detail = ?, created_s = ?, updated_s = ? WHERE id = ?",
        [&](sql::Statement& st) {
          BindMutable(st, a, 1);
          st.Bind(12, a.id);
        },
        "updating action " + std::to_string(a.id));
  }

  Status AddEvent(const ActionEvent& e) override {
    return Write(
        "INSERT INTO action_events (action_id, attempt, seq, state, body, received_s) VALUES (?, ?, ?, ?, ?, ?)",
        [&](sql::Statement& st) {
          st.Bind(1, e.action_id).Bind(2, e.attempt).Bind(3, e.seq).Bind(4, e.state).Bind(5, e.body_json);
          st.Bind(6, e.received_s);
        },
        "recording an event of action " + std::to_string(e.action_id));
  }

  Result<std::optional<ActionEvent>> GetEvent(int64_t action_id, int64_t attempt, int64_t seq) override {
    FW_ASSIGN_OR_RETURN(auto st,
                        db_.Prepare("SELECT action_id, attempt, seq, state, body, received_s FROM action_events "
                                    "WHERE action_id = ? AND attempt = ? AND seq = ?"));
    st.Bind(1, action_id).Bind(2, attempt).Bind(3, seq);
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ActionEvent>();
    return std::optional<ActionEvent>(ReadEvent(st));
  }

  Result<std::vector<ActionEvent>> ListEvents(int64_t action_id) override {
    FW_ASSIGN_OR_RETURN(auto st,
                        db_.Prepare("SELECT action_id, attempt, seq, state, body, received_s FROM action_events "
                                    "WHERE action_id = ? ORDER BY attempt, seq"));
    st.Bind(1, action_id);
    std::vector<ActionEvent> out;
    while (true) {
      FW_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(ReadEvent(st));
    }
    return out;
  }

  Status AddSegment(const SegmentRecord& s) override {
    return Write(
        "INSERT INTO journal_segments (device_serial, first_seq, last_seq, records, sha256, received_s, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [&](sql::Statement& st) {
          st.Bind(1, s.device_serial).Bind(2, s.first_seq).Bind(3, s.last_seq).Bind(4, s.records);
          st.Bind(5, s.sha256_hex).Bind(6, s.received_s).Bind(7, s.body);
        },
        "storing a journal segment of " + s.device_serial);
  }

  Result<std::vector<SegmentRecord>> ListSegments(const std::string& device) override {
    FW_ASSIGN_OR_RETURN(auto st, db_.Prepare("SELECT device_serial, first_seq, last_seq, records, sha256, received_s "
                                             "FROM journal_segments WHERE device_serial = ? ORDER BY first_seq"));
    st.Bind(1, device);
    std::vector<SegmentRecord> out;
    while (true) {
      FW_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(
          {st.ColumnText(0), st.ColumnInt(1), st.ColumnInt(2), st.ColumnInt(3), st.ColumnText(4), st.ColumnInt(5), ""});
    }
    return out;
  }

 private:
  static void BindMutable(sql::Statement& st, const Action& a, int first) {
    st.Bind(first, a.state)
        .Bind(first + 1, a.attempt)
        .Bind(first + 2, a.last_seq)
        .Bind(first + 3, a.backup_done ? 1 : 0);
    st.Bind(first + 4, a.cancel_requested ? 1 : 0).Bind(first + 5, a.done ? 1 : 0).Bind(first + 6, a.failure_class);
    st.Bind(first + 7, a.exit_code)
        .Bind(first + 8, a.detail)
        .Bind(first + 9, a.created_s)
        .Bind(first + 10, a.updated_s);
  }

  Result<std::vector<Action>> Actions(sql::Statement& st) {
    std::vector<Action> out;
    while (true) {
      FW_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(ReadAction(st));
    }
    return out;
  }

  template <typename BindFn>
  Status Write(const std::string& sql, BindFn bind, const std::string& what) {
    auto st = db_.Prepare(sql);
    if (!st.ok()) return st.status().WithContext(what);
    bind(*st);
    return st->Run().WithContext(what);
  }

  // One transaction unless the caller's Atomically() holds one already.
  Status MaybeAtomically(const std::function<Status()>& fn) {
    if (in_tx_) return fn();
    return Atomically(fn);
  }

  sql::Database db_;
  bool in_tx_ = false;
};

}  // namespace

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

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, bool create) {
  FW_ASSIGN_OR_RETURN(auto db, sql::Database::Open(path, sql::OpenOptions().Create(create)));
  FW_RETURN_IF_ERROR(StoreMigrator().Upgrade(db).status());
  return std::unique_ptr<Store>(new SqliteStore(std::move(db)));
}

}  // namespace fw::server
