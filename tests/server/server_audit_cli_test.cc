// fwserver's offline token and audit commands (token_audit_cmds.cc) and the audit rows every
// offline write appends (device_cmds.cc), on a store made in a temp dir: output, exit codes
// (docs/exit-codes.md), and the jq + sha256sum recipe of docs/fleet-audit.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/store.h"
#include "fw/sqlite.h"
#include "testing.h"

namespace fw::server {
namespace {

using fw::testing::RunCommand;
using Json = nlohmann::json;

class AuditCliTest : public ::testing::Test {
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
  // fwserver ARGS --data DIR, run with USER=tester.
  fw::testing::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "USER=tester", FWSERVER_PATH});
    args.push_back("--data");
    args.push_back(dir_.path());
    return RunCommand(args);
  }
  Json RunJson(const std::vector<std::string>& args, int expected_exit = 0) {
    std::vector<std::string> with_json = args;
    with_json.push_back("--json");
    auto r = Run(with_json);
    EXPECT_EQ(r.exit_code, expected_exit) << r.err;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  void Sql(const std::string& text) {
    auto db = sql::Database::Open(StorePath(dir_.path()));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec(text).ok()) << text;
  }
  std::vector<AuditEntry> Rows() {
    auto rows = store_->ListAudit(0, 1000);
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<AuditEntry>{};
  }
  fw::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(AuditCliTest, TokenCreatePrintsTheTokenOnceAndStoresOnlyItsHash) {
  Json j =
      RunJson({"token", "create", "--name", "alice", "--role", "approver", "--journal-read", "--expires-days", "30"});
  const std::string token = j["token"];
  EXPECT_TRUE(std::regex_match(token, std::regex("ptfw_op_[A-Za-z0-9_-]{43}"))) << token;
  auto t = store_->GetOperatorTokenByHash(HexEncode(Sha256::Of(AsBytes(token))));
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->id, 1);
  EXPECT_EQ((*t)->name, "alice");
  EXPECT_EQ((*t)->role, "approver");
  EXPECT_TRUE((*t)->journal_read);
  EXPECT_EQ((*t)->expires_s - (*t)->created_s, 30 * 86400);
  EXPECT_EQ((*t)->created_by, "cli:tester");
  EXPECT_EQ(j["id"], 1);
  EXPECT_EQ(j["expires"], (*t)->expires_s);
  EXPECT_EQ(fw::testing::ReadFile(StorePath(dir_.path())).find(token), std::string::npos);
  // Plain output: the token alone on stdout.
  auto plain = Run({"token", "create", "--name", "bob", "--role", "viewer"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_TRUE(std::regex_match(plain.out, std::regex("ptfw_op_[A-Za-z0-9_-]{43}\n"))) << plain.out;
  auto bob = store_->GetOperatorToken(2);
  ASSERT_TRUE(bob.ok() && bob->has_value());
  EXPECT_FALSE((*bob)->journal_read);
  EXPECT_EQ((*bob)->expires_s - (*bob)->created_s, 90 * 86400);  // the default
  // Audited with the clear token nowhere in the row.
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].action, "token.create");
  EXPECT_EQ(rows[0].actor, "cli:tester");
  EXPECT_EQ(rows[0].object, "token:1");
  EXPECT_EQ(rows[0].before_json, "null");
  EXPECT_EQ(Json::parse(rows[0].after_json)["role"], "approver");
  EXPECT_EQ(rows[0].after_json.find(token), std::string::npos);
}

