// Transport-neutral HTTP request and response for fwserver (server-stub/).
//
// Request handlers are pure functions Request -> Response: they never see a socket, a
// TLS object or Beast; the transport (server-stub/net, the only place Boost.Beast and
// the TLS code live) parses the wire into a Request, fills in the Peer it authenticated,
// calls a handler and writes the Response. Tests call handlers directly.
//
// Contract:
//  - Request::headers holds every header once, names lower-cased; a request with a
//    repeated header the transport cannot merge is refused by the transport (400).
//  - Request::body is the whole body (the transport enforces the route's cap first).
//  - Peer describes the TLS client certificate as the transport found it, already
//    checked against the fleet CA by DeviceCertVerifier (fw/server/device_cert.h):
//    kNone (no certificate), kValid, kExpired (chain and usage fine, past notAfter), or
//    kInvalid (anything else: wrong CA, wrong key type or usage, not yet valid, ...;
//    `problem` says what). Revocation and the serial <-> key binding are decided by the
//    handlers from the store, not here.
//  - A Response either carries `body` or `file` (a byte range of a file the transport
//    streams without reading it whole); `file` wins when set.
// Thread safety: plain values. A RequestHandler instance is used by one thread at a time
// (the transport makes one per I/O thread through a HandlerFactory).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fw::server {

struct Peer {
  enum class CertState { kNone, kValid, kExpired, kInvalid };
  CertState cert = CertState::kNone;
  std::string serial;           // the certificate subject's CN: the terminal's serial
  std::string spki_sha256_hex;  // SHA-256 of the certificate's SubjectPublicKeyInfo (DER), lower-case hex
  std::string cert_serial_hex;  // the certificate's own serial number, lower-case hex
  int64_t not_after_s = 0;      // notAfter, Unix seconds
  std::string problem;          // why kInvalid / kExpired, for messages and logs
  std::string remote_address;   // "ip:port", for logs only
};

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // path and query as sent, e.g. "/v1/checkin"
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  Peer peer;

  // The header's value, or "" when absent.
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct FileBody {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // in order; Content-Length is the transport's
  std::string body;
  std::optional<FileBody> file;

  Response& Header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual Response Handle(const Request& request) = 0;
  // The largest body the route of `target` accepts; the transport refuses a larger
  // Content-Length with 413 before reading the body.
  virtual uint64_t MaxBodyBytes(const std::string& method, const std::string& target) const = 0;
};

// Makes one handler per transport thread (each with its own store connection).
using HandlerFactory = std::function<std::unique_ptr<RequestHandler>()>;

}  // namespace fw::server
