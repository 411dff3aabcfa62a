// End-to-end, the edges of the device API through the real transport: methods, unknown routes,
// malformed and oversized bodies, the journal segment cap the protocol promises (8 MiB), key
// rotation by renewal and re-enrolment (e2e_fleet.h).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "e2e_fleet.h"
#include "fw/encoding.h"
#include "fw/journal/record.h"
#include "fw/server/journal_witness.h"

namespace fw::server::e2e {
namespace {

namespace jr = fw::journal;
using E2eLimitsTest = E2eFixture;

// `count` chained records of about 4 KiB each (16 extensions of 240 letters: no digit runs).
std::vector<jr::Record> BigRecords(int count, const std::string& terminal) {
  jr::ChainHasher hasher;
  std::vector<jr::Record> out;
  Digest prev = jr::kGenesisHash;
  for (int i = 1; i <= count; ++i) {
    jr::Record r;
    r.time_ms = 1795000000000 + i * 1000LL;
    r.terminal_id = terminal;
    r.kind = jr::Kind::kSale;
    r.amount_minor = 100 + i;
    r.currency = "EUR";
    r.pan_masked = "411111******1111";
    r.auth_code = "A1B2C3";
    r.result = "approved";
    for (char c = 'a'; c < 'a' + 16; ++c) r.extensions[std::string("note_") + c] = std::string(240, c);
    r.seq = i;
    r.prev_hash = prev;
    r.hash = hasher.Hash(r);
    prev = r.hash;
    out.push_back(std::move(r));
  }
  return out;
}

TEST_F(E2eLimitsTest, MethodsRoutesMalformedAndOversizedBodies) {
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  RequestOptions get;
  get.method = "GET";
  get.cert = &t->cert();
  HttpReply r = server_->Request("/v1/checkin", get);
  EXPECT_EQ(r.status, 405) << r.Describe();
  EXPECT_EQ(r.error(), "method_not_allowed");
  EXPECT_EQ(r.Header("allow"), "POST");
  r = t->Post("/v1/nothing-here", "{}");  // a route that does not exist, with a body
  EXPECT_EQ(r.status, 404) << r.Describe();
  EXPECT_EQ(r.error(), "not_found");
  r = t->Checkin(Json{{"running", {{"slot", "A"}, {"version", "1.2.0"}, {"state", "confirmed"}}}});
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_EQ(r.error(), "bad_request");
  EXPECT_NE(r.body.find("hardware_id"), std::string::npos) << r.body;  // names the field
  r = t->Post("/v1/checkin", "{not json");
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_EQ(r.error(), "bad_request");
  Json big = Manifest("1.2.0");
  big["padding"] = std::string(9 * 1024, 'x');  // unknown fields are ignored, but the cap is 8 KiB
  r = t->Checkin(big);
  EXPECT_EQ(r.status, 413) << r.Describe();
  EXPECT_EQ(r.error(), "too_large");  // docs/fleet-protocol.md's code, whoever answers
  r = t->Event(1, Json{{"attempt", 1}, {"seq", 1}, {"state", "accepted"}, {"padding", std::string(5000, 'x')}});
  EXPECT_EQ(r.status, 413) << r.Describe();
  EXPECT_EQ(r.error(), "too_large");
  r = t->Segment(std::string(witness::kMaxSegmentBytes + 1, 'x'));
  EXPECT_EQ(r.status, 413) << r.Describe();
  EXPECT_EQ(r.error(), "too_large");
  // The server still answers this terminal normally afterwards.
  EXPECT_EQ(t->Checkin(Manifest("1.2.0")).status, 200);
}

TEST_F(E2eLimitsTest, SegmentOfTwoMegabytesIsWithinTheProtocolsCap) {
  // docs/fleet-protocol.md: journal segments up to 8 MiB; EncodeSegments cuts at that bound.
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  const auto records = BigRecords(500, "T-0001");
  const auto segments = witness::EncodeSegments(1, records);
  ASSERT_EQ(segments.size(), 1u);
  ASSERT_GT(segments[0].size(), 2u << 20);
  HttpReply r = t->Checkin(
      Manifest("1.2.0", "confirmed", nullptr, Json{{"last_seq", 500}, {"head", HexEncode(records.back().hash)}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["journal_upload"], (Json{{"from_seq", 1}, {"epoch", 1}}));
  r = t->Segment(segments[0]);
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["verified_seq"], 500) << r.body;
}

TEST_F(E2eLimitsTest, RenewalWithANewKeyMovesTheBindingAndReEnrolmentDeniesEarlierCertificates) {
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  auto rotated = NewTerminal("T-0001");  // the same terminal's next key
  HttpReply r = t->Renew(rotated->CsrPem());
  ASSERT_EQ(r.status, 200) << r.Describe();
  rotated->UseCertificate(r.json()["certificate"].get<std::string>());
  EXPECT_EQ(rotated->Checkin(Manifest("1.2.0")).status, 200);
  r = t->Checkin(Manifest("1.2.0"));  // the old key's certificate
  EXPECT_EQ(r.status, 409) << r.Describe();
  EXPECT_EQ(r.error(), "identity_conflict");

  // The operator re-enrols the terminal (a new token, a new key): its earlier certificates are denied.
  auto replaced = NewTerminal("T-0001");
  ASSERT_TRUE(replaced->MustEnrol());
  EXPECT_EQ(replaced->Checkin(Manifest("1.2.0")).status, 200);
  r = rotated->Checkin(Manifest("1.2.0"));
  EXPECT_EQ(r.status, 403) << r.Describe();
  EXPECT_EQ(r.error(), "revoked");
  Json d = server_->DeviceShow("T-0001");
  ASSERT_EQ(d["certificates"].size(), 3u) << d.dump();
  int revoked = 0;
  for (const auto& c : d["certificates"]) revoked += c["revoked"].get<bool>() ? 1 : 0;
  EXPECT_EQ(revoked, 2) << d.dump();
  EXPECT_EQ(d["state"], "active");
}

TEST_F(E2eLimitsTest, IssuerOutageIs503WithRetryAfterAndLastSeenIsWrittenOnAStop) {
  auto t = NewTerminal("T-0001");
  ASSERT_TRUE(t->MustEnrol());
  const int64_t enrolled = NowS();
  auto late = NewTerminal("T-0002");
  const std::string token = server_->Token("T-0002");
  server_->StopIssuer();
  HttpReply r = late->Enrol(token);
  EXPECT_EQ(r.status, 503) << r.Describe();
  EXPECT_EQ(r.error(), "issuer_unavailable");
  EXPECT_FALSE(r.Header("retry-after").empty());
  r = t->Renew();
  EXPECT_EQ(r.status, 503) << r.Describe();
  EXPECT_EQ(r.error(), "issuer_unavailable");
  EXPECT_EQ(t->Checkin(Manifest("1.2.0")).status, 200);  // check-ins do not need the issuer
  ASSERT_TRUE(server_->StartIssuer());
  r = late->Enrol(token);  // the token was not consumed by the failed attempt
  EXPECT_EQ(r.status, 200) << r.Describe();

  // last_seen is batched in memory and written when the server stops.
  while (NowS() <= enrolled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const int64_t seen = NowS();
  ASSERT_EQ(t->Checkin(Manifest("1.2.0")).status, 200);
  EXPECT_EQ(server_->StopRun(), 0);
  EXPECT_GE(server_->DeviceShow("T-0001")["last_seen"].get<int64_t>(), seen);
}

}  // namespace
}  // namespace fw::server::e2e
