// The reconnect storm's terminals: one state machine per terminal on its own strand (Asio +
// OpenSSL, callbacks like bench/server_bench_load.cc, whose client helpers it reuses).
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange without it

#include "storm_client.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

namespace storm {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Stream = ssl::stream<tcp::socket>;

SteadyClock::duration Seconds(double s) {
  return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
}

struct Shared {
  Shared(bench::Target& t, const bench::LoadOptions& l, const StormOptions& o)
      : target(t), load(l), options(o), ctx(ssl::context::tls_client) {
    bench::ConfigureClient(ctx, load, target.host);
    endpoint = tcp::endpoint(asio::ip::make_address(target.host), target.port);
  }
  bench::Target& target;
  const bench::LoadOptions& load;
  const StormOptions& options;
  asio::io_context ioc;
  ssl::context ctx;
  tcp::endpoint endpoint;
  SteadyClock::time_point start;
  std::mutex mu;
  StormResult total;
};

// Why an attempt got no HTTP answer: "PHASE: timeout|refused|reset|closed|<message>".
std::string Kind(const char* phase, const boost::system::error_code& ec, bool timed_out) {
  std::string what;
  if (timed_out) {
    what = "timeout";
  } else if (ec == asio::error::connection_refused) {
    what = "refused";
  } else if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
    what = "reset";
  } else if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    what = "closed";
  } else {
    what = ec.message();
  }
  return std::string(phase) + ": " + what;
}

