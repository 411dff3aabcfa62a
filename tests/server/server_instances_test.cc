// Several fwserver instances on one database (issue 19), on SQLite (two connections to one file) and on
// PostgreSQL (instances_testing.h): schedulers over their own connections — only the lease holder acts,
// the other counts skipped passes and takes over when the holder stops (the lease released) or stops
// renewing (the lease expired on the fake wall clock); a store failure skips the pass; the audit_head
// alert goes out once per head when another machine's instance catches its heads file up; two whole
// fleet servers (StartFleetServer) share the lease and the TLS ticket keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "fw/server/alerts.h"
#include "fw/server/audit.h"
#include "fw/server/config.h"
#include "fw/server/fleet_server.h"
#include "fw/server/https_server.h"
#include "fw/server/scheduler.h"
#include "fw/server/store.h"
#include "fw/sqlite.h"
#include "instances_testing.h"
#include "testing.h"
#include "tls_testing.h"
#include "webhook_receiver.h"

namespace fw::server {
namespace {

using fw::testing::ReadFile;
using fw::testing::TempDir;
using fw::testing::WriteFile;
using testing::ClientOptions;
using testing::TlsClient;
using Json = nlohmann::json;
namespace fs = std::filesystem;

using webhook_test::Lines;
using webhook_test::Received;
using webhook_test::ReceiverHandler;

class InstancesTest : public ::testing::TestWithParam<testing::InstanceBackend> {
 protected:
  void SetUp() override {
    ASSERT_EQ(db_.error(), "");
    fs::create_directories(dir_ / "pki");
    fs::create_directories(dir_ / "ca");
    fs::create_directories(dir_ / "audit");
    ASSERT_EQ(testing::MakeTestPki(dir_ / "pki"), "");
    for (const char* f : {"root.pem", "issuing.pem"})
      WriteFile(dir_ / (std::string("ca/") + f), ReadFile(dir_ / (std::string("pki/") + f)));
    store_ = Open();
    ASSERT_NE(store_, nullptr);
    config_.data_dir = dir_.path();
    config_.heads_file = dir_ / "audit/heads.jsonl";
  }
  std::unique_ptr<Store> Open() {
    auto s = db_.Connect();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // One instance's scheduler: its own two connections.
  std::unique_ptr<Scheduler> Make() { return std::make_unique<Scheduler>(config_, Open(), Open(), clock_); }
  std::vector<Alert> AlertsOf(const std::string& kind) {
    auto all = store_->ListAlerts(0, 1000);
    EXPECT_TRUE(all.ok());
    std::vector<Alert> out;
    for (const Alert& a : *all) {
      if (a.kind == kind) out.push_back(a);
    }
    return out;
  }
  // The leases table dropped behind the stores' back: "" or the error.
  std::string DropLeases() {
    if (db_.postgres()) return db_.Query("DROP TABLE leases");
    auto raw = sql::Database::Open(db_.uri(), sql::OpenOptions());
    if (!raw.ok()) return raw.status().ToString();
    const Status s = raw->Exec("DROP TABLE leases");
    return s.ok() ? "" : s.ToString();
  }
  // A webhook receiver on loopback TLS (the test PKI's server certificate).
  void StartReceiver() {
    auto v = DeviceCertVerifier::Create(ReadFile(dir_ / "pki/chain.pem"));
    ASSERT_TRUE(v.ok());
    verifier_ = std::move(v).value();
    HttpsServerOptions o;
    o.cert_chain_pem = ReadFile(dir_ / "pki/server.pem") + ReadFile(dir_ / "pki/issuing.pem");
    o.key_pem = ReadFile(dir_ / "pki/server.key");
    o.request_client_cert = false;
    auto s = HttpsServer::Start(
        o, [this] { return std::make_unique<ReceiverHandler>(received_); }, *verifier_, SystemClock());
    ASSERT_TRUE(s.ok()) << s.status().message();
    receiver_ = std::move(s).value();
    config_.alerts.http.ca_file = dir_ / "pki/root.pem";
    config_.alerts.webhooks = {
        {"ops", "https://127.0.0.1:" + std::to_string(receiver_->port()) + "/hook", "hook-secret", {"*"}}};
  }

  TempDir dir_;
  testing::SharedDatabase db_{GetParam(), dir_.path()};
  FakeClock clock_{SystemClock().WallMs()};
  std::unique_ptr<Store> store_;
  SchedulerConfig config_;
  Received received_;
  std::unique_ptr<DeviceCertVerifier> verifier_;
  std::unique_ptr<HttpsServer> receiver_;
};

// Two schedulers over two connections to one store (two fwserver instances): only the lease holder
// acts; the other counts skipped passes; when the holder stops it releases the lease and the other
// takes over at its next pass; when the holder stops renewing, the other takes over once the lease
// expired on the (fake) wall clock.
TEST_P(InstancesTest, OnlyTheLeaseHolderActsAndAnotherTakesOverWhenItStopsOrItsLeaseExpires) {
  StartReceiver();
  auto a = Make();
  auto b = Make();
  EXPECT_NE(a->holder(), b->holder());
  ASSERT_TRUE(RaiseAlert(*store_, config_.alerts, clock_.WallSeconds(), "quarantine", "device:T-1", "{}").ok());
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.create", "token:1", "null", "{}").ok());
  for (int pass = 0; pass < 40; ++pass) {  // 400 s: past the export interval, well past the ttl
    ASSERT_TRUE(a->RunOnce().ok()) << a->stats().last_error;
    ASSERT_TRUE(b->RunOnce().ok()) << b->stats().last_error;
    clock_.Advance(10 * 1000);  // less than the 15 s ttl: a renews at every pass
  }
  EXPECT_TRUE(a->stats().leader);
  EXPECT_FALSE(b->stats().leader);
  EXPECT_EQ(a->stats().passes_skipped, 0);
  EXPECT_EQ(b->stats().passes, 40);
  EXPECT_EQ(b->stats().passes_skipped, 40);
  EXPECT_EQ(b->stats().delivery_attempts + b->stats().heads_exported, 0);
  // The quarantine alert and the audit_head alert ("*" subscribes to it), each delivered once.
  EXPECT_EQ(a->stats().delivery_attempts, 2);
  {
    std::lock_guard<std::mutex> lock(received_.mu);
    EXPECT_EQ(received_.requests.size(), 2u);
  }
  EXPECT_EQ(Lines(config_.heads_file).size(), 1u);

  // The holder stops: the lease is released, b takes over at its next pass and does every task.
  a->Stop();
  EXPECT_FALSE(a->stats().leader);
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.revoke", "token:1", "{}", "{}").ok());
  ASSERT_TRUE(b->RunOnce().ok()) << b->stats().last_error;
  EXPECT_TRUE(b->stats().leader);
  EXPECT_EQ(b->stats().leader_changes, 1);
  EXPECT_EQ(b->stats().heads_exported, 1);
  EXPECT_EQ(Lines(config_.heads_file).size(), 2u);

  // A third instance cannot take it while b renews; b stops renewing (hung, killed): once the lease
  // expired on the wall clock, c takes it and b, coming back, finds itself a follower.
  auto c = Make();
  ASSERT_TRUE(c->RunOnce().ok());
  EXPECT_FALSE(c->stats().leader);
  clock_.Advance(14 * 1000);
  ASSERT_TRUE(c->RunOnce().ok());
  EXPECT_FALSE(c->stats().leader) << "the lease has not expired yet";
  clock_.Advance(1000);  // 15 s since b's last renewal
  ASSERT_TRUE(c->RunOnce().ok());
  EXPECT_TRUE(c->stats().leader);
  ASSERT_TRUE(b->RunOnce().ok());
  EXPECT_FALSE(b->stats().leader);
  EXPECT_EQ(b->stats().passes_skipped, 41);
}

// The lease is in the database: another connection sees who holds it, and a store that fails makes
// the pass a skipped one with the error counted (never a pass that acts without the lease).
TEST_P(InstancesTest, TheLeaseIsVisibleToOtherConnectionsAndAStoreFailureSkipsThePass) {
  auto a = Make();
  ASSERT_TRUE(a->RunOnce().ok());
  // Another connection cannot take the lease while a holds it, and can once a released it.
  EXPECT_FALSE(*store_->TryLease("scheduler", "someone-else", clock_.WallSeconds(), 15));
  a->Stop();
  EXPECT_TRUE(*store_->TryLease("scheduler", "someone-else", clock_.WallSeconds(), 15));
  auto b = Make();
  EXPECT_TRUE(b->RunOnce().ok());
  EXPECT_FALSE(b->stats().leader);
  EXPECT_EQ(b->stats().errors, 0);
  ASSERT_TRUE(store_->ReleaseLease("scheduler", "someone-else").ok());
  // The holder format: "<hostname>:<pid>:<8 hex>".
  const std::string& h = b->holder();
  const size_t last = h.rfind(':');
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(h.size() - last - 1, 8u) << h;
  EXPECT_EQ(h.substr(h.rfind(':', last - 1) + 1, last - h.rfind(':', last - 1) - 1), std::to_string(getpid())) << h;
  // The leases table gone (a broken database): the pass is skipped and the error counted.
  ASSERT_EQ(DropLeases(), "");
  EXPECT_FALSE(b->RunOnce().ok());
  EXPECT_FALSE(b->stats().leader);
  EXPECT_EQ(b->stats().passes_skipped, 2);
  EXPECT_EQ(b->stats().errors, 1);
  EXPECT_EQ(b->stats().last_error.rfind("lease: ", 0), 0u) << b->stats().last_error;
}

// Instances on two machines have heads files of their own: the one taking the lease over catches its
// file up, and the audit_head alert for a head already alerted is not raised twice.
TEST_P(InstancesTest, AnotherInstanceCatchesItsHeadsFileUpWithoutAlertingTheSameHeadAgain) {
  config_.alerts.webhooks = {{"audit-copy", "https://127.0.0.1:1/x", "s", {"audit_head"}}};
  auto a = Make();
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.create", "token:1", "null", "{}").ok());
  ASSERT_TRUE(a->RunOnce().ok());
  EXPECT_EQ(Lines(config_.heads_file).size(), 1u);
  EXPECT_EQ(AlertsOf("audit_head").size(), 1u);
  a->Stop();
  const std::string first_file = config_.heads_file;
  config_.heads_file = dir_ / "audit/other-machine.jsonl";
  auto b = Make();
  ASSERT_TRUE(b->RunOnce().ok()) << b->stats().last_error;
  EXPECT_TRUE(b->stats().leader);
  EXPECT_EQ(Lines(config_.heads_file).size(), 1u);  // its own file has the head now
  EXPECT_EQ(AlertsOf("audit_head").size(), 1u);     // not alerted twice
  // A new head: b's export alerts it.
  ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.revoke", "token:1", "{}", "{}").ok());
  clock_.Advance(300 * 1000);
  ASSERT_TRUE(b->RunOnce().ok());
  const auto alerts = AlertsOf("audit_head");
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(Json::parse(alerts[1].body_json)["details"]["seq"], 2);
  EXPECT_EQ(Lines(first_file).size(), 1u);  // a's file is a's: b never writes it
}

// Two `fwserver run`s in one process (StartFleetServer twice, each with its scheduler) on one database:
// exactly one scheduler holds the lease and /metrics says which; a terminal's TLS session made with the
// first device port resumes on the second (the device port's ticket keys come from the database); when
// the leader stops, the other takes the lease over.
TEST_P(InstancesTest, TwoFleetServersShareTheSchedulerLeaseAndTheTicketKeys) {
  const std::string pki = dir_ / "pki";
  for (const char* d : {"tls", "repo"}) fs::create_directories(dir_ / d);
  WriteFile(dir_ / "tls/server.pem", ReadFile(pki + "/server.pem") + ReadFile(pki + "/issuing.pem"));
  WriteFile(dir_ / "tls/server.key", ReadFile(pki + "/server.key"));
  WriteFile(dir_ / "ca/chain.pem", ReadFile(pki + "/chain.pem"));
  const Json settings = {{"device_port", {{"address", "127.0.0.1"}, {"port", 0}}},
                         {"operator", {{"port", 0}, {"threads", 1}}},
                         {"issuer", {{"key", pki + "/issuing.key"}}},
                         {"limits", {{"threads", 1}}}};
  auto config = ParseConfig(settings.dump(), dir_.path());
  ASSERT_TRUE(config.ok()) << config.status().message();
  config->database = db_.uri();
  FleetServerOptions options;
  options.scheduler_tick_ms = 10;
  auto a = StartFleetServer(*config, clock_, options);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = StartFleetServer(*config, clock_, options);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  FleetServer& one = **a;
  FleetServer& two = **b;
  // (the fake wall clock stands still: the holder renews at every pass and keeps the lease)
  for (int i = 0; i < 1000 && (one.scheduler->stats().passes < 3 || two.scheduler->stats().passes < 3); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool one_leads = one.scheduler->stats().leader;
  EXPECT_NE(one_leads, two.scheduler->stats().leader) << "exactly one leader";
  FleetServer& leader = one_leads ? one : two;
  FleetServer& follower = one_leads ? two : one;
  EXPECT_NE(leader.metrics->Render().find("fwserver_scheduler_leader 1"), std::string::npos);
  EXPECT_NE(follower.metrics->Render().find("fwserver_scheduler_leader 0"), std::string::npos);
  EXPECT_GT(follower.scheduler->stats().passes_skipped, 0);

  ClientOptions device;
  device.cert_file = pki + "/device.pem";
  device.key_file = pki + "/device.key";
  auto first = TlsClient::Connect(one.https->port(), device);
  ASSERT_TRUE(first->handshake_ok()) << first->error();
  EXPECT_NE(first->Request("GET", "/v1/nothing-here").status, 0);  // reading processes the TLS 1.3 ticket
  device.session = first->TakeSession();
  auto second = TlsClient::Connect(two.https->port(), device);
  ASSERT_TRUE(second->handshake_ok()) << second->error();
  EXPECT_TRUE(second->reused()) << "a session of instance one resumes on instance two";
  SSL_SESSION_free(device.session);

  // The leader stops (its lease released): the follower takes over at its next pass.
  leader.Stop();
  for (int i = 0; i < 1000 && !follower.scheduler->stats().leader; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(follower.scheduler->stats().leader);
  EXPECT_NE(follower.metrics->Render().find("fwserver_scheduler_leader 1"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, InstancesTest, ::testing::ValuesIn(testing::kInstanceBackends),
                         testing::BackendName);

}  // namespace
}  // namespace fw::server
