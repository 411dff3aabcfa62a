// HttpStream: a resumable HTTP(S) GET read front to back (fw::net::ByteStream over libcurl;
// no curl type here). What the streaming installer reads images and bundles through.
//
// Contract (docs/agent.md, "Streaming"):
//   - The first request is a plain GET (or `Range: bytes=OFFSET-` when opened at an offset).
//     The reply's ETag (strong only; a weak one is not used for If-Range) and length are kept.
//   - A connection that breaks mid-body (reset, truncated body, speed floor) is resumed with
//     `Range: bytes=N-` and `If-Range: <ETag>` (or the Last-Modified date when there is no
//     ETag) from the next byte not yet returned, after a backoff (exponential, capped, with
//     full jitter, slept on the injected clock).
//   - A resume answered 200 (the server ignored the range, or If-Range did not match: the
//     content changed) restarts the transfer from byte 0 and discards the bytes before the
//     current offset (counted as a restart); a 206 whose Content-Range does not start at the
//     requested byte or names another total length is refused (kCorrupt) for that connection
//     and counts as a failed attempt; a changed total length or a changed ETag on a 206 is
//     kCorrupt for the stream (the content is not the one we were reading).
//   - 5xx and connection failures are retried; `503`/`429` honour `Retry-After` (seconds, at most
//     the overall deadline); 4xx other than 408/429 are final (404/403 → kNotFound, else kIoError
//     naming the status). Redirects are not followed (a 3xx is final, kIoError naming the location):
//     a repository or artifact URL is configured, never discovered.
//   - Bounds that cannot be switched off: per-connection HttpOptions (deadline, connect timeout,
//     speed floor), `max_attempts` connections per stream, and `overall_deadline_ms` across all
//     attempts and backoffs (kTimeout naming it).
//   - HTTPS verifies the server against options.http.ca_file; a client certificate is sent when
//     options.http.client_cert_file is set. http:// only with allow_plain_http.
// Thread safety: none; one user at a time. The clock must outlive the stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fw/byte_stream.h"
#include "fw/clock.h"
#include "fw/http_fetcher.h"
#include "fw/status.h"

namespace fw::net {

struct StreamOptions {
  HttpOptions http;
  uint32_t max_attempts = 16;              // connections per stream, the first one included (1..1000)
  uint32_t backoff_initial_ms = 500;       // first backoff (1..3600000)
  uint32_t backoff_max_ms = 30000;         // cap (≥ initial, ≤ 3600000)
  uint64_t overall_deadline_ms = 3600000;  // whole stream, retries included (1 .. 7 days)
  bool allow_plain_http = false;           // tests and loopback only
  Status Validate() const;                 // InvalidArgument naming the option and its range
};

struct StreamStats {
  uint32_t connections = 0;     // requests made
  uint32_t resumes = 0;         // 206 replies continuing at an offset > 0
  uint32_t restarts = 0;        // 200 replies to a range request (started over)
  uint64_t bytes_received = 0;  // body bytes from the network, discarded ones included
};

class HttpStream : public ByteStream {
 public:
  static Result<std::unique_ptr<HttpStream>> Open(const std::string& url, const StreamOptions& options,
                                                  Clock& clock = SystemClock(), uint64_t offset = 0);
  virtual const StreamStats& stats() const = 0;
  virtual const std::string& etag() const = 0;
};

}  // namespace fw::net
