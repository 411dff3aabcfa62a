// The store of fw/server/store.h (sql_store_impl.h), the operator side: keyset-paged queries, labels,
// operator tokens, the hash-chained audit log, alerts with their deliveries, settings.
#include <utility>

#include "fw/canonical_json.h"
#include "fw/server/audit.h"
#include "sql_store_impl.h"

namespace fw::server::detail {
namespace {

constexpr const char* kTokenColumns =
    "id, name, token_sha256, role, journal_read, created_s, expires_s, revoked_s, created_by";
constexpr const char* kAuditColumns = "seq, time_s, actor, action, object, before_json, after_json, prev_hash, hash";
constexpr const char* kDeliveryColumns =
    "alert_id, webhook, state, attempts, next_attempt_s, last_status, last_error, updated_s";
constexpr const char* kAttemptColumns = "alert_id, webhook, attempt, time_s, http_status, error";

OperatorToken ReadToken(const SqlStmt& st) {
  OperatorToken t;
  t.id = st.ColumnInt(0);
  t.name = st.ColumnText(1);
  t.token_sha256_hex = st.ColumnText(2);
  t.role = st.ColumnText(3);
  t.journal_read = st.ColumnInt(4) != 0;
  t.created_s = st.ColumnInt(5);
  t.expires_s = st.ColumnInt(6);
  if (!st.ColumnIsNull(7)) t.revoked_s = st.ColumnInt(7);
  t.created_by = st.ColumnText(8);
  return t;
}

AuditEntry ReadAudit(const SqlStmt& st) {
  return {st.ColumnInt(0),  st.ColumnInt(1),  st.ColumnText(2), st.ColumnText(3), st.ColumnText(4),
          st.ColumnText(5), st.ColumnText(6), st.ColumnText(7), st.ColumnText(8)};
}

Alert ReadAlert(const SqlStmt& st) {
  return {st.ColumnInt(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3), st.ColumnInt(4)};
}

AlertDelivery ReadDelivery(const SqlStmt& st) {
  return {st.ColumnInt(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3),
          st.ColumnInt(4), st.ColumnInt(5),  st.ColumnText(6), st.ColumnInt(7)};
}

DeliveryAttempt ReadAttempt(const SqlStmt& st) {
  return {st.ColumnInt(0), st.ColumnText(1), st.ColumnInt(2), st.ColumnInt(3), st.ColumnInt(4), st.ColumnText(5)};
}

Status CheckLimit(int64_t limit) {
  if (limit < 0) return InvalidArgument("a page limit must not be negative (got " + std::to_string(limit) + ")");
  return Status::Ok();
}

// A WHERE clause built with its bound values (text or integer), in order.
struct Filter {
  std::string sql;
  std::vector<std::pair<std::string, int64_t>> binds;  // (text, int); text used when is_text
  std::vector<bool> is_text;

  void Add(const std::string& clause, const std::string& text) {
    sql += (sql.empty() ? " WHERE " : " AND ") + clause;
    binds.push_back({text, 0});
    is_text.push_back(true);
  }
  void Add(const std::string& clause, int64_t value) {
    sql += (sql.empty() ? " WHERE " : " AND ") + clause;
    binds.push_back({"", value});
    is_text.push_back(false);
  }
  int Bind(SqlStmt& st) const {
    for (size_t i = 0; i < binds.size(); ++i) {
      if (is_text[i]) {
        st.Bind(static_cast<int>(i + 1), binds[i].first);
      } else {
        st.Bind(static_cast<int>(i + 1), binds[i].second);
      }
    }
    return static_cast<int>(binds.size());
  }
};

}  // namespace

Result<std::vector<Device>> SqlStore::QueryDevices(const DeviceQuery& q) {
  FW_RETURN_IF_ERROR(CheckLimit(q.limit));
  Filter f;
  f.Add("serial > ?", q.after_serial);
  if (!q.label.empty()) {
    f.Add("EXISTS (SELECT 1 FROM labels l WHERE l.device_serial = devices.serial AND l.label = ?)", q.label);
  }
  if (!q.hardware_id.empty()) f.Add("hardware_id = ?", q.hardware_id);
  if (!q.version.empty()) f.Add("version = ?", q.version);
  if (q.state) f.Add("state = ?", std::string(DeviceStateName(*q.state)));
  if (q.seen_after_s) f.Add("last_seen_s >= ?", *q.seen_after_s);
  if (q.seen_before_s) f.Add("last_seen_s < ?", *q.seen_before_s);
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kDeviceColumns + " FROM devices" + f.sql +
                                              " ORDER BY serial LIMIT ?"));
  st.Bind(f.Bind(st) + 1, q.limit);
  return Rows<Device>(st, ReadDevice);
}