TEST_F(AuditCliTest, TokenCreateRefusesBadOptionsWritingNothing) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"token", "create", "--name", "x", "--role", "root"},
           {"token", "create", "--name", "", "--role", "viewer"},
           {"token", "create", "--name", std::string(65, 'n'), "--role", "viewer"},
           {"token", "create", "--name", "tab\there", "--role", "viewer"},
           {"token", "create", "--name", "x", "--role", "viewer", "--expires-days", "0"},
           {"token", "create", "--name", "x", "--role", "viewer", "--expires-days", "367"},
           {"token", "create", "--role", "viewer"},
       }) {
    auto r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << args[3] << ": " << r.err;
  }
  EXPECT_TRUE(store_->ListOperatorTokens()->empty());
  EXPECT_TRUE(Rows().empty());
  fw::testing::TempDir empty;
  auto r = RunCommand({FWSERVER_PATH, "token", "create", "--data", empty.path(), "--name", "x", "--role", "admin"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(fw::testing::ListDir(empty.path()).empty());
}

TEST_F(AuditCliTest, TokenListAndRevoke) {
  RunJson({"token", "create", "--name", "alice", "--role", "admin"});
  RunJson({"token", "create", "--name", "bob", "--role", "operator"});
  Json revoked = RunJson({"token", "revoke", "2"});
  EXPECT_TRUE(revoked["token"]["revoked"].is_number_integer());
  EXPECT_EQ(Run({"token", "revoke", "2"}).exit_code, 5);  // already
  EXPECT_EQ(Run({"token", "revoke", "9"}).exit_code, 4);  // no such token
  EXPECT_EQ(Run({"token", "revoke", "0"}).exit_code, 2);  // not an id
  Json list = RunJson({"token", "list"});
  ASSERT_EQ(list["tokens"].size(), 2u);
  EXPECT_TRUE(list["tokens"][0]["revoked"].is_null());
  EXPECT_FALSE(list["tokens"][1]["revoked"].is_null());
  EXPECT_EQ(list["tokens"][1]["role"], "operator");
  EXPECT_EQ(list.dump().find("sha256"), std::string::npos);  // not even the hash
  auto plain = Run({"token", "list"});
  EXPECT_NE(plain.out.find("2  bob  operator  revoked "), std::string::npos) << plain.out;
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].action, "token.revoke");
  EXPECT_EQ(rows[2].object, "token:2");
  EXPECT_TRUE(Json::parse(rows[2].before_json)["revoked"].is_null());
  EXPECT_FALSE(Json::parse(rows[2].after_json)["revoked"].is_null());
}

TEST_F(AuditCliTest, EveryOfflineWriteIsAuditedInOrder) {
  RunJson({"enrol-token", "create", "--serial", "T-2"});
  RunJson({"action", "create", "--device", "T-1", "--kind", "journal_backup"});
  RunJson({"action", "cancel", "--id", "1"});
  RunJson({"device", "revoke", "--serial", "T-1", "--reason", "stolen"});
  EXPECT_EQ(Run({"action", "cancel", "--id", "1"}).exit_code, 5);  // refused: nothing audited
  auto rows = Rows();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].action, "enrol_token.create");
  EXPECT_EQ(rows[0].object.rfind("enrol_token:", 0), 0u);
  EXPECT_EQ(Json::parse(rows[0].after_json)["serial"], "T-2");
  EXPECT_EQ(rows[1].action, "action.create");
  EXPECT_EQ(rows[1].object, "action:1");
  EXPECT_EQ(Json::parse(rows[1].after_json)["kind"], "journal_backup");
  EXPECT_EQ(rows[2].action, "action.cancel");
  EXPECT_EQ(Json::parse(rows[2].before_json)["state"], "pending");
  EXPECT_EQ(Json::parse(rows[2].after_json)["state"], "canceled");
  EXPECT_EQ(rows[3].action, "device.revoke");
  EXPECT_EQ(rows[3].object, "device:T-1");
  EXPECT_EQ(Json::parse(rows[3].before_json)["state"], "active");
  EXPECT_EQ(Json::parse(rows[3].after_json)["denied_certificates"], Json::array({"c1"}));
  for (const auto& r : rows) EXPECT_EQ(r.actor, "cli:tester");
  Json v = RunJson({"audit", "verify"});
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["rows"], 4);
}

TEST_F(AuditCliTest, AuditListPagesBySeq) {
  for (int i = 0; i < 5; ++i) RunJson({"token", "create", "--name", "t" + std::to_string(i), "--role", "viewer"});
  Json page = RunJson({"audit", "list", "--limit", "2"});
  ASSERT_EQ(page["rows"].size(), 2u);
  EXPECT_EQ(page["rows"][0]["seq"], 1);
  EXPECT_EQ(page["rows"][0]["prev"], std::string(64, '0'));
  EXPECT_EQ(page["rows"][0]["before"], nullptr);
  EXPECT_EQ(page["rows"][0]["after"]["name"], "t0");
  EXPECT_EQ(page["next_after"], 2);
  Json last = RunJson({"audit", "list", "--after", "4", "--limit", "2"});
  ASSERT_EQ(last["rows"].size(), 1u);
  EXPECT_EQ(last["rows"][0]["seq"], 5);
  EXPECT_TRUE(last["next_after"].is_null());
  EXPECT_EQ(Run({"audit", "list", "--limit", "0"}).exit_code, 2);
  auto plain = Run({"audit", "list", "--after", "4"});
  EXPECT_NE(plain.out.find("5  "), std::string::npos);
  EXPECT_NE(plain.out.find("  cli:tester  token.create  token:5\n"), std::string::npos) << plain.out;
}

