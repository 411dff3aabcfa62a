// The PostgreSQL SqlConn (sql_conn.h) over libpq — the only file of the project that includes
// libpq-fe.h. Statements are text: `?` becomes $n, values go as text with their type (int8, text) given
// to PQexecParams so the server never has to infer one; rows come back as text.
#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sql_conn.h"

namespace fw::server::detail {
namespace {

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnCloser>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultClearer>;

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
// Session defaults (a URI's own `options` parameter replaces them): bounds like SQLite's busy timeout.
constexpr const char* kSessionOptions = "-c statement_timeout=30s -c lock_timeout=5s";

// libpq's messages end with a newline and may span lines ("\n\tIs the server running ...").
std::string OneLine(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\t' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// `?` -> $1, $2, ... outside '...' literals, "..." identifiers and -- comments; *count = n.
std::string TranslatePlaceholders(std::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (comment) {
      comment = c != '\n';
    } else if (quote != 0) {
      if (c == quote) quote = 0;  // a doubled quote re-opens at the next character
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      comment = true;
    } else if (c == '?') {
      out += '$' + std::to_string(++n);
      continue;
    }
    out += c;
  }
  *count = n;
  return out;
}

bool IsRead(std::string_view sql) {
  while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n')) sql.remove_prefix(1);
  return sql.size() >= 6 && (sql.substr(0, 6) == "SELECT" || sql.substr(0, 6) == "select");
}

// The error table of sql_conn.h.
Status MapError(std::string_view sqlstate, const std::string& message, bool connected, const std::string& where) {
  // 08P01 (protocol violation) on a live connection is this program's mistake, not the network's.
  const bool protocol_bug = connected && sqlstate == "08P01";
  if (!connected || sqlstate.empty() || (sqlstate.starts_with("08") && !protocol_bug) || sqlstate.starts_with("57P")) {
    return IoError("database unreachable: " + where + ": " + message);
  }
  const std::string msg = "PostgreSQL: " + message;
  if (sqlstate.starts_with("23")) return FailedPrecondition(msg);
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "57014") return Timeout(msg);
  if (sqlstate.starts_with("53")) return ResourceExhausted(msg);
  if (sqlstate == "XX001" || sqlstate == "XX002") return Corrupt(msg);
  // Text PostgreSQL refuses (invalid UTF-8, a character the encoding lacks): the caller's input, not a bug.
  if (sqlstate == "22021" || sqlstate == "22P05") return InvalidArgument(msg);
  return Internal(msg + " (SQLSTATE " + std::string(sqlstate) + ")");
}

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

struct Params {
  std::vector<std::optional<std::string>> values;  // 1-based index - 1
  std::vector<Oid> types;
};

class PgConn final : public SqlConn {
 public:
  PgConn(PgConnPtr conn, std::string where) : conn_(std::move(conn)), where_(std::move(where)) {
    PQsetNoticeProcessor(conn_.get(), IgnoreNotice, nullptr);
  }

  Result<SqlStmt> Prepare(std::string_view sql) override;
  Status Exec(std::string_view sql) override { return Execute(std::string(sql), nullptr, false).status(); }
  Status Begin() override;
  Status Commit() override;
  void Rollback() override;
  bool WritesNeedTransaction() const override { return true; }
  Status Ping() override { return QueryInt("SELECT 1").status(); }
  Status Migrate(const sql::Migrator& migrator, const std::string& name) override {
    return MigratePostgres(*this, migrator, name);
  }
  const std::string& where() const override { return where_; }

  // Runs `sql` ($n placeholders) with `params` (null: a parameterless script through PQexec).
  // `retry`: the statement has no effect (BEGIN, a read) and may run again on a fresh connection.
  Result<PgResultPtr> Execute(const std::string& sql, const Params* params, bool retry);

 private:
  bool Connected() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
  Status EnsureConnected();
  Status Failure(const PGresult* res) const;
  PgResultPtr RunPrepared(const std::string& sql, const Params& params);

  PgConnPtr conn_;
  std::string where_;
  bool in_tx_ = false;
  // Server-side prepared statements of this session: (SQL, parameter types) -> name. A new session
  // (PQreset) starts empty.
  std::unordered_map<std::string, std::string> prepared_;
  // After a slow failed reconnect: no new attempt before retry_after_ (EnsureConnected).
  std::chrono::steady_clock::time_point retry_after_{};
  std::string last_reset_error_;
};

class PgStmt final : public SqlStmt::Backend {
 public:
  // `placeholders` parameters are sent; one never bound is NULL, as in SQLite.
  PgStmt(PgConn* conn, std::string sql, int placeholders, bool read)
      : conn_(conn), sql_(std::move(sql)), placeholders_(placeholders), read_(read) {
    Reset().IgnoreError();
  }

