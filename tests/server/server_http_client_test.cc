// fw::net::Call (fw/http_client.h) against fwserver's own HTTPS transport on loopback with the
// test PKI (tls_testing.h): any method with headers and body, a 5xx as a reply, no redirects,
// the reply cap, peer verification, plain http only when allowed, the deadline.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "fw/http_client.h"
#include "fw/server/https_server.h"
#include "testing.h"
#include "tls_testing.h"

namespace fw::server {
namespace {

using fw::testing::TempDir;

// "/status/N" answers N; "/bytes/N" N bytes; "/redirect" a 302; anything else echoes the method,
// target, the x-* headers and content-type it saw, and the body.
class EchoHandler final : public RequestHandler {
 public:
  Response Handle(const Request& r) override {
    Response resp;
    if (r.target.rfind("/status/", 0) == 0) {
      resp.status = std::stoi(r.target.substr(8));
      resp.Header("X-Reason", "asked for it");
      resp.body = "status page";
      return resp;
    }
    if (r.target.rfind("/bytes/", 0) == 0) {
      resp.body = std::string(std::stoul(r.target.substr(7)), 'b');
      return resp;
    }
    if (r.target == "/redirect") {
      resp.status = 302;
      resp.Header("Location", "/elsewhere");
      return resp;
    }
    resp.Header("X-Echo-Method", r.method);
    resp.Header("x-MiXeD", "one");
    resp.body = r.method + " " + r.target + "\n";
    for (const auto& [name, value] : r.headers) {
      if (name.rfind("x-", 0) == 0 || name == "content-type" || name == "expect") {
        resp.body += name + ": " + value + "\n";
      }
    }
    resp.body += "content-length: " + r.Header("content-length") + "\n\n" + r.body;
    return resp;
  }
  uint64_t MaxBodyBytes(const std::string&, const std::string&) const override { return 1 << 20; }
};

class HttpClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir();
    ASSERT_EQ(testing::MakeTestPki(pki_->path()), "");
  }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    HttpsServerOptions o;
    o.cert_chain_pem = fw::testing::ReadFile(*pki_ / "server.pem") + fw::testing::ReadFile(*pki_ / "issuing.pem");
    o.key_pem = fw::testing::ReadFile(*pki_ / "server.key");
    auto v = DeviceCertVerifier::Create(fw::testing::ReadFile(*pki_ / "chain.pem"));
    ASSERT_TRUE(v.ok()) << v.status().message();
    verifier_ = std::move(v).value();
    auto s = HttpsServer::Start(
        o, [] { return std::make_unique<EchoHandler>(); }, *verifier_, clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
  }

  std::string Url(const std::string& path) const {
    return "https://localhost:" + std::to_string(server_->port()) + path;
  }
  static net::HttpOptions Trusting() {
    net::HttpOptions o;
    o.ca_file = *pki_ / "root.pem";
    o.deadline_seconds = 10;
    return o;
  }

  static TempDir* pki_;
  Clock& clock_ = SystemClock();
  std::unique_ptr<DeviceCertVerifier> verifier_;
  std::unique_ptr<HttpsServer> server_;
};
TempDir* HttpClientTest::pki_ = nullptr;

TEST_F(HttpClientTest, PostSendsHeadersAndBodyAndReadsTheReply) {
  net::HttpCall call;
  call.method = "POST";
  call.url = Url("/v1/hook?x=1");
  call.headers = {{"X-Signature", "sha256=abc"}, {"Content-Type", "application/json"}};
  call.body = R"({"kind":"clone"})";
  auto r = net::Call(call, Trusting());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            "POST /v1/hook?x=1\ncontent-type: application/json\nx-signature: sha256=abc\ncontent-length: 16\n\n"
            R"({"kind":"clone"})");
  EXPECT_EQ(r->headers["x-echo-method"], "POST");
  EXPECT_EQ(r->headers["x-mixed"], "one");  // names lower-cased
  EXPECT_EQ(r->headers["content-length"], std::to_string(r->body.size()));
}

TEST_F(HttpClientTest, OtherMethodsAndAnEmptyPutBody) {
  net::HttpCall call;
  call.url = Url("/a");
  for (const std::string m : {"GET", "DELETE", "PATCH"}) {
    call.method = m;
    auto r = net::Call(call, Trusting());
    ASSERT_TRUE(r.ok()) << m << ": " << r.status().message();
    EXPECT_EQ(r->headers["x-echo-method"], m);
    EXPECT_EQ(r->body.rfind(m + " /a\n", 0), 0u) << r->body;
  }
  call.method = "PUT";  // a PUT always has a body, here an empty one: no form type invented by libcurl
  auto r = net::Call(call, Trusting());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "PUT /a\ncontent-length: 0\n\n");
}

