// The load generator of server_bench: `concurrency` simulated terminals in flight, each
// request on a strand of a shared io_context run by `threads` threads (Boost.Asio + OpenSSL;
// callbacks, not coroutines, so clang builds of the tree compile it too).
//   kFirst      every terminal once, new connection, no session: first contact
//   kResumeOnce every terminal once, resuming the session (ticket) first contact gave it
//   kResume     one check-in per new connection, resuming the terminal's own session
//   kFull       one check-in per new connection, full handshake
//   kKeepAlive  one connection per worker (one terminal each), check-ins back to back
// Each terminal sends If-None-Match with the ETag it last got from that server, as an
// agent polling for changes does. A request counts as an error when the connection, the
// handshake or the read fails, it times out, or the status is not 2xx/304.
#include <utility>  // before Asio: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include "server_bench.h"

namespace bench {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Stream = ssl::stream<tcp::socket>;

}  // namespace

int SlotIndex() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// TLS 1.3 tickets arrive after the handshake: keep the newest in the terminal's slot.
static int OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<Slot*>(SSL_get_ex_data(ssl, SlotIndex()));
  if (slot == nullptr) return 0;
  slot->session.reset(session);
  return 1;  // we own it now
}

void ConfigureClient(ssl::context& ctx, const LoadOptions& options, const std::string& host) {
  SSL_CTX* c = ctx.native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_load_verify_locations(c, options.chain_pem_file.c_str(), nullptr);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(c), host.c_str());
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c, OnNewSession);
}

std::string BuildRequest(const LoadOptions& options, const Target& target, const Terminal& t, const Slot& slot,
                         bool close) {
  std::string body = options.body_template;
  for (size_t p; (p = body.find("@SERIAL@")) != std::string::npos;) body.replace(p, 8, t.serial);
  std::string r = "POST " + options.path + " HTTP/1.1\r\nHost: " + target.host + ":" + std::to_string(target.port) +
                  "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n";
  if (!slot.etag.empty()) r += "If-None-Match: " + slot.etag + "\r\n";
  if (close) r += "Connection: close\r\n";
  return r + "\r\n" + body;
}

bool ParseHead(std::string_view head, ReplyHead& out) {
  if (head.size() < 12 || head.substr(0, 7) != "HTTP/1.") return false;
  out.status = std::atoi(std::string(head.substr(9, 3)).c_str());
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    size_t end = head.find("\r\n", pos + 2);
    std::string line(head.substr(pos + 2, end - pos - 2));
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      size_t from = line.find_first_not_of(' ', colon + 1);
      std::string value = from == std::string::npos ? "" : line.substr(from);
      if (name == "content-length") out.content_length = std::strtoull(value.c_str(), nullptr, 10);
      if (name == "etag") out.etag = value;
      if (name == "retry-after") out.retry_after = value;
    }
    pos = end;
  }
  return out.status > 0;
}

namespace {

struct Run {
  Run(Target& t, std::vector<std::unique_ptr<Terminal>>& terms, const LoadOptions& o)
      : target(t), terminals(terms), options(o), ctx(ssl::context::tls_client), used(terms.size(), 0) {
    ConfigureClient(ctx, options, target.host);
    endpoints.emplace_back(asio::ip::make_address(target.host), target.port);
    for (uint16_t port : target.more_ports) endpoints.emplace_back(asio::ip::make_address(target.host), port);
  }
  Target& target;
  std::vector<std::unique_ptr<Terminal>>& terminals;
  const LoadOptions& options;
  asio::io_context ioc;
  ssl::context ctx;
  std::vector<tcp::endpoint> endpoints;  // one per instance of the target
  std::atomic<size_t> next{0};
  SteadyClock::time_point deadline;
  std::vector<char> used;  // a terminal completed a check-in (written by its current owner only)
  std::mutex mu;
  LoadResult total;
};

// The instance a new connection goes to: uniformly random, as a balancer without stickiness spreads
// them (not in turn: a terminal's connections would then keep landing on the same instance whenever
// the terminals are visited in the same order in each pass).
size_t PickInstance(size_t instances) {
  thread_local std::minstd_rand rng(std::random_device{}());
  return std::uniform_int_distribution<size_t>(0, instances - 1)(rng);
}

class Worker : public std::enable_shared_from_this<Worker> {
 public:
  explicit Worker(Run& run) : run_(run), strand_(asio::make_strand(run.ioc)), timer_(strand_) {}
  ~Worker() {
    std::lock_guard lock(run_.mu);
    run_.total.Merge(std::move(result_));
  }
  void Start() {
    asio::post(strand_, [self = shared_from_this()] { self->Next(); });
  }

 private:
  bool keep_alive() const { return run_.options.mode == Mode::kKeepAlive; }

