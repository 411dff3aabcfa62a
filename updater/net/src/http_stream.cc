// HttpStream over libcurl's multi interface: Read() drives the transfer until the caller's buffer
// has bytes (they are written straight into it; what does not fit waits in a small buffer, and the
// transfer pauses when that holds kMaxBuffered bytes). Rules: fw/http_stream.h.
#include "fw/http_stream.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "curl_common.h"
#include "stream_reply.h"

namespace fw::net {
namespace {

constexpr uint32_t kMaxAttempts = 1000;
constexpr uint32_t kMaxBackoffMs = 3600000;
constexpr uint64_t kMaxOverallMs = 7ull * 24 * 3600 * 1000;
constexpr size_t kMaxBuffered = size_t{1} << 20;  // beyond the caller's buffer, before pausing
constexpr long kReceiveBuffer = 512 * 1024;       // libcurl's receive buffer

Status OutOfRange(std::string_view what, uint64_t value, uint64_t min, uint64_t max) {
  return InvalidArgument(std::string(what) + " " + std::to_string(value) + " is out of range: it must be " +
                         std::to_string(min) + ".." + std::to_string(max));
}

}  // namespace

Status StreamOptions::Validate() const {
  FW_RETURN_IF_ERROR(http.Validate());
  if (max_attempts < 1 || max_attempts > kMaxAttempts) return OutOfRange("max_attempts", max_attempts, 1, kMaxAttempts);
  if (backoff_initial_ms < 1 || backoff_initial_ms > kMaxBackoffMs) {
    return OutOfRange("backoff_initial_ms", backoff_initial_ms, 1, kMaxBackoffMs);
  }
  if (backoff_max_ms < backoff_initial_ms || backoff_max_ms > kMaxBackoffMs) {
    return OutOfRange("backoff_max_ms", backoff_max_ms, backoff_initial_ms, kMaxBackoffMs);
  }
  if (overall_deadline_ms < 1 || overall_deadline_ms > kMaxOverallMs) {
    return OutOfRange("overall_deadline_ms", overall_deadline_ms, 1, kMaxOverallMs);
  }
  return Status::Ok();
}

namespace {

using internal::CurlPtr;
using internal::ReplyHead;
using internal::SlistPtr;

struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;

// What one connection came to, when it did not deliver the rest of the stream.
struct Outcome {
  Status status;
  bool final = false;  // retrying cannot help
};

// The URL without "user:password@" (for messages).
std::string StripCredentials(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t host = scheme + 3;
  const size_t end = std::min(url.find_first_of("/?#", host), url.size());
  const size_t at = url.rfind('@', end);
  if (at == std::string::npos || at < host) return url;
  return url.substr(0, host) + url.substr(at + 1);
}

bool IsFinalCurlError(CURLcode rc) {
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_FUNCTION_NOT_FOUND:
    case CURLE_OUT_OF_MEMORY:
      return true;
    default:
      return false;
  }
}

class Stream final : public HttpStream {
 public:
  Stream(std::string url, StreamOptions options, Clock& clock, uint64_t offset)
      : url_(std::move(url)),
        name_(StripCredentials(url_)),
        options_(std::move(options)),
        clock_(clock),
        offset_(offset),
        start_ms_(clock.MonotonicMs()),
        rng_(std::random_device{}()) {}
  ~Stream() override { Disconnect(); }

  Status Init() {
    multi_.reset(curl_multi_init());
    easy_.reset(curl_easy_init());
    if (!multi_ || !easy_) return Internal(name_ + ": cannot create a libcurl handle");
    return Status::Ok();
  }
  Status Connect();

  Result<size_t> Read(std::span<uint8_t> buf) override;
  Status Seek(uint64_t offset) override;
  std::optional<uint64_t> Size() const override { return size_; }
  uint64_t Offset() const override { return offset_; }
  const std::string& Name() const override { return name_; }
  const StreamStats& stats() const override { return stats_; }
  const std::string& etag() const override { return etag_; }

