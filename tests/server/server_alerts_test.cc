// Webhook alerts (fw/server/alerts.h) delivered to a REAL HTTPS receiver: fwserver's own transport
// (fw_server_net) on loopback with the test PKI (tls_testing.h), whose handler records every request
// and answers a scripted status. The receiver side recomputes the signature with OpenSSL's HMAC()
// directly (and with the `openssl dgst` recipe of docs/fleet-alerts.md); the Deliverer runs on a
// FakeClock so the backoff schedule is exact.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/alerts.h"
#include "fw/server/https_server.h"
#include "fw/server/store.h"
#include "testing.h"
#include "tls_testing.h"

namespace fw::server {
namespace {

using fw::testing::TempDir;
using Json = nlohmann::json;

// What a receiver does (docs/fleet-alerts.md): HMAC-SHA256(secret, timestamp + "." + body), hex.
std::string ReceiverSignature(const std::string& secret, const std::string& timestamp, const std::string& body) {
  const std::string text = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  return "v1=" + HexEncode({mac, len});
}

struct Received {
  std::string method, target, body;
  std::map<std::string, std::string> headers;
};

// Records every request; answers statuses_[i] for the i-th request (the last one repeated).
class Receiver {
 public:
  explicit Receiver(std::vector<int> statuses) : statuses_(std::move(statuses)) {}
  std::vector<Received> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int Answer(const Request& r) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back({r.method, r.target, r.body, r.headers});
    return statuses_[std::min(requests_.size(), statuses_.size()) - 1];
  }

 private:
  std::mutex mu_;
  std::vector<int> statuses_;
  std::vector<Received> requests_;
};

class ReceiverHandler final : public RequestHandler {
 public:
  explicit ReceiverHandler(Receiver& receiver) : receiver_(receiver) {}
  Response Handle(const Request& r) override {
    Response resp;
    resp.status = receiver_.Answer(r);
    resp.body = "ok";
    return resp;
  }
  uint64_t MaxBodyBytes(const std::string&, const std::string&) const override { return 1 << 20; }

