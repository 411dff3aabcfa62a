// Test support for the several-instances tests (issue 19: rollout_race_test, server_instances_test,
// server_shared_tickets_test): the backends each of them runs on — SQLite (two connections to one file
// behave like two instances) and PostgreSQL (a fresh database on the fw_pg cluster,
// fw::testing::PgTestDatabase; those executables are fw_add_test(... POSTGRES)).
// Thread safety: a SharedDatabase is made and destroyed by one thread; uri() from any.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "fw/server/store.h"
#include "pg_testing.h"

namespace fw::server::testing {

struct InstanceBackend {
  std::string name;
  bool postgres = false;
};
inline void PrintTo(const InstanceBackend& b, std::ostream* os) { *os << b.name; }
inline const InstanceBackend kInstanceBackends[] = {{"sqlite", false}, {"postgres", true}};
// For INSTANTIATE_TEST_SUITE_P(..., ::testing::ValuesIn(kInstanceBackends), BackendName).
inline std::string BackendName(const ::testing::TestParamInfo<InstanceBackend>& info) { return info.param.name; }

// The database every "instance" of one test connects to: StorePath(dir) or a fresh PostgreSQL database
// (dropped with this object). error() is "" when it is usable.
class SharedDatabase {
 public:
  SharedDatabase(const InstanceBackend& backend, const std::string& dir) {
    if (!backend.postgres) {
      uri_ = StorePath(dir);
      return;
    }
    pg_ = std::make_unique<fw::testing::PgTestDatabase>();
    error_ = pg_->error();
    uri_ = pg_->uri();
  }
  const std::string& uri() const { return uri_; }
  const std::string& error() const { return error_; }
  bool postgres() const { return pg_ != nullptr; }
  // A statement behind the stores' back (PostgreSQL only); "" or the error.
  std::string Query(const std::string& sql) const { return pg_ ? pg_->Query(sql).error : "not PostgreSQL"; }
  Result<std::unique_ptr<Store>> Connect() const { return OpenStore(uri_); }

 private:
  std::unique_ptr<fw::testing::PgTestDatabase> pg_;
  std::string uri_;
  std::string error_;
};

}  // namespace fw::server::testing
