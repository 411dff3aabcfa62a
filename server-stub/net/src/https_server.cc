// HttpsServer (fw/server/https_server.h) over Boost.Beast + Asio: the only file with Beast in it.
//
// One io_context per I/O thread (one thread each, so no strands); the acceptor lives on the
// first and hands each socket to the next thread round-robin. A Connection runs the whole
// conversation as a chain of async operations, each under a beast::tcp_stream deadline.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <array>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <thread>

#include "connection_limits.h"
#include "fw/file_io.h"
#include "fw/server/https_server.h"
#include "tls_context.h"

namespace fw::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr size_t kChunkBytes = 64 * 1024;
// After an error answer that did not read the body: drain what the client still sends, so the close
// does not reset the answer away before the client reads it. The byte budget covers a whole body of
// the default caps (8 MiB) several times over; one overall deadline bounds the drain, so a trickling
// client cannot hold the connection.
constexpr int64_t kLingerMs = 2000;
constexpr uint64_t kLingerBytes = 64ull << 20;

std::string Lower(beast::string_view s) {
  std::string out(s.data(), s.size());
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string JsonError(const std::string& code, const std::string& message) {
  return "{\"error\":\"" + code + "\",\"message\":\"" + message + "\"}";
}

struct Worker {
  std::unique_ptr<RequestHandler> handler;  // destroyed after the io_context (declared first)
  asio::io_context ioc{1};
  std::thread thread;
};

class ServerImpl;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerImpl& server, Worker& worker, tcp::socket socket, asio::ssl::context& ctx, bool busy);
  ~Connection();
  void Start();

 private:
  void Arm(int64_t ms);
  void OnDeadline();
  void OnHandshake(beast::error_code ec);
  void WaitForRequest();
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void OnBody(beast::error_code ec);
  void Dispatch();
  void Answer(int status, const std::string& code, const std::string& message, bool then_close);
  void Send(Response response, bool keep_alive, bool head = false);
  void SendFileChunk();
  void AfterResponse();
  void EndRequest();
  void Close();
  void LingerThenClose();
  void Drain();
  bool HandleReadError(beast::error_code ec);

  ServerImpl& server_;
  Worker& worker_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const bool busy_;  // over the connection cap: answer 503 and close
  Peer peer_;
  bool first_request_ = true;
  bool in_flight_ = false;  // counted in server_.in_flight (Stop waits for these)
  bool keep_alive_ = false;
  SteadyTime deadline_{};
  // A response in flight (header first, then the body from `file_`).
  std::shared_ptr<void> message_;
  std::optional<File> file_;
  uint64_t file_offset_ = 0;
  uint64_t file_remaining_ = 0;
  std::vector<uint8_t> chunk_;
  std::array<char, 4096> discard_{};
  uint64_t discarded_ = 0;
};

class ServerImpl final : public HttpsServer {
 public:
  ServerImpl(const HttpsServerOptions& options, const DeviceCertVerifier& verifier, Clock& clock)
      : options_(options), verifier_(verifier), clock_(clock), limits_(options.max_connections) {}
  ~ServerImpl() override { Stop(); }

  Status Init(HandlerFactory& factory);
  uint16_t port() const override { return port_; }
  HttpsServerStats stats() const override;
  void Stop() override;

  const HttpsServerOptions& options() const { return options_; }
  const DeviceCertVerifier& verifier() const { return verifier_; }
  Clock& clock() { return clock_; }
  ConnectionLimits& limits() { return limits_; }

  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> requests{0}, handshake_failed{0}, deadline_closed{0}, resumed{0};
  std::atomic<int64_t> in_flight{0};  // requests handed to a handler whose response is not yet written
  std::atomic<int64_t> max_overrun_ms{0};
  void NoteDeadline(SteadyTime deadline) {
    deadline_closed++;
    const auto late =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - deadline);
    int64_t prev = max_overrun_ms.load();
    while (late.count() > prev && !max_overrun_ms.compare_exchange_weak(prev, late.count())) {
    }
  }

 private:
  void Accept();

  HttpsServerOptions options_;
  const DeviceCertVerifier& verifier_;
  Clock& clock_;
  ConnectionLimits limits_;
  tls::TicketState tickets_;
  std::optional<asio::ssl::context> ssl_;  // after tickets_, before workers_ (destroyed after them)
  std::vector<std::unique_ptr<Worker>> workers_;
  // The listener has its own thread: accepting (and answering overload with 503 or a close) never
  // waits behind TLS handshakes queued on the I/O threads — under a reconnect storm it did, and
  // connections beyond max_connections waited silently in the kernel's queue instead.
  // Its pending accept holds a socket of a worker's io_context, so Stop destroys it before the workers.
  std::optional<asio::io_context> accept_ioc_{std::in_place};
  std::thread accept_thread_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> retry_timer_;
  size_t next_worker_ = 0;
  uint16_t port_ = 0;
};

