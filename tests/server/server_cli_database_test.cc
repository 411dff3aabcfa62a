// fwserver init --database and every store command on fwserver.json's "database" (issue 19,
// server-stub/cli/data_store.h): an SQLite path other than DIR/server.db, a PostgreSQL URI that
// cannot be reached (exit 4, nothing written, the password never shown).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/server/store.h"
#include "testing.h"

namespace fw::server {
namespace {

using fw::testing::RunCommand;
using Json = nlohmann::json;
namespace fs = std::filesystem;

// A URI whose cluster does not exist (its socket directory is missing), with a password in both
// places libpq takes one.
constexpr const char* kUnreachable =
    "postgresql://fleet:Pw1secret@/fleet?host=/nonexistent-fw-test-socket-dir&password=Pw2secret";

TEST(ServerCliDatabase, InitWithAnSqlitePathAndEveryCommandUsesIt) {
  fw::testing::TempDir tmp;
  const std::string data = tmp / "data";
  auto init = RunCommand({FWSERVER_PATH, "init", "--data", data, "--database", "fleet.db", "--json"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_EQ(Json::parse(init.out)["store"], data + "/fleet.db");
  EXPECT_EQ(Json::parse(fw::testing::ReadFile(data + "/fwserver.json"))["database"], "fleet.db");
  EXPECT_TRUE(fs::exists(data + "/fleet.db"));
  EXPECT_FALSE(fs::exists(data + "/server.db"));
  // token (token_audit_cmds.cc) and enrol-token (device_cmds.cc) write into fleet.db.
  auto token = RunCommand({FWSERVER_PATH, "token", "create", "--data", data, "--name", "ops", "--role", "admin"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  auto enrol = RunCommand({FWSERVER_PATH, "enrol-token", "create", "--data", data, "--serial", "T-7"});
  ASSERT_EQ(enrol.exit_code, 0) << enrol.err;
  EXPECT_FALSE(fs::exists(data + "/server.db"));
  auto store = OpenSqliteStore(data + "/fleet.db", /*create=*/false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->ListOperatorTokens()->size(), 1u);
  auto audit = RunCommand({FWSERVER_PATH, "audit", "list", "--data", data, "--json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_NE(audit.out.find("enrol_token.create"), std::string::npos) << audit.out;
}

TEST(ServerCliDatabase, CommandsFollowAnAbsoluteDatabasePath) {
  fw::testing::TempDir data, elsewhere;
  const std::string db = elsewhere / "fleet.db";
  fw::testing::WriteFile(data / "fwserver.json", Json{{"database", db}}.dump());
  {
    auto store = OpenSqliteStore(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(
        (*store)->CreateDevice({"T-1", std::string(64, 'a'), DeviceState::kActive, "", 1, 1, "", "", "", ""}).ok());
  }
  auto list = RunCommand({FWSERVER_PATH, "device", "list", "--data", data.path(), "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(Json::parse(list.out)["devices"][0]["serial"], "T-1");
  EXPECT_EQ(fw::testing::ListDir(data.path()), std::vector<std::string>{"fwserver.json"});
}

TEST(ServerCliDatabase, AMissingStoreIsNotCreatedByACommand) {
  fw::testing::TempDir data;
  fw::testing::WriteFile(data / "fwserver.json", "{}\n");
  auto r = RunCommand({FWSERVER_PATH, "token", "list", "--data", data.path()});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find(data / "server.db"), std::string::npos) << r.err;
  EXPECT_EQ(fw::testing::ListDir(data.path()), std::vector<std::string>{"fwserver.json"});
}

TEST(ServerCliDatabase, InitWithAnEmptyDatabaseIsAUsageError) {
  fw::testing::TempDir tmp;
  auto r = RunCommand({FWSERVER_PATH, "init", "--data", tmp / "data", "--database", ""});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "data"));
}

// The URI is used before anything is written: exit 4, the problem named ("database unreachable"),
// no data directory, and neither password in stderr or in the --json failure object.
TEST(ServerCliDatabase, InitWithAnUnreachablePostgresWritesNothingAndHidesThePassword) {
  fw::testing::TempDir tmp;
  const std::string data = tmp / "data";
  for (bool json : {false, true}) {
    std::vector<std::string> args = {FWSERVER_PATH, "init", "--data", data, "--database", kUnreachable};
    if (json) args.push_back("--json");
    auto r = RunCommand(args);
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_NE(r.err.find("database unreachable"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--database"), std::string::npos) << r.err;
    for (const char* secret : {"Pw1secret", "Pw2secret"}) {
      EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
      EXPECT_EQ(r.out.find(secret), std::string::npos) << r.out;
    }
    if (json) {
      EXPECT_EQ(Json::parse(r.out)["exit_code"], 4) << r.out;
    }
    EXPECT_FALSE(fs::exists(data));
  }
}

// A URI libpq cannot parse is a usage error (exit 2): nothing written, no password shown.
TEST(ServerCliDatabase, InitWithAMalformedPostgresUriIsAUsageError) {
  fw::testing::TempDir tmp;
  auto r = RunCommand({FWSERVER_PATH, "init", "--data", tmp / "data", "--database",
                       "postgresql://fleet:Pw5secret@/fleet?no_such_parameter=1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no_such_parameter"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Pw5secret"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "data"));
}

// A data directory whose fwserver.json names an unreachable PostgreSQL: every store command exits 4
// naming the database with its password redacted.
TEST(ServerCliDatabase, StoreCommandsOnAnUnreachablePostgresExit4WithoutThePassword) {
  fw::testing::TempDir data;
  fw::testing::WriteFile(data / "fwserver.json", Json{{"database", kUnreachable}}.dump());
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"token", "list"}, {"device", "list"}, {"audit", "verify"}, {"action", "list"}}) {
    std::vector<std::string> args = {FWSERVER_PATH};
    args.insert(args.end(), command.begin(), command.end());
    args.insert(args.end(), {"--data", data.path()});
    auto r = RunCommand(args);
    EXPECT_EQ(r.exit_code, 4) << command[0] << ": " << r.err;
    EXPECT_NE(r.err.find("postgresql://fleet:***@/fleet?"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("password=***"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Pw1secret"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Pw2secret"), std::string::npos) << r.err;
  }
  EXPECT_EQ(fw::testing::ListDir(data.path()), std::vector<std::string>{"fwserver.json"});
}

}  // namespace
}  // namespace fw::server
