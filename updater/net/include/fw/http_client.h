// HttpCall: one HTTP(S) request with any method, headers and body, over libcurl (fw_http; no curl
// type here). Used by fwserver's webhook deliveries and the fleet CLI (fwfleet); the TUF client keeps
// using the streaming Fetcher (fw/fetcher.h).
//
// Contract:
//  - Same bounds as HttpFetcher (fw/http_fetcher.h: deadline, connect timeout, minimum speed, all
//    validated by HttpOptions::Validate(); none can be switched off). The response body is capped at
//    call.max_response_bytes (announced larger or received larger -> ResourceExhausted).
//  - HTTPS verifies the peer against options.ca_file (or the system CAs); http:// is accepted only
//    when call.allow_plain_http (tests, loopback). Redirects are NOT followed (a webhook or an API that
//    redirects is answered as the 3xx it is).
//  - Any HTTP status is a reply, not an error: the caller decides what 4xx/5xx mean. Errors are
//    transport failures only: kIoError (connect, TLS, reset), kTimeout (deadline, speed floor),
//    kInvalidArgument (bad URL/options), kResourceExhausted (body cap).
//  - Response header names are lower-cased; a repeated header keeps its last value (interim 1xx
//    responses' headers are dropped).
//  - The request carries exactly the caller's headers plus Host, User-Agent and Content-Length:
//    libcurl's own "Expect: 100-continue" and form Content-Type are suppressed. The method must be
//    an HTTP token and header names tokens, values without CR/LF/NUL (else kInvalidArgument before
//    any network access).
// Thread safety: a free function; each call uses its own handle.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fw/http_fetcher.h"
#include "fw/status.h"

namespace fw::net {

struct HttpCall {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent in order
  std::string body;                                          // sent when non-empty (or method is POST/PUT)
  uint64_t max_response_bytes = 4 << 20;
  bool allow_plain_http = false;
};

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

Result<HttpReply> Call(const HttpCall& call, const HttpOptions& options);

}  // namespace fw::net
