// The store of fw/server/store.h over one SQL connection (sql_conn.h: SQLite or PostgreSQL; internal
// to fw_server_store): the class, its row readers and write helpers. One SQL text serves both
// backends. Method bodies live in sql_store.cc (devices, enrolment tokens, certificates, actions,
// segments), sql_store_ops.cc (the operator side: queries, labels, operator tokens, the audit log,
// alerts, settings, leases) and sql_store_rollouts.cc (rollout rows).
// Writers: every write runs inside a transaction where the backend needs one to serialise writers
// (PostgreSQL's advisory lock, sql_conn.h); single statements on SQLite are atomic as they are.
// Ownership: a SqlStore owns its one SqlConn.
// Thread safety: one thread at a time (the Store contract).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fw/server/store.h"
#include "sql_conn.h"

namespace fw::server::detail {

inline constexpr const char* kDeviceColumns =
    "serial, spki_sha256, state, state_reason, created_s, last_seen_s, manifest, witness, hardware_id, version";
inline constexpr const char* kActionColumns =
    "id, device_serial, kind, target_name, target_version, type, window_local, deadline_s, backup_required, "
    "state, attempt, last_seq, backup_done, cancel_requested, done, failure_class, exit_code, detail, "
    "created_s, updated_s, rollout_id";

Result<DeviceState> ParseDeviceState(std::string_view s);
Result<Device> ReadDevice(const SqlStmt& st);
Action ReadAction(const SqlStmt& st);

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<SqlConn> conn) : conn_(std::move(conn)) {}

  Status Atomically(const std::function<Status()>& fn) override;
  bool InTransaction() const override { return in_tx_; }

  // sql_store.cc
  Result<std::optional<Device>> GetDevice(const std::string& serial) override;
  Result<std::vector<Device>> ListDevices() override;
  Status CreateDevice(const Device& device) override;
  Status SetDeviceKey(const std::string& serial, const std::string& spki_sha256_hex) override;
  Status SetDeviceState(const std::string& serial, DeviceState state, const std::string& reason) override;
  Status SetDeviceManifest(const std::string& serial, const std::string& manifest_json, const std::string& hardware_id,
                           const std::string& version) override;
  Status SetWitnessState(const std::string& serial, const std::string& witness_state) override;
  Status TouchLastSeen(const std::vector<std::pair<std::string, int64_t>>& seen) override;
  Status AddEnrolToken(const EnrolToken& token) override;
  Result<std::optional<EnrolToken>> GetEnrolToken(const std::string& token_sha256_hex) override;
  Result<bool> ConsumeEnrolToken(const std::string& token_sha256_hex, int64_t now_s) override;
  Result<std::vector<EnrolToken>> ListEnrolTokens() override;
  Status AddCert(const CertRecord& cert) override;
  Result<std::vector<CertRecord>> ListCerts(const std::string& device_serial) override;
  Result<std::vector<CertRecord>> ListCertsExpiringBefore(int64_t before_s) override;
  Status DenyCert(const std::string& cert_serial_hex, const std::string& device_serial, const std::string& reason,
                  int64_t now_s) override;
  Result<bool> IsCertDenied(const std::string& cert_serial_hex) override;
  Result<int64_t> CreateAction(const Action& action) override;
  Result<int64_t> NextActionId() override;
  Result<std::optional<Action>> GetAction(int64_t id) override;
  Result<std::vector<Action>> ListActions(const std::string& device_serial, bool open_only) override;
  Result<std::vector<Action>> ListAllActions() override;
  Status UpdateAction(const Action& action) override;
  Status AddEvent(const ActionEvent& event) override;
  Result<std::optional<ActionEvent>> GetEvent(int64_t action_id, int64_t attempt, int64_t seq) override;
  Result<std::vector<ActionEvent>> ListEvents(int64_t action_id) override;
  Status AddSegment(const SegmentRecord& segment) override;
  Result<std::vector<SegmentRecord>> ListSegments(const std::string& device_serial) override;
  Result<std::optional<SegmentRecord>> GetSegment(const std::string& device_serial, int64_t first_seq,
                                                  int64_t last_seq) override;
  Result<int64_t> PurgeSegmentsReceivedBefore(int64_t before_s) override;

  // sql_store_ops.cc
  Result<std::vector<Device>> QueryDevices(const DeviceQuery& query) override;
  Result<std::vector<Action>> QueryActions(const ActionQuery& query) override;
  Status AddLabel(const std::string& serial, const std::string& label) override;
  Status RemoveLabel(const std::string& serial, const std::string& label) override;
  Result<std::vector<std::string>> ListLabels(const std::string& serial) override;
  Result<std::vector<std::pair<std::string, int64_t>>> LabelCounts() override;
  Result<int64_t> AddOperatorToken(const OperatorToken& token) override;
  Result<std::optional<OperatorToken>> GetOperatorTokenByHash(const std::string& token_sha256_hex) override;
  Result<std::optional<OperatorToken>> GetOperatorToken(int64_t id) override;
  Result<std::vector<OperatorToken>> ListOperatorTokens() override;
  Result<bool> RevokeOperatorToken(int64_t id, int64_t now_s) override;
  Result<AuditEntry> AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(int64_t after_seq, int64_t limit) override;
  Result<std::optional<AuditEntry>> AuditHead() override;
  Result<int64_t> AddAlert(const Alert& alert, const std::vector<std::string>& webhooks) override;
  Result<std::vector<Alert>> ListAlerts(int64_t after_id, int64_t limit) override;
  Result<std::optional<Alert>> GetAlert(int64_t id) override;
  Result<std::vector<AlertDelivery>> ListDeliveries(int64_t alert_id) override;
  Result<std::vector<AlertDelivery>> DueDeliveries(int64_t now_s, int64_t limit) override;
  Status UpdateDelivery(const AlertDelivery& delivery) override;
  Status AddDeliveryAttempt(const DeliveryAttempt& attempt) override;
  Result<std::vector<DeliveryAttempt>> ListDeliveryAttempts(int64_t alert_id) override;
  Result<std::optional<std::string>> GetSetting(const std::string& key) override;
  Status SetSetting(const std::string& key, const std::string& value) override;
  Result<std::string> PutSettingIfAbsent(const std::string& key, const std::string& value) override;
  Status DeleteSetting(const std::string& key) override;
  Result<std::vector<std::string>> ListSettingKeys(const std::string& prefix) override;
  Status Ping() override;
  // sql_store_dash.cc (issue 20)
  Result<std::vector<DeviceCount>> CountDevices() override;
  Result<int64_t> CountDevicesSeenBefore(int64_t before_s) override;
  Status AddCheckinCounts(const std::vector<std::pair<int64_t, int64_t>>& bucket_counts) override;
  Result<std::vector<std::pair<int64_t, int64_t>>> ListCheckinCounts(int64_t from_s) override;
  Result<int64_t> PurgeCheckinCountsBefore(int64_t before_s) override;
  Result<std::vector<Alert>> ListRecentAlerts(const std::vector<std::string>& kinds, int64_t limit) override;
  Status AddUiSession(const UiSession& session) override;
  Result<std::optional<UiSession>> GetUiSession(const std::string& session_sha256_hex) override;
  Status DeleteUiSession(const std::string& session_sha256_hex) override;
  Result<int64_t> PurgeUiSessions(int64_t now_s) override;
  Result<bool> TryLease(const std::string& name, const std::string& holder, int64_t now_s, int64_t ttl_s) override;
  Status ReleaseLease(const std::string& name, const std::string& holder) override;

  // sql_store_rollouts.cc (issue 18)
  Result<std::vector<Action>> ListRolloutActions(int64_t rollout_id, bool open_only) override;
  Result<std::vector<Action>> ListOpenRolloutActionsCreatedBefore(int64_t created_before_s, int64_t limit) override;
  Result<int64_t> CreateRollout(const RolloutRow& rollout) override;
  Result<std::optional<RolloutRow>> GetRollout(int64_t id) override;
  Result<std::vector<RolloutRow>> ListRollouts(int64_t after_id, int64_t limit) override;
  Result<std::vector<RolloutRow>> ListRolloutsInState(const std::string& state) override;
  Status UpdateRollout(const RolloutRow& rollout) override;
  Status PutRolloutGroup(const RolloutGroupRow& group) override;
  Result<std::vector<RolloutGroupRow>> ListRolloutGroups(int64_t rollout_id) override;
  Status AddRolloutMembers(const std::vector<RolloutMemberRow>& members) override;
  Status UpdateRolloutMember(const RolloutMemberRow& member) override;
  Result<std::optional<RolloutMemberRow>> GetRolloutMember(int64_t rollout_id, const std::string& serial) override;
  Result<std::optional<RolloutMemberRow>> GetRolloutMemberByAction(int64_t action_id) override;
  Result<std::vector<RolloutMemberRow>> QueryRolloutMembers(const MemberQuery& query) override;
  Result<std::vector<RolloutMemberRow>> AssignableMembers(int64_t rollout_id, int64_t group_index, int64_t now_s,
                                                          int64_t limit) override;
  Result<std::vector<std::pair<std::pair<int64_t, std::string>, int64_t>>> CountRolloutMembers(
      int64_t rollout_id) override;
  Status BumpRolloutCounter(int64_t rollout_id, int64_t group_index, const std::string& name, int64_t delta) override;
  Result<std::vector<RolloutCounter>> ListRolloutCounters(int64_t rollout_id) override;

 private:
  // One write statement, in a transaction of its own when the backend needs one (Writing).
  template <typename BindFn>
  Status Write(const std::string& sql, BindFn bind, const std::string& what) {
    return Writing([&]() -> Status {
      auto st = conn_->Prepare(sql);
      if (!st.ok()) return st.status().WithContext(what);
      bind(*st);
      return st->Run().WithContext(what);
    });
  }

  // Steps `st` to the end, reading each row with `read` (returning T or Result<T>).
  template <typename T, typename ReadFn>
  static Result<std::vector<T>> Rows(SqlStmt& st, ReadFn read) {
    std::vector<T> out;
    while (true) {
      FW_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      Result<T> r = read(st);
      if (!r.ok()) return r.status();
      out.push_back(std::move(*r));
    }
    return out;
  }

  // The first row read with `read`, or nullopt.
  template <typename T, typename ReadFn>
  static Result<std::optional<T>> FirstRow(SqlStmt& st, ReadFn read) {
    FW_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<T>();
    Result<T> r = read(st);
    if (!r.ok()) return r.status();
    return std::optional<T>(std::move(*r));
  }

  // One transaction unless the caller's Atomically() holds one already.
  Status MaybeAtomically(const std::function<Status()>& fn) {
    if (in_tx_) return fn();
    return Atomically(fn);
  }
  // A write of one statement: as it is on SQLite (atomic and serialised alone), in a transaction
  // (the writer lock) on PostgreSQL unless the caller's Atomically() holds one already.
  Status Writing(const std::function<Status()>& fn) {
    if (in_tx_ || !conn_->WritesNeedTransaction()) return fn();
    return Atomically(fn);
  }

  static void BindMutable(SqlStmt& st, const Action& a, int first);

  std::unique_ptr<SqlConn> conn_;
  bool in_tx_ = false;
};

}  // namespace fw::server::detail