  void BindInt(int index, int64_t value) override { Set(index, std::to_string(value), kInt8Oid); }
  void BindText(int index, std::string_view text) override {
    // libpq sends text parameters as C strings: a NUL byte would silently cut the value there (a lookup of
    // "T-1\0x" would find T-1). Refused instead, at the next Step/Run.
    if (text.find('\0') != std::string_view::npos && bind_error_.ok()) {
      bind_error_ = InvalidArgument("parameter " + std::to_string(index) +
                                    " holds a NUL byte, which PostgreSQL text cannot store");
    }
    Set(index, std::string(text), kTextOid);
  }
  void BindNull(int index) override { Set(index, std::nullopt, 0); }
  Result<bool> Step() override {
    if (!bind_error_.ok()) return bind_error_;
    if (!result_) {
      FW_ASSIGN_OR_RETURN(result_, conn_->Execute(sql_, &params_, read_));
      rows_ = PQntuples(result_.get());
      row_ = -1;
    }
    if (row_ + 1 >= rows_) {
      row_ = rows_;
      return false;
    }
    ++row_;
    return true;
  }
  Status Reset() override {
    result_.reset();
    bind_error_ = Status::Ok();
    params_.values.assign(static_cast<size_t>(placeholders_), std::nullopt);
    params_.types.assign(static_cast<size_t>(placeholders_), 0);
    rows_ = 0;
    row_ = -1;
    return Status::Ok();
  }
  int64_t ColumnInt(int column) const override {
    const std::string_view text = ColumnTextView(column);
    int64_t v = 0;
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
  }
  std::string_view ColumnTextView(int column) const override {
    if (!HasColumn(column)) return {};
    return {PQgetvalue(result_.get(), row_, column), static_cast<size_t>(PQgetlength(result_.get(), row_, column))};
  }
  bool ColumnIsNull(int column) const override {
    return !HasColumn(column) || PQgetisnull(result_.get(), row_, column) != 0;
  }

 private:
  bool HasColumn(int column) const {
    return result_ && row_ >= 0 && row_ < rows_ && column >= 0 && column < PQnfields(result_.get());
  }
  void Set(int index, std::optional<std::string> value, Oid type) {
    if (index < 1) return;  // PostgreSQL then reports the missing parameter
    const size_t i = static_cast<size_t>(index - 1);
    if (params_.values.size() <= i) {
      params_.values.resize(i + 1);
      params_.types.resize(i + 1, 0);
    }
    params_.values[i] = std::move(value);
    params_.types[i] = type;
  }

  PgConn* conn_;
  std::string sql_;
  int placeholders_;
  bool read_;
  Params params_;
  Status bind_error_;  // a BindText refused since the last Reset
  PgResultPtr result_;
  int rows_ = 0;
  int row_ = -1;
};

Result<SqlStmt> PgConn::Prepare(std::string_view sql) {
  int placeholders = 0;
  std::string text = TranslatePlaceholders(sql, &placeholders);
  return SqlStmt(std::make_unique<PgStmt>(this, std::move(text), placeholders, IsRead(sql)));
}

// Parsed and planned once per session (PQprepare), then only executed; past kMaxPrepared distinct
// statements (QueryDevices' filters make a few dozen), the rest run unnamed.
PgResultPtr PgConn::RunPrepared(const std::string& sql, const Params& params) {
  constexpr size_t kMaxPrepared = 512;
  std::vector<const char*> values;
  for (const auto& v : params.values) values.push_back(v ? v->c_str() : nullptr);
  const int n = static_cast<int>(values.size());
  std::string key = sql;
  key.push_back('\0');
  for (Oid type : params.types) key += std::to_string(type) + ",";
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    if (prepared_.size() >= kMaxPrepared) {
      return PgResultPtr(
          PQexecParams(conn_.get(), sql.c_str(), n, params.types.data(), values.data(), nullptr, nullptr, 0));
    }
    std::string name = "fw_" + std::to_string(prepared_.size() + 1);
    PgResultPtr prepared(PQprepare(conn_.get(), name.c_str(), sql.c_str(), n, params.types.data()));
    if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) return prepared;
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  return PgResultPtr(PQexecPrepared(conn_.get(), it->second.c_str(), n, values.data(), nullptr, nullptr, 0));
}

