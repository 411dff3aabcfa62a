// A PostgreSQL cluster of the test process's own, for the PostgreSQL store's tests that stop, kill and
// restart the server (pg_store_test.cc; every other test uses fw::testing::PgTestDatabase on the
// shared fw_pg cluster, which must never be stopped).
//
// Contract:
//  - PgCluster::Private() is a cluster of this process's own (scripts/pg-cluster.sh --fast in a fresh
//    directory under /tmp), started on first use, stopped and removed at exit.
//  - NewDatabase() creates a fresh database and returns its URI ("" and a failed gtest expectation
//    when the cluster refuses); Psql() runs SQL on a URI through psql and returns its output (rows
//    one per line, columns '|'-separated) or "ERROR: ..." on failure.
// Thread safety: Private() may be called from several threads; the rest from one thread.
#pragma once

#include <memory>
#include <string>

namespace fw::server::pgtest {

class PgCluster {
 public:
  static PgCluster& Private();

  // "" when the cluster could not be started (the reason is in error()).
  const std::string& admin_uri() const { return admin_uri_; }
  const std::string& error() const { return error_; }
  // The cluster directory.
  const std::string& dir() const { return dir_; }

  std::string NewDatabase();
  // scripts/pg-cluster.sh stop|kill|start; "" on success, else its output.
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
