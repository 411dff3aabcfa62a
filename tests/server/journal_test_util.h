// Test support for the journal witness tests: real journals (fw_journal) and segments.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "fw/encoding.h"
#include "fw/journal/journal.h"
#include "fw/journal/record.h"
#include "fw/server/journal_witness.h"
#include "testing.h"

namespace fw::server::witness::test {

namespace jr = fw::journal;
using fw::testing::TempDir;

inline jr::RecordInput Input(int i, std::string_view terminal = "T-0001") {
  jr::RecordInput in;
  in.time_ms = 1732470000000 + i * 1000;
  in.terminal_id = std::string(terminal);
  in.kind = i % 5 == 4 ? jr::Kind::kRefund : jr::Kind::kSale;
  in.amount_minor = 100 + i;
  in.currency = "EUR";
  in.pan_masked = "411111******1111";
  in.auth_code = "A" + std::to_string(i);
  in.result = "approved";
  in.extensions["entry_mode"] = i % 2 ? "chip" : "contactless";
  return in;
}

// A terminal's journal on disk.
class Terminal {
 public:
  explicit Terminal(const std::string& path) {
    jr::OpenOptions o;
    o.create = true;
    auto j = jr::Journal::Open(path, o);
    EXPECT_TRUE(j.ok()) << j.status().message();
    journal_.emplace(std::move(*j));
  }
  // Appends `n` records; `salt` makes a different chain from the same start.
  void Append(int n, std::string_view terminal = "T-0001") {
    for (int i = 0; i < n; ++i) {
      auto r = journal_->Append(Input(next_++, terminal));
      ASSERT_TRUE(r.ok()) << r.status().message();
    }
  }
  std::vector<jr::Record> Records(int64_t from, int64_t to) {
    std::vector<jr::Record> out;
    EXPECT_TRUE(journal_
                    ->ForEach(from,
                              [&](const jr::Record& r) {
                                if (r.seq <= to) out.push_back(r);
                                return Status::Ok();
                              })
                    .ok());
    return out;
  }
  std::string Segment(int64_t from, int64_t to, int64_t epoch = 1) { return EncodeSegment(epoch, Records(from, to)); }
  int64_t LastSeq() { return journal_->Summary()->last_seq; }
  std::string Head() { return HexEncode(journal_->Summary()->head); }
  std::string HeadAt(int64_t seq) { return HexEncode(Records(seq, seq).at(0).hash); }
  jr::Journal& journal() { return *journal_; }

 private:
  std::optional<jr::Journal> journal_;
  int next_ = 0;
};

inline bool Has(const std::vector<Finding>& f, FindingKind kind) {
  for (const auto& x : f) {
    if (x.kind == kind) return true;
  }
  return false;
}

// Accepts and expects success.
inline SegmentResult Accept(State& s, const std::string& body) {
  auto r = AcceptSegment(s, body);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : SegmentResult{};
}

// Expects a refusal with `code` and a message containing `needle`; the state must not change.
inline void ExpectRefused(State& s, const std::string& body, ErrorCode code, const std::string& needle) {
  const std::string before = Serialize(s);
  auto r = AcceptSegment(s, body);
  ASSERT_FALSE(r.ok()) << "accepted: " << body.substr(0, 200);
  EXPECT_EQ(r.status().code(), code) << r.status().message();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  EXPECT_EQ(Serialize(s), before);
}

}  // namespace fw::server::witness::test
