// The issuer process's protocol and service loop (`fwserver issuer`; docs/fleet-ca.md, "Issuer
// protocol"). No OpenSSL type appears here.
//
// Wire: on a Unix stream socket, one request frame and one response frame per connection. A frame
// is a 4-byte big-endian payload length N (1 <= N <= kMaxIssuerFrameBytes) followed by N bytes of
// UTF-8 JSON:
//   request  {"v":1,"op":"issue_device","csr":PEM,"serial":S,"not_before":SECONDS,"not_after":SECONDS}
//            (exactly these keys; csr at most kMaxCsrBytes, serial at most 64 bytes, times 0..253402300799)
//   response {"v":1,"ok":true,"cert":PEM,"chain":PEM,"cert_serial":HEX,"spki_sha256":HEX,"not_after":SECONDS}
//            {"v":1,"ok":false,"code":ERROR_CODE_NAME,"error":MESSAGE}   (ERROR_CODE_NAME: fw::ErrorCodeName)
//
// Contract:
//  - ParseIssuerRequest() parses one whole request frame (length prefix included) from outside:
//    anything malformed is kCorrupt, never a crash (fuzzed: issuer_frame_fuzz).
//  - ServeIssuer() binds `socket_path` (mode 0600; refuses to start if another process answers there,
//    replaces a stale socket, never a non-socket file), then serves connections one at a time until
//    `stop` becomes true (checked at least every 200 ms), and removes the socket. Each connection has
//    `io_timeout_ms` to deliver its request; a malformed or oversize frame gets an error response (when
//    the socket still takes it) and the connection is closed; the service keeps running. Policy is
//    the CertIssuer's (MakeSignerIssuer's IssuerPolicy).
// Thread safety: ServeIssuer runs on the calling thread; the codec functions are stateless.
// Failure model: ServeIssuer returns only on stop (OK) or when it cannot bind (kFailedPrecondition,
// kIoError, kInvalidArgument for a path longer than a socket address holds).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "fw/crypto.h"
#include "fw/server/cert_issuer.h"
#include "fw/status.h"

namespace fw::server {

inline constexpr uint32_t kMaxIssuerFrameBytes = 64 * 1024;

struct IssuerRequest {
  std::string csr_pem;
  std::string serial;
  int64_t not_before_s = 0;
  int64_t not_after_s = 0;
};

Bytes EncodeIssuerRequest(const IssuerRequest& request);
Result<IssuerRequest> ParseIssuerRequest(ByteSpan frame);
Bytes EncodeIssuerResponse(const Result<IssuedCert>& result);
Result<IssuedCert> ParseIssuerResponse(ByteSpan frame);

struct IssuerServiceOptions {
  std::string socket_path;
  int io_timeout_ms = 2000;
  // Called with one line per request (issued / refused), for the operator's log. May be empty.
  std::function<void(const std::string&)> log;
  // Called once the socket listens (the CLI prints "listening on ..."). May be empty.
  std::function<void()> ready;
};

Status ServeIssuer(CertIssuer& issuer, const IssuerServiceOptions& options, const std::atomic<bool>& stop);

}  // namespace fw::server
