// fwserver's device commands (enrol-token, action, device) on a store made in a temp dir.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/store.h"
#include "testing.h"

namespace fw::server {
namespace {

using fw::testing::RunCommand;
using Json = nlohmann::json;

class ServerCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fw::testing::WriteFile(dir_.path() + "/fwserver.json", "{}\n");  // every default: DIR/server.db
    auto s = OpenSqliteStore(StorePath(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ASSERT_TRUE(
        store_->CreateDevice({"T-1", std::string(64, 'a'), DeviceState::kActive, "", 1, 1, "", "", "", ""}).ok());
    ASSERT_TRUE(store_->AddCert({"c1", "T-1", std::string(64, 'a'), 1, 100}).ok());
  }
  fw::testing::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), FWSERVER_PATH);
    args.push_back("--data");
    args.push_back(dir_.path());
    return RunCommand(args);
  }
  fw::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(ServerCliTest, EnrolTokenIsPrintedOnceAndOnlyItsHashIsStored) {
  auto r = Run({"enrol-token", "create", "--serial", "T-2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string token = Json::parse(r.out)["token"];
  ASSERT_EQ(token.size(), 64u);
  auto t = store_->GetEnrolToken(HexEncode(Sha256::Of(AsBytes(token))));
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->serial, "T-2");
  EXPECT_GT((*t)->expires_s, (*t)->created_s);
  EXPECT_EQ(fw::testing::ReadFile(StorePath(dir_.path())).find(token), std::string::npos);
  EXPECT_EQ(Run({"enrol-token", "create", "--serial", "bad serial"}).exit_code, 2);
  EXPECT_EQ(Run({"enrol-token", "create", "--serial", "T-2", "--expires-in", "5"}).exit_code, 2);
}

TEST_F(ServerCliTest, ActionCreateListCancel) {
  auto r = Run({"action", "create", "--device", "T-1", "--kind", "install", "--target", "pos-fw", "--version", "1.3.0",
                "--type", "soft", "--window", "22:00-04:00", "--deadline", "2030-01-01T00:00:00Z", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = Json::parse(r.out)["action"];
  EXPECT_EQ(a["id"], 1);
  EXPECT_EQ(a["deadline"], 1893456000);
  EXPECT_EQ(a["backup_required"], true);
  auto stored = store_->GetAction(1);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->window, "22:00-04:00");
  EXPECT_EQ((*stored)->type, "soft");
  // Bad options: usage errors, nothing written.
  EXPECT_EQ(Run({"action", "create", "--device", "T-1", "--kind", "flash"}).exit_code, 2);
  EXPECT_EQ(Run({"action", "create", "--device", "T-1", "--kind", "install", "--target", "x", "--version", "1",
                 "--type", "eventually"})
                .exit_code,
            2);
  EXPECT_EQ(Run({"action", "create", "--device", "T-9", "--kind", "journal_backup"}).exit_code, 4);
  auto list = Run({"action", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(Json::parse(list.out)["actions"].size(), 1u);
  // Never reported on: a cancel closes it at once.
  auto c = Run({"action", "cancel", "--id", "1", "--json"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(Json::parse(c.out)["action"]["state"], "canceled");
  EXPECT_EQ(Run({"action", "cancel", "--id", "1"}).exit_code, 5);
  EXPECT_EQ(Run({"action", "cancel", "--id", "99"}).exit_code, 4);
}

TEST_F(ServerCliTest, CancelIsRefusedAfterTheTrialAndRequestedBefore) {
  Action a;
  a.device_serial = "T-1";
  a.kind = "install";
  a.target_name = "pos-fw";
  a.target_version = "2";
  a.type = "forced";
  a.state = "downloading";
  a.attempt = 1;
  a.last_seq = 2;
  ASSERT_TRUE(store_->CreateAction(a).ok());
  a.state = "trial_set";
  ASSERT_TRUE(store_->CreateAction(a).ok());
  auto r = Run({"action", "cancel", "--id", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["action"]["cancel_requested"], true);
  EXPECT_EQ(Json::parse(r.out)["action"]["done"], false);
  auto late = Run({"action", "cancel", "--id", "2"});
  EXPECT_EQ(late.exit_code, 5);
  EXPECT_NE(late.err.find("past the trial"), std::string::npos) << late.err;
}

TEST_F(ServerCliTest, DeviceListShowRevoke) {
  auto l = Run({"device", "list", "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(Json::parse(l.out)["devices"][0]["serial"], "T-1");
  auto r = Run({"device", "revoke", "--serial", "T-1", "--reason", "stolen", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["certificates_denied"], 1);
  EXPECT_TRUE(*store_->IsCertDenied("c1"));
  auto s = Run({"device", "show", "--serial", "T-1", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto d = Json::parse(s.out)["device"];
  EXPECT_EQ(d["state"], "revoked");
  EXPECT_EQ(d["reason"], "stolen");
  EXPECT_EQ(d["certificates"][0]["revoked"], true);
  EXPECT_EQ(Run({"device", "show", "--serial", "T-9"}).exit_code, 4);
  EXPECT_EQ(Run({"enrol-token", "create", "--serial", "T-1"}).exit_code, 5);
  EXPECT_EQ(Run({"action", "create", "--device", "T-1", "--kind", "journal_backup"}).exit_code, 5);
}

TEST(ServerCliNoStore, CommandsWithoutAStoreExit4AndCreateNothing) {
  fw::testing::TempDir dir;
  auto r = RunCommand({FWSERVER_PATH, "device", "list", "--data", dir.path()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("fwserver init"), std::string::npos) << r.err;
  EXPECT_TRUE(fw::testing::ListDir(dir.path()).empty());
}

}  // namespace
}  // namespace fw::server
