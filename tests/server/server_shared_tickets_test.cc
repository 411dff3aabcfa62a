// TLS session-ticket keys shared through the store (fw/server/shared_ticket_keys.h): two sources over two
// connections to one database agree on the keys, which rotate on the (fake) wall clock with old rows
// deleted; a database that cannot be opened still gives keys (local) and the shared ones once it answers;
// and over real TLS, a session made with instance A resumes on instance B (TLS 1.3 and 1.2) — which it
// does not with per-process keys. On SQLite and on PostgreSQL (instances_testing.h).
#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "fw/server/https_server.h"
#include "fw/server/shared_ticket_keys.h"
#include "fw/server/store.h"
#include "instances_testing.h"
#include "testing.h"
#include "tls_testing.h"

namespace fw::server {
namespace {

using fw::testing::ReadFile;
using fw::testing::TempDir;
using testing::ClientOptions;
using testing::TlsClient;

constexpr int64_t kRotation = 3600;

std::string Name(const TicketKey& k) { return TicketKeyHex(k).substr(0, 32); }

class SharedTicketsTest : public ::testing::TestWithParam<testing::InstanceBackend> {
 protected:
  void SetUp() override {
    ASSERT_EQ(db_.error(), "");
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  static void SetUpTestSuite() {
    pki_ = new TempDir();
    ASSERT_EQ(testing::MakeTestPki(pki_->path()), "");
  }
  static void TearDownTestSuite() { delete pki_; }

  std::string Database() const { return db_.uri(); }
  std::unique_ptr<Store> Open() {
    auto s = OpenStore(Database());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  StoreOpener Opener() {
    const std::string db = Database();
    return [db]() { return OpenStore(db); };
  }
  std::set<std::string> Rows() {
    auto keys = store_->ListSettingKeys(kTicketKeySettingPrefix);
    EXPECT_TRUE(keys.ok());
    return keys.ok() ? std::set<std::string>(keys->begin(), keys->end()) : std::set<std::string>{};
  }
  std::string Row(int64_t period) { return kTicketKeySettingPrefix + std::to_string(period); }
  int64_t Period() const { return clock_.WallSeconds() / kRotation; }

  // An HTTPS server answering 200 to everything, with the given ticket keys.
  std::unique_ptr<HttpsServer> Serve(TicketKeySource keys) {
    if (!verifier_) {
      auto v = DeviceCertVerifier::Create(ReadFile(*pki_ / "chain.pem"));
      EXPECT_TRUE(v.ok());
      verifier_ = std::move(v).value();
    }
    HttpsServerOptions o;
    o.cert_chain_pem = ReadFile(*pki_ / "server.pem") + ReadFile(*pki_ / "issuing.pem");
    o.key_pem = ReadFile(*pki_ / "server.key");
    o.client_ca_pem = ReadFile(*pki_ / "chain.pem");
    o.ticket_lifetime_seconds = 2 * kRotation;
    o.ticket_keys = std::move(keys);
    auto s = HttpsServer::Start(
        o, [] { return std::make_unique<OkHandler>(); }, *verifier_, clock_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // Connects (resuming `session` when given), makes one request; returns the client.
  std::unique_ptr<TlsClient> Visit(const HttpsServer& server, int version, SSL_SESSION* session) {
    ClientOptions o;
    o.cert_file = *pki_ / "device.pem";
    o.key_file = *pki_ / "device.key";
    o.max_version = version;
    o.session = session;
    auto c = TlsClient::Connect(server.port(), o);
    EXPECT_TRUE(c->handshake_ok()) << c->error();
    EXPECT_EQ(c->Request("GET", "/").status, 200);  // reading processes the TLS 1.3 ticket
    return c;
  }

  class OkHandler final : public RequestHandler {
   public:
    Response Handle(const Request&) override {
      Response r;
      r.body = "ok";
      return r;
    }
    uint64_t MaxBodyBytes(const std::string&, const std::string&) const override { return 0; }
  };

  static TempDir* pki_;
  TempDir dir_;
  testing::SharedDatabase db_{GetParam(), dir_.path()};
  FakeClock clock_{1'800'000'000'000};  // the start of a rotation period (1800000000 / 3600 = 500000)
  std::unique_ptr<Store> store_;
  std::unique_ptr<DeviceCertVerifier> verifier_;
};
TempDir* SharedTicketsTest::pki_ = nullptr;

TEST_P(SharedTicketsTest, TwoInstancesAgreeAndKeysRotateOnTheWallClock) {
  TicketKeySource a = DatabaseTicketKeys(Opener(), clock_, {.rotation_seconds = kRotation});
  TicketKeySource b = DatabaseTicketKeys(Opener(), clock_, {.rotation_seconds = kRotation});
  const TicketKeySet a0 = a(), b0 = b();
  EXPECT_EQ(TicketKeyHex(a0.current), TicketKeyHex(b0.current));
  EXPECT_TRUE(a0.previous.empty());  // nothing before the first period
  const int64_t p0 = Period();
  EXPECT_EQ(Rows(), std::set<std::string>{Row(p0)});
  EXPECT_EQ(*store_->GetSetting(Row(p0)), std::optional<std::string>(TicketKeyHex(a0.current)));
  // Within the period: the same keys (cached: another connection's change is not seen until the next one).
  clock_.Advance((kRotation - 1) * 1000);
  EXPECT_EQ(TicketKeyHex(a().current), TicketKeyHex(a0.current));

  // The next period: a new current key, the old one previous, on both; b asked first this time.
  clock_.Advance(1000);
  const TicketKeySet b1 = b(), a1 = a();
  EXPECT_NE(Name(b1.current), Name(b0.current));
  EXPECT_EQ(TicketKeyHex(a1.current), TicketKeyHex(b1.current));
  for (const TicketKeySet* s : {&a1, &b1}) {
    ASSERT_EQ(s->previous.size(), 1u);
    EXPECT_EQ(TicketKeyHex(s->previous[0]), TicketKeyHex(a0.current));
  }
  EXPECT_EQ(Rows(), (std::set<std::string>{Row(p0), Row(p0 + 1)}));

  // Two periods on: the first key is gone from the sets and from the database (the writer deleted it).
  clock_.Advance(kRotation * 1000);
  const TicketKeySet a2 = a(), b2 = b();
  EXPECT_EQ(TicketKeyHex(a2.current), TicketKeyHex(b2.current));
  ASSERT_EQ(a2.previous.size(), 1u);
  EXPECT_EQ(TicketKeyHex(a2.previous[0]), TicketKeyHex(a1.current));
  EXPECT_EQ(Rows(), (std::set<std::string>{Row(p0 + 1), Row(p0 + 2)}));
  // A third instance started now gets the same set from the database alone.
  const TicketKeySet c2 = DatabaseTicketKeys(Opener(), clock_, {.rotation_seconds = kRotation})();
  EXPECT_EQ(TicketKeyHex(c2.current), TicketKeyHex(a2.current));
  ASSERT_EQ(c2.previous.size(), 1u);
  EXPECT_EQ(TicketKeyHex(c2.previous[0]), TicketKeyHex(a1.current));
}

TEST_P(SharedTicketsTest, AnUnreachableDatabaseGivesLocalKeysAndTheSharedOnesOnceItAnswers) {
  std::atomic<bool> down{true};
  std::atomic<int> opens{0};
  StoreOpener real = Opener();
  StoreOpener flaky = [&]() -> Result<std::unique_ptr<Store>> {
    opens++;
    if (down) return IoError("database unreachable: connection refused (test)");
    return real();
  };
  TicketKeySource a = DatabaseTicketKeys(flaky, clock_, {.rotation_seconds = kRotation, .retry_ms = 10000});
  const TicketKeySet local = a();
  EXPECT_EQ(opens.load(), 1);
  EXPECT_TRUE(Rows().empty());
  // Cheap while down: no new attempt before retry_ms, the same local key.
  clock_.Advance(5000);
  EXPECT_EQ(TicketKeyHex(a().current), TicketKeyHex(local.current));
  EXPECT_EQ(opens.load(), 1);
  clock_.Advance(5000);
  EXPECT_EQ(TicketKeyHex(a().current), TicketKeyHex(local.current));
  EXPECT_EQ(opens.load(), 2);

  // Another instance wrote this period's key meanwhile; the database answers again.
  const TicketKeySet shared = DatabaseTicketKeys(Opener(), clock_, {.rotation_seconds = kRotation})();
  down = false;
  clock_.Advance(10000);
  const TicketKeySet back = a();
  EXPECT_EQ(TicketKeyHex(back.current), TicketKeyHex(shared.current));
  // Tickets made under the local key still resume here for its period.
  ASSERT_EQ(back.previous.size(), 1u);
  EXPECT_EQ(TicketKeyHex(back.previous[0]), TicketKeyHex(local.current));
  EXPECT_EQ(opens.load(), 3);
  clock_.Advance(60 * 1000);
  EXPECT_EQ(TicketKeyHex(a().current), TicketKeyHex(shared.current));
  EXPECT_EQ(opens.load(), 3);  // opened once, kept
}

TEST_P(SharedTicketsTest, AnUnreadableRowIsNotUsedAndTheHexFormIsStrict) {
  ASSERT_TRUE(store_->SetSetting(Row(Period()), "not hex").ok());
  const TicketKeySet keys = DatabaseTicketKeys(Opener(), clock_, {.rotation_seconds = kRotation})();
  EXPECT_NE(TicketKeyHex(keys.current), "not hex");  // a local key: the source still serves
  EXPECT_EQ(*store_->GetSetting(Row(Period())), std::optional<std::string>("not hex"));  // not overwritten

  TicketKey k;
  for (size_t i = 0; i < 16; ++i) k.name[i] = static_cast<uint8_t>(i);
  k.hmac_key[0] = 0xab;
  k.aes_key[31] = 0xcd;
  const std::string hex = TicketKeyHex(k);
  EXPECT_EQ(hex.size(), 160u);
  EXPECT_EQ(hex.substr(0, 32), "000102030405060708090a0b0c0d0e0f");
  auto back = ParseTicketKeyHex(hex);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(TicketKeyHex(*back), hex);
  std::string upper = hex;
  upper[32] = 'A';  // "ab" -> "Ab"
  EXPECT_EQ(ParseTicketKeyHex(upper).status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(ParseTicketKeyHex(hex.substr(2)).status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(ParseTicketKeyHex(hex + "00").status().code(), ErrorCode::kCorrupt);
}

TEST_P(SharedTicketsTest, ASessionFromInstanceAResumesOnInstanceB) {
  auto a = Serve(DatabaseTicketKeys(Opener(), clock_, {.rotation_seconds = kRotation}));
  auto b = Serve(DatabaseTicketKeys(Opener(), clock_, {.rotation_seconds = kRotation}));
  ASSERT_TRUE(a && b);
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    auto first = Visit(*a, version, nullptr);
    EXPECT_FALSE(first->reused());
    SSL_SESSION* session = first->TakeSession();
    ASSERT_NE(session, nullptr);
    auto second = Visit(*b, version, session);
    EXPECT_TRUE(second->reused()) << "TLS version " << version;
    SSL_SESSION_free(session);
  }
  // After one rotation the ticket's key is the previous one: still resumes on the other instance, and
  // the renewed ticket (under the new key) resumes back on A; two rotations on, the old ticket does not.
  // (Each client stays open until its session was used: OpenSSL marks the session of a connection
  // freed without a shutdown as not resumable.)
  auto made = Visit(*a, TLS1_3_VERSION, nullptr);
  SSL_SESSION* old = made->TakeSession();
  clock_.Advance(kRotation * 1000);
  auto on_b = Visit(*b, TLS1_3_VERSION, old);
  EXPECT_TRUE(on_b->reused());
  SSL_SESSION* renewed = on_b->TakeSession();
  auto back_on_a = Visit(*a, TLS1_3_VERSION, renewed);
  EXPECT_TRUE(back_on_a->reused());
  clock_.Advance(kRotation * 1000);
  auto too_old = Visit(*b, TLS1_3_VERSION, old);
  EXPECT_FALSE(too_old->reused());
  SSL_SESSION_free(old);
  SSL_SESSION_free(renewed);
  EXPECT_GE(b->stats().resumed, 3u);
}

// The control: per-process keys (LocalTicketKeys) do not resume across instances, so the test above
// sees the shared keys at work.
TEST_P(SharedTicketsTest, WithPerProcessKeysASessionDoesNotResumeOnAnotherInstance) {
  auto a = Serve(LocalTicketKeys(clock_, kRotation));
  auto b = Serve(LocalTicketKeys(clock_, kRotation));
  ASSERT_TRUE(a && b);
  auto made = Visit(*a, TLS1_3_VERSION, nullptr);
  SSL_SESSION* session = made->TakeSession();
  ASSERT_NE(session, nullptr);
  auto on_b = Visit(*b, TLS1_3_VERSION, session);
  EXPECT_FALSE(on_b->reused());
  // A resumes its own sessions (a fresh one: the session above was offered to B already).
  auto made2 = Visit(*a, TLS1_3_VERSION, nullptr);
  SSL_SESSION* own = made2->TakeSession();
  auto on_a = Visit(*a, TLS1_3_VERSION, own);
  EXPECT_TRUE(on_a->reused());
  SSL_SESSION_free(session);
  SSL_SESSION_free(own);
}

INSTANTIATE_TEST_SUITE_P(Backends, SharedTicketsTest, ::testing::ValuesIn(testing::kInstanceBackends),
                         testing::BackendName);

}  // namespace
}  // namespace fw::server
