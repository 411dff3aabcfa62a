// The store test fixture shared by server_store_test.cc and server_store_ops_test.cc: the
// backend list every TEST_P(StoreTest, ...) runs against (SQLite now; the PostgreSQL issue adds
// one entry) and helpers that make devices and actions. Instantiated once, in server_store_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "fw/server/store.h"
#include "testing.h"

namespace fw::server {

struct Backend {
  std::string name;
  // Opens a second connection to the same store when called twice with one directory.
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir)> open;
};

inline const Backend kBackends[] = {
    {"sqlite", [](const std::string& dir) { return OpenSqliteStore(StorePath(dir)); }},
};

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto s = GetParam().open(dir_.path());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
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
  std::unique_ptr<Store> store_;
};

}  // namespace fw::server