// ---- Connection

Connection::Connection(ServerImpl& server, Worker& worker, tcp::socket socket, asio::ssl::context& ctx, bool busy)
    : server_(server), worker_(worker), stream_(std::move(socket), ctx), busy_(busy) {}

Connection::~Connection() {
  EndRequest();
  server_.limits().Release(busy_);
}

void Connection::EndRequest() {
  if (in_flight_) server_.in_flight--;
  in_flight_ = false;
}

void Connection::Arm(int64_t ms) {
  deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  beast::get_lowest_layer(stream_).expires_after(std::chrono::milliseconds(ms));
}

void Connection::OnDeadline() {
  server_.NoteDeadline(deadline_);  // the tcp_stream has already closed the socket
}

void Connection::Start() {
  beast::error_code ignored;
  const auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ignored);
  peer_.remote_address = remote.address().to_string(ignored) + ":" + std::to_string(remote.port());
  beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay(true), ignored);
  Arm(server_.options().handshake_timeout_ms);
  stream_.async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
}

void Connection::OnHandshake(beast::error_code ec) {
  if (ec) {
    if (ec == beast::error::timeout) {
      OnDeadline();
    } else {
      server_.handshake_failed++;
    }
    return;  // the socket closes with this object
  }
  SSL* ssl = stream_.native_handle();
  if (SSL_session_reused(ssl)) server_.resumed++;
  if (!busy_) {
    const auto chain = tls::PeerChainDer(ssl);
    const std::string remote = peer_.remote_address;
    peer_ = server_.verifier().Inspect(chain, server_.clock().WallSeconds());
    peer_.remote_address = remote;
  }
  WaitForRequest();
}

// The first request of a connection is due within the header deadline; later ones get the idle
// timeout for their first byte and then the header deadline.
void Connection::WaitForRequest() {
  if (first_request_ || buffer_.size() > 0) {
    ReadHeader();
    return;
  }
  Arm(server_.options().idle_timeout_ms);
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
    // Idle timeout (a normal end, not a slow client) or the client closed: the socket is closed.
    if (ec) return;
    self->buffer_.commit(n);
    self->ReadHeader();
  });
}

void Connection::ReadHeader() {
  first_request_ = false;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(server_.options().max_header_bytes));
  // Beast checks Content-Length against body_limit while it parses the header (default 1 MiB for a
  // request), before the route is known: no limit here, the route's cap is applied in OnHeader.
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  Arm(server_.options().header_timeout_ms);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

// True when the error ended the connection (nothing more to do).
bool Connection::HandleReadError(beast::error_code ec) {
  if (!ec) return false;
  if (ec == beast::error::timeout) {
    OnDeadline();
  } else if (ec == http::error::header_limit) {
    Answer(431, "header_too_large", "the request header exceeds the server's limit", true);
  } else if (ec == http::error::body_limit) {
    Answer(413, "too_large", "the request body exceeds this route's limit", true);
  } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
             ec != http::error::end_of_stream && ec != http::error::partial_message) {
    Answer(400, "bad_request", "malformed HTTP request", true);
  }
  return true;  // end of stream, reset, TLS errors: the socket closes with this object
}