Result<std::vector<Action>> SqlStore::QueryActions(const ActionQuery& q) {
  FW_RETURN_IF_ERROR(CheckLimit(q.limit));
  Filter f;
  f.Add("id > ?", q.after_id);
  if (!q.device_serial.empty()) f.Add("device_serial = ?", q.device_serial);
  if (!q.state.empty()) f.Add("state = ?", q.state);
  if (q.open_only) f.Add("done = ?", int64_t{0});
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kActionColumns + " FROM actions" + f.sql +
                                              " ORDER BY id LIMIT ?"));
  st.Bind(f.Bind(st) + 1, q.limit);
  return Rows<Action>(st, ReadAction);
}

Status SqlStore::AddLabel(const std::string& serial, const std::string& label) {
  // ON CONFLICT DO NOTHING: SQLite >= 3.24 and PostgreSQL.
  return Write(
      "INSERT INTO labels (device_serial, label) VALUES (?, ?) ON CONFLICT DO NOTHING",
      [&](SqlStmt& st) { st.Bind(1, serial).Bind(2, label); }, "labelling device " + serial);
}

Status SqlStore::RemoveLabel(const std::string& serial, const std::string& label) {
  return Write(
      "DELETE FROM labels WHERE device_serial = ? AND label = ?",
      [&](SqlStmt& st) { st.Bind(1, serial).Bind(2, label); }, "removing a label of device " + serial);
}

Result<std::vector<std::string>> SqlStore::ListLabels(const std::string& serial) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT label FROM labels WHERE device_serial = ? ORDER BY label"));
  st.Bind(1, serial);
  return Rows<std::string>(st, [](const SqlStmt& s) { return s.ColumnText(0); });
}

Result<std::vector<std::pair<std::string, int64_t>>> SqlStore::LabelCounts() {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT label, COUNT(*) FROM labels GROUP BY label ORDER BY label"));
  return Rows<std::pair<std::string, int64_t>>(
      st, [](const SqlStmt& s) { return std::make_pair(s.ColumnText(0), s.ColumnInt(1)); });
}

Result<int64_t> SqlStore::AddOperatorToken(const OperatorToken& t) {
  int64_t id = 0;
  Status written = MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(id, conn_->QueryInt("SELECT COALESCE(MAX(id), 0) + 1 FROM operator_tokens"));
    return Write(
        std::string("INSERT INTO operator_tokens (") + kTokenColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [&](SqlStmt& st) {
          st.Bind(1, id).Bind(2, t.name).Bind(3, t.token_sha256_hex).Bind(4, t.role).Bind(5, t.journal_read ? 1 : 0);
          st.Bind(6, t.created_s).Bind(7, t.expires_s);
          if (t.revoked_s) {
            st.Bind(8, *t.revoked_s);
          } else {
            st.BindNull(8);
          }
          st.Bind(9, t.created_by);
        },
        "storing operator token '" + t.name + "'");
  });
  if (!written.ok()) return written;
  return id;
}

