// Fetcher: how the TUF client and other downloaders get bytes from a URL.
//
// An interface so tests inject responses (and hostile ones) without a network;
// HttpFetcher (fw/http_fetcher.h) is the real libcurl implementation.
//
// Contract for implementations:
// - the body is passed to `sink` in pieces as it arrives; a non-OK status from
//   the sink aborts the transfer and is returned;
// - more than `max_bytes` of body is refused with ResourceExhausted as soon as it
//   is known (announced length or bytes received), never after buffering it all;
// - HTTP 403/404 is NotFound (the TUF client relies on it to end the root chain),
//   other failures IoError, deadlines and throughput floors Timeout.
//
// Thread safety: an instance is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::net {

using Sink = std::function<Status(ByteSpan)>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual Status Fetch(const std::string& url, uint64_t max_bytes, const Sink& sink) = 0;
};

// Fetches a whole (bounded) body into a string.
inline Result<std::string> FetchToString(Fetcher& fetcher, const std::string& url, uint64_t max_bytes) {
  std::string body;
  Status s = fetcher.Fetch(url, max_bytes, [&](ByteSpan piece) {
    if (body.size() + piece.size() > max_bytes) {
      return ResourceExhausted(url + ": more than " + std::to_string(max_bytes) + " bytes");
    }
    body.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return body;
}

}  // namespace fw::net