void Connection::OnHeader(beast::error_code ec) {
  if (HandleReadError(ec)) return;
  if (busy_) {
    server_.limits().NoteRefused();
    Response r;
    r.status = 503;
    r.Header("Retry-After", std::to_string(server_.options().retry_after_seconds));
    r.Header("Content-Type", "application/json");
    r.body = JsonError("busy", "the server is at its connection limit; retry later");
    Send(std::move(r), false);
    return;
  }
  auto& req = parser_->get();
  std::map<std::string, std::string> seen;
  for (const auto& field : req) {
    auto [it, inserted] = seen.emplace(Lower(field.name_string()), std::string(field.value()));
    if (!inserted) return Answer(400, "bad_request", "repeated header: " + it->first, true);
  }
  const std::string target(req.target());
  if (target.empty() || target[0] != '/') return Answer(400, "bad_request", "the request target must be a path", true);
  const uint64_t max_body = worker_.handler->MaxBodyBytes(std::string(req.method_string()), target);
  const auto length = parser_->content_length();
  if (length && *length > max_body) {
    return Answer(413, "too_large", "the request body exceeds this route's limit", true);
  }
  parser_->body_limit(max_body);
  if (parser_->is_done()) return Dispatch();
  auto continue_then_read = [self = shared_from_this()] {
    self->Arm(self->server_.options().body_timeout_ms);
    http::async_read(self->stream_, self->buffer_, *self->parser_,
                     [self](beast::error_code e, size_t) { self->OnBody(e); });
  };
  if (Lower(req[http::field::expect]) == "100-continue") {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    Arm(server_.options().write_timeout_ms);
    asio::async_write(stream_, asio::buffer(kContinue),
                      [self = shared_from_this(), continue_then_read](beast::error_code e, size_t) {
                        if (e == beast::error::timeout) return self->OnDeadline();
                        if (!e) continue_then_read();
                      });
    return;
  }
  continue_then_read();
}

void Connection::OnBody(beast::error_code ec) {
  if (HandleReadError(ec)) return;
  Dispatch();
}

void Connection::Dispatch() {
  auto& msg = parser_->get();
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& field : msg) req.headers.emplace(Lower(field.name_string()), std::string(field.value()));
  req.body = std::move(msg.body());
  req.peer = peer_;
  const bool keep_alive = msg.keep_alive();
  server_.in_flight++;
  in_flight_ = true;
  Response response;
  try {
    response = worker_.handler->Handle(req);
  } catch (...) {
    response = Response{};
    response.status = 500;
    response.Header("Content-Type", "application/json");
    response.body = JsonError("internal", "the request handler failed");
  }
  server_.requests++;
  Send(std::move(response), keep_alive, req.method == "HEAD");
}

void Connection::Answer(int status, const std::string& code, const std::string& message, bool then_close) {
  Response r;
  r.status = status;
  r.Header("Content-Type", "application/json");
  r.body = JsonError(code, message);
  Send(std::move(r), !then_close);
}

// size: builds the header from the Response (filtering transport-owned fields), then one write.
void Connection::Send(Response response, bool keep_alive, bool head) {
  keep_alive_ = keep_alive;
  auto msg = std::make_shared<http::response<http::string_body>>();
  msg->version(11);
  msg->result(static_cast<unsigned>(response.status));
  for (auto& [name, value] : response.headers) {
    const std::string lower = Lower(name);
    if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection") continue;
    msg->insert(name, value);
  }
  msg->keep_alive(keep_alive);
  const bool no_body = response.status == 304 || response.status == 204 || response.status < 200;
  if (head) {  // headers only, with the length the body would have had
    if (!no_body) msg->content_length(response.file ? response.file->length : response.body.size());
  } else if (response.file) {
    auto opened = File::OpenRead(response.file->path);
    const auto size = opened.ok() ? opened->Size() : Result<uint64_t>(opened.status());
    // The file must still hold the promised range (it may have been replaced since it was stat'ed).
    if (!size.ok() || *size < response.file->offset || *size - response.file->offset < response.file->length) {
      Answer(500, "io_error", "the file could not be read", true);
      return;
    }
    file_.emplace(std::move(opened).value());
    file_offset_ = response.file->offset;
    file_remaining_ = response.file->length;
    msg->content_length(file_remaining_);
  } else {
    msg->body() = std::move(response.body);
    if (!no_body) msg->content_length(msg->body().size());
  }
  message_ = msg;
  Arm(server_.options().write_timeout_ms);
  auto sr = std::make_shared<http::response_serializer<http::string_body>>(*msg);
  sr->split(false);
  // The file body follows the header as raw bytes: the serializer writes the header (and an empty
  // string body), Content-Length promises the file's bytes.
  http::async_write(stream_, *sr, [self = shared_from_this(), sr](beast::error_code ec, size_t) {
    if (ec) {
      if (ec == beast::error::timeout) self->OnDeadline();
      return;
    }
    if (self->file_) return self->SendFileChunk();
    self->AfterResponse();
  });
}

