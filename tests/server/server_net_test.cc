// The HTTPS transport (fw/server/https_server.h) with real TLS on loopback and a trivial
// handler: protocol versions, client certificate states, limits (431, 413, 503), deadlines,
// keep-alive, session resumption, streamed file bodies.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "fw/server/https_server.h"
#include "testing.h"
#include "tls_testing.h"

namespace fw::server {
namespace {

using fw::testing::TempDir;
using testing::ClientOptions;
using testing::TlsClient;

const char* CertName(Peer::CertState s) {
  switch (s) {
    case Peer::CertState::kNone:
      return "none";
    case Peer::CertState::kValid:
      return "valid";
    case Peer::CertState::kExpired:
      return "expired";
    case Peer::CertState::kInvalid:
      return "invalid";
  }
  return "?";
}

// Echoes what reached it; /file/OFFSET/LENGTH streams a byte range of the fixture file.
class EchoHandler final : public RequestHandler {
 public:
  EchoHandler(std::atomic<int>& calls, std::string file) : calls_(calls), file_(std::move(file)) {}
  Response Handle(const Request& r) override {
    calls_++;
    Response resp;
    if (r.target == "/slow") std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (r.target.rfind("/file/", 0) == 0) {
      const std::string rest = r.target.substr(6);
      const size_t slash = rest.find('/');
      resp.file = FileBody{file_, std::stoull(rest.substr(0, slash)), std::stoull(rest.substr(slash + 1))};
      return resp;
    }
    resp.Header("Content-Type", "text/plain");
    resp.body = std::string("peer=") + CertName(r.peer.cert) + " serial=" + r.peer.serial + " " + r.method + " " +
                r.target + " body=" + std::to_string(r.body.size()) + " remote=" + r.peer.remote_address +
                " problem=" + r.peer.problem;
    return resp;
  }
  uint64_t MaxBodyBytes(const std::string&, const std::string& target) const override {
    return target == "/small" ? 16 : 4096;
  }

 private:
  std::atomic<int>& calls_;
  std::string file_;
};

// Server counters are updated when an operation completes on the server's thread, which may be
// just after the client saw its effect: poll them for up to 2 s.
template <typename Predicate>
bool Eventually(Predicate p) {
  for (int i = 0; i < 200; ++i) {
    if (p()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return p();
}

class NetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir();
    const std::string e = testing::MakeTestPki(pki_->path());
    ASSERT_EQ(e, "");
    fw::testing::WriteBytes(*pki_ / "big.bin", fw::testing::PseudoRandomBytes(3 * 1024 * 1024 + 17, 7));
  }
  static void TearDownTestSuite() { delete pki_; }

  HttpsServerOptions Options() {
    HttpsServerOptions o;
    o.cert_chain_pem = fw::testing::ReadFile(*pki_ / "server.pem") + fw::testing::ReadFile(*pki_ / "issuing.pem");
    o.key_pem = fw::testing::ReadFile(*pki_ / "server.key");
    o.client_ca_pem = fw::testing::ReadFile(*pki_ / "chain.pem");
    o.threads = 2;
    o.handshake_timeout_ms = 2000;
    o.header_timeout_ms = 2000;
    o.body_timeout_ms = 2000;
    o.idle_timeout_ms = 2000;
    return o;
  }
  void StartServer(const HttpsServerOptions& o) {
    auto v = DeviceCertVerifier::Create(fw::testing::ReadFile(*pki_ / "chain.pem"));
    ASSERT_TRUE(v.ok()) << v.status().message();
    verifier_ = std::move(v).value();
    auto s = HttpsServer::Start(
        o, [this] { return std::make_unique<EchoHandler>(calls_, *pki_ / "big.bin"); }, *verifier_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
  }
  static ClientOptions Device(int max_version = 0) {
    ClientOptions o;
    o.cert_file = *pki_ / "device.pem";
    o.key_file = *pki_ / "device.key";
    o.max_version = max_version;
    return o;
  }
  static ClientOptions Versions(int min_version, int max_version) {
    ClientOptions o;
    o.min_version = min_version;
    o.max_version = max_version;
    return o;
  }

  static TempDir* pki_;
  FakeClock clock_{SystemClock().WallMs()};  // the test certificates are made now, valid 365 days
  std::atomic<int> calls_{0};
  std::unique_ptr<DeviceCertVerifier> verifier_;
  std::unique_ptr<HttpsServer> server_;
};
TempDir* NetTest::pki_ = nullptr;

TEST_F(NetTest, NoClientCertificateReachesTheHandlerAsNone) {
  StartServer(Options());
  auto c = TlsClient::Connect(server_->port());
  ASSERT_TRUE(c->handshake_ok()) << c->error();
  const auto r = c->Request("GET", "/v1/ping");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind("peer=none serial= GET /v1/ping body=0 remote=127.0.0.1:", 0), 0u) << r.body;
}

TEST_F(NetTest, TheDevicePortRequestsACertificateNamingTheFleetCas) {
  StartServer(Options());
  auto c = TlsClient::Connect(server_->port());
  ASSERT_TRUE(c->handshake_ok()) << c->error();
  EXPECT_TRUE(c->certificate_requested());
  EXPECT_EQ(c->ca_names_received(), 2);  // issuing + root (chain.pem)
  // TLS 1.2 too.
  auto c12 = TlsClient::Connect(server_->port(), Versions(TLS1_2_VERSION, TLS1_2_VERSION));
  ASSERT_TRUE(c12->handshake_ok()) << c12->error();
  EXPECT_TRUE(c12->certificate_requested());
}

// The operator port's setting: no CertificateRequest at all, so no CA names; a client with or
// without a certificate handshakes, and the handler sees no certificate.
TEST_F(NetTest, WithoutRequestClientCertNoCertificateIsRequested) {
  HttpsServerOptions o = Options();
  o.request_client_cert = false;
  StartServer(o);
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    auto c = TlsClient::Connect(server_->port(), Versions(TLS1_2_VERSION, version));
    ASSERT_TRUE(c->handshake_ok()) << c->error();
    EXPECT_FALSE(c->certificate_requested()) << version;
    EXPECT_EQ(c->ca_names_received(), 0) << version;
    const auto r = c->Request("GET", "/healthz");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.rfind("peer=none serial= GET /healthz", 0), 0u) << r.body;
  }
  auto device = TlsClient::Connect(server_->port(), Device());  // holds a certificate it is never asked for
  ASSERT_TRUE(device->handshake_ok()) << device->error();
  EXPECT_EQ(device->Request("GET", "/x").body.substr(0, 10), "peer=none ");
}