 private:
  static size_t OnHeader(char* data, size_t size, size_t n, void* self);
  static size_t OnBody(char* data, size_t size, size_t n, void* self);
  size_t Body(const uint8_t* data, size_t n);
  std::optional<Outcome> JudgeHead();
  Outcome JudgeOk(uint64_t first, std::optional<uint64_t> total);
  Status StartRequest();
  Status Pump(bool until_head);
  Outcome Finish();
  void Disconnect();
  Status Backoff();
  int64_t RemainingMs() const {
    return static_cast<int64_t>(options_.overall_deadline_ms) - (clock_.MonotonicMs() - start_ms_);
  }
  Status DeadlinePassed(const std::string& why) const;
  size_t Buffered() const { return buf_.size() - buf_pos_; }
  size_t TakeBuffered(std::span<uint8_t> buf);
  void Failed(Status s) {
    last_error_ = std::move(s);
    ++failures_;
  }

  const std::string url_;
  const std::string name_;
  const StreamOptions options_;
  Clock& clock_;
  uint64_t offset_;  // of the next byte Read returns
  const int64_t start_ms_;
  std::optional<uint64_t> size_;
  std::string etag_;  // strong only
  std::string last_modified_;
  bool have_validators_ = false;  // etag_/last_modified_/size_ come from the first accepted head
  StreamStats stats_;
  std::mt19937_64 rng_;
  uint32_t failures_ = 0;  // consecutive connections that ended without delivering a byte
  Status last_error_;
  std::optional<uint64_t> retry_after_ms_;

  // The current connection.
  MultiPtr multi_;
  CurlPtr easy_;
  SlistPtr headers_;
  char errbuf_[CURL_ERROR_SIZE] = {0};
  bool attached_ = false;  // easy_ is in multi_ (a transfer exists)
  bool done_ = false;      // it ended; result_ says how
  CURLcode result_ = CURLE_OK;
  bool paused_ = false;
  ReplyHead head_;
  std::optional<Outcome> refused_;  // the head was refused (the transfer was aborted for it)
  bool head_ok_ = false;
  uint64_t conn_start_ = 0;  // the byte this connection asked for
  uint64_t discard_ = 0;     // body bytes still to drop (a 200 to a range request)
  uint64_t next_ = 0;        // offset of the next body byte this connection delivers

