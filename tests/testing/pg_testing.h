// PostgreSQL for tests (issue 19): a fresh database per test on a throwaway cluster.
//
// Contract:
//   - PgTestDatabase() creates a database named "fwtest_<pid>_<n>_<random hex>" on the cluster whose
//     `postgres` database FW_TEST_PG_URI names (set by the ctest fixture fw_pg: fw_add_test(... POSTGRES),
//     tests/CMakeLists.txt); uri() is the new database's connection URI (postgresql://..., Unix socket).
//     The destructor drops it WITH (FORCE): connections still open to it are ended first.
//   - FW_TEST_PG_URI unset (a test binary run by hand): the first PgTestDatabase of the process starts a
//     private cluster in a new directory under /tmp with scripts/pg-cluster.sh (a few seconds), every
//     later one uses it, and it is stopped and removed when the process exits normally. Never skipped.
//   - Failure (cluster unreachable, CREATE DATABASE refused): error() says why and uri() is empty;
//     a test ASSERTs error() is empty before using the database.
//   - Query(sql): runs `sql` on this database in a connection of its own (autocommit; several
//     statements allowed), for tests that look at or break the schema behind the store's back.
// Ownership: the object owns the database; not copyable or movable.
// Thread safety: objects may be made and destroyed from several threads at once; one object is used
// from one thread at a time.
#pragma once

#include <string>
#include <vector>

namespace fw::testing {

// The rows of the last statement as text (NULL as ""), or the error with its SQLSTATE.
struct PgRows {
  std::string error;     // "" on success
  std::string sqlstate;  // e.g. "23514" (check_violation) on error
  std::vector<std::vector<std::string>> rows;
  bool ok() const { return error.empty(); }
};

class PgTestDatabase {
 public:
  PgTestDatabase();
  ~PgTestDatabase();
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  const std::string& uri() const { return uri_; }
  const std::string& name() const { return name_; }
  const std::string& error() const { return error_; }
  PgRows Query(const std::string& sql) const;

 private:
  std::string admin_uri_;  // the cluster's `postgres` database
  std::string name_;
  std::string uri_;
  std::string error_;
};

// `uri` (postgresql://...) with its database replaced by `database`.
std::string PgUriWithDatabase(const std::string& uri, const std::string& database);

}  // namespace fw::testing
