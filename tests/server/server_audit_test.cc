// The audit log (fw/server/audit.h, docs/fleet-audit.md): the hash chain verifies when intact and
// names the first broken row when a row is changed, unlinked or deleted with raw SQL; the heads
// file catches a database rewritten and re-chained consistently, and a truncated one; a malformed
// heads file is refused naming its line. On every store backend (store_test_fixture.h): the raw SQL
// goes to the SQLite file or to the PostgreSQL database behind the store's back.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/store.h"
#include "fw/sqlite.h"
#include "pg_testing.h"
#include "store_test_fixture.h"
#include "testing.h"

namespace fw::server {
namespace {

class AuditTest : public ::testing::TestWithParam<Backend> {
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
    if (!GetParam().postgres) {
      auto db = sql::Database::Open(database_);
      ASSERT_TRUE(db.ok());
      db_ = std::make_unique<sql::Database>(std::move(*db));
    }
  }
  // Rows 1..n: alternating token and device decisions, in one transaction.
  void Append(int n) {
    Status s = store_->Atomically([&]() -> Status {
      for (int i = 0; i < n; ++i) {
        const int64_t seq = next_++;
        auto r = Record(*store_, 1000 + seq, "cli:alice", seq % 2 ? "token.create" : "device.revoke",
                        "object:" + std::to_string(seq), "null", R"({"n":)" + std::to_string(seq) + "}");
        if (!r.ok()) return r.status();
      }
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Sql(const std::string& text) {
    if (pg_) {
      fw::testing::PgRows r = pg_->Query(text);
      ASSERT_TRUE(r.ok()) << text << ": " << r.error;
      return;
    }
    Status s = db_->Exec(text);
    ASSERT_TRUE(s.ok()) << text << ": " << s.ToString();
  }
  // What a thorough attacker does after editing rows: recompute every prev and hash in seq order.
  void Rechain() {
    auto rows = store_->ListAudit(0, 1000);
    ASSERT_TRUE(rows.ok());
    std::string prev(64, '0');
    for (auto row : *rows) {
      row.prev_hash_hex = prev;
      row.hash_hex = AuditEntryHash(row);
      Sql("UPDATE audit_log SET prev_hash = '" + row.prev_hash_hex + "', hash = '" + row.hash_hex +
          "' WHERE seq = " + std::to_string(row.seq));
      prev = row.hash_hex;
    }
  }
  AuditVerification Verify() {
    auto v = VerifyAuditChain(*store_);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : AuditVerification{};
  }
  AuditVerification VerifyHeads() {
    auto v = VerifyAgainstHeads(*store_, heads_);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : AuditVerification{};
  }
  void Export(int64_t now) {
    auto wrote = ExportAuditHead(*store_, heads_, now);
    ASSERT_TRUE(wrote.ok()) << wrote.status().ToString();
    ASSERT_TRUE(*wrote);
  }

  fw::testing::TempDir dir_;
  std::unique_ptr<fw::testing::PgTestDatabase> pg_;  // postgres: dropped after store_ is closed
  std::string database_;                             // the SQLite path or the PostgreSQL URI
  std::unique_ptr<Store> store_;
  std::unique_ptr<sql::Database> db_;  // sqlite: the same file, for raw SQL
  std::string heads_ = dir_.path() + "/audit/heads.jsonl";
  int64_t next_ = 1;
};

TEST_P(AuditTest, AnEmptyLogAndAnIntactChainVerify) {
  auto empty = Verify();
  EXPECT_TRUE(empty.ok);
  EXPECT_EQ(empty.rows, 0);
  EXPECT_EQ(empty.head.seq, 0);
  Append(2500);  // more than two pages of 1,000
  auto v = Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, 2500);
  EXPECT_EQ(v.bad_seq, 0);
  EXPECT_EQ(v.head.seq, 2500);
  EXPECT_EQ(v.head.hash_hex, (*store_->AuditHead())->hash_hex);
}

TEST_P(AuditTest, WritersOnSeveralConnectionsProduceOneChain) {
  constexpr int kThreads = 3, kRows = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto store = OpenStore(database_);
      if (!store.ok()) {
        ++failures;
        return;
      }
      for (int i = 0; i < kRows; ++i) {
        auto r = Record(**store, 1000 + i, "system", "x.y", "writer:" + std::to_string(t), "null", "null");
        if (!r.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto v = Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, kThreads * kRows);
}

TEST(AuditHash, IsSha256OfTheDocumentedCanonicalJson) {
  AuditEntry e{7,
               1700000000,
               "token:3:alice",
               "device.quarantine",
               "device:T-1",
               R"({"state": "active"})",
               R"({"reason":"fork","state":"quarantined"})",
               std::string(64, 'a'),
               ""};
  const std::string expected_input =
      R"({"action":"device.quarantine","actor":"token:3:alice","after":{"reason":"fork","state":"quarantined"},)"
      R"("before":{"state":"active"},"object":"device:T-1","prev":")" +
      std::string(64, 'a') + R"(","seq":7,"time":1700000000})";
  EXPECT_EQ(AuditEntryHash(e), HexEncode(Sha256::Of(AsBytes(expected_input))));
  e.before_json = "{broken";
  EXPECT_EQ(AuditEntryHash(e), "");
}

TEST_P(AuditTest, AChangedRowIsFoundNamingItsSeq) {
  Append(5);
  Sql(R"(UPDATE audit_log SET after_json = '{"n":99}' WHERE seq = 3)");
  auto v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_seq, 3);
  EXPECT_EQ(v.problem.rfind("hash: the content of row 3 ", 0), 0u) << v.problem;
  EXPECT_EQ(v.rows, 3);
  EXPECT_EQ(v.head.seq, 2);  // the last row still trusted
}