  // Delivery: straight into the caller's buffer during Read, the rest into buf_.
  uint8_t* direct_ = nullptr;
  size_t direct_cap_ = 0;
  size_t direct_len_ = 0;
  std::vector<uint8_t> buf_;
  size_t buf_pos_ = 0;
};

size_t Stream::OnHeader(char* data, size_t size, size_t n, void* self) {
  auto* s = static_cast<Stream*>(self);
  const size_t len = size * n;
  if (!s->head_.Add(std::string_view(data, len))) return len;
  s->refused_ = s->JudgeHead();
  if (s->refused_) return 0;  // aborts the transfer (CURLE_WRITE_ERROR); refused_ is the reason
  s->head_ok_ = true;
  return len;
}

size_t Stream::OnBody(char* data, size_t size, size_t n, void* self) {
  return static_cast<Stream*>(self)->Body(reinterpret_cast<const uint8_t*>(data), size * n);
}

size_t Stream::Body(const uint8_t* data, size_t n) {
  if (!head_ok_) return 0;
  // Pausing keeps the whole piece in libcurl: decide before taking any of it.
  if ((direct_ == nullptr || direct_len_ == direct_cap_) && Buffered() >= kMaxBuffered) {
    paused_ = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  stats_.bytes_received += n;
  size_t i = static_cast<size_t>(std::min<uint64_t>(discard_, n));
  discard_ -= i;
  if (i == n) return n;
  const size_t body = n - i;
  if (size_ && next_ + body > *size_) {
    refused_ = Outcome{
        Corrupt(name_ + ": the server sent more than the " + std::to_string(*size_) + " bytes it announced"), true};
    return 0;
  }
  if (direct_ != nullptr && direct_len_ < direct_cap_) {
    const size_t c = std::min(direct_cap_ - direct_len_, n - i);
    std::memcpy(direct_ + direct_len_, data + i, c);
    direct_len_ += c;
    i += c;
  }
  if (buf_pos_ == buf_.size()) {
    buf_.clear();
    buf_pos_ = 0;
  }
  buf_.insert(buf_.end(), data + i, data + n);
  next_ += body;
  failures_ = 0;
  return n;
}

std::optional<Outcome> Stream::JudgeHead() {
  const int st = head_.status;
  const std::string http = name_ + ": HTTP " + std::to_string(st);
  if (st == 206) {
    const auto cr = internal::ParseContentRange(head_.content_range);
    if (cr && cr->first == conn_start_ && size_ && cr->total && *cr->total != *size_) {
      return Outcome{Corrupt(name_ + ": the content changed (" + std::to_string(*cr->total) + " bytes, was " +
                             std::to_string(*size_) + ")"),
                     true};
    }
    if (!cr || cr->first != conn_start_ || !cr->total || cr->last + 1 != *cr->total ||
        (head_.content_length && *head_.content_length != cr->last - cr->first + 1)) {
      return Outcome{Corrupt(http + " with Content-Range \"" + head_.content_range + "\" for a request from byte " +
                             std::to_string(conn_start_) + " to the end"),
                     false};
    }
    Outcome o = JudgeOk(cr->first, cr->total);
    if (!o.status.ok()) return o;
    if (conn_start_ > 0) ++stats_.resumes;
    return std::nullopt;
  }
  if (st == 200) {
    Outcome o = JudgeOk(0, head_.content_length);
    if (!o.status.ok()) return o;
    if (conn_start_ > 0) ++stats_.restarts;
    discard_ = conn_start_;  // the bytes before the current offset come again: drop them
    return std::nullopt;
  }
  if (st >= 300 && st < 400) {
    return Outcome{IoError(http + " redirect to " + (head_.location.empty() ? "(no Location)" : head_.location) +
                           " not followed (a repository or artifact URL is configured, never discovered)"),
                   true};
  }
  if (st == 408 || st == 429 || st >= 500) {
    if (st == 429 || st == 503) {
      const auto s = internal::ParseRetryAfterSeconds(head_.retry_after, options_.overall_deadline_ms / 1000);
      if (s) retry_after_ms_ = *s * 1000;
    }
    return Outcome{IoError(http), false};
  }
  if (st == 403 || st == 404) return Outcome{NotFound(http), true};
  if (st == 416 && size_)
    return Outcome{Corrupt(http + " for byte " + std::to_string(conn_start_) + " of " + std::to_string(*size_) +
                           ": the content shrank"),
                   true};
  return Outcome{IoError(http + (st >= 200 && st < 300 ? " (expected 200 or 206)" : "")), true};
}

// A 200 or 206 starting at `first`: is it still the content we were reading?
Outcome Stream::JudgeOk(uint64_t first, std::optional<uint64_t> total) {
  if (!have_validators_) {
    have_validators_ = true;
    if (internal::IsStrongEtag(head_.etag)) etag_ = head_.etag;
    last_modified_ = head_.last_modified;
    if (!size_) size_ = total;
  } else {
    if (!etag_.empty() && head_.etag != etag_) {
      return Outcome{Corrupt(name_ + ": the content changed (ETag " + (head_.etag.empty() ? "missing" : head_.etag) +
                             ", was " + etag_ + ")"),
                     true};
    }
    if (etag_.empty() && !last_modified_.empty() && head_.last_modified != last_modified_) {
      return Outcome{Corrupt(name_ + ": the content changed (Last-Modified " + head_.last_modified + ", was " +
                             last_modified_ + ")"),
                     true};
    }
  }
  if (size_ && total && *total != *size_) {
    return Outcome{Corrupt(name_ + ": the content changed (" + std::to_string(*total) + " bytes, was " +
                           std::to_string(*size_) + ")"),
                   true};
  }
  if (size_ && conn_start_ > *size_) {
    return Outcome{InvalidArgument(name_ + ": byte " + std::to_string(conn_start_) + " is beyond the end (" +
                                   std::to_string(*size_) + " bytes)"),
                   true};
  }
  next_ = first == 0 ? conn_start_ : first;
  return Outcome{};
}

Status Stream::StartRequest() {
  CURL* c = easy_.get();
  curl_easy_reset(c);
  errbuf_[0] = 0;
  head_ = ReplyHead();
  refused_.reset();
  head_ok_ = false;
  done_ = false;
  result_ = CURLE_OK;
  paused_ = false;
  discard_ = 0;
  conn_start_ = next_ = offset_ + Buffered();
  // Each connection gets the configured bounds, and never more time than the stream has left.
  const int64_t remaining = std::max<int64_t>(RemainingMs(), 1);
  const long per = static_cast<long>(std::min<int64_t>(int64_t{options_.http.deadline_seconds} * 1000, remaining));
  const long connect = static_cast<long>(std::min<int64_t>(int64_t{options_.http.connect_timeout_seconds} * 1000, per));
  headers_.reset();
  if (conn_start_ > 0) {
    headers_.reset(curl_slist_append(nullptr, ("Range: bytes=" + std::to_string(conn_start_) + "-").c_str()));
    const std::string& validator = !etag_.empty() ? etag_ : last_modified_;
    if (headers_ && !validator.empty()) {
      curl_slist* l = curl_slist_append(headers_.get(), ("If-Range: " + validator).c_str());
      if (l == nullptr) headers_.reset();
    }
    if (!headers_) return Internal(name_ + ": out of memory");
  }
  const bool ok =
      internal::ApplyBounds(c, options_.http, errbuf_) && curl_easy_setopt(c, CURLOPT_URL, url_.c_str()) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, options_.allow_plain_http ? "http,https" : "https") == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, per) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_BUFFERSIZE, kReceiveBuffer) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_HEADERDATA, this) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_WRITEDATA, this) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_.get()) == CURLE_OK;
  if (!ok) return Internal(name_ + ": cannot configure libcurl");
  if (curl_multi_add_handle(multi_.get(), c) != CURLM_OK) return Internal(name_ + ": curl_multi_add_handle failed");
  attached_ = true;
  ++stats_.connections;
  return Status::Ok();
}