 private:
  Receiver& receiver_;
};

class AlertsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir();
    ASSERT_EQ(testing::MakeTestPki(pki_->path()), "");
  }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    auto store = OpenSqliteStore(StorePath(dir_.path()));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  // Starts the receiver answering `statuses`; returns its URL.
  std::string StartReceiver(std::vector<int> statuses) {
    receiver_ = std::make_unique<Receiver>(std::move(statuses));
    HttpsServerOptions o;
    o.cert_chain_pem = fw::testing::ReadFile(*pki_ / "server.pem") + fw::testing::ReadFile(*pki_ / "issuing.pem");
    o.key_pem = fw::testing::ReadFile(*pki_ / "server.key");
    auto v = DeviceCertVerifier::Create(fw::testing::ReadFile(*pki_ / "chain.pem"));
    EXPECT_TRUE(v.ok()) << v.status().message();
    verifier_ = std::move(v).value();
    auto s = HttpsServer::Start(
        o, [this] { return std::make_unique<ReceiverHandler>(*receiver_); }, *verifier_, SystemClock());
    EXPECT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
    return "https://localhost:" + std::to_string(server_->port()) + "/hooks/fleet";
  }

  AlertPolicy Policy(const std::string& url, std::vector<std::string> kinds = {"*"}) {
    AlertPolicy p;
    p.webhooks.push_back({"ops", url, kSecret, std::move(kinds)});
    p.http.ca_file = *pki_ / "root.pem";
    return p;
  }

  int64_t Raise(const AlertPolicy& policy, const std::string& kind, const std::string& details) {
    int64_t id = 0;
    Status s = store_->Atomically([&]() -> Status {
      FW_ASSIGN_OR_RETURN(id, RaiseAlert(*store_, policy, clock_.WallSeconds(), kind, "device:T-1", details));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return id;
  }

  std::unique_ptr<Deliverer> MakeDeliverer(const AlertPolicy& policy) {
    auto store = OpenSqliteStore(StorePath(dir_.path()));
    EXPECT_TRUE(store.ok());
    return std::make_unique<Deliverer>(policy, std::move(*store), clock_);
  }

  AlertDelivery Delivery(int64_t alert_id) {
    auto d = store_->ListDeliveries(alert_id);
    EXPECT_TRUE(d.ok());
    EXPECT_EQ(d->size(), 1u);
    return d->empty() ? AlertDelivery{} : d->front();
  }

  int64_t Run(Deliverer& deliverer) {
    auto n = deliverer.RunOnce();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }

  static constexpr const char* kSecret = "whsec-9c1f4e2a";
  static TempDir* pki_;
  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<DeviceCertVerifier> verifier_;
  std::unique_ptr<HttpsServer> server_;
};

TempDir* AlertsTest::pki_ = nullptr;

TEST(HmacTest, Rfc4231AndEmptyInputs) {
  EXPECT_EQ(HexEncode(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HexEncode(HmacSha256(AsBytes(""), AsBytes(""))),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  const std::string long_key(131, '\xaa');  // RFC 4231 test case 6: a key longer than the block
  EXPECT_EQ(HexEncode(HmacSha256(AsBytes(long_key), AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_F(AlertsTest, A500IsRetriedThenDeliveredAndTheReceiverVerifiesEverySignature) {
  const AlertPolicy policy = Policy(StartReceiver({500, 200}));
  const int64_t raised_at = clock_.WallSeconds();
  const int64_t id = Raise(policy, "clone", R"({"serial":"T-1","seq":5,"detail":"two heads"})");
  auto alert = store_->GetAlert(id);
  ASSERT_TRUE(alert.ok() && alert->has_value());
  EXPECT_EQ((*alert)->body_json, R"({"details":{"detail":"two heads","seq":5,"serial":"T-1"},"id":)" +
                                     std::to_string(id) + R"(,"kind":"clone","object":"device:T-1","time":)" +
                                     std::to_string(raised_at) + "}");
  auto deliverer = MakeDeliverer(policy);
  EXPECT_EQ(Run(*deliverer), 1);
  AlertDelivery d = Delivery(id);
  EXPECT_EQ(d.state, "pending");
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_status, 500);
  EXPECT_GE(d.next_attempt_s, raised_at + 10);
  EXPECT_LE(d.next_attempt_s, raised_at + 11);
  EXPECT_EQ(Run(*deliverer), 0);  // not due yet
  clock_.Advance(11'000);
  const int64_t second_at = clock_.WallSeconds();
  EXPECT_EQ(Run(*deliverer), 1);
  d = Delivery(id);
  EXPECT_EQ(d.state, "delivered");
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.last_status, 200);
  EXPECT_EQ(d.last_error, "");
  clock_.Advance(3600'000);
  EXPECT_EQ(Run(*deliverer), 0);  // delivered: never sent again

  auto log = store_->ListDeliveryAttempts(id);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].attempt, 1);
  EXPECT_EQ((*log)[0].http_status, 500);
  EXPECT_EQ((*log)[0].error, "HTTP 500");
  EXPECT_EQ((*log)[1].attempt, 2);
  EXPECT_EQ((*log)[1].http_status, 200);
  EXPECT_EQ((*log)[1].error, "");

  const auto got = receiver_->requests();
  ASSERT_EQ(got.size(), 2u);
  const int64_t times[] = {raised_at, second_at};
  for (size_t i = 0; i < got.size(); ++i) {
    const Received& r = got[i];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hooks/fleet");
    EXPECT_EQ(r.body, (*alert)->body_json);
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_EQ(r.headers.at("x-ptfw-event"), "clone");
    EXPECT_EQ(r.headers.at("x-ptfw-delivery"), std::to_string(id));
    EXPECT_EQ(r.headers.at("x-ptfw-timestamp"), std::to_string(times[i]));
    const std::string sig = r.headers.at("x-ptfw-signature");
    EXPECT_EQ(sig, ReceiverSignature(kSecret, r.headers.at("x-ptfw-timestamp"), r.body));
    EXPECT_NE(sig, ReceiverSignature("another secret", r.headers.at("x-ptfw-timestamp"), r.body));
    EXPECT_NE(sig, ReceiverSignature(kSecret, r.headers.at("x-ptfw-timestamp"), r.body + " "));
    const Json body = Json::parse(r.body);
    EXPECT_EQ(body["id"], id);
    EXPECT_EQ(body["details"]["serial"], "T-1");
  }
}

TEST_F(AlertsTest, AReceiverThatAlwaysFailsIsGivenUpAfterMaxAttempts) {
  AlertPolicy policy = Policy(StartReceiver({503}));
  policy.max_attempts = 3;
  const int64_t id = Raise(policy, "quarantine", R"({"serial":"T-1","reason":"fork"})");
  auto deliverer = MakeDeliverer(policy);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Run(*deliverer), 1) << i;
    clock_.Advance(3601'000);
  }
  AlertDelivery d = Delivery(id);
  EXPECT_EQ(d.state, "failed");
  EXPECT_EQ(d.attempts, 3);
  EXPECT_EQ(d.last_status, 503);
  EXPECT_EQ(Run(*deliverer), 0);
  clock_.Advance(86400'000);
  EXPECT_EQ(Run(*deliverer), 0);
  EXPECT_EQ(receiver_->requests().size(), 3u);
  auto log = store_->ListDeliveryAttempts(id);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 3u);
  for (const auto& a : *log) EXPECT_EQ(a.http_status, 503);
}

TEST_F(AlertsTest, TheBackoffDoublesUpToItsCapWithAtMostTenPercentJitter) {
  AlertPolicy policy = Policy(StartReceiver({500}));
  policy.backoff_seconds = 10;
  policy.max_backoff_seconds = 60;
  policy.max_attempts = 7;
  EXPECT_EQ(RetryDelaySeconds(policy, 1), 10);
  EXPECT_EQ(RetryDelaySeconds(policy, 3), 40);
  EXPECT_EQ(RetryDelaySeconds(policy, 4), 60);
  EXPECT_EQ(RetryDelaySeconds(policy, 60), 60);
  const int64_t id = Raise(policy, "journal_anomaly", R"({"serial":"T-1"})");
  auto deliverer = MakeDeliverer(policy);
  const int64_t expected[] = {10, 20, 40, 60, 60, 60};
  for (int64_t delay : expected) {
    const int64_t now = clock_.WallSeconds();
    ASSERT_EQ(Run(*deliverer), 1);
    const AlertDelivery d = Delivery(id);
    ASSERT_EQ(d.state, "pending");
    EXPECT_GE(d.next_attempt_s - now, delay);
    EXPECT_LE(d.next_attempt_s - now, delay + delay / 10);
    clock_.Advance((d.next_attempt_s - now - 1) * 1000);
    EXPECT_EQ(Run(*deliverer), 0) << "one second early";
    clock_.Advance(1000);
  }
  ASSERT_EQ(Run(*deliverer), 1);
  EXPECT_EQ(Delivery(id).state, "failed");
  EXPECT_EQ(receiver_->requests().size(), 7u);
}

TEST_F(AlertsTest, AnUnsubscribedKindIsStoredWithoutADelivery) {
  const AlertPolicy policy = Policy(StartReceiver({200}), {"clone", "journal_anomaly"});
  EXPECT_EQ(SubscribersOf(policy, "clone"), std::vector<std::string>{"ops"});
  EXPECT_TRUE(SubscribersOf(policy, "cert_expiring").empty());
  const int64_t id = Raise(policy, "cert_expiring", R"({"cert_serial":"0a1b"})");
  auto alerts = store_->ListAlerts(0, 10);
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ(alerts->front().id, id);
  EXPECT_TRUE(store_->ListDeliveries(id)->empty());
  auto deliverer = MakeDeliverer(policy);
  EXPECT_EQ(Run(*deliverer), 0);
  EXPECT_TRUE(receiver_->requests().empty());
}

TEST_F(AlertsTest, IdsInBodiesMatchTheStoreAndBadInputWritesNothing) {
  const AlertPolicy policy = Policy("https://localhost:1/never");
  for (int i = 1; i <= 5; ++i) {
    const int64_t id = Raise(policy, "audit_head", R"({"seq":)" + std::to_string(i) + "}");
    EXPECT_EQ(id, i);
    EXPECT_EQ(Json::parse((*store_->GetAlert(id))->body_json)["id"], id);
  }
  for (const char* details : {"[1,2]", "not json", R"({"x":1.5})"}) {
    auto r = RaiseAlert(*store_, policy, 1, "clone", "device:T-1", details);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << details;
  }
  EXPECT_EQ(RaiseAlert(*store_, policy, 1, "disk_full", "x", "{}").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->ListAlerts(0, 100)->size(), 5u);
}

TEST_F(AlertsTest, PlainHttpIsRefusedUnlessAllowedAndAnUnconfiguredWebhookFails) {
  AlertPolicy policy = Policy("http://127.0.0.1:9/hook");
  const int64_t id = Raise(policy, "clone", R"({"serial":"T-1"})");
  auto deliverer = MakeDeliverer(policy);
  EXPECT_EQ(Run(*deliverer), 1);
  AlertDelivery d = Delivery(id);
  EXPECT_EQ(d.state, "pending");
  EXPECT_EQ(d.last_status, 0);  // never sent
  EXPECT_NE(d.last_error, "");
  // The webhook is removed from the configuration: the pending delivery fails without an attempt.
  clock_.Advance(3600'000);
  auto renamed = policy;
  renamed.webhooks[0].name = "pager";
  auto other = MakeDeliverer(renamed);
  EXPECT_EQ(Run(*other), 0);
  d = Delivery(id);
  EXPECT_EQ(d.state, "failed");
  EXPECT_NE(d.last_error.find("no longer configured"), std::string::npos);
  EXPECT_EQ(store_->ListDeliveryAttempts(id)->size(), 1u);
}

// docs/fleet-alerts.md, "Verifying a delivery": the shell recipe gives the header's value.
TEST_F(AlertsTest, TheOpensslDgstRecipeOfTheDocsReproducesTheSignature) {
  const std::string body = R"({"details":{"serial":"T-1"},"id":7,"kind":"clone","object":"device:T-1","time":1})";
  const int64_t ts = 1732700000;
  fw::testing::WriteFile(dir_ / "body.json", body);
  fw::testing::WriteFile(dir_ / "secret", kSecret);
  // printf '%s.' "$TS" | cat - body.json | openssl dgst -sha256 -hmac "$(cat secret)" -r | cut -c1-64
  auto r = fw::testing::RunCommand(
      {"sh", "-c", "printf '%s.' \"$1\" | cat - \"$2\" | openssl dgst -sha256 -hmac \"$(cat \"$3\")\" -r | cut -c1-64",
       "sh", std::to_string(ts), dir_ / "body.json", dir_ / "secret"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ("v1=" + r.out.substr(0, r.out.find('\n')), AlertSignature(kSecret, ts, body));
}

}  // namespace
}  // namespace fw::server