class StormTerminal : public std::enable_shared_from_this<StormTerminal> {
 public:
  StormTerminal(Shared& shared, bench::Terminal& terminal, size_t index)
      : s_(shared),
        term_(terminal),
        index_(index),
        strand_(asio::make_strand(shared.ioc)),
        timer_(strand_),
        rng_(shared.options.seed * 1000003u + index) {}
  ~StormTerminal() {
    std::lock_guard lock(s_.mu);
    StormResult& t = s_.total;
    t.attempts += attempts_;
    t.max_attempts = std::max(t.max_attempts, attempts_);
    for (auto& [k, v] : r_.statuses) t.statuses[k] += v;
    for (auto& [k, v] : r_.no_answer) t.no_answer[k] += v;
    for (auto& [k, v] : r_.retry_after) t.retry_after[k] += v;
    for (auto& [k, v] : r_.sample_bodies) t.sample_bodies.emplace(k, v);
    t.busy += r_.busy;
    t.busy_without_retry_after += r_.busy_without_retry_after;
    t.timeouts += r_.timeouts;
    if (served_) {
      t.served++;
      t.served_ms.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(served_at_ - first_attempt_).count()));
      t.all_served_s = std::max(t.all_served_s, std::chrono::duration<double>(served_at_ - s_.start).count());
    }
  }

  void Begin() { After(std::uniform_real_distribution<double>(0, s_.options.arrival_seconds)(rng_)); }

 private:
  // The next attempt `seconds` from now, unless that is past the give-up time.
  void After(double seconds) {
    auto at = SteadyClock::now() + Seconds(seconds);
    if (at >= s_.start + Seconds(s_.options.give_up_seconds)) return;  // the last handler drops us
    ++gen_;
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->Attempt();
    });
  }

  double Jitter(double up_to) { return std::uniform_real_distribution<double>(0, up_to)(rng_); }

  void Attempt() {
    if (attempts_++ == 0) first_attempt_ = SteadyClock::now();
    bench::Slot& slot = s_.target.slots[index_];
    request_ = bench::BuildRequest(s_.load, s_.target, term_, slot, /*close=*/true);
    uint64_t gen = ++gen_;
    timer_.expires_after(Seconds(s_.options.attempt_timeout_seconds));
    timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
      if (ec || gen != self->gen_ || self->stream_ == nullptr) return;
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->stream_->lowest_layer().close(ignored);
    });
    stream_ = std::make_unique<Stream>(tcp::socket(strand_), s_.ctx);
    SSL* ssl = stream_->native_handle();
    SSL_use_certificate(ssl, term_.cert.get());
    SSL_use_PrivateKey(ssl, term_.key.get());
    SSL_set_ex_data(ssl, bench::SlotIndex(), &slot);
    stream_->lowest_layer().async_connect(s_.endpoint, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->NoAnswer("connect", ec);
      self->stream_->lowest_layer().set_option(tcp::no_delay(true));
      self->stream_->async_handshake(ssl::stream_base::client, [self](boost::system::error_code ec2) {
        if (ec2) return self->NoAnswer("handshake", ec2);
        asio::async_write(*self->stream_, asio::buffer(self->request_), [self](boost::system::error_code ec3, size_t) {
          if (ec3) return self->NoAnswer("write", ec3);
          self->ReadHead();
        });
      });
    });
  }

  void ReadHead() {
    asio::async_read_until(
        *stream_, buf_, "\r\n\r\n", [self = shared_from_this()](boost::system::error_code ec, size_t n) {
          if (ec) return self->NoAnswer("read", ec);
          bench::ReplyHead head;
          std::string_view data(static_cast<const char*>(self->buf_.data().data()), n);
          if (!bench::ParseHead(data, head)) return self->NoAnswer("read", asio::error::invalid_argument);
          self->buf_.consume(n);
          if (self->buf_.size() >= head.content_length) return self->Answered(head);
          asio::async_read(*self->stream_, self->buf_, asio::transfer_exactly(head.content_length - self->buf_.size()),
                           [self, head](boost::system::error_code ec2, size_t) {
                             // The head arrived: an answer even if the body is cut short.
                             (void)ec2;
                             self->Answered(head);
                           });
        });
  }

  void CloseStream() {
    ++gen_;
    timer_.cancel();
    if (stream_ != nullptr) {
      SSL_set_shutdown(stream_->native_handle(), SSL_SENT_SHUTDOWN);
      boost::system::error_code ignored;
      stream_->lowest_layer().close(ignored);
      stream_.reset();
    }
    buf_.consume(buf_.size());
    timed_out_ = false;
  }

  void Answered(const bench::ReplyHead& head) {
    no_answer_run_ = 0;
    if (head.status != 503 && head.status >= 300 && head.status != 304 && r_.sample_bodies.count(head.status) == 0) {
      size_t n = std::min<size_t>(std::min(head.content_length, buf_.size()), 512);
      r_.sample_bodies[head.status].assign(static_cast<const char*>(buf_.data().data()), n);
    }
    CloseStream();
    r_.statuses[head.status]++;
    if ((head.status >= 200 && head.status < 300) || head.status == 304) {
      served_ = true;
      served_at_ = SteadyClock::now();
      if (!head.etag.empty()) s_.target.slots[index_].etag = head.etag;
      return;
    }
    if (head.status == 503) {
      r_.busy++;
      r_.retry_after[head.retry_after.empty() ? "(absent)" : head.retry_after]++;
      const std::string& ra = head.retry_after;
      bool usable = !ra.empty() && ra.size() <= 6 && ra.find_first_not_of("0123456789") == std::string::npos;
      if (!usable) {
        r_.busy_without_retry_after++;
        return After(s_.options.no_answer_retry_seconds + Jitter(s_.options.no_answer_retry_seconds));
      }
      double after = std::stod(ra);
      return After(after + Jitter(after));
    }
    After(s_.options.no_answer_retry_seconds + Jitter(s_.options.no_answer_retry_seconds));
  }

  // Backoff after an attempt without an HTTP answer: no_answer_retry_seconds doubling per such
  // attempt in a row up to 8 x, "equal jitter" (half fixed, half random) as the agent's.
  void NoAnswer(const char* phase, const boost::system::error_code& ec) {
    if (timed_out_) r_.timeouts++;
    r_.no_answer[Kind(phase, ec, timed_out_)]++;
    CloseStream();
    const double backoff =
        s_.options.no_answer_retry_seconds * static_cast<double>(1u << std::min(no_answer_run_++, 3u));
    After(backoff / 2 + Jitter(backoff / 2));
  }

  Shared& s_;
  bench::Terminal& term_;
  size_t index_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  std::mt19937_64 rng_;
  std::unique_ptr<Stream> stream_;
  asio::streambuf buf_;
  std::string request_;
  uint64_t gen_ = 0;
  bool timed_out_ = false;
  uint32_t attempts_ = 0;
  unsigned no_answer_run_ = 0;  // attempts without an HTTP answer in a row
  bool served_ = false;
  SteadyClock::time_point first_attempt_{}, served_at_{};
  StormResult r_;  // this terminal's counts
};

}  // namespace

double StormResult::PercentileMs(double p) const {
  if (served_ms.empty()) return 0;
  std::vector<uint32_t> v = served_ms;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

uint64_t StormResult::NoAnswerTotal() const {
  uint64_t n = 0;
  for (const auto& [k, v] : no_answer) n += v;
  return n;
}

StormResult RunStorm(bench::Target& target, std::vector<std::unique_ptr<bench::Terminal>>& terminals,
                     const bench::LoadOptions& load, const StormOptions& options) {
  target.slots.resize(terminals.size());
  Shared shared(target, load, options);
  shared.start = SteadyClock::now();
  for (size_t i = 0; i < terminals.size(); ++i) {
    auto t = std::make_shared<StormTerminal>(shared, *terminals[i], i);
    asio::post(shared.ioc, [t] { t->Begin(); });
  }
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < options.threads; ++i) threads.emplace_back([&shared] { shared.ioc.run(); });
  shared.ioc.run();
  for (auto& t : threads) t.join();
  shared.total.terminals = terminals.size();
  return std::move(shared.total);
}

}  // namespace storm
