// HttpFetcher: the Fetcher over HTTP(S) with libcurl (no curl type here).
//
// Bounds, all configurable, none of them can be switched off:
// - bytes: a response announcing more than the caller's max_bytes is refused before
//   its body is read; a body that keeps coming is cut at max_bytes + 1;
// - minimum throughput: fewer than min_bytes_per_second for min_speed_window_seconds
//   aborts (Timeout);
// - overall deadline per request (Timeout), covering name resolution, connect, TLS,
//   waiting for the first byte and the body; connect timeout (never longer than the
//   deadline).
// Every bound must lie in its range below (0 would mean "no limit" to libcurl): an
// HttpFetcher with options outside them refuses every Fetch with InvalidArgument,
// before any network access. CLIs parse the values with ParseHttpOption so that a bad
// value is a usage error naming the option and its range.
// HTTPS verifies the peer against the system CA store, or `ca_file` if given.
// Only http and https URLs (also after redirects, at most 5) are followed.
//
// Thread safety: one HttpFetcher per thread (each Fetch uses its own handle).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fw/fetcher.h"

namespace fw::net {

// Ranges of the bounds (inclusive).
inline constexpr uint32_t kMaxDeadlineSeconds = 24 * 3600;             // deadline: 1 s .. 24 h
inline constexpr uint32_t kMaxMinSpeedWindowSeconds = 3600;            // throughput window: 1 s .. 1 h
inline constexpr uint64_t kMaxMinBytesPerSecond = 1024 * 1024 * 1024;  // floor: 1 B/s .. 1 GiB/s
inline constexpr uint32_t kMaxConnectTimeoutSeconds = kMaxDeadlineSeconds;

struct HttpOptions {
  std::string ca_file;  // PEM bundle; empty = system CAs
  // Mutual TLS: the client certificate (PEM, may carry its chain) and its private key (PEM).
  // Both or neither; read by libcurl at each request, so a renewed pair takes effect at the next one.
  std::string client_cert_file;
  std::string client_key_file;
  uint64_t min_bytes_per_second = 1024;
  uint32_t min_speed_window_seconds = 30;
  uint32_t deadline_seconds = 600;
  uint32_t connect_timeout_seconds = 30;

  // OK if every bound is within its range; otherwise InvalidArgument naming it.
  Status Validate() const;
};

// Sets one bound from command-line text: "--deadline" (seconds), "--min-speed" (bytes
// per second), "--min-speed-window" (seconds) or "--connect-timeout" (seconds). The
// text must be decimal digits only (no sign, no spaces) and the value within the
// option's range; checked before any narrowing, so 4294967296 is refused, never
// wrapped. InvalidArgument names the option, the text and the range.
Status ParseHttpOption(HttpOptions& options, std::string_view flag, std::string_view text);

class HttpFetcher : public Fetcher {
 public:
  explicit HttpFetcher(HttpOptions options = {});
  Status Fetch(const std::string& url, uint64_t max_bytes, const Sink& sink) override;

 private:
  HttpOptions options_;
};

}  // namespace fw::net