TEST_F(AuditCliTest, AuditVerifyExitsThreeOnATamperedRowOrARewrittenDatabase) {
  for (int i = 0; i < 3; ++i) RunJson({"token", "create", "--name", "t" + std::to_string(i), "--role", "viewer"});
  Json v = RunJson({"audit", "verify"});
  EXPECT_TRUE(v["heads_file"].is_null());  // none yet: the chain only
  Json e = RunJson({"audit", "export-head"});
  EXPECT_EQ(e["written"], true);
  EXPECT_EQ(e["head"]["seq"], 3);
  EXPECT_EQ(RunJson({"audit", "export-head"})["written"], false);
  const std::string heads = dir_.path() + "/audit/heads.jsonl";
  ASSERT_TRUE(fw::testing::Exists(heads));
  v = RunJson({"audit", "verify"});
  EXPECT_EQ(v["heads_checked"], 1);
  // A changed row: exit 3 naming it.
  Sql(R"(UPDATE audit_log SET after_json = replace(after_json, '"viewer"', '"admin"') WHERE seq = 2)");
  v = RunJson({"audit", "verify"}, 3);
  EXPECT_EQ(v["ok"], false);
  EXPECT_EQ(v["bad_seq"], 2);
  EXPECT_EQ(v["exit_code"], 3);
  auto plain = Run({"audit", "verify"});
  EXPECT_EQ(plain.exit_code, 3);
  EXPECT_NE(plain.out.find("AUDIT LOG TAMPERED: hash: the content of row 2 "), std::string::npos) << plain.out;
  // Re-chained consistently: the chain passes, the exported head does not.
  auto rows = Rows();
  std::string prev(64, '0');
  for (auto row : rows) {
    row.prev_hash_hex = prev;
    row.hash_hex = AuditEntryHash(row);
    Sql("UPDATE audit_log SET prev_hash = '" + prev + "', hash = '" + row.hash_hex +
        "' WHERE seq = " + std::to_string(row.seq));
    prev = row.hash_hex;
  }
  v = RunJson({"audit", "verify", "--heads", dir_.path() + "/nowhere.jsonl"}, 4);  // named, missing: I/O
  v = RunJson({"audit", "verify"}, 3);
  EXPECT_EQ(v["bad_seq"], 3);
  EXPECT_NE(v["problem"].get<std::string>().find("line 1 exported row 3"), std::string::npos) << v.dump();
  fw::testing::WriteFile(dir_.path() + "/other.jsonl", "{\"seq\":1}\n");
  v = RunJson({"audit", "verify", "--heads", dir_.path() + "/other.jsonl"}, 3);  // malformed heads
  EXPECT_NE(v["error"]["message"].get<std::string>().find("line 1"), std::string::npos) << v.dump();
  // A truncated log: the exporter refuses to go on (exit 5), verify exits 3.
  Sql("DELETE FROM audit_log WHERE seq = 3");
  EXPECT_EQ(Run({"audit", "export-head"}).exit_code, 5);
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 3);
}

// docs/fleet-audit.md, "Recompute a hash yourself": jq + sha256sum over `audit list --json`.
TEST_F(AuditCliTest, TheDocumentedJqRecipeRecomputesEveryHash) {
  RunJson({"token", "create", "--name", "O'Brien \"ops\" \\ x", "--role", "admin"});
  RunJson({"action", "create", "--device", "T-1", "--kind", "install", "--target", "pos-fw", "--version", "1.2"});
  RunJson({"device", "revoke", "--serial", "T-1", "--reason", "lost \\ stolen"});
  const std::string script =
      "set -eo pipefail\n"
      "\"$FWSERVER\" audit list --data \"$DIR\" --json | jq -c '.rows[]' | while IFS= read -r row; do\n"
      "  want=$(jq -r .hash <<<\"$row\")\n"
      "  got=$(jq -cjS '{action,actor,after,before,object,prev,seq,time}' <<<\"$row\" | sha256sum | cut -d' ' -f1)\n"
      "  [ \"$want\" = \"$got\" ] && echo \"ok $(jq .seq <<<\"$row\")\" || echo \"BAD $(jq .seq <<<\"$row\")\"\n"
      "done\n";
  auto r = RunCommand(
      {"/usr/bin/env", std::string("FWSERVER=") + FWSERVER_PATH, "DIR=" + dir_.path(), "bash", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok 1\nok 2\nok 3\n");
}

}  // namespace
}  // namespace fw::server
