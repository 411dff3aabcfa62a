// fwserver init --database and the store commands on a real PostgreSQL (issue 19; the fixture fw_pg's
// throwaway cluster, a fresh database per test: tests/testing/pg_testing.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "pg_testing.h"
#include "testing.h"

namespace fw::testing {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

// The same URI with a password in its user-info part (the test cluster trusts local connections, so
// libpq sends it nowhere; it must still never be printed).
std::string WithPassword(const std::string& uri, const std::string& password) {
  const size_t at = uri.find('@');
  return uri.substr(0, at) + ":" + password + uri.substr(at);
}

// Two data directories on one database: `init` migrates it once (the second finds it current), and
// every store command of either directory works on the same rows.
TEST(ServerCliPostgres, InitMigratesTheDatabaseAndEveryCommandUsesIt) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  TempDir tmp;
  const std::string a = tmp / "a", b = tmp / "b";
  const std::string uri = WithPassword(db.uri(), "Pw3secret");
  auto init = RunCommand({FWSERVER_PATH, "init", "--data", a, "--database", uri, "--json"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_EQ(init.out.find("Pw3secret"), std::string::npos) << init.out;
  EXPECT_NE(Json::parse(init.out)["store"].get<std::string>().find(":***@"), std::string::npos) << init.out;
  EXPECT_EQ(Json::parse(ReadFile(a + "/fwserver.json"))["database"], uri);
  EXPECT_FALSE(fs::exists(a + "/server.db"));
  auto version = db.Query("SELECT max(version) FROM schema_migrations");
  ASSERT_TRUE(version.ok()) << version.error;
  EXPECT_EQ(version.rows, (std::vector<std::vector<std::string>>{{"5"}}));

  auto again = RunCommand({FWSERVER_PATH, "init", "--data", b, "--database", uri});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out.find("Pw3secret"), std::string::npos) << again.out;

  auto token = RunCommand({FWSERVER_PATH, "token", "create", "--data", a, "--name", "ops", "--role", "admin"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  auto enrol = RunCommand({FWSERVER_PATH, "enrol-token", "create", "--data", b, "--serial", "T-7"});
  ASSERT_EQ(enrol.exit_code, 0) << enrol.err;
  auto tokens = RunCommand({FWSERVER_PATH, "token", "list", "--data", b, "--json"});
  ASSERT_EQ(tokens.exit_code, 0) << tokens.err;
  EXPECT_EQ(Json::parse(tokens.out)["tokens"].size(), 1u) << tokens.out;
  auto rows = db.Query("SELECT action FROM audit_log ORDER BY seq");
  ASSERT_TRUE(rows.ok()) << rows.error;
  EXPECT_EQ(rows.rows, (std::vector<std::vector<std::string>>{{"token.create"}, {"enrol_token.create"}}));
  auto verify = RunCommand({FWSERVER_PATH, "audit", "verify", "--data", a});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  auto list = RunCommand({FWSERVER_PATH, "device", "list", "--data", a, "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Json::parse(list.out)["devices"].empty()) << list.out;
}

// A reachable cluster without that database: exit 4 naming the database, nothing written, no password.
TEST(ServerCliPostgres, InitOnAMissingDatabaseWritesNothing) {
  PgTestDatabase db;
  ASSERT_EQ(db.error(), "");
  TempDir tmp;
  const std::string uri = WithPassword(PgUriWithDatabase(db.uri(), "fw_no_such_database"), "Pw4secret");
  auto r = RunCommand({FWSERVER_PATH, "init", "--data", tmp / "data", "--database", uri});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("fw_no_such_database"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Pw4secret"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "data"));
}

}  // namespace
}  // namespace fw::testing
