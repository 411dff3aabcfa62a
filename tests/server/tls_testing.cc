// Test PKI (openssl CLI) and a blocking OpenSSL client (tls_testing.h).
#include "tls_testing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "testing.h"

namespace fw::server::testing {
namespace {

std::string Run(const std::vector<std::string>& argv) {
  const auto r = fw::testing::RunCommand(argv);
  if (r.exit_code == 0) return "";
  std::string line;
  for (const auto& a : argv) line += a + " ";
  return line + "-> exit " + std::to_string(r.exit_code) + ": " + r.err;
}

std::string NewKey(const std::string& key) {
  return Run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key});
}

std::string SelfSigned(const std::string& dir, const std::string& name, const std::string& cn) {
  if (auto e = NewKey(dir + "/" + name + ".key"); !e.empty()) return e;
  return Run({"openssl", "req", "-x509", "-new", "-key", dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem",
              "-subj", "/CN=" + cn, "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
              "keyUsage=critical,keyCertSign,cRLSign"});
}

std::string Issue(const std::string& dir, const std::string& name, const std::string& cn, const std::string& ca,
                  const std::string& extensions) {
  if (auto e = NewKey(dir + "/" + name + ".key"); !e.empty()) return e;
  const std::string csr = dir + "/" + name + ".csr";
  if (auto e = Run({"openssl", "req", "-new", "-key", dir + "/" + name + ".key", "-out", csr, "-subj", "/CN=" + cn});
      !e.empty()) {
    return e;
  }
  const std::string ext = dir + "/" + name + ".ext";
  fw::testing::WriteFile(ext, extensions);
  return Run({"openssl", "x509", "-req", "-in", csr, "-CA", dir + "/" + ca + ".pem", "-CAkey", dir + "/" + ca + ".key",
              "-set_serial", std::to_string(1000 + name.size()), "-days", name == "issuing" ? "3650" : "365",
              "-extfile", ext, "-out", dir + "/" + name + ".pem"});
}

}  // namespace

std::string MakeTestPki(const std::string& dir) {
  const std::string leaf_client =
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";
  for (const auto& e : {
           SelfSigned(dir, "root", "Test Fleet Root"),
           Issue(dir, "issuing", "Test Fleet Issuing CA", "root",
                 "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"),
           Issue(dir, "server", "localhost", "issuing",
                 "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                 "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"),
           Issue(dir, "device", "TERM-0001", "issuing", leaf_client),
           SelfSigned(dir, "other_root", "Some Other CA"),
           Issue(dir, "other_device", "TERM-0001", "other_root", leaf_client),
       }) {
    if (!e.empty()) return e;
  }
  fw::testing::WriteFile(dir + "/chain.pem",
                         fw::testing::ReadFile(dir + "/issuing.pem") + fw::testing::ReadFile(dir + "/root.pem"));
  return "";
}

TlsClient::~TlsClient() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<TlsClient> TlsClient::Connect(uint16_t port, const ClientOptions& options) {
  std::unique_ptr<TlsClient> c(new TlsClient());
  c->fd_ = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{options.timeout_ms / 1000, (options.timeout_ms % 1000) * 1000};
  setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    c->error_ = std::string("connect: ") + strerror(errno);
    return c;
  }
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  if (options.min_version != 0) {
    SSL_CTX_set_security_level(c->ctx_, 0);  // TLS 1.0/1.1 need it on the client side
    SSL_CTX_set_min_proto_version(c->ctx_, options.min_version);
  }
  if (options.max_version != 0) SSL_CTX_set_max_proto_version(c->ctx_, options.max_version);
  if (!options.cert_file.empty()) {
    SSL_CTX_use_certificate_chain_file(c->ctx_, options.cert_file.c_str());
    SSL_CTX_use_PrivateKey_file(c->ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM);
  }
  // Called only when the server sends a CertificateRequest and we hold no certificate.
  SSL_CTX_set_client_cert_cb(c->ctx_, [](SSL* ssl, X509**, EVP_PKEY**) {
    static_cast<TlsClient*>(SSL_get_app_data(ssl))->certificate_requested_ = true;
    return 0;  // no certificate
  });
  c->ssl_ = SSL_new(c->ctx_);
  SSL_set_app_data(c->ssl_, c.get());
  SSL_set_fd(c->ssl_, c->fd_);
  SSL_set_tlsext_host_name(c->ssl_, "localhost");
  if (options.session != nullptr) SSL_set_session(c->ssl_, options.session);
  if (SSL_connect(c->ssl_) == 1) {
    c->handshake_ok_ = true;
  } else {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    c->error_ = buf;
  }
  ERR_clear_error();
  return c;
}

int TlsClient::ca_names_received() const {
  const STACK_OF(X509_NAME)* names = ssl_ == nullptr ? nullptr : SSL_get_client_CA_list(ssl_);
  return names == nullptr ? 0 : sk_X509_NAME_num(names);
}

bool TlsClient::reused() const { return ssl_ != nullptr && SSL_session_reused(ssl_) == 1; }

SSL_SESSION* TlsClient::TakeSession() const { return ssl_ == nullptr ? nullptr : SSL_get1_session(ssl_); }

bool TlsClient::Send(const std::string& bytes) {
  if (!handshake_ok_) return false;
  size_t done = 0;
  while (done < bytes.size()) {
    const int n = SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done));
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

HttpReply TlsClient::Read(bool head) {
  HttpReply reply;
  auto fill = [&]() {
    char buf[16384];
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  };
  size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (!handshake_ok_ || !fill()) return reply;
  }
  const std::string head_text = pending_.substr(0, end);
  pending_.erase(0, end + 4);
  size_t line_end = head_text.find("\r\n");
  const std::string status_line = head_text.substr(0, line_end);
  if (status_line.size() < 12) return reply;
  const int status = std::stoi(status_line.substr(9, 3));
  while (line_end != std::string::npos) {
    const size_t next = head_text.find("\r\n", line_end + 2);
    const std::string line =
        head_text.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& ch : name) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      reply.headers[name] = line.substr(v);
    }
    line_end = next;
  }
  size_t length = 0;
  if (!head && status != 304 && status != 204 && reply.headers.count("content-length")) {
    length = std::stoull(reply.headers["content-length"]);
  }
  while (pending_.size() < length) {
    if (!fill()) return reply;
  }
  reply.body = pending_.substr(0, length);
  pending_.erase(0, length);
  reply.status = status;
  return reply;
}

bool TlsClient::ClosedByServer() {
  if (!handshake_ok_) return true;
  char buf[4096];
  for (;;) {
    errno = 0;
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) continue;
    const int err = SSL_get_error(ssl_, n);
    ERR_clear_error();
    if (err == SSL_ERROR_ZERO_RETURN) return true;
    if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;  // timeout
    return true;
  }
}

HttpReply TlsClient::Request(const std::string& method, const std::string& target, const std::string& body,
                             const std::string& extra_headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers;
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (!Send(req)) return {};
  return Read(method == "HEAD");
}

}  // namespace fw::server::testing