  // Picks a terminal not in use by another worker; false when the run is over.
  bool Pick() {
    size_t n = run_.terminals.size();
    if (OnePass(run_.options.mode)) {
      index_ = run_.next++;
      return index_ < n;
    }
    if (SteadyClock::now() >= run_.deadline) return false;
    if (keep_alive() && term_ != nullptr) return true;
    for (size_t tries = 0; tries < n; ++tries) {
      index_ = run_.next++ % n;
      if (!run_.terminals[index_]->busy.exchange(true)) {
        term_ = run_.terminals[index_].get();
        return true;
      }
    }
    return false;
  }

  void Release() {
    if (term_ != nullptr && !keep_alive()) {
      term_->busy.store(false);
      term_ = nullptr;
    }
  }

  void Next() {
    if (!Pick()) {
      if (keep_alive() && term_ != nullptr) term_->busy.store(false);
      return;  // the last handler drops the worker
    }
    if (OnePass(run_.options.mode)) term_ = run_.terminals[index_].get();
    Slot& slot = run_.target.slots[index_];
    request_ = BuildRequest(run_.options, run_.target, *term_, slot, !keep_alive());
    start_ = SteadyClock::now();
    Arm();
    if (stream_ != nullptr) return Write();
    stream_ = std::make_unique<Stream>(tcp::socket(strand_), run_.ctx);
    SSL* ssl = stream_->native_handle();
    SSL_use_certificate(ssl, term_->cert.get());
    SSL_use_PrivateKey(ssl, term_->key.get());
    SSL_set_ex_data(ssl, SlotIndex(), &slot);
    bool resume = run_.options.mode == Mode::kResume || run_.options.mode == Mode::kResumeOnce;
    if (resume && slot.session) SSL_set_session(ssl, slot.session.get());
    const tcp::endpoint& endpoint =
        run_.endpoints[run_.endpoints.size() == 1 ? 0 : PickInstance(run_.endpoints.size())];
    stream_->lowest_layer().async_connect(endpoint, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->Fail("connect");
      self->stream_->lowest_layer().set_option(tcp::no_delay(true));
      self->stream_->async_handshake(ssl::stream_base::client, [self](boost::system::error_code ec2) {
        if (ec2) return self->Fail("handshake");
        self->result_.connections++;
        if (SSL_session_reused(self->stream_->native_handle()) == 1) self->result_.reused++;
        self->Write();
      });
    });
  }

  void Arm() {
    uint64_t gen = ++gen_;
    timer_.expires_after(
        std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(run_.options.timeout_seconds)));
    timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
      if (ec || gen != self->gen_ || self->stream_ == nullptr) return;
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->stream_->lowest_layer().close(ignored);
    });
  }

  void Write() {
    asio::async_write(*stream_, asio::buffer(request_),
                      [self = shared_from_this()](boost::system::error_code ec, size_t) {
                        if (ec) return self->Fail("write");
                        self->ReadHead();
                      });
  }

  void ReadHead() {
    asio::async_read_until(
        *stream_, buf_, "\r\n\r\n", [self = shared_from_this()](boost::system::error_code ec, size_t n) {
          if (ec) return self->Fail("read");
          ReplyHead head;
          std::string_view data(static_cast<const char*>(self->buf_.data().data()), n);
          if (!ParseHead(data, head)) return self->Fail("bad reply");
          self->buf_.consume(n);
          if (self->buf_.size() >= head.content_length) return self->Done(head);
          asio::async_read(*self->stream_, self->buf_, asio::transfer_exactly(head.content_length - self->buf_.size()),
                           [self, head](boost::system::error_code ec2, size_t) {
                             if (ec2) return self->Fail("read");
                             self->Done(head);
                           });
        });
  }

  void Done(const ReplyHead& head) {
    ++gen_;
    timer_.cancel();
    buf_.consume(head.content_length);
    result_.statuses[head.status]++;
    if ((head.status >= 200 && head.status < 300) || head.status == 304) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start_).count();
      result_.latency_us.push_back(static_cast<uint32_t>(us));
      result_.ok++;
      run_.used[index_] = 1;
      if (!head.etag.empty()) run_.target.slots[index_].etag = head.etag;
    } else {
      result_.errors++;
      result_.error_kinds["HTTP " + std::to_string(head.status)]++;
    }
    if (!keep_alive()) {
      // Closed without waiting for the server's close_notify. Marked as shut down so that
      // SSL_free does not flag the newest session (the ticket just received) unresumable.
      SSL_set_shutdown(stream_->native_handle(), SSL_SENT_SHUTDOWN);
      boost::system::error_code ignored;
      stream_->lowest_layer().close(ignored);
      stream_.reset();
      buf_.consume(buf_.size());
      Release();
    }
    Next();
  }

  void Fail(const std::string& what) {
    ++gen_;
    timer_.cancel();
    result_.errors++;
    result_.error_kinds[timed_out_ ? "timeout" : what]++;
    timed_out_ = false;
    if (stream_ != nullptr) {
      boost::system::error_code ignored;
      stream_->lowest_layer().close(ignored);
      stream_.reset();
    }
    buf_.consume(buf_.size());
    Release();
    Next();
  }

  Run& run_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  std::unique_ptr<Stream> stream_;
  asio::streambuf buf_;
  Terminal* term_ = nullptr;
  size_t index_ = 0;
  uint64_t gen_ = 0;
  bool timed_out_ = false;
  std::string request_;
  SteadyClock::time_point start_;
  LoadResult result_;
};

}  // namespace

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kFirst:
      return "first contact";
    case Mode::kResumeOnce:
      return "resume: 1st use of ticket";
    case Mode::kResume:
      return "new conn + resumption";
    case Mode::kFull:
      return "new conn, full handshake";
    case Mode::kKeepAlive:
      return "keep-alive";
  }
  return "?";
}

