// PostgreSQL clusters and databases for the PostgreSQL store's own tests (pg_store_test.cc,
// pg_store_migration_test.cc).
//
// Contract:
//  - PgCluster::Shared() is the cluster whose `postgres` database FW_TEST_PG_URI names when it is set
//    (the ctest fixture's), else a private cluster this process starts (scripts/pg-cluster.sh --fast in
//    a fresh directory under /tmp) on first use and stops and removes at exit.
//  - PgCluster::Private() is always a cluster of this process's own (for tests that stop and restart
//    the server), started on first use, stopped and removed at exit.
//  - NewDatabase() creates a fresh database and returns its URI ("" and a failed gtest expectation
//    when the cluster refuses); Psql() runs SQL on a URI through psql and returns its output (rows
//    one per line, columns '|'-separated) or "ERROR: ..." on failure.
// Thread safety: Shared()/Private() may be called from several threads; the rest from one thread.
#pragma once

#include <memory>
#include <string>

namespace fw::server::pgtest {

class PgCluster {
 public:
  static PgCluster& Shared();
  static PgCluster& Private();

  // "" when the cluster could not be started (the reason is in error()).
  const std::string& admin_uri() const { return admin_uri_; }
  const std::string& error() const { return error_; }
  // The cluster directory (private clusters only; "" for FW_TEST_PG_URI's).
  const std::string& dir() const { return dir_; }

  std::string NewDatabase();
  // scripts/pg-cluster.sh stop|kill|start on a private cluster; "" on success, else its output.
  std::string Control(const std::string& command);

  ~PgCluster();

 private:
  PgCluster() = default;
  void StartPrivate();

  std::string dir_;
  std::string admin_uri_;
  std::string error_;
};

std::string Psql(const std::string& uri, const std::string& sql);

}  // namespace fw::server::pgtest
