#include "fw/http_fetcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>

#include "curl_common.h"

namespace fw::net {
namespace internal {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

namespace {
// The bound in milliseconds as libcurl's long; the caller has validated the range.
long Millis(uint32_t seconds) { return static_cast<long>(static_cast<int64_t>(seconds) * 1000); }
}  // namespace

bool ApplyBounds(CURL* c, const HttpOptions& options, char* errbuf) {
  const long deadline_ms = Millis(options.deadline_seconds);
  const long connect_ms = std::min(Millis(options.connect_timeout_seconds), deadline_ms);
  bool ok =
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options.min_bytes_per_second)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.min_speed_window_seconds)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, deadline_ms) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_USERAGENT, "ptfw-updater/0.1") == CURLE_OK;
  if (ok && !options.ca_file.empty()) ok = curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str()) == CURLE_OK;
  if (ok && !options.client_cert_file.empty()) {
    ok = curl_easy_setopt(c, CURLOPT_SSLCERT, options.client_cert_file.c_str()) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_SSLKEY, options.client_key_file.c_str()) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK;
  }
  return ok;
}

std::string TimeoutDetail(const HttpOptions& options) {
  return "deadline " + std::to_string(options.deadline_seconds) + " s, minimum " +
         std::to_string(options.min_bytes_per_second) + " B/s over " +
         std::to_string(options.min_speed_window_seconds) + " s";
}

}  // namespace internal

namespace {

using internal::CurlPtr;
using internal::GlobalInit;

struct Transfer {
  const Sink* sink = nullptr;
  uint64_t max_bytes = 0;
  uint64_t received = 0;
  bool over_cap = false;
  Status sink_status;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * nmemb;
  if (t->received + n > t->max_bytes) {
    t->over_cap = true;
    return 0;  // aborts with CURLE_WRITE_ERROR
  }
  t->received += n;
  Status s = (*t->sink)(ByteSpan(reinterpret_cast<const uint8_t*>(data), n));
  if (!s.ok()) {
    t->sink_status = std::move(s);
    return 0;
  }
  return n;
}

Status OutOfRange(std::string_view what, uint64_t value, uint64_t min, uint64_t max, std::string_view unit) {
  return InvalidArgument(std::string(what) + " " + std::to_string(value) + " is out of range: it must be " +
                         std::to_string(min) + ".." + std::to_string(max) + " " + std::string(unit) +
                         " (0 would disable the bound)");
}

}  // namespace

Status HttpOptions::Validate() const {
  if (deadline_seconds < 1 || deadline_seconds > kMaxDeadlineSeconds) {
    return OutOfRange("deadline", deadline_seconds, 1, kMaxDeadlineSeconds, "seconds");
  }
  if (connect_timeout_seconds < 1 || connect_timeout_seconds > kMaxConnectTimeoutSeconds) {
    return OutOfRange("connect timeout", connect_timeout_seconds, 1, kMaxConnectTimeoutSeconds, "seconds");
  }
  if (min_bytes_per_second < 1 || min_bytes_per_second > kMaxMinBytesPerSecond) {
    return OutOfRange("minimum speed", min_bytes_per_second, 1, kMaxMinBytesPerSecond, "bytes per second");
  }
  if (min_speed_window_seconds < 1 || min_speed_window_seconds > kMaxMinSpeedWindowSeconds) {
    return OutOfRange("minimum speed window", min_speed_window_seconds, 1, kMaxMinSpeedWindowSeconds, "seconds");
  }
  if (client_cert_file.empty() != client_key_file.empty()) {
    return InvalidArgument("a client certificate needs its key and a key its certificate (both or neither)");
  }
  return Status::Ok();
}

Status ParseHttpOption(HttpOptions& options, std::string_view flag, std::string_view text) {
  uint64_t max = 0;
  if (flag == "--deadline") {
    max = kMaxDeadlineSeconds;
  } else if (flag == "--connect-timeout") {
    max = kMaxConnectTimeoutSeconds;
  } else if (flag == "--min-speed") {
    max = kMaxMinBytesPerSecond;
  } else if (flag == "--min-speed-window") {
    max = kMaxMinSpeedWindowSeconds;
  } else {
    return Internal("ParseHttpOption: unknown option " + std::string(flag));
  }
  const std::string range = " (1.." + std::to_string(max) + ")";
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return InvalidArgument(std::string(flag) + " needs a whole number" + range + ", got \"" + std::string(text) + "\"");
  }
  // Accumulate with a cap: any value above `max` is refused, however many digits it has.
  uint64_t value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > max) break;
  }
  if (value < 1 || value > max) {
    return InvalidArgument(std::string(flag) + " " + std::string(text) + " is out of range" + range +
                           (value == 0 ? ": 0 would switch the bound off" : ""));
  }
  if (flag == "--deadline") options.deadline_seconds = static_cast<uint32_t>(value);
  if (flag == "--connect-timeout") options.connect_timeout_seconds = static_cast<uint32_t>(value);
  if (flag == "--min-speed") options.min_bytes_per_second = value;
  if (flag == "--min-speed-window") options.min_speed_window_seconds = static_cast<uint32_t>(value);
  return Status::Ok();
}

HttpFetcher::HttpFetcher(HttpOptions options) : options_(std::move(options)) { GlobalInit(); }

Status HttpFetcher::Fetch(const std::string& url, uint64_t max_bytes, const Sink& sink) {
  // libcurl reads 0 as "no limit": a bound outside its range never reaches it.
  FW_RETURN_IF_ERROR_CTX(options_.Validate(), "HTTP options");
  // A signed length beyond curl_off_t cannot be announced by a server anyway; the body
  // callback enforces max_bytes in every case (also 0, which libcurl reads as "no cap").
  const auto announced_cap = static_cast<curl_off_t>(std::min<uint64_t>(max_bytes, INT64_MAX));
  CurlPtr curl(curl_easy_init());
  if (!curl) return Internal("curl_easy_init failed");
  CURL* c = curl.get();
  Transfer t;
  t.sink = &sink;
  t.max_bytes = max_bytes;
  char errbuf[CURL_ERROR_SIZE] = {0};
  bool ok = curl_easy_setopt(c, CURLOPT_URL, url.c_str()) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &t) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, announced_cap) == CURLE_OK &&
            internal::ApplyBounds(c, options_, errbuf);
  if (!ok) return Internal(url + ": cannot configure libcurl");

  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) return Status::Ok();
  const std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (!t.sink_status.ok()) return t.sink_status;
  if (t.over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
    return ResourceExhausted(url + ": more than " + std::to_string(max_bytes) + " bytes");
  }
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code == 403 || code == 404) return NotFound(url + ": HTTP " + std::to_string(code));
    return IoError(url + ": HTTP " + std::to_string(code));
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Timeout(url + ": " + detail + " (" + internal::TimeoutDetail(options_) + ")");
  }
  return IoError(url + ": " + detail);
}

}  // namespace fw::net
