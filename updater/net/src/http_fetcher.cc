#include "fw/http_fetcher.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace fw::net {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

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

}  // namespace

HttpFetcher::HttpFetcher(HttpOptions options) : options_(std::move(options)) { GlobalInit(); }

Status HttpFetcher::Fetch(const std::string& url, uint64_t max_bytes, const Sink& sink) {
  CurlPtr curl(curl_easy_init());
  if (!curl) return Internal("curl_easy_init failed");
  CURL* c = curl.get();
  Transfer t;
  t.sink = &sink;
  t.max_bytes = max_bytes;
  char errbuf[CURL_ERROR_SIZE] = {0};
  bool ok =
      curl_easy_setopt(c, CURLOPT_URL, url.c_str()) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L) == CURLE_OK && curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_WRITEDATA, &t) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_bytes)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.min_bytes_per_second)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.min_speed_window_seconds)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.deadline_seconds) * 1000L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_seconds) * 1000L) ==
          CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_USERAGENT, "ptfw-updater/0.1") == CURLE_OK;
  if (ok && !options_.ca_file.empty()) ok = curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str()) == CURLE_OK;
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
    return Timeout(url + ": " + detail + " (deadline " + std::to_string(options_.deadline_seconds) + " s, minimum " +
                   std::to_string(options_.min_bytes_per_second) + " B/s over " +
                   std::to_string(options_.min_speed_window_seconds) + " s)");
  }
  return IoError(url + ": " + detail);
}

}  // namespace fw::net
