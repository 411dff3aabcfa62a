#include "pg_testing.h"

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>

#include "testing.h"

namespace fw::testing {
namespace {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A cluster of this process alone, for test binaries run without the ctest fixture: started on first
// use, stopped and removed by the static destructor at exit.
class PrivateCluster {
 public:
  ~PrivateCluster() {
    if (dir_.empty()) return;
    RunCommand({SourcePath("scripts/pg-cluster.sh"), "stop", dir_});
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // The URI of its `postgres` database, or "" with *error set.
  std::string Uri(std::string* error) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!uri_.empty()) return uri_;
    if (dir_.empty()) {
      std::string dir = "/tmp/fw-pg-private.XXXXXX";
      if (!::mkdtemp(dir.data())) {
        *error = "mkdtemp /tmp/fw-pg-private.XXXXXX failed";
        return "";
      }
      ::chmod(dir.c_str(), 0755);  // as root the cluster runs as `postgres`, which must get in
      dir_ = dir;
    }
    std::fprintf(stderr, "[pg_testing] FW_TEST_PG_URI unset: starting a private cluster in %s\n", dir_.c_str());
    CommandResult r = RunCommand({SourcePath("scripts/pg-cluster.sh"), "start", dir_, "--fast"});
    if (r.exit_code != 0) {
      *error = "scripts/pg-cluster.sh start " + dir_ + " failed (exit " + std::to_string(r.exit_code) + "): " + r.err;
      return "";
    }
    uri_ = Trim(r.out);
    return uri_;
  }

 private:
  std::mutex mu_;
  std::string dir_;
  std::string uri_;
};

PrivateCluster& Private() {
  static PrivateCluster cluster;
  return cluster;
}

std::string AdminUri(std::string* error) {
  const char* env = std::getenv("FW_TEST_PG_URI");
  if (env != nullptr && *env != '\0') return env;
  return Private().Uri(error);
}

std::string UniqueName() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  char buf[64];
  std::snprintf(buf, sizeof buf, "fwtest_%d_%d_%08x", static_cast<int>(::getpid()), counter++,
                static_cast<unsigned>(rd()));
  return buf;
}

PgRows Run(const std::string& uri, const std::string& sql) {
  PgRows out;
  Conn conn(PQconnectdb(uri.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    out.error = "connecting to " + uri + ": " + (conn ? Trim(PQerrorMessage(conn.get())) : "out of memory");
    return out;
  }
  PgResult res(PQexec(conn.get(), sql.c_str()));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    out.error = Trim(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn.get()));
    if (out.error.empty()) out.error = "failed";
    const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (state != nullptr) out.sqlstate = state;
    return out;
  }
  for (int i = 0; i < PQntuples(res.get()); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(res.get()); ++j) row.emplace_back(PQgetvalue(res.get(), i, j));
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace

std::string PgUriWithDatabase(const std::string& uri, const std::string& database) {
  const size_t scheme = uri.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t query = uri.find('?', start);
  const size_t slash = uri.find('/', start);
  if (slash != std::string::npos && (query == std::string::npos || slash < query)) {
    return uri.substr(0, slash) + "/" + database + (query == std::string::npos ? "" : uri.substr(query));
  }
  if (query == std::string::npos) return uri + "/" + database;
  return uri.substr(0, query) + "/" + database + uri.substr(query);
}

PgTestDatabase::PgTestDatabase() {
  admin_uri_ = AdminUri(&error_);
  if (admin_uri_.empty()) return;
  const std::string name = UniqueName();
  PgRows r = Run(admin_uri_, "CREATE DATABASE \"" + name + "\"");
  if (!r.ok()) {
    error_ = "CREATE DATABASE " + name + ": " + r.error;
    return;
  }
  name_ = name;
  uri_ = PgUriWithDatabase(admin_uri_, name_);
}

PgTestDatabase::~PgTestDatabase() {
  if (name_.empty()) return;
  PgRows r = Run(admin_uri_, "DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
  if (!r.ok()) std::fprintf(stderr, "[pg_testing] DROP DATABASE %s: %s\n", name_.c_str(), r.error.c_str());
}

PgRows PgTestDatabase::Query(const std::string& sql) const {
  if (uri_.empty()) return PgRows{"no database: " + error_, "", {}};
  return Run(uri_, sql);
}

}  // namespace fw::testing