// Verification hashes before/after as stored when each is one JSON text (no re-canonicalising): a
// row stored non-canonically still verifies (the full path), and moving text between before and
// after so that the concatenation is unchanged is still found.
TEST_P(AuditTest, NonCanonicalJsonVerifiesAndTextMovedBetweenBeforeAndAfterIsFound) {
  auto a = Record(*store_, 1001, "cli:alice", "device.label", "device:T-1", "null", R"({ "b" : 1, "a" : 2 })");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Record(*store_, 1002, "cli:alice", "device.label", "device:T-2", "null", R"({"a":1,"before":2})");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Append(1);
  auto v = Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.rows, 3);
  // The verbatim input of row 2 is unchanged by this edit ("after":{"a":1 + ,"before": + 2},...):
  // only after and before as separate JSON texts tell the rows apart.
  Sql(R"(UPDATE audit_log SET after_json = '{"a":1', before_json = '2},"before":null' WHERE seq = 2)");
  v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_seq, 2);
  EXPECT_EQ(v.problem.rfind("hash: the content of row 2 ", 0), 0u) << v.problem;
}

TEST_P(AuditTest, AChangedActorOrTimeIsFoundToo) {
  Append(3);
  Sql("UPDATE audit_log SET actor = 'system' WHERE seq = 2");
  EXPECT_EQ(Verify().bad_seq, 2);
  Sql("UPDATE audit_log SET actor = 'cli:alice', time_s = time_s + 1 WHERE seq = 2");
  EXPECT_EQ(Verify().bad_seq, 2);
  Sql("UPDATE audit_log SET time_s = time_s - 1 WHERE seq = 2");
  EXPECT_TRUE(Verify().ok);
}

TEST_P(AuditTest, ARowWithAForgedHashIsFoundByTheNextLink) {
  Append(4);
  // The row's content and hash changed together: the row itself is consistent, its successor is not.
  auto rows = store_->ListAudit(1, 1);
  ASSERT_TRUE(rows.ok() && rows->size() == 1u);
  AuditEntry forged = (*rows)[0];
  forged.after_json = R"({"n":42})";
  forged.hash_hex = AuditEntryHash(forged);
  Sql("UPDATE audit_log SET after_json = '{\"n\":42}', hash = '" + forged.hash_hex + "' WHERE seq = 2");
  auto v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_seq, 3);
  EXPECT_EQ(v.problem.rfind("prev: row 3 ", 0), 0u) << v.problem;
}

TEST_P(AuditTest, ADeletedRowIsAGap) {
  Append(5);
  Sql("DELETE FROM audit_log WHERE seq = 2");
  auto v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_seq, 2);
  EXPECT_EQ(v.problem.rfind("gap: row 2 is missing", 0), 0u) << v.problem;
  Sql("DELETE FROM audit_log WHERE seq = 1");
  EXPECT_EQ(Verify().bad_seq, 1);
}