// Drives the transfer until the head was judged (until_head), or bytes arrived, or it ended.
Status Stream::Pump(bool until_head) {
  for (;;) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi_.get(), &running);
    if (mc != CURLM_OK) return Internal(name_ + ": curl_multi_perform: " + curl_multi_strerror(mc));
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_.get(), &left)) {
      if (m->msg == CURLMSG_DONE) {
        done_ = true;
        result_ = m->data.result;
      }
    }
    if (done_ || (until_head ? head_ok_ : (direct_len_ > 0 || Buffered() > 0))) return Status::Ok();
    mc = curl_multi_poll(multi_.get(), nullptr, 0, 1000, nullptr);
    if (mc != CURLM_OK) return Internal(name_ + ": curl_multi_poll: " + curl_multi_strerror(mc));
  }
}

// The transfer ended: OK when it delivered every byte up to the end.
Outcome Stream::Finish() {
  Disconnect();
  if (refused_) return *refused_;
  const std::string at = " (at byte " + std::to_string(next_) + ")";
  if (result_ == CURLE_OK) {
    if (!head_ok_) return Outcome{IoError(name_ + ": the reply had no complete head"), false};
    if (discard_ > 0 || (size_ && next_ < *size_)) {
      return Outcome{IoError(name_ + ": the connection ended early" + at), false};
    }
    if (!size_) size_ = next_;  // a body without a length ended cleanly: that is the length
    return Outcome{};
  }
  const std::string detail = errbuf_[0] != 0 ? std::string(errbuf_) : curl_easy_strerror(result_);
  if (result_ == CURLE_OPERATION_TIMEDOUT) {
    return Outcome{Timeout(name_ + ": " + detail + at + " (" + internal::TimeoutDetail(options_.http) + ")"), false};
  }
  if (result_ == CURLE_URL_MALFORMAT) return Outcome{InvalidArgument(name_ + ": " + detail), true};
  return Outcome{IoError(name_ + ": " + detail + (head_ok_ ? at : "")), IsFinalCurlError(result_)};
}

void Stream::Disconnect() {
  if (attached_) curl_multi_remove_handle(multi_.get(), easy_.get());
  attached_ = false;
  paused_ = false;
}

Status Stream::DeadlinePassed(const std::string& why) const {
  return Timeout(name_ + ": overall deadline " + std::to_string(options_.overall_deadline_ms) + " ms " + why +
                 (last_error_.ok() ? "" : "; last error: " + last_error_.message()));
}

// Before a reconnection: exponential backoff with full jitter (and at least Retry-After).
Status Stream::Backoff() {
  uint64_t delay = 0;
  if (failures_ > 0) {
    const uint32_t shift = std::min<uint32_t>(failures_ - 1, 32);
    const uint64_t cap = std::min<uint64_t>(options_.backoff_max_ms, uint64_t{options_.backoff_initial_ms} << shift);
    delay = std::uniform_int_distribution<uint64_t>(0, cap)(rng_);
  }
  if (retry_after_ms_) delay = std::max(delay, *retry_after_ms_);
  retry_after_ms_.reset();
  if (static_cast<int64_t>(delay) >= RemainingMs()) {
    return DeadlinePassed("would pass during a " + std::to_string(delay) + " ms wait before reconnecting");
  }
  clock_.SleepMs(static_cast<int64_t>(delay));
  return Status::Ok();
}

