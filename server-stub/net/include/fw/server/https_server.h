// The HTTPS transport of fwserver (server-stub/net): the only place Boost.Beast/Asio and the
// TLS server code live. It parses HTTP/1.1 over TLS into fw/server/http.h Requests, fills in
// the Peer from the client certificate, calls a RequestHandler and writes the Response.
//
// Contract (docs/fleet-server.md, "Limits"):
//  - TLS 1.2 and 1.3 only (OpenSSL 3). Session resumption: a server-side session cache and
//    stateless session tickets whose keys come from a TicketKeySource (rotated; tickets made with
//    the previous key are still accepted). Client certificates are requested, never required:
//    the handshake succeeds without one or with a bad one; afterwards the presented chain (leaf
//    first, DER) goes to DeviceCertVerifier::Inspect(chain, clock.WallSeconds()) once per
//    connection and the resulting Peer reaches every request of that connection. With
//    request_client_cert = false (the operator port) the server sends no CertificateRequest at
//    all (no CA names either) and every Peer is the one Inspect gives an empty chain.
//  - Threads: `threads` I/O threads, each with its own event loop and its own RequestHandler made
//    by the HandlerFactory (called on Start's thread, before Start returns); a connection lives
//    on one thread for its whole life, so a handler is only ever used by one thread.
//  - Limits, each answered, never a silent drop:
//      request header > max_header_bytes            -> 431, close
//      Content-Length > handler->MaxBodyBytes(...)  -> 413 before the body is read, close
//      (a chunked body is cut at the same cap        -> 413, close)
//      malformed request or a repeated header        -> 400, close
//      more than max_connections open                -> the extra connection is still handshaken,
//                                                       its request header read, then 503 with
//                                                       Retry-After and close (at most
//                                                       max_connections / 4 + 16 such at once;
//                                                       beyond that the socket is closed at once)
//    Deadlines (monotonic, per connection): TLS handshake, the whole request header from its first
//    byte, the whole body, each response write, and the idle wait for the next keep-alive request.
//    A connection whose deadline passes is closed (a slow client — slowloris — cannot hold a
//    connection longer than handshake + header deadline).
//  - Responses: Content-Length always; `file` bodies are streamed in 64 KiB chunks from the file,
//    never read whole (the file must still have the promised bytes, else the connection is cut);
//    HEAD gets headers only. Keep-alive per HTTP/1.1 (Connection: close honoured).
//  - Port 0 binds an ephemeral port; port() returns the bound one.
//  - Stop(): closes the listener, lets the requests already handed to a handler finish writing
//    their responses (at most stop_grace_ms), then closes every connection (a request still being
//    read is cut; an idle keep-alive connection is closed) and joins the threads; idempotent; the
//    destructor calls it.
// Thread safety: Start/Stop from one controlling thread; port() and stats() from any thread.
// Failure model: Start returns an error (bad certificate/key file, address in use, ...) and
// leaves nothing running; after Start, connection errors only close that connection.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fw/clock.h"
#include "fw/server/device_cert.h"
#include "fw/server/http.h"
#include "fw/status.h"

namespace fw::server {

// One session-ticket key (RFC 5077 layout): name, HMAC-SHA256 key, AES-256-CBC key.
struct TicketKey {
  std::array<uint8_t, 16> name{};
  std::array<uint8_t, 32> hmac_key{};
  std::array<uint8_t, 32> aes_key{};
};
struct TicketKeySet {
  TicketKey current;                // new tickets are made with this key
  std::vector<TicketKey> previous;  // still accepted (the ticket is then renewed with `current`)
};
// Called on every ticket operation (it must be cheap and thread-safe). fwserver's device port uses
// DatabaseTicketKeys (fw/server/shared_ticket_keys.h): keys shared by every instance on its database.
using TicketKeySource = std::function<TicketKeySet()>;

// Random keys made in this process, rotated every `rotation_seconds` of clock.MonotonicMs();
// the previous key stays valid for one more period (tickets live at most 2 x rotation).
TicketKeySource LocalTicketKeys(Clock& clock, int64_t rotation_seconds);

struct HttpsServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;                // 0: ephemeral
  std::string cert_chain_pem;       // the server's certificate (+ intermediates), PEM text
  std::string key_pem;              // its private key, PEM text
  std::string client_ca_pem;        // CA names advertised in the CertificateRequest (may be empty)
  bool request_client_cert = true;  // false: no CertificateRequest (server certificate only)
  int threads = 1;
  uint64_t max_header_bytes = 8192;
  int64_t handshake_timeout_ms = 10000;
  int64_t header_timeout_ms = 10000;  // from the first byte of a request to its last header byte
  int64_t body_timeout_ms = 30000;
  int64_t write_timeout_ms = 30000;  // each response write (a file: each 64 KiB chunk)
  int64_t idle_timeout_ms = 60000;   // keep-alive: wait for the next request's first byte
  uint64_t max_connections = 10000;
  int retry_after_seconds = 5;
  int64_t stop_grace_ms = 5000;            // Stop(): how long requests in flight may finish
  int64_t ticket_lifetime_seconds = 7200;  // session lifetime (cache and tickets)
  TicketKeySource ticket_keys;             // empty: LocalTicketKeys(clock, ticket_lifetime_seconds / 2)
};

struct HttpsServerStats {
  uint64_t accepted = 0;                // TCP connections accepted
  uint64_t open = 0;                    // currently open
  uint64_t requests = 0;                // requests answered by the handler
  uint64_t refused_busy = 0;            // answered 503 (connection cap)
  uint64_t dropped_busy = 0;            // closed at once: even the 503 allowance was exhausted
  uint64_t handshake_failed = 0;        // TLS handshakes that failed (protocol version, garbage, ...)
  uint64_t deadline_closed = 0;         // connections closed because a deadline passed
  int64_t max_deadline_overrun_ms = 0;  // worst lateness of such a close after its deadline
  uint64_t resumed = 0;                 // handshakes that resumed a session
};

class HttpsServer {
 public:
  static Result<std::unique_ptr<HttpsServer>> Start(const HttpsServerOptions& options, HandlerFactory factory,
                                                    const DeviceCertVerifier& verifier, Clock& clock);
  virtual ~HttpsServer() = default;
  virtual uint16_t port() const = 0;
  virtual HttpsServerStats stats() const = 0;
  virtual void Stop() = 0;
};

}  // namespace fw::server