TEST_P(AuditTest, ExportAppendsOnlyWhenTheHeadMoved) {
  auto nothing = ExportAuditHead(*store_, heads_, 50);
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_FALSE(*nothing);  // an empty log has no head to anchor
  EXPECT_FALSE(fw::testing::Exists(heads_));
  Append(2);
  Export(100);  // creates audit/ and the file
  auto same = ExportAuditHead(*store_, heads_, 200);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(*same);
  Append(1);
  Export(300);
  const std::string head3 = (*store_->AuditHead())->hash_hex;
  const std::string text = fw::testing::ReadFile(heads_);
  EXPECT_EQ(text.substr(text.find('\n') + 1),
            R"({"seq":3,"hash":")" + head3 + R"(","time":1003,"exported":300})" + "\n");
  auto v = VerifyHeads();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.heads_checked, 2);
  EXPECT_EQ(v.rows, 3);
}

TEST_P(AuditTest, ARewrittenAndRechainedDatabasePassesTheChainButNotTheHeads) {
  Append(2);
  Export(100);  // line 1: row 2
  Append(2);
  Export(200);  // line 2: row 4
  Append(1);
  Sql(R"(UPDATE audit_log SET actor = 'cli:mallory', after_json = '{"n":0}' WHERE seq = 2)");
  Rechain();
  auto chain = Verify();
  EXPECT_TRUE(chain.ok) << chain.problem;  // consistent on its own
  EXPECT_EQ(chain.rows, 5);
  auto v = VerifyHeads();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_seq, 2);
  EXPECT_NE(v.problem.find("line 1 exported row 2 "), std::string::npos) << v.problem;
  EXPECT_NE(v.problem.find("rewritten"), std::string::npos) << v.problem;
  // The head moved on, so the next export appends; the older line still catches the rewrite.
  Export(300);
  EXPECT_EQ(VerifyHeads().bad_seq, 2);
}

TEST_P(AuditTest, ATruncatedLogFailsAgainstTheHeads) {
  Append(5);
  Export(100);
  Sql("DELETE FROM audit_log WHERE seq >= 4");
  EXPECT_TRUE(Verify().ok);  // the chain alone cannot see a missing tail
  auto v = VerifyHeads();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_seq, 5);
  EXPECT_NE(v.problem.find("line 1 exported row 5 but the log ends at row 3"), std::string::npos) << v.problem;
  auto refused = ExportAuditHead(*store_, heads_, 200);
  EXPECT_EQ(refused.status().code(), ErrorCode::kFailedPrecondition) << refused.status().ToString();
}

TEST_P(AuditTest, ABrokenChainIsReportedBeforeTheHeads) {
  Append(3);
  Export(100);
  Sql("UPDATE audit_log SET object = 'x' WHERE seq = 1");
  auto v = VerifyHeads();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.bad_seq, 1);
  EXPECT_EQ(v.heads_checked, 0);
}

TEST_P(AuditTest, AMalformedHeadsFileIsCorruptNamingTheLine) {
  Append(3);
  Export(100);
  const std::string good = fw::testing::ReadFile(heads_);
  const std::string h(64, 'a');
  for (const std::string& bad : {
           std::string("not json\n"), std::string("[1,2]\n"),
           R"({"seq":1,"hash":")" + h + R"(","time":1})" + "\n",                                  // member missing
           R"({"seq":1,"hash":")" + h + R"(","time":1,"exported":1,"x":1})" + "\n",               // extra member
           R"({"seq":0,"hash":")" + h + R"(","time":1,"exported":1})" + "\n",                     // seq 0
           R"({"seq":"1","hash":")" + h + R"(","time":1,"exported":1})" + "\n",                   // seq as text
           R"({"seq":1,"hash":")" + std::string(64, 'A') + R"(","time":1,"exported":1})" + "\n",  // upper case
           R"({"seq":1,"hash":"abc","time":1,"exported":1})" + std::string("\n"),
           R"({"seq":1,"hash":")" + h + R"(","time":-1,"exported":1})" + "\n",
           std::string("\n"),                                           // empty line
           R"({"seq":1,"hash":")" + h + R"(","time":1,"exported":1})",  // torn: no newline
       }) {
    fw::testing::WriteFile(heads_, good + bad);
    auto v = VerifyAgainstHeads(*store_, heads_);
    EXPECT_EQ(v.status().code(), ErrorCode::kCorrupt) << bad;
    EXPECT_NE(v.status().message().find("line 2"), std::string::npos) << v.status().ToString();
  }
  auto missing = VerifyAgainstHeads(*store_, dir_.path() + "/nothing.jsonl");
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound) << missing.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; });

}  // namespace
}  // namespace fw::server