double ProcessCpuSeconds(const std::vector<int>& pids) {
  double total = 0;
  for (int pid : pids) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    std::istringstream rest(line.substr(line.rfind(')') + 2));  // fields from 3 on: state ppid ...
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    total += static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return total;
}

double ProcessTreeCpuSeconds(const std::vector<int>& roots) {
  double total = 0;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int root : roots) {
    // The root's own time and that of its reaped children (fields 14-17), then its live children's.
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream f(entry.path() / "stat");
      std::string line;
      if (!std::getline(f, line) || line.rfind(')') == std::string::npos) continue;
      std::istringstream rest(line.substr(line.rfind(')') + 2));
      std::string field;
      unsigned long long v[18] = {};
      for (int i = 3; i <= 17 && rest >> field; ++i) {
        if (i == 4 || i >= 14) v[i] = std::stoull(field);
      }
      const bool is_root = std::stoi(name) == root;
      if (!is_root && v[4] != static_cast<unsigned long long>(root)) continue;
      total += static_cast<double>(v[14] + v[15] + (is_root ? v[16] + v[17] : 0)) / tick;
    }
  }
  return total;
}

void LoadResult::Merge(LoadResult&& o) {
  ok += o.ok;
  server_cpu_s += o.server_cpu_s;
  db_cpu_s += o.db_cpu_s;
  client_cpu_s += o.client_cpu_s;
  errors += o.errors;
  reused += o.reused;
  connections += o.connections;
  latency_us.insert(latency_us.end(), o.latency_us.begin(), o.latency_us.end());
  for (auto& [k, v] : o.statuses) statuses[k] += v;
  for (auto& [k, v] : o.error_kinds) error_kinds[k] += v;
}

double LoadResult::PercentileMs(double p) const {
  if (latency_us.empty()) return 0;
  std::vector<uint32_t> v = latency_us;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] / 1000.0;
}

LoadResult RunLoad(Target& target, std::vector<std::unique_ptr<Terminal>>& terminals, const LoadOptions& options) {
  target.slots.resize(terminals.size());
  Run run(target, terminals, options);
  double server_cpu = ProcessCpuSeconds(target.pids);
  double db_cpu = ProcessTreeCpuSeconds(target.db_pids);
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  auto begin = SteadyClock::now();
  run.deadline =
      begin + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options.seconds));
  size_t workers = std::min(options.concurrency, terminals.size());
  for (size_t i = 0; i < workers; ++i) std::make_shared<Worker>(run)->Start();
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < options.threads; ++i) threads.emplace_back([&run] { run.ioc.run(); });
  run.ioc.run();
  for (auto& t : threads) t.join();
  run.total.seconds = std::chrono::duration<double>(SteadyClock::now() - begin).count();
  run.total.server_cpu_s = ProcessCpuSeconds(target.pids) - server_cpu;
  run.total.db_cpu_s = ProcessTreeCpuSeconds(target.db_pids) - db_cpu;
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  run.total.client_cpu_s = secs(after.ru_utime) + secs(after.ru_stime) - secs(before.ru_utime) - secs(before.ru_stime);
  run.total.distinct_terminals = static_cast<size_t>(std::count(run.used.begin(), run.used.end(), 1));
  return std::move(run.total);
}

bool Probe(Target& target, Terminal& terminal, const LoadOptions& options, int& status, std::string& body,
           std::string& error) {
  try {
    asio::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    ConfigureClient(ctx, options, target.host);
    Stream stream(ioc, ctx);
    SSL_use_certificate(stream.native_handle(), terminal.cert.get());
    SSL_use_PrivateKey(stream.native_handle(), terminal.key.get());
    stream.lowest_layer().connect(tcp::endpoint(asio::ip::make_address(target.host), target.port));
    stream.handshake(ssl::stream_base::client);
    Slot slot;
    asio::write(stream, asio::buffer(BuildRequest(options, target, terminal, slot, true)));
    asio::streambuf buf;
    size_t n = asio::read_until(stream, buf, "\r\n\r\n");
    ReplyHead head;
    if (!ParseHead(std::string_view(static_cast<const char*>(buf.data().data()), n), head)) {
      error = "unparsable reply";
      return false;
    }
    buf.consume(n);
    if (buf.size() < head.content_length)
      asio::read(stream, buf, asio::transfer_exactly(head.content_length - buf.size()));
    status = head.status;
    body.assign(static_cast<const char*>(buf.data().data()), head.content_length);
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

}  // namespace bench