void Connection::SendFileChunk() {
  if (file_remaining_ == 0) {
    file_.reset();
    AfterResponse();
    return;
  }
  const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, file_remaining_));
  chunk_.resize(n);
  if (!file_->ReadAt(file_offset_, chunk_).ok()) return;  // the file shrank: cut the connection
  file_offset_ += n;
  file_remaining_ -= n;
  Arm(server_.options().write_timeout_ms);
  asio::async_write(stream_, asio::buffer(chunk_), [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) {
      if (ec == beast::error::timeout) self->OnDeadline();
      return;
    }
    self->SendFileChunk();
  });
}

void Connection::AfterResponse() {
  message_.reset();
  EndRequest();
  if (server_.stopped) return Close();  // stopping: no further request on this connection
  if (keep_alive_ && !busy_) {
    WaitForRequest();
    return;
  }
  // An answer that did not read the request (busy, limits, malformed): drain, then close.
  if (!parser_ || !parser_->is_done()) return LingerThenClose();
  Close();
}

void Connection::Close() {
  Arm(kLingerMs);
  stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
    beast::error_code ignored;
    beast::get_lowest_layer(self->stream_).socket().close(ignored);
  });
}

// Half-close the TCP connection and read (and drop) what the client still sends for a moment,
// so that closing with unread bytes does not reset the answer away before the client reads it.
void Connection::LingerThenClose() {
  beast::error_code ignored;
  auto& tcp_stream = beast::get_lowest_layer(stream_);
  tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  tcp_stream.expires_after(std::chrono::milliseconds(kLingerMs));  // once: the whole drain
  Drain();
}

void Connection::Drain() {
  beast::get_lowest_layer(stream_).async_read_some(asio::buffer(discard_),
                                                   [self = shared_from_this()](beast::error_code ec, size_t n) {
                                                     self->discarded_ += n;
                                                     if (ec || self->discarded_ > kLingerBytes)
                                                       return;  // EOF, deadline or enough: close
                                                     self->Drain();
                                                   });
}

// ---- Server

void ServerImpl::Accept() {
  Worker& worker = *workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  acceptor_->async_accept(worker.ioc, [this, &worker](beast::error_code ec, tcp::socket socket) {
    if (stopped) return;
    if (ec) {
      // Out of descriptors or similar: wait a little rather than spin.
      retry_timer_->expires_after(std::chrono::milliseconds(50));
      retry_timer_->async_wait([this](beast::error_code) {
        if (!stopped) Accept();
      });
      return;
    }
    const ConnectionLimits::Admission admission = limits_.Admit();
    if (admission == ConnectionLimits::Admission::kDrop) {
      beast::error_code ignored;
      socket.close(ignored);  // even the 503 allowance is used up: the client sees the close at once
    } else {
      auto conn = std::make_shared<Connection>(*this, worker, std::move(socket), *ssl_,
                                               admission == ConnectionLimits::Admission::kBusy);
      asio::post(worker.ioc, [conn] { conn->Start(); });
    }
    Accept();
  });
}