Result<std::optional<OperatorToken>> SqlStore::GetOperatorTokenByHash(const std::string& hash) {
  FW_ASSIGN_OR_RETURN(
      auto st, conn_->Prepare(std::string("SELECT ") + kTokenColumns + " FROM operator_tokens WHERE token_sha256 = ?"));
  st.Bind(1, hash);
  return FirstRow<OperatorToken>(st, ReadToken);
}

Result<std::optional<OperatorToken>> SqlStore::GetOperatorToken(int64_t id) {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare(std::string("SELECT ") + kTokenColumns + " FROM operator_tokens WHERE id = ?"));
  st.Bind(1, id);
  return FirstRow<OperatorToken>(st, ReadToken);
}

Result<std::vector<OperatorToken>> SqlStore::ListOperatorTokens() {
  FW_ASSIGN_OR_RETURN(auto st,
                      conn_->Prepare(std::string("SELECT ") + kTokenColumns + " FROM operator_tokens ORDER BY id"));
  return Rows<OperatorToken>(st, ReadToken);
}

Result<bool> SqlStore::RevokeOperatorToken(int64_t id, int64_t now_s) {
  bool row = false;
  FW_RETURN_IF_ERROR(Writing([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("UPDATE operator_tokens SET revoked_s = ? WHERE id = ? AND "
                                                "revoked_s IS NULL RETURNING id"));
    st.Bind(1, now_s).Bind(2, id);
    FW_ASSIGN_OR_RETURN(row, st.Step());
    return st.Reset();
  }));
  return row;
}

Result<AuditEntry> SqlStore::AppendAudit(const AuditEntry& entry) {
  AuditEntry row = entry;
  auto before = CanonicalizeJson(entry.before_json, kMaxAuditJsonBytes);
  auto after = CanonicalizeJson(entry.after_json, kMaxAuditJsonBytes);
  if (!before.ok() || !after.ok()) {
    return InvalidArgument(
        "audit " + entry.action + ": " + (before.ok() ? "after" : "before") +
        " is not canonical-JSON-able text: " + (before.ok() ? after.status() : before.status()).message());
  }
  row.before_json = std::move(*before);
  row.after_json = std::move(*after);
  Status written = MaybeAtomically([&]() -> Status {
    // The head is read inside the write transaction: no other writer can append in between.
    FW_ASSIGN_OR_RETURN(auto head, AuditHead());
    row.seq = head ? head->seq + 1 : 1;
    row.prev_hash_hex = head ? head->hash_hex : std::string(64, '0');
    row.hash_hex = AuditEntryHash(row);
    return Write(
        std::string("INSERT INTO audit_log (") + kAuditColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [&](SqlStmt& st) {
          st.Bind(1, row.seq).Bind(2, row.time_s).Bind(3, row.actor).Bind(4, row.action).Bind(5, row.object);
          st.Bind(6, row.before_json).Bind(7, row.after_json).Bind(8, row.prev_hash_hex).Bind(9, row.hash_hex);
        },
        "appending audit row " + row.action);
  });
  if (!written.ok()) return written;
  return row;
}

Result<std::vector<AuditEntry>> SqlStore::ListAudit(int64_t after_seq, int64_t limit) {
  FW_RETURN_IF_ERROR(CheckLimit(limit));
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kAuditColumns +
                                              " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"));
  st.Bind(1, after_seq).Bind(2, limit);
  return Rows<AuditEntry>(st, ReadAudit);
}

Result<std::optional<AuditEntry>> SqlStore::AuditHead() {
  FW_ASSIGN_OR_RETURN(
      auto st, conn_->Prepare(std::string("SELECT ") + kAuditColumns + " FROM audit_log ORDER BY seq DESC LIMIT 1"));
  return FirstRow<AuditEntry>(st, ReadAudit);
}

