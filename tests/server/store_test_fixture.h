// The store test fixture shared by the store suites (server_store_test.cc, server_store_ops_test.cc,
// server_store_rollout_test.cc): the backend list every TEST_P(StoreTest, ...) runs against — SQLite
// (a file in a fresh directory) and PostgreSQL (a fresh database on the fw_pg cluster,
// fw::testing::PgTestDatabase; the test executable is fw_add_test(... POSTGRES)) — and helpers that
// make devices and actions. Instantiated once per suite, in the suite's file.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "fw/server/store.h"
#include "pg_testing.h"
#include "testing.h"

namespace fw::server {

struct Backend {
  std::string name;
  bool postgres = false;
};

// gtest prints the parameter in failure messages ("where GetParam() = postgres").
inline void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

inline const Backend kBackends[] = {
    {"sqlite", false},
    {"postgres", true},
};

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().postgres) {
      pg_ = std::make_unique<fw::testing::PgTestDatabase>();
      ASSERT_EQ(pg_->error(), "");
      database_ = pg_->uri();
    } else {
      database_ = StorePath(dir_.path());
    }
    auto s = OpenStore(database_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // A second connection to the same store (the same SQLite file, the same PostgreSQL database).
  Result<std::unique_ptr<Store>> OpenAgain() { return OpenStore(database_, /*create=*/false); }
  Device MakeDevice(const std::string& serial) {
    Device d{serial, std::string(64, 'a'), DeviceState::kActive, "", 1000, 1000, "", "", "", ""};
    EXPECT_TRUE(store_->CreateDevice(d).ok());
    return d;
  }
  Action MakeAction(const std::string& serial) {
    Action a;
    a.device_serial = serial;
    a.kind = "install";
    a.target_name = "pos-fw";
    a.target_version = "1.3.0";
    a.type = "forced";
    a.window = "02:00-04:00";
    a.deadline_s = 5000;
    a.created_s = a.updated_s = 1000;
    return a;
  }
  fw::testing::TempDir dir_;
  std::unique_ptr<fw::testing::PgTestDatabase> pg_;  // postgres: dropped after store_ is closed
  std::string database_;                             // the SQLite path or the PostgreSQL URI
  std::unique_ptr<Store> store_;
};

}  // namespace fw::server
