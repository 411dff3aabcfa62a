// HostileServer: see hostile_server.h. Blocking OpenSSL on per-connection threads; sockets carry
// 100 ms timeouts so that every loop notices Stop.
#include "hostile_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "hostile_pki.h"
#include "testing.h"

namespace fw::testing {

struct HostileServer::State {
  std::string pki;
  int listen_fd = -1;
  uint16_t port = 0;
  SSL_CTX* ctx = nullptr;
  std::atomic<bool> stop{false};
  std::thread acceptor;

  mutable std::mutex mu;
  std::vector<std::thread> workers;
  std::map<std::string, std::pair<std::shared_ptr<const std::string>, std::string>> content;  // path → bytes, etag
  std::string dir;
  std::string dir_prefix;
  struct Armed {
    Fault fault;
    uint32_t seen = 0;
  };
  std::vector<Armed> faults;
  std::vector<LoggedRequest> log;

  void Accept();
  void Handle(int fd);
};

namespace {

struct TempPki {
  TempDir dir;
};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  const size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

void SetTimeouts(int fd) {
  timeval tv{0, 100 * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Retries an SSL call that timed out (WANT_READ/WANT_WRITE from the socket timeouts) until it
// succeeds, fails for good, or the server stops. Returns the call's last result.
template <typename F>
int Retry(SSL* ssl, const std::atomic<bool>& stop, F call) {
  for (;;) {
    const int r = call();
    if (r > 0) return r;
    const int e = SSL_get_error(ssl, r);
    if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || stop) return r;
  }
}

bool SendAll(SSL* ssl, const std::atomic<bool>& stop, const char* data, size_t n) {
  while (n > 0) {
    const int chunk = static_cast<int>(std::min<size_t>(n, 16384));
    const int w = Retry(ssl, stop, [&] { return SSL_write(ssl, data, chunk); });
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Waits until the client closes the connection or the server stops.
void WaitForClose(int fd, const std::atomic<bool>& stop) {
  while (!stop) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char c;
      if (recv(fd, &c, 1, MSG_PEEK) <= 0) return;
      // TLS bytes from the client (e.g. an alert): drain them and keep waiting.
      char sink[4096];
      if (recv(fd, sink, sizeof sink, 0) <= 0) return;
    }
  }
}

struct Request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string client_subject;
};

bool ReadRequest(SSL* ssl, const std::atomic<bool>& stop, Request* req) {
  std::string in;
  while (in.find("\r\n\r\n") == std::string::npos) {
    if (in.size() > 64 * 1024) return false;
    char buf[4096];
    const int n = Retry(ssl, stop, [&] { return SSL_read(ssl, buf, sizeof buf); });
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
  }
  const size_t eol = in.find("\r\n");
  const std::string line = in.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
  req->method = line.substr(0, sp1);
  req->path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = eol + 2;
  for (;;) {
    const size_t e = in.find("\r\n", pos);
    if (e == pos || e == std::string::npos) break;
    const std::string h = in.substr(pos, e - pos);
    const size_t colon = h.find(':');
    if (colon != std::string::npos) req->headers[Lower(Trim(h.substr(0, colon)))] = Trim(h.substr(colon + 1));
    pos = e + 2;
  }
  return true;
}

// "bytes=S-" or "bytes=S-E" → S (E ignored beyond bounding the reply). nullopt if malformed.
std::optional<std::pair<uint64_t, std::optional<uint64_t>>> ParseRange(const std::string& h) {
  if (h.rfind("bytes=", 0) != 0) return std::nullopt;
  const std::string spec = h.substr(6);
  const size_t dash = spec.find('-');
  if (dash == 0 || dash == std::string::npos) return std::nullopt;
  try {
    const uint64_t s = std::stoull(spec.substr(0, dash));
    const std::string end = spec.substr(dash + 1);
    if (end.empty()) return std::make_pair(s, std::optional<uint64_t>());
    return std::make_pair(s, std::optional<uint64_t>(std::stoull(end)));
  } catch (...) {
    return std::nullopt;
  }
}

std::string StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

namespace {

struct Reply {
  int status = 200;
  std::string headers;  // extra header lines, each ending in CR LF
  std::shared_ptr<const std::string> body;
  uint64_t from = 0;  // the body is body[from, to)
  uint64_t to = 0;
  std::optional<uint64_t> corrupt_at;
  enum class Cut { kNone, kDrop, kStall, kTruncate } cut = Cut::kNone;
  uint64_t cut_after = 0;
};

// The faults that apply to one request (copies; kCorruptAt is decided with the range).
struct Active {
  std::optional<Fault> status, redirect, change, ignore, wrong_range, wrong_total, drop, stall, truncate;
};

bool InWindow(const Fault& f, uint32_t n) { return n >= f.first && n - f.first < f.count; }

// Sets `r` to the range reply for `range` over content of `size` bytes (or leaves a 200).
void ShapeRange(const std::string& range, uint64_t size, const Active& a, Reply* r) {
  const auto parsed = ParseRange(range);
  if (!parsed) return;  // an unusable Range is ignored, as RFC 9110 allows
  uint64_t first = parsed->first;
  if (first >= size) {
    r->status = 416;
    r->headers += "Content-Range: bytes */" + std::to_string(size) + "\r\n";
    r->from = r->to = 0;
    return;
  }
  const uint64_t last = std::min(parsed->second.value_or(size - 1), size - 1);
  if (a.wrong_range) first = std::min(first + (a.wrong_range->bytes == 0 ? 1 : a.wrong_range->bytes), last);
  const uint64_t total = size + (a.wrong_total ? 1 : 0);
  r->status = 206;
  r->headers += "Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                std::to_string(total) + "\r\n";
  r->from = first;
  r->to = last + 1;
}

}  // namespace

namespace {
// "" matches every path, "/a/*" every path starting with "/a/", anything else only itself.
bool PathMatches(const std::string& pattern, const std::string& path) {
  if (pattern.empty()) return true;
  if (pattern.back() == '*') return path.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  return pattern == path;
}

// Decides the reply to `req` (under mu): content, faults, range. Returns the log index.
size_t PlanReply(HostileServer::State& s, const Request& req, Reply* r) {
  s.log.push_back({req.method, req.path, req.headers.count("range") ? req.headers.at("range") : "",
                   req.headers.count("if-range") ? req.headers.at("if-range") : "", 0, 0, req.client_subject});
  const size_t index = s.log.size() - 1;
  std::shared_ptr<const std::string> content;
  std::string etag;
  if (auto it = s.content.find(req.path); it != s.content.end()) {
    content = it->second.first;
    etag = it->second.second;
  } else if (!s.dir.empty() && req.path.rfind(s.dir_prefix, 0) == 0 && req.path.find("..") == std::string::npos) {
    const std::string file = s.dir + "/" + req.path.substr(s.dir_prefix.size());
    if (std::filesystem::is_regular_file(file)) {
      content = std::make_shared<const std::string>(ReadFile(file));
      etag = HostileServer::EtagOf(*content);
    }
  }
  Active a;
  std::vector<HostileServer::State::Armed*> corrupt;
  for (auto& armed : s.faults) {
    const Fault& f = armed.fault;
    if (!PathMatches(f.path, req.path)) continue;
    if (f.kind == Fault::Kind::kCorruptAt) {
      corrupt.push_back(&armed);
      continue;
    }
    if (!InWindow(f, ++armed.seen)) continue;
    switch (f.kind) {
      case Fault::Kind::kStatus:
        a.status = f;
        break;
      case Fault::Kind::kRedirect:
        a.redirect = f;
        break;
      case Fault::Kind::kChangeContent:
        a.change = f;
        break;
      case Fault::Kind::kIgnoreRange:
        a.ignore = f;
        break;
      case Fault::Kind::kWrongContentRange:
        a.wrong_range = f;
        break;
      case Fault::Kind::kWrongTotal:
        a.wrong_total = f;
        break;
      case Fault::Kind::kDropAfter:
        a.drop = f;
        break;
      case Fault::Kind::kStallAfter:
        a.stall = f;
        break;
      case Fault::Kind::kTruncate:
        a.truncate = f;
        break;
      case Fault::Kind::kCorruptAt:
        break;
    }
  }
  if (req.method != "GET") {
    r->status = 405;
  } else if (a.status) {
    r->status = a.status->status;
    if (a.status->retry_after >= 0) r->headers += "Retry-After: " + std::to_string(a.status->retry_after) + "\r\n";
  } else if (a.redirect) {
    r->status = 301;
    r->headers += "Location: " + a.redirect->location + "\r\n";
  } else if (!content) {
    r->status = 404;
  }
  if (r->status != 200) return index;
  if (a.change) {
    content = std::make_shared<const std::string>(a.change->other);
    etag = HostileServer::EtagOf(*content);
  }
  r->body = content;
  r->from = 0;
  r->to = content->size();
  if (!etag.empty()) r->headers += "ETag: " + etag + "\r\n";
  r->headers += "Accept-Ranges: bytes\r\n";
  const auto range = req.headers.find("range");
  const auto if_range = req.headers.find("if-range");
  const bool honour_if_range = !a.change || a.change->honour_if_range;
  if (range != req.headers.end() && !a.ignore &&
      !(honour_if_range && if_range != req.headers.end() && if_range->second != etag)) {
    ShapeRange(range->second, content->size(), a, r);
  }
  for (auto* armed : corrupt) {
    const uint64_t k = armed->fault.bytes;
    if (r->status >= 300 || k < r->from || k >= r->to) continue;
    if (InWindow(armed->fault, ++armed->seen)) r->corrupt_at = k;
  }
  if (a.drop) {
    r->cut = Reply::Cut::kDrop;
    r->cut_after = a.drop->bytes;
  } else if (a.stall) {
    r->cut = Reply::Cut::kStall;
    r->cut_after = a.stall->bytes;
  } else if (a.truncate) {
    r->cut = Reply::Cut::kTruncate;
    r->cut_after = a.truncate->bytes;
  }
  return index;
}

}  // namespace

void HostileServer::State::Handle(int fd) {
  SetTimeouts(fd);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  Request req;
  if (Retry(ssl, stop, [&] { return SSL_accept(ssl); }) == 1 && ReadRequest(ssl, stop, &req)) {
    if (X509* peer = SSL_get1_peer_certificate(ssl); peer != nullptr) {
      char name[256];
      X509_NAME_oneline(X509_get_subject_name(peer), name, sizeof name);
      req.client_subject = name;
      X509_free(peer);
    }
    Reply r;
    size_t index = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      index = PlanReply(*this, req, &r);
      log[index].status = r.status;
    }
    const uint64_t length = r.to - r.from;
    const std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + StatusText(r.status) +
                             "\r\nContent-Length: " + std::to_string(length) + "\r\n" + r.headers +
                             "Connection: close\r\n\r\n";
    const uint64_t limit = r.cut == Reply::Cut::kNone ? length : std::min(length, r.cut_after);
    uint64_t sent = 0;
    bool ok = SendAll(ssl, stop, head.data(), head.size());
    std::string piece;
    while (ok && sent < limit) {
      const uint64_t at = r.from + sent;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(limit - sent, 64 * 1024));
      piece.assign(r.body->data() + at, n);
      if (r.corrupt_at && *r.corrupt_at >= at && *r.corrupt_at < at + n) piece[*r.corrupt_at - at] ^= '\xff';
      ok = SendAll(ssl, stop, piece.data(), n);
      if (ok) sent += n;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      log[index].body_bytes = sent;
    }
    if (r.cut == Reply::Cut::kStall) WaitForClose(fd, stop);
    if (ok && r.cut != Reply::Cut::kDrop && r.cut != Reply::Cut::kStall) SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  close(fd);
}

std::unique_ptr<HostileServer> HostileServer::Start(const HostileServerOptions& options, std::string* error) {
  // A client that goes away mid-body must not kill the test with SIGPIPE (OpenSSL writes with write()).
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<HostileServer> server(new HostileServer());
  server->state_ = std::make_unique<State>();
  State& s = *server->state_;
  auto fail = [&](const std::string& what) {
    if (error != nullptr) *error = what;
    return nullptr;
  };
  s.pki = options.pki_dir;
  if (s.pki.empty()) {
    // A directory that lives as long as the process (several servers in a suite may share it).
    static TempPki* shared = nullptr;
    static std::mutex shared_mu;
    std::lock_guard<std::mutex> lock(shared_mu);
    if (shared == nullptr) {
      shared = new TempPki();
      if (auto e = MakeHostilePki(shared->dir.path()); !e.empty()) return fail("test PKI: " + e);
    }
    s.pki = shared->dir.path();
  } else if (!Exists(s.pki + "/other_server.pem")) {
    if (auto e = MakeHostilePki(s.pki); !e.empty()) return fail("test PKI: " + e);
  }
  const std::string cert = options.cert == HostileServerOptions::Cert::kGood      ? "server"
                           : options.cert == HostileServerOptions::Cert::kOtherCa ? "other_server"
                                                                                  : "wrong_host_server";
  s.ctx = SSL_CTX_new(TLS_server_method());
  if (s.ctx == nullptr || SSL_CTX_use_certificate_chain_file(s.ctx, (s.pki + "/" + cert + "_chain.pem").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(s.ctx, (s.pki + "/" + cert + ".key").c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("cannot load the server certificate " + cert);
  }
  if (options.require_client_cert) {
    SSL_CTX_set_verify(s.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    if (SSL_CTX_load_verify_locations(s.ctx, (s.pki + "/chain.pem").c_str(), nullptr) != 1) {
      return fail("cannot load the client CA");
    }
  }
  s.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (s.listen_fd < 0) return fail("socket: " + std::string(strerror(errno)));
  int one = 1;
  setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || listen(s.listen_fd, 64) != 0) {
    return fail("bind/listen on 127.0.0.1: " + std::string(strerror(errno)));
  }
  s.port = ntohs(addr.sin_port);
  s.acceptor = std::thread([&s] { s.Accept(); });
  return server;
}

HostileServer::~HostileServer() {
  if (!state_) return;
  State& s = *state_;
  s.stop = true;
  if (s.acceptor.joinable()) s.acceptor.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    workers.swap(s.workers);
  }
  for (auto& t : workers) t.join();
  if (s.listen_fd >= 0) close(s.listen_fd);
  if (s.ctx != nullptr) SSL_CTX_free(s.ctx);
}

void HostileServer::State::Accept() {
  while (!stop) {
    pollfd p{listen_fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept(listen_fd, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu);
    workers.emplace_back([this, fd] { Handle(fd); });
  }
}

uint16_t HostileServer::port() const { return state_->port; }
std::string HostileServer::Url(const std::string& path) const {
  return "https://127.0.0.1:" + std::to_string(state_->port) + path;
}
const std::string& HostileServer::pki_dir() const { return state_->pki; }
std::string HostileServer::ca_file() const { return state_->pki + "/root.pem"; }
std::string HostileServer::client_cert() const { return state_->pki + "/device.pem"; }
std::string HostileServer::client_key() const { return state_->pki + "/device.key"; }

void HostileServer::Serve(const std::string& path, std::string content, std::optional<std::string> etag) {
  const std::string tag = etag ? *etag : EtagOf(content);
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->content[path] = {std::make_shared<const std::string>(std::move(content)), tag};
}

void HostileServer::ServeDirectory(const std::string& dir, const std::string& prefix) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->dir = dir;
  state_->dir_prefix = prefix;
}

void HostileServer::AddFault(Fault fault) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->faults.push_back({std::move(fault), 0});
}

void HostileServer::ClearFaults() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->faults.clear();
}

std::vector<LoggedRequest> HostileServer::Log() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->log;
}

void HostileServer::ClearLog() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->log.clear();
}

}  // namespace fw::testing
