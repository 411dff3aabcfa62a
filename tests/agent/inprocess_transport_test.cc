// The in-process transport (inprocess_transport.h) against the real device API and a real fwsign
// repository: what the agent's tests rely on — the Peer the TLS layer would make, check-in/events
// through the codecs, ETag/304, HTTP errors as answers, repository files, and the fault hooks.
#include "inprocess_transport.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fw/fetcher.h"
#include "inprocess_fleet.h"
#include "sweep_rig.h"

namespace fw::agent::testing {
namespace {

Manifest TerminalManifest() {
  Manifest m;
  m.hardware_id = "POS-X1";
  m.time_zone = "UTC";
  m.agent_version = "0.6.0";
  m.running = {"A", "1.0.0", "confirmed"};
  m.other = SlotInfo{"B", "", "empty"};
  return m;
}

class InProcessTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_ = std::make_unique<InProcessFleet>(clock_, install::TheVendor().dir / "repo");
    ASSERT_TRUE(fleet_->ok());
    auto id = fleet_->Enrol("T-0001");
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    id_ = *id;
    transport_ = fleet_->MakeTransport(id_);
  }

  FakeClock clock_{SystemClock().WallMs()};
  std::unique_ptr<InProcessFleet> fleet_;
  DeviceIdentity id_;
  std::unique_ptr<InProcessTransport> transport_;
};

TEST_F(InProcessTransportTest, CheckinSeesTheActionAndTheEnrolledPeer) {
  InstallActionSpec spec;
  spec.target = "fw-1.1.0.img";
  spec.version = "1.1.0";
  auto action = fleet_->CreateAction("T-0001", spec);
  ASSERT_TRUE(action.ok());
  auto a = transport_->Checkin(TerminalManifest(), "");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(a->ok()) << a->error.Describe();
  ASSERT_EQ(a->value->actions.size(), 1u);
  EXPECT_EQ(a->value->actions[0].id, *action);
  EXPECT_EQ(a->value->actions[0].target_name, "fw-1.1.0.img");
  EXPECT_FALSE(a->value->etag.empty());
  // The manifest reached the store under the certificate's serial.
  auto dev = fleet_->store().GetDevice("T-0001");
  ASSERT_TRUE(dev.ok() && dev->has_value());
  EXPECT_EQ((*dev)->version, "1.0.0");
  // Same reply again: 304 when the ETag is sent.
  auto again = transport_->Checkin(TerminalManifest(), a->value->etag);
  ASSERT_TRUE(again.ok() && again->ok());
  EXPECT_TRUE(again->value->not_modified);
  // An event: applied, then a duplicate; an unknown action is an answer, not a Status.
  Event e;
  e.action = *action;
  e.seq = 1;
  e.state = "accepted";
  auto ev = transport_->PostEvent(e);
  ASSERT_TRUE(ev.ok() && ev->ok()) << (ev.ok() ? ev->error.Describe() : ev.status().ToString());
  EXPECT_EQ(ev->value->result, "applied");
  ev = transport_->PostEvent(e);
  ASSERT_TRUE(ev.ok() && ev->ok());
  EXPECT_EQ(ev->value->result, "duplicate");
  e.action = 999;
  ev = transport_->PostEvent(e);
  ASSERT_TRUE(ev.ok());
  ASSERT_FALSE(ev->ok());
  EXPECT_EQ(ev->error.http_status, 409);
  EXPECT_EQ(ev->error.code, "unknown_action");
}

TEST_F(InProcessTransportTest, AnotherCaIsRefusedAsTheTlsLayerWould) {
  InProcessFleet other(clock_, install::TheVendor().dir / "repo");
  ASSERT_TRUE(other.ok());
  auto stranger = other.Enrol("T-0001");
  ASSERT_TRUE(stranger.ok());
  DeviceIdentity forged = id_;
  forged.cert_pem = stranger->cert_pem;  // the same serial, another fleet's certificate
  auto t = fleet_->MakeTransport(forged);
  auto a = t->Checkin(TerminalManifest(), "");
  ASSERT_TRUE(a.ok());
  ASSERT_FALSE(a->ok());
  EXPECT_EQ(a->error.http_status, 401);
  EXPECT_EQ(a->error.code, "certificate_invalid");
}

TEST_F(InProcessTransportTest, RepositoryFilesAndFaults) {
  auto base = transport_->ResolveRepository("/repo/");
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(*base, "https://fleet.test:8443/repo/");
  auto ts = net::FetchToString(transport_->RepositoryFetcher(), *base + "metadata/timestamp.json", 1 << 20);
  ASSERT_TRUE(ts.ok()) << ts.status().ToString();
  EXPECT_NE(ts->find("\"timestamp\""), std::string::npos);
  auto missing = net::FetchToString(transport_->RepositoryFetcher(), *base + "metadata/99.root.json", 1 << 20);
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  auto capped = net::FetchToString(transport_->RepositoryFetcher(), *base + "metadata/timestamp.json", 10);
  EXPECT_EQ(capped.status().code(), ErrorCode::kResourceExhausted);
  auto escape = net::FetchToString(transport_->RepositoryFetcher(), *base + "../server.db", 1 << 20);
  EXPECT_EQ(escape.status().code(), ErrorCode::kNotFound);

  // A target stream cut after 5000 bytes: the read fails once, a Seek resumes, the bytes match.
  // (consistent snapshots: the target file is hash-prefixed)
  std::string target;
  for (const auto& e : std::filesystem::directory_iterator(fleet_->repo_dir() + "/targets")) {
    if (e.path().filename().string().ends_with(".fw-1.1.0.img")) target = e.path().filename();
  }
  ASSERT_FALSE(target.empty());
  transport_->hooks().cut_stream_after_bytes = 5000;
  auto s = transport_->OpenStream(*base + "targets/" + target);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const auto& want = install::TheVendor().images[1];
  ASSERT_EQ((*s)->Size().value_or(0), want.size());
  std::vector<uint8_t> got;
  std::vector<uint8_t> buf(4096);
  int failures = 0;
  while (got.size() < want.size()) {
    auto n = (*s)->Read(buf);
    if (!n.ok()) {
      ++failures;
      EXPECT_EQ(n.status().code(), ErrorCode::kIoError);
      ASSERT_TRUE((*s)->Seek(got.size()).ok());
      continue;
    }
    ASSERT_GT(*n, 0u);
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
  }
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(got, want);

  // The Nth call fails; a dead network fails everything without reaching the server.
  transport_->hooks().fail_call = transport_->calls() + 1;
  auto c = transport_->Checkin(TerminalManifest(), "");
  EXPECT_EQ(c.status().code(), ErrorCode::kIoError);
  const size_t before = transport_->exchanges().size();
  transport_->Dead(true);
  EXPECT_FALSE(transport_->Checkin(TerminalManifest(), "").ok());
  EXPECT_FALSE(transport_->OpenStream(*base + "targets/" + target).ok());
  EXPECT_EQ(transport_->exchanges().size(), before);
}

}  // namespace
}  // namespace fw::agent::testing