Status ServerImpl::Init(HandlerFactory& factory) {
  tickets_.source = options_.ticket_keys
                        ? options_.ticket_keys
                        : LocalTicketKeys(clock_, std::max<int64_t>(1, options_.ticket_lifetime_seconds / 2));
  FW_ASSIGN_OR_RETURN(SSL_CTX * native, tls::MakeServerContext(options_, &tickets_));
  ssl_.emplace(native);  // Asio owns the SSL_CTX from here
  const int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->handler = factory();
    if (!w->handler) return Internal("the handler factory returned no handler");
    workers_.push_back(std::move(w));
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(options_.address, ec);
  if (ec) return InvalidArgument("listen address '" + options_.address + "': " + ec.message());
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.emplace(*accept_ioc_);
  const std::string where = options_.address + ":" + std::to_string(options_.port);
  if (acceptor_->open(endpoint.protocol(), ec)) return IoError("listen " + where + ": " + ec.message());
  if (acceptor_->set_option(asio::socket_base::reuse_address(true), ec))
    return IoError("listen " + where + ": " + ec.message());
  if (acceptor_->bind(endpoint, ec)) return IoError("listen " + where + ": " + ec.message());
  if (acceptor_->listen(asio::socket_base::max_listen_connections, ec))
    return IoError("listen " + where + ": " + ec.message());
  port_ = acceptor_->local_endpoint().port();
  retry_timer_.emplace(*accept_ioc_);
  Accept();
  accept_thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(*accept_ioc_);
    for (;;) {
      try {
        accept_ioc_->run();
        return;
      } catch (...) {
        // An exception escaped the accept handler (e.g. out of memory making a connection): keep listening.
      }
    }
  });
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([worker] {
      auto guard = asio::make_work_guard(worker->ioc);
      for (;;) {
        try {
          worker->ioc.run();
          return;
        } catch (...) {
          // An exception escaped a completion handler: that connection is gone, keep serving.
        }
      }
    });
  }
  return Status::Ok();
}

HttpsServerStats ServerImpl::stats() const {
  HttpsServerStats s;
  const auto l = limits_.Snapshot();
  s.accepted = l.accepted;
  s.open = l.open;
  s.refused_busy = l.refused;
  s.dropped_busy = l.dropped;
  s.requests = requests.load();
  s.handshake_failed = handshake_failed.load();
  s.deadline_closed = deadline_closed.load();
  s.max_deadline_overrun_ms = max_overrun_ms.load();
  s.resumed = resumed.load();
  return s;
}

void ServerImpl::Stop() {
  if (stopped.exchange(true)) return;
  if (acceptor_ && !workers_.empty()) {
    // Close the listener on its own thread, then let the requests in flight finish their responses.
    auto closed = std::make_shared<std::promise<void>>();
    auto done = closed->get_future();
    asio::post(*accept_ioc_, [this, closed] {
      beast::error_code ignored;
      acceptor_->close(ignored);
      retry_timer_->cancel();
      closed->set_value();
    });
    done.wait_for(std::chrono::seconds(1));
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.stop_grace_ms);
    while (in_flight.load() > 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  accept_ioc_->stop();
  if (accept_thread_.joinable()) accept_thread_.join();
  for (auto& w : workers_) w->ioc.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  // The listener's context goes first: a pending (or aborted, not yet run) accept owns a socket bound to
  // a worker's io_context, and destroying it after that context was freed is a use after free.
  acceptor_.reset();
  retry_timer_.reset();
  accept_ioc_.reset();
  workers_.clear();  // destroys pending connections (their sockets close), then the handlers
}

}  // namespace

Result<std::unique_ptr<HttpsServer>> HttpsServer::Start(const HttpsServerOptions& options, HandlerFactory factory,
                                                        const DeviceCertVerifier& verifier, Clock& clock) {
  if (options.threads < 1 || options.threads > 256) return InvalidArgument("threads must be 1..256");
  if (options.max_header_bytes < 256 || options.max_header_bytes > (1u << 20)) {
    return InvalidArgument("max_header_bytes must be 256..1048576");
  }
  auto server = std::make_unique<ServerImpl>(options, verifier, clock);
  FW_RETURN_IF_ERROR(server->Init(factory));
  return std::unique_ptr<HttpsServer>(std::move(server));
}

}  // namespace fw::server