Result<int64_t> SqlStore::AddAlert(const Alert& a, const std::vector<std::string>& webhooks) {
  int64_t id = 0;
  Status written = MaybeAtomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(id, conn_->QueryInt("SELECT COALESCE(MAX(id), 0) + 1 FROM alerts"));
    FW_RETURN_IF_ERROR(Write(
        "INSERT INTO alerts (id, kind, object, body, created_s) VALUES (?, ?, ?, ?, ?)",
        [&](SqlStmt& st) {
          st.Bind(1, id).Bind(2, a.kind).Bind(3, a.object).Bind(4, a.body_json).Bind(5, a.created_s);
        },
        "raising alert " + a.kind));
    FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("INSERT INTO alert_deliveries (") + kDeliveryColumns +
                                                ") VALUES (?, ?, 'pending', 0, ?, 0, '', ?)"));
    for (const auto& w : webhooks) {
      st.Bind(1, id).Bind(2, w).Bind(3, a.created_s).Bind(4, a.created_s);
      FW_RETURN_IF_ERROR_CTX(st.Run(), "queueing alert " + a.kind + " for webhook " + w);
    }
    return Status::Ok();
  });
  if (!written.ok()) return written;
  return id;
}

Result<std::vector<Alert>> SqlStore::ListAlerts(int64_t after_id, int64_t limit) {
  FW_RETURN_IF_ERROR(CheckLimit(limit));
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT id, kind, object, body, created_s FROM alerts WHERE id > ? "
                                              "ORDER BY id LIMIT ?"));
  st.Bind(1, after_id).Bind(2, limit);
  return Rows<Alert>(st, ReadAlert);
}

Result<std::optional<Alert>> SqlStore::GetAlert(int64_t id) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT id, kind, object, body, created_s FROM alerts WHERE id = ?"));
  st.Bind(1, id);
  return FirstRow<Alert>(st, ReadAlert);
}

Result<std::vector<AlertDelivery>> SqlStore::ListDeliveries(int64_t alert_id) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kDeliveryColumns +
                                              " FROM alert_deliveries WHERE alert_id = ? ORDER BY webhook"));
  st.Bind(1, alert_id);
  return Rows<AlertDelivery>(st, ReadDelivery);
}

Result<std::vector<AlertDelivery>> SqlStore::DueDeliveries(int64_t now_s, int64_t limit) {
  FW_RETURN_IF_ERROR(CheckLimit(limit));
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kDeliveryColumns +
                                              " FROM alert_deliveries WHERE state = 'pending' AND next_attempt_s <= ? "
                                              "ORDER BY next_attempt_s, alert_id, webhook LIMIT ?"));
  st.Bind(1, now_s).Bind(2, limit);
  return Rows<AlertDelivery>(st, ReadDelivery);
}

Status SqlStore::UpdateDelivery(const AlertDelivery& d) {
  return Write(
      "UPDATE alert_deliveries SET state = ?, attempts = ?, next_attempt_s = ?, last_status = ?, last_error = ?, "
      "updated_s = ? WHERE alert_id = ? AND webhook = ?",
      [&](SqlStmt& st) {
        st.Bind(1, d.state).Bind(2, d.attempts).Bind(3, d.next_attempt_s).Bind(4, d.last_status);
        st.Bind(5, d.last_error).Bind(6, d.updated_s).Bind(7, d.alert_id).Bind(8, d.webhook);
      },
      "updating the delivery of alert " + std::to_string(d.alert_id) + " to " + d.webhook);
}

Status SqlStore::AddDeliveryAttempt(const DeliveryAttempt& a) {
  return Write(
      std::string("INSERT INTO delivery_attempts (") + kAttemptColumns + ") VALUES (?, ?, ?, ?, ?, ?)",
      [&](SqlStmt& st) {
        st.Bind(1, a.alert_id).Bind(2, a.webhook).Bind(3, a.attempt).Bind(4, a.time_s).Bind(5, a.http_status);
        st.Bind(6, a.error);
      },
      "logging attempt " + std::to_string(a.attempt) + " of alert " + std::to_string(a.alert_id));
}