TEST_F(NetTest, FleetCertificateIsValidAndOtherCaIsInvalid) {
  StartServer(Options());
  auto c = TlsClient::Connect(server_->port(), Device());
  ASSERT_TRUE(c->handshake_ok()) << c->error();
  EXPECT_EQ(c->Request("POST", "/v1/checkin", "{}").body.substr(0, 36), "peer=valid serial=TERM-0001 POST /v1");
  ClientOptions stranger;
  stranger.cert_file = *pki_ / "other_device.pem";
  stranger.key_file = *pki_ / "other_device.key";
  auto other = TlsClient::Connect(server_->port(), stranger);
  ASSERT_TRUE(other->handshake_ok()) << other->error();  // the handshake never fails on the certificate
  EXPECT_EQ(other->Request("GET", "/x").body.substr(0, 12), "peer=invalid");
  // The certificate time is the injected clock's: 400 days on, the device certificate has expired
  // (its CAs, valid 10 years, have not).
  clock_.SetWallMs(clock_.WallMs() + 400LL * 86400 * 1000);
  auto later = TlsClient::Connect(server_->port(), Device());
  const std::string expired = later->Request("GET", "/x").body;
  EXPECT_EQ(expired.substr(0, 12), "peer=expired") << expired;
}

TEST_F(NetTest, Tls11IsRefusedTls12And13Work) {
  StartServer(Options());
  auto old = TlsClient::Connect(server_->port(), Versions(TLS1_VERSION, TLS1_1_VERSION));
  EXPECT_FALSE(old->handshake_ok());
  auto v12 = TlsClient::Connect(server_->port(), Versions(0, TLS1_2_VERSION));
  ASSERT_TRUE(v12->handshake_ok()) << v12->error();
  EXPECT_EQ(v12->Request("GET", "/").status, 200);
  auto v13 = TlsClient::Connect(server_->port(), Versions(TLS1_3_VERSION, 0));
  ASSERT_TRUE(v13->handshake_ok()) << v13->error();
  EXPECT_EQ(v13->Request("GET", "/").status, 200);
  EXPECT_TRUE(Eventually([&] { return server_->stats().handshake_failed >= 1; }));
}