// A connection whose head was accepted, retrying (bounded) when that fails.
Status Stream::Connect() {
  for (;;) {
    if (stats_.connections >= options_.max_attempts) {
      const Status& e = last_error_.ok() ? IoError(name_ + ": no connection left") : last_error_;
      return Status(e.code(), e.message() + " (gave up after " + std::to_string(stats_.connections) +
                                  " connections: max_attempts)");
    }
    if (stats_.connections > 0) FW_RETURN_IF_ERROR(Backoff());
    if (RemainingMs() <= 0) return DeadlinePassed("exceeded");
    FW_RETURN_IF_ERROR(StartRequest());
    FW_RETURN_IF_ERROR(Pump(/*until_head=*/true));
    if (head_ok_) return Status::Ok();
    Outcome o = Finish();
    if (o.final) return o.status;
    Failed(o.status.ok() ? IoError(name_ + ": no reply") : o.status);
  }
}

size_t Stream::TakeBuffered(std::span<uint8_t> buf) {
  const size_t n = std::min(buf.size(), Buffered());
  if (n == 0) return 0;
  std::memcpy(buf.data(), buf_.data() + buf_pos_, n);
  buf_pos_ += n;
  offset_ += n;
  if (Buffered() == 0 && paused_) {
    paused_ = false;
    curl_easy_pause(easy_.get(), CURLPAUSE_CONT);  // may hand over what libcurl held (into buf_)
  }
  return n;
}

Result<size_t> Stream::Read(std::span<uint8_t> buf) {
  if (buf.empty()) return size_t{0};
  for (;;) {
    if (const size_t n = TakeBuffered(buf); n > 0) return n;
    if (size_ && offset_ >= *size_) return size_t{0};
    if (!attached_) {
      FW_RETURN_IF_ERROR(Connect());
      continue;
    }
    if (!done_) {
      direct_ = buf.data();
      direct_cap_ = buf.size();
      direct_len_ = 0;
      const Status s = Pump(/*until_head=*/false);
      direct_ = nullptr;
      if (direct_len_ > 0) {
        offset_ += direct_len_;
        return direct_len_;
      }
      FW_RETURN_IF_ERROR(s);
      if (!done_) continue;
    }
    if (Buffered() > 0) continue;
    const Outcome o = Finish();
    if (o.final) return o.status;
    if (!o.status.ok()) Failed(o.status);
  }
}

Status Stream::Seek(uint64_t offset) {
  if (size_ && offset > *size_) {
    return InvalidArgument(name_ + ": cannot seek to byte " + std::to_string(offset) + " beyond the end (" +
                           std::to_string(*size_) + " bytes)");
  }
  if (offset >= offset_ && offset - offset_ <= Buffered()) {
    buf_pos_ += static_cast<size_t>(offset - offset_);
    offset_ = offset;
    return Status::Ok();
  }
  Disconnect();
  buf_.clear();
  buf_pos_ = 0;
  offset_ = offset;
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<HttpStream>> HttpStream::Open(const std::string& url, const StreamOptions& options, Clock& clock,
                                                     uint64_t offset) {
  const std::string name = StripCredentials(url);
  FW_RETURN_IF_ERROR_CTX(options.Validate(), name + ": stream options");
  const bool https = url.rfind("https://", 0) == 0;
  const bool http = url.rfind("http://", 0) == 0;
  if (!https && !(http && options.allow_plain_http)) {
    return InvalidArgument(name + ": only https:// URLs can be streamed" +
                           (http ? std::string(" (plain http is for tests on loopback)") : std::string()));
  }
  internal::GlobalInit();
  auto s = std::make_unique<Stream>(url, options, clock, offset);
  FW_RETURN_IF_ERROR(s->Init());
  FW_RETURN_IF_ERROR(s->Connect());
  return std::unique_ptr<HttpStream>(std::move(s));
}

}  // namespace fw::net
