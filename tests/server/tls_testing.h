// Test support for the HTTPS transport tests (tests/server): a throwaway PKI made with the
// `openssl` command line, and a blocking TLS client written directly against OpenSSL, so the
// transport is exercised by code that shares nothing with it.
// Thread safety: a TlsClient is used by one thread; MakeTestPki is called once per suite.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace fw::server::testing {

// Files in `dir`: root.pem/.key (fleet root), issuing.pem/.key, chain.pem (issuing + root),
// server.pem/.key (CN=localhost, serverAuth, by the issuing CA), device.pem/.key (CN=TERM-0001,
// clientAuth, by the issuing CA), other_root.pem/.key and other_device.pem/.key (CN=TERM-0001
// by a CA the fleet does not know). Returns "" or the failing command and its output.
std::string MakeTestPki(const std::string& dir);

struct HttpReply {
  int status = 0;                              // 0: no (complete) response
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct ClientOptions {
  std::string cert_file;  // PEM, empty: no client certificate
  std::string key_file;
  SSL_SESSION* session = nullptr;  // resume this session (not owned)
  int min_version = 0;             // e.g. TLS1_1_VERSION (0: library default)
  int max_version = 0;
  int timeout_ms = 5000;  // every socket read/write
};

class TlsClient {
 public:
  ~TlsClient();
  // Connects to 127.0.0.1:port and runs the handshake; handshake_ok() says whether it worked.
  static std::unique_ptr<TlsClient> Connect(uint16_t port, const ClientOptions& options = {});
  bool handshake_ok() const { return handshake_ok_; }
  const std::string& error() const { return error_; }
  bool reused() const;
  // Whether the server sent a CertificateRequest (seen only when connecting without a certificate),
  // and how many CA names it carried.
  bool certificate_requested() const { return certificate_requested_; }
  int ca_names_received() const;
  // The session for a later resumption (owned by the caller: SSL_SESSION_free).
  SSL_SESSION* TakeSession() const;

  bool Send(const std::string& bytes);
  // Reads one response (status line, headers, Content-Length body; `head` = no body).
  HttpReply Read(bool head = false);
  // True when the server closed the connection (a read returns EOF or an error) within timeout_ms.
  bool ClosedByServer();
  // Request helper: "METHOD target" with Host, optional body and extra header lines ("A: b\r\n").
  HttpReply Request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& extra_headers = "");

 private:
  TlsClient() = default;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
  bool certificate_requested_ = false;
  std::string error_;
  std::string pending_;  // bytes read past the last response
};

}  // namespace fw::server::testing