TEST_F(NetTest, HeaderTooLargeIs431) {
  auto o = Options();
  o.max_header_bytes = 1024;
  StartServer(o);
  auto c = TlsClient::Connect(server_->port());
  const auto r = c->Request("GET", "/", "", "X-Big: " + std::string(2000, 'a') + "\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_TRUE(c->ClosedByServer());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(NetTest, BodyTooLargeIs413BeforeTheBodyIsSent) {
  StartServer(Options());
  auto c = TlsClient::Connect(server_->port());
  // Only the header: the answer must come without the server waiting for the 17 bytes.
  ASSERT_TRUE(c->Send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n"));
  const auto r = c->Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(calls_.load(), 0);
  // At the cap it is accepted.
  auto ok = TlsClient::Connect(server_->port());
  EXPECT_EQ(ok->Request("POST", "/small", std::string(16, 'x')).status, 200);
  // A chunked body is cut at the same cap.
  auto chunked = TlsClient::Connect(server_->port());
  ASSERT_TRUE(chunked->Send("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" +
                            std::string(32, 'y') + "\r\n0\r\n\r\n"));
  EXPECT_EQ(chunked->Read().status, 413);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(NetTest, ExpectContinueGetsA100BeforeTheBody) {
  StartServer(Options());
  auto c = TlsClient::Connect(server_->port());
  ASSERT_TRUE(c->Send("POST /v1/journal HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(c->Read(true).status, 100);
  ASSERT_TRUE(c->Send("abcde"));
  const auto r = c->Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("body=5"), std::string::npos) << r.body;
  // Too large: 413 instead of the 100, and the body is never read.
  auto big = TlsClient::Connect(server_->port());
  ASSERT_TRUE(big->Send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(big->Read().status, 413);
}

TEST_F(NetTest, MalformedOrRepeatedHeadersAre400) {
  StartServer(Options());
  auto c = TlsClient::Connect(server_->port());
  EXPECT_EQ(c->Request("GET", "/", "", "X-A: 1\r\nx-a: 2\r\n").status, 400);
  auto d = TlsClient::Connect(server_->port());
  ASSERT_TRUE(d->Send("GET / HTTP/1.1\r\nBad Header\r\n\r\n"));
  EXPECT_EQ(d->Read().status, 400);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(NetTest, ConnectionCapAnswers503WithRetryAfter) {
  auto o = Options();
  o.max_connections = 2;
  o.retry_after_seconds = 7;
  StartServer(o);
  auto a = TlsClient::Connect(server_->port());
  auto b = TlsClient::Connect(server_->port());
  ASSERT_TRUE(a->handshake_ok() && b->handshake_ok());
  auto c = TlsClient::Connect(server_->port());
  ASSERT_TRUE(c->handshake_ok()) << c->error();
  const auto r = c->Request("GET", "/");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("retry-after"), "7");
  EXPECT_TRUE(c->ClosedByServer());
  EXPECT_EQ(server_->stats().refused_busy, 1u);
  // The admitted connections are served, and a slot freed is a slot usable again.
  EXPECT_EQ(a->Request("GET", "/").status, 200);
  b.reset();
  for (int i = 0; i < 50 && server_->stats().open > 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto d = TlsClient::Connect(server_->port());
  EXPECT_EQ(d->Request("GET", "/").status, 200);
}

TEST_F(NetTest, SessionResumptionWithTicketsAndCache) {
  StartServer(Options());
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    auto first = TlsClient::Connect(server_->port(), Device(version));
    ASSERT_EQ(first->Request("GET", "/").status, 200);  // reading processes the TLS 1.3 ticket
    SSL_SESSION* session = first->TakeSession();
    ASSERT_NE(session, nullptr);
    EXPECT_FALSE(first->reused());
    ClientOptions again = Device(version);
    again.session = session;
    auto second = TlsClient::Connect(server_->port(), again);
    ASSERT_TRUE(second->handshake_ok());
    EXPECT_TRUE(second->reused()) << "TLS version " << version;
    // The resumed connection still knows the device (the leaf certificate is in the session).
    EXPECT_EQ(second->Request("GET", "/").body.substr(0, 27), "peer=valid serial=TERM-0001");
    SSL_SESSION_free(session);
  }
  EXPECT_GE(server_->stats().resumed, 2u);
}

TEST_F(NetTest, TicketKeysRotateAndThePreviousKeyStillResumes) {
  auto o = Options();
  o.ticket_lifetime_seconds = 7200;  // local keys rotate every hour of the (fake) monotonic clock
  StartServer(o);
  auto resume = [&](SSL_SESSION* session) {
    ClientOptions opts = Device(TLS1_3_VERSION);
    opts.session = session;
    auto c = TlsClient::Connect(server_->port(), opts);
    EXPECT_EQ(c->Request("GET", "/").status, 200);
    return c;
  };
  auto first = resume(nullptr);
  SSL_SESSION* old = first->TakeSession();
  clock_.Advance(3600 * 1000);  // one rotation: the ticket's key is now the previous one
  auto second = resume(old);
  EXPECT_TRUE(second->reused());
  SSL_SESSION* renewed = second->TakeSession();  // the server renewed the ticket under the new key
  clock_.Advance(3600 * 1000);                   // two rotations: the first key is gone
  EXPECT_FALSE(resume(old)->reused());
  EXPECT_TRUE(resume(renewed)->reused());
  SSL_SESSION_free(old);
  SSL_SESSION_free(renewed);
}

TEST_F(NetTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer(Options());
  auto c = TlsClient::Connect(server_->port());
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(c->Request("POST", "/v1/checkin", "{\"n\":" + std::to_string(i) + "}").status, 200);
  EXPECT_EQ(server_->stats().accepted, 1u);
  EXPECT_EQ(server_->stats().requests, 5u);
  const auto last = c->Request("GET", "/", "", "Connection: close\r\n");
  EXPECT_EQ(last.Header("connection"), "close");
  EXPECT_TRUE(c->ClosedByServer());
}

TEST_F(NetTest, DeadlinesCloseSlowAndIdleConnections) {
  auto o = Options();
  o.header_timeout_ms = 300;
  o.body_timeout_ms = 300;
  o.idle_timeout_ms = 400;
  o.handshake_timeout_ms = 300;
  StartServer(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto slow = TlsClient::Connect(server_->port());
  ASSERT_TRUE(slow->Send("GET / HTTP/1.1\r\nHost: x\r\n"));  // and never the blank line
  EXPECT_TRUE(slow->ClosedByServer());
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(waited, std::chrono::milliseconds(1500));
  // A body that trickles is cut at the body deadline (300 ms here), not served.
  auto o2 = TlsClient::Connect(server_->port());
  ASSERT_TRUE(o2->Send("POST /v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab"));
  EXPECT_TRUE(o2->ClosedByServer());
  EXPECT_EQ(calls_.load(), 0);
  // A connection that never sends anything is held no longer than the header deadline either.
  auto mute = TlsClient::Connect(server_->port());
  EXPECT_TRUE(mute->ClosedByServer());
  // Idle keep-alive connection: closed after idle_timeout_ms.
  auto idle = TlsClient::Connect(server_->port());
  EXPECT_EQ(idle->Request("GET", "/").status, 200);
  EXPECT_TRUE(idle->ClosedByServer());
  // A TCP connection that never starts TLS: closed on the handshake deadline.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte;
  EXPECT_EQ(recv(fd, &byte, 1, 0), 0);  // EOF well before our own 2 s timeout
  close(fd);
  EXPECT_TRUE(Eventually([&] { return server_->stats().deadline_closed >= 4; }));
  const auto s = server_->stats();
  EXPECT_GE(s.deadline_closed, 4u);  // header, body, mute, handshake (idle closes are not counted)
  EXPECT_LT(s.max_deadline_overrun_ms, 200);
}

TEST_F(NetTest, FileBodiesAreStreamedExactly) {
  StartServer(Options());
  const auto bytes = fw::testing::ReadBytes(*pki_ / "big.bin");
  auto c = TlsClient::Connect(server_->port());
  const auto whole = c->Request("GET", "/file/0/" + std::to_string(bytes.size()));
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, std::string(bytes.begin(), bytes.end()));
  const auto part = c->Request("GET", "/file/100000/70000");
  EXPECT_EQ(part.body, std::string(bytes.begin() + 100000, bytes.begin() + 170000));
  const auto head = c->Request("HEAD", "/file/5/12345");
  EXPECT_EQ(head.Header("content-length"), "12345");
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(c->Request("GET", "/after-head").status, 200);  // HEAD sent no body: the stream is in sync
  // A range the file no longer holds is an error before anything of it is sent.
  auto d = TlsClient::Connect(server_->port());
  EXPECT_EQ(d->Request("GET", "/file/10/" + std::to_string(bytes.size())).status, 500);
}

TEST_F(NetTest, StopLetsARequestInFlightFinish) {
  StartServer(Options());
  auto c = TlsClient::Connect(server_->port());
  ASSERT_TRUE(c->Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(Eventually([&] { return calls_.load() == 1; }));  // the handler is running
  const auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));  // it waited
  const auto r = c->Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("GET /slow"), std::string::npos);
  EXPECT_TRUE(c->ClosedByServer());
}

TEST_F(NetTest, StopClosesTheListener) {
  StartServer(Options());
  const uint16_t port = server_->port();
  EXPECT_NE(port, 0);
  server_->Stop();
  server_->Stop();  // idempotent
  auto c = TlsClient::Connect(port);
  EXPECT_FALSE(c->handshake_ok());
}

}  // namespace
}  // namespace fw::server