// A refused connection (no socket, connection refused) fails at once and is tried again at the next
// call. One that took long to fail (a host that drops packets: up to connect_timeout) is not tried
// again for kSlowResetPause, so a burst of requests during an outage answers 503 at once instead of
// each waiting connect_timeout.
Status PgConn::EnsureConnected() {
  if (Connected()) return Status::Ok();
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_after_) return IoError("database unreachable: " + where_ + ": " + last_reset_error_);
  prepared_.clear();  // the new session has none
  PQreset(conn_.get());
  if (Connected()) return Status::Ok();
  last_reset_error_ = OneLine(PQerrorMessage(conn_.get()));
  constexpr auto kSlowReset = std::chrono::seconds(1);
  constexpr auto kSlowResetPause = std::chrono::seconds(2);
  const auto end = std::chrono::steady_clock::now();
  if (end - now >= kSlowReset) retry_after_ = end + kSlowResetPause;
  return IoError("database unreachable: " + where_ + ": " + last_reset_error_);
}

Status PgConn::Failure(const PGresult* res) const {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : nullptr;
  std::string message = primary ? std::string(primary) : OneLine(PQerrorMessage(conn_.get()));
  if (detail) message += " (" + std::string(detail) + ")";
  if (message.empty()) message = "no answer from the server";
  return MapError(state ? state : "", message, Connected(), where_);
}

Result<PgResultPtr> PgConn::Execute(const std::string& sql, const Params* params, bool retry) {
  for (int attempt = 0;; ++attempt) {
    if (!in_tx_) {
      FW_RETURN_IF_ERROR(EnsureConnected());
    } else if (!Connected()) {
      return IoError("database unreachable: " + where_ + ": the connection was lost inside a transaction");
    }
    PgResultPtr res;
    if (params == nullptr) {
      res.reset(PQexec(conn_.get(), sql.c_str()));
    } else {
      res = RunPrepared(sql, *params);
    }
    const ExecStatusType status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return res;
    if (retry && attempt == 0 && !in_tx_ && !Connected()) continue;  // a dead idle connection: once more
    return Failure(res.get());
  }
}

Status PgConn::Begin() {
  if (in_tx_) return Internal("a transaction is already open on " + where_);
  auto begun = Execute("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kWriterLockKey) + ")", nullptr,
                       /*retry=*/true);
  if (!begun.ok()) {
    if (Connected() && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) PQclear(PQexec(conn_.get(), "ROLLBACK"));
    return begun.status().WithContext("taking the writer lock");
  }
  in_tx_ = true;
  return Status::Ok();
}

Status PgConn::Commit() {
  if (!in_tx_) return Internal("no transaction to commit on " + where_);
  auto done = Execute("COMMIT", nullptr, false);
  in_tx_ = false;  // COMMIT ends the transaction whatever it answers
  if (!done.ok()) return done.status().WithContext("commit");
  // COMMIT of a transaction a failed statement aborted answers ROLLBACK, without an error.
  if (std::string_view(PQcmdStatus(done->get())) == "ROLLBACK") {
    return Internal("commit: PostgreSQL rolled the transaction back (a statement in it failed)");
  }
  return Status::Ok();
}

void PgConn::Rollback() {
  in_tx_ = false;
  if (Connected() && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) PQclear(PQexec(conn_.get(), "ROLLBACK"));
}

}  // namespace

std::string RedactUri(std::string_view uri) {
  std::string out(uri);
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t end = std::min(out.find_first_of("/?", start), out.size());
    const size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (size_t pos = out.find("password="); pos != std::string::npos; pos = out.find("password=", pos + 1)) {
    if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&' && out[pos - 1] != ' ') continue;
    const size_t value = pos + 9;
    const size_t stop = std::min(out.find_first_of("& ", value), out.size());
    out.replace(value, stop - value, "***");
  }
  return out;
}

Result<std::unique_ptr<SqlConn>> OpenPostgresConn(const std::string& uri) {
  const std::string where = RedactUri(uri);
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(uri.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error ? OneLine(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return InvalidArgument("not a PostgreSQL connection URI: " + where + ": " + why);
  }
  PQconninfoFree(parsed);
  // Defaults first: the URI's own parameters (expand_dbname) override them. Over TCP, a peer that
  // vanished without a word (a partition) is noticed within ~30 s instead of never.
  const char* keys[] = {
      "connect_timeout",  "application_name", "options", "keepalives_idle", "keepalives_interval", "keepalives_count",
      "tcp_user_timeout", "dbname",           nullptr};
  const char* values[] = {"5", "fwserver", kSessionOptions, "10", "5", "3", "30000", uri.c_str(), nullptr};
  PgConnPtr conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn) return ResourceExhausted("database unreachable: " + where + ": libpq is out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return IoError("database unreachable: " + where + ": " + OneLine(PQerrorMessage(conn.get())));
  }
  return std::unique_ptr<SqlConn>(new PgConn(std::move(conn), where));
}

}  // namespace fw::server::detail
