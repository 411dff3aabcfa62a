// fwupdate journal … as a technician runs it: help, JSON, exit codes, files left behind.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "journal_testing.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::RunCommand;
using fw::testing::TempDir;

class JournalCli : public ::testing::Test {
 protected:
  fw::testing::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"fwupdate", "journal"});
    return RunCommand(args);
  }
  TempDir dir_;
  std::string j_ = dir_ / "j.db";
  std::string store_ = dir_ / "store";
};

TEST_F(JournalCli, EverySubcommandHasHelp) {
  for (const char* c : {"append", "simulate", "verify", "snapshot", "check", "restore", "export", "migrate"}) {
    auto r = Run({c, "--help"});
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_NE(r.out.find("--json"), std::string::npos) << c;
  }
  auto top = RunCommand({"fwupdate", "--help"});
  EXPECT_NE(top.out.find("journal snapshot"), std::string::npos);
}

TEST_F(JournalCli, AppendVerifySnapshotCheckRestoreWithJson) {
  auto a = Run({"append", j_, "--create", "--amount", "1250", "--pan", "411111******1111", "--auth-code", "A1B2C3",
                "--entry-mode", "chip", "--json"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto aj = nlohmann::json::parse(a.out);
  EXPECT_EQ(aj["seq"], 1);
  EXPECT_EQ(aj["extensions"]["entry_mode"], "chip");
  ASSERT_EQ(Run({"simulate", j_, "--count", "30", "--json"}).exit_code, 0);
  auto v = Run({"verify", j_, "--json"});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(nlohmann::json::parse(v.out)["record_count"], 31);
  auto s =
      Run({"snapshot", j_, "--store", store_, "--firmware-version", "2.0.0", "--host-dir", dir_ / "host", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto sj = nlohmann::json::parse(s.out);
  EXPECT_EQ(sj["record_count"], 31);
  EXPECT_EQ(sj["firmware_version"], "2.0.0");
  EXPECT_TRUE(fw::testing::Exists(dir_ / ("host/" + sj["name"].get<std::string>() + ".json")));
  ASSERT_EQ(Run({"simulate", j_, "--count", "5"}).exit_code, 0);
  auto c = Run({"check", j_, "--store", store_, "--json"});
  ASSERT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_EQ(nlohmann::json::parse(c.out)["records_after"], 5);
  ASSERT_EQ(testing::RawExec(j_,
                             "DELETE FROM records WHERE seq = 7; UPDATE records SET result = 'declined' "
                             "WHERE seq = 9"),
            SQLITE_OK);
  c = Run({"check", j_, "--store", store_, "--json"});
  EXPECT_EQ(c.exit_code, 1) << c.out << c.err;
  auto cj = nlohmann::json::parse(c.out);
  EXPECT_EQ(cj["missing"][0]["first"], 7);
  EXPECT_EQ(cj["altered"][0], 9);
  v = Run({"verify", j_});
  EXPECT_EQ(v.exit_code, 3) << v.out;
  EXPECT_NE(v.out.find("record 9"), std::string::npos) << v.out;
  auto r = Run({"restore", j_, "--store", store_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rj = nlohmann::json::parse(r.out);
  EXPECT_EQ(rj["reappended"], 5);
  EXPECT_TRUE(fw::testing::Exists(rj["aside"].get<std::string>()));
  EXPECT_EQ(Run({"check", j_, "--store", store_}).exit_code, 0);
  EXPECT_EQ(Run({"verify", j_}).exit_code, 0);
}

TEST_F(JournalCli, BadInputIsAUsageErrorAndWritesNothing) {
  auto r = Run({"append", j_, "--create", "--amount", "100", "--pan", "4111111111111111"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("PAN"), std::string::npos) << r.err;
  EXPECT_FALSE(fw::testing::Exists(j_));
  r = Run({"append", j_, "--create", "--amount", "100", "--pan", "411111******1111", "--kind", "bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(fw::testing::Exists(j_));
  r = Run({"append", j_, "--amount", "100", "--pan", "411111******1111", "--json"});
  EXPECT_EQ(r.exit_code, 4);  // no such journal (no --create)
  EXPECT_EQ(nlohmann::json::parse(r.out)["ok"], false);
  r = Run({"check", j_, "--store", store_});
  EXPECT_EQ(r.exit_code, 4);
  r = Run({"verify"});
  EXPECT_EQ(r.exit_code, 2);
  fw::testing::WriteFile(j_, std::string(4096, 'z'));
  r = Run({"verify", j_});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_F(JournalCli, MigrateExportAndSimulatorRate) {
  ASSERT_EQ(Run({"simulate", j_, "--create", "--schema-version", "1", "--count", "3"}).exit_code, 0);
  auto m = Run({"migrate", j_, "--json"});
  ASSERT_EQ(m.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(m.out)["schema_version"], 1);
  m = Run({"migrate", j_, "--to", "2", "--json"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(nlohmann::json::parse(m.out)["steps"].size(), 1u);
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Run({"simulate", j_, "--count", "10", "--rate", "100"}).exit_code, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(85));
  ASSERT_EQ(Run({"migrate", j_, "--to", "1"}).exit_code, 0);
  auto e = Run({"export", j_});
  ASSERT_EQ(e.exit_code, 0);
  int lines = 0, with_mode = 0;
  for (size_t at = 0, nl; (nl = e.out.find('\n', at)) != std::string::npos; at = nl + 1) {
    auto rec = nlohmann::json::parse(e.out.substr(at, nl - at));
    ++lines;
    if (rec.contains("extensions")) ++with_mode;
  }
  EXPECT_EQ(lines, 13);
  EXPECT_EQ(with_mode, 13);  // every record keeps its entry_mode after the way down
  auto csv = Run({"export", j_, "--format", "csv", "-o", dir_ / "out.csv", "--json"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(fw::testing::ReadFile(dir_ / "out.csv").find("seq,time_ms"), std::string::npos);
  EXPECT_EQ(Run({"export", j_, "--format", "xml"}).exit_code, 2);
  EXPECT_EQ(Run({"migrate", j_, "--to", "9"}).exit_code, 2);
}

TEST_F(JournalCli, ForeignJournalSnapshotAndCheck) {
  ASSERT_EQ(testing::RawExec(j_,
                             "CREATE TABLE tx(id INTEGER PRIMARY KEY, pan TEXT, amount INT);"
                             "INSERT INTO tx VALUES (1, '4111********1111', 5), (2, '5500********0004', 7);"),
            SQLITE_OK);
  auto s = Run({"snapshot", j_, "--store", store_, "--foreign-table", "tx", "--order-column", "id", "--column", "pan",
                "--column", "amount"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(Run({"check", j_, "--store", store_}).exit_code, 0);
  ASSERT_EQ(testing::RawExec(j_, "UPDATE tx SET amount = 70 WHERE id = 2"), SQLITE_OK);
  auto c = Run({"check", j_, "--store", store_});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.out.find("altered: 2"), std::string::npos) << c.out;
}

}  // namespace
}  // namespace fw::journal