Result<std::vector<DeliveryAttempt>> SqlStore::ListDeliveryAttempts(int64_t alert_id) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare(std::string("SELECT ") + kAttemptColumns +
                                              " FROM delivery_attempts WHERE alert_id = ? ORDER BY webhook, attempt"));
  st.Bind(1, alert_id);
  return Rows<DeliveryAttempt>(st, ReadAttempt);
}

Result<std::optional<std::string>> SqlStore::GetSetting(const std::string& key) {
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT value FROM settings WHERE name = ?"));
  st.Bind(1, key);
  return FirstRow<std::string>(st, [](const SqlStmt& s) { return s.ColumnText(0); });
}

Status SqlStore::SetSetting(const std::string& key, const std::string& value) {
  // ON CONFLICT ... DO UPDATE: SQLite >= 3.24 and PostgreSQL.
  return Write(
      "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      [&](SqlStmt& st) { st.Bind(1, key).Bind(2, value); }, "storing setting " + key);
}

Result<std::string> SqlStore::PutSettingIfAbsent(const std::string& key, const std::string& value) {
  std::optional<std::string> stored;
  const Status written = MaybeAtomically([&]() -> Status {
    FW_RETURN_IF_ERROR(Write(
        "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        [&](SqlStmt& st) { st.Bind(1, key).Bind(2, value); }, "storing setting " + key));
    FW_ASSIGN_OR_RETURN(stored, GetSetting(key));
    return Status::Ok();
  });
  if (!written.ok()) return written;
  if (!stored) return Internal("setting " + key + " vanished after it was stored");
  return *stored;
}

Status SqlStore::DeleteSetting(const std::string& key) {
  return Write(
      "DELETE FROM settings WHERE name = ?", [&](SqlStmt& st) { st.Bind(1, key); }, "deleting setting " + key);
}

Result<std::vector<std::string>> SqlStore::ListSettingKeys(const std::string& prefix) {
  // substr, not LIKE: a prefix may hold % or _. Both substr and length count characters, not bytes
  // (a prefix of "é" is 2 bytes, 1 character); the CAST names the parameter's type for PostgreSQL.
  FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT name FROM settings WHERE substr(name, 1, length(CAST(? AS TEXT)))"
                                              " = ? ORDER BY name"));
  st.Bind(1, prefix).Bind(2, prefix);
  return Rows<std::string>(st, [](const SqlStmt& s) { return s.ColumnText(0); });
}

Status SqlStore::Ping() { return conn_->Ping().WithContext("database ping"); }

Result<bool> SqlStore::TryLease(const std::string& name, const std::string& holder, int64_t now_s, int64_t ttl_s) {
  bool held = false;
  const Status written = MaybeAtomically([&]() -> Status {
    FW_RETURN_IF_ERROR(Write(
        "INSERT INTO leases (name, holder, expires_s) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "holder = excluded.holder, expires_s = excluded.expires_s WHERE leases.holder = excluded.holder OR "
        "leases.expires_s <= ?",
        [&](SqlStmt& st) { st.Bind(1, name).Bind(2, holder).Bind(3, now_s + ttl_s).Bind(4, now_s); },
        "taking lease " + name));
    FW_ASSIGN_OR_RETURN(auto st, conn_->Prepare("SELECT holder FROM leases WHERE name = ?"));
    st.Bind(1, name);
    FW_ASSIGN_OR_RETURN(auto who, FirstRow<std::string>(st, [](const SqlStmt& s) { return s.ColumnText(0); }));
    held = who && *who == holder;
    return Status::Ok();
  });
  if (!written.ok()) return written;
  return held;
}

Status SqlStore::ReleaseLease(const std::string& name, const std::string& holder) {
  return Write(
      "DELETE FROM leases WHERE name = ? AND holder = ?", [&](SqlStmt& st) { st.Bind(1, name).Bind(2, holder); },
      "releasing lease " + name);
}

}  // namespace fw::server::detail
