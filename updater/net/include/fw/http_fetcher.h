// HttpFetcher: the Fetcher over HTTP(S) with libcurl (no curl type here).
//
// Bounds, all configurable:
// - bytes: a response announcing more than the caller's max_bytes is refused before
//   its body is read; a body that keeps coming is cut at max_bytes + 1;
// - minimum throughput: fewer than min_bytes_per_second for min_speed_window_seconds
//   aborts (Timeout);
// - overall deadline per request (Timeout); connect timeout.
// HTTPS verifies the peer against the system CA store, or `ca_file` if given.
// Only http and https URLs (also after redirects, at most 5) are followed.
//
// Thread safety: one HttpFetcher per thread (each Fetch uses its own handle).
#pragma once

#include <cstdint>
#include <string>

#include "fw/fetcher.h"

namespace fw::net {

struct HttpOptions {
  std::string ca_file;  // PEM bundle; empty = system CAs
  uint64_t min_bytes_per_second = 1024;
  uint32_t min_speed_window_seconds = 30;
  uint32_t deadline_seconds = 600;
  uint32_t connect_timeout_seconds = 30;
};

class HttpFetcher : public Fetcher {
 public:
  explicit HttpFetcher(HttpOptions options = {});
  Status Fetch(const std::string& url, uint64_t max_bytes, const Sink& sink) override;

 private:
  HttpOptions options_;
};

}  // namespace fw::net