TEST_F(HttpClientTest, AServerErrorIsAReplyAndRedirectsAreNotFollowed) {
  net::HttpCall call;
  call.url = Url("/status/500");
  auto r = net::Call(call, Trusting());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "status page");
  EXPECT_EQ(r->headers["x-reason"], "asked for it");
  call.url = Url("/redirect");
  r = net::Call(call, Trusting());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->headers["location"], "/elsewhere");
}

TEST_F(HttpClientTest, TheReplyIsCapped) {
  net::HttpCall call;
  call.url = Url("/bytes/5000");
  call.max_response_bytes = 5000;
  auto r = net::Call(call, Trusting());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body.size(), 5000u);
  call.max_response_bytes = 4999;
  r = net::Call(call, Trusting());
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted) << r.status().message();
}

TEST_F(HttpClientTest, AnUntrustedServerIsRefused) {
  net::HttpCall call;
  call.url = Url("/a");
  net::HttpOptions o = Trusting();
  o.ca_file = *pki_ / "other_root.pem";
  auto r = net::Call(call, o);
  EXPECT_EQ(r.status().code(), ErrorCode::kIoError) << r.status().message();
  EXPECT_NE(r.status().message().find(call.url), std::string::npos) << r.status().message();
}

TEST_F(HttpClientTest, PlainHttpOnlyWhenAllowedAndBadCallsRefusedBeforeSending) {
  net::HttpCall call;
  call.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/a";
  auto r = net::Call(call, Trusting());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("only https://"), std::string::npos) << r.status().message();
  call.allow_plain_http = true;  // allowed: it reaches the TLS port and fails there, as a transport error
  r = net::Call(call, Trusting());
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().code(), ErrorCode::kInvalidArgument) << r.status().message();
  call.url = "file:///etc/passwd";
  EXPECT_EQ(net::Call(call, Trusting()).status().code(), ErrorCode::kInvalidArgument);
  call.url = Url("/a");
  call.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  EXPECT_EQ(net::Call(call, Trusting()).status().code(), ErrorCode::kInvalidArgument);
  call.headers = {};
  call.method = "GET /x";
  EXPECT_EQ(net::Call(call, Trusting()).status().code(), ErrorCode::kInvalidArgument);
  call.method = "GET";
  net::HttpOptions unbounded = Trusting();
  unbounded.deadline_seconds = 0;
  EXPECT_EQ(net::Call(call, unbounded).status().code(), ErrorCode::kInvalidArgument);
}

// A loopback socket bound to an ephemeral port; port() after Listen().
class RawListener {
 public:
  RawListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 4) == 0;
    socklen_t len = sizeof a;
    ok_ = ok_ && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    port_ = ntohs(a.sin_port);
  }
  ~RawListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  uint16_t port_ = 0;
};

// Plain http (allowed) to a server that announces no length and streams until it closes: the cap
// still holds on the bytes received; a short such body is read whole.
TEST(HttpClientPlain, AnUnannouncedBodyIsCappedOnWhatArrives) {
  for (const size_t body_size : {size_t{3000}, size_t{200000}}) {
    RawListener l;
    ASSERT_TRUE(l.ok());
    std::thread server([&] {
      const int c = ::accept(l.fd(), nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      (void)::recv(c, buf, sizeof buf, 0);  // the request (small: one read)
      std::string reply = "HTTP/1.1 200 OK\r\nConnection: close\r\nX-Kind: raw\r\n\r\n" + std::string(body_size, 'r');
      size_t sent = 0;
      while (sent < reply.size()) {
        const ssize_t n = ::send(c, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      ::close(c);
    });
    net::HttpCall call;
    call.url = "http://127.0.0.1:" + std::to_string(l.port()) + "/x";
    call.allow_plain_http = true;
    call.max_response_bytes = 10000;
    net::HttpOptions o;
    o.deadline_seconds = 5;
    auto r = net::Call(call, o);
    server.join();
    if (body_size < 10000) {
      ASSERT_TRUE(r.ok()) << r.status().message();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->headers["x-kind"], "raw");
      EXPECT_EQ(r->body.size(), body_size);
    } else {
      EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted) << r.status().message();
    }
  }
}

TEST(HttpClientDeadline, AServerThatNeverAnswersTimesOutWithinTheDeadline) {
  // A listening socket nobody accepts from: the kernel completes the TCP handshake, the TLS
  // ClientHello is never answered.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  net::HttpCall call;
  call.method = "POST";
  call.body = "{}";
  call.url = "https://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/hook";
  net::HttpOptions o;
  o.deadline_seconds = 1;
  const auto start = std::chrono::steady_clock::now();
  auto r = net::Call(call, o);
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout) << r.status().message();
  EXPECT_NE(r.status().message().find("deadline 1 s"), std::string::npos) << r.status().message();
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  EXPECT_GE(took, std::chrono::milliseconds(900));
}

}  // namespace
}  // namespace fw::server
