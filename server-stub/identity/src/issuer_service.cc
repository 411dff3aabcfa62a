// The issuer service on a Unix socket (ServeIssuer) and its client (ConnectIssuer):
// fw/server/issuer_service.h, docs/fleet-ca.md.
#include "fw/server/issuer_service.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fw/clock.h"
#include "fw/file_io.h"

namespace fw::server {
namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return InvalidArgument("issuer socket path '" + path + "' is empty or longer than " +
                           std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Waits until `fd` is ready for `events` or the monotonic deadline passes.
Status WaitFor(int fd, short events, int64_t deadline_ms) {
  while (true) {
    const int64_t left = deadline_ms - SystemClock().MonotonicMs();
    if (left <= 0) return Timeout("issuer socket: no progress before the deadline");
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (rc > 0) return Status::Ok();
    if (rc < 0 && errno != EINTR) return IoError("issuer socket: poll: " + ErrnoText(errno));
  }
}

Status WriteAll(int fd, ByteSpan data, int64_t deadline_ms) {
  size_t done = 0;
  while (done < data.size()) {
    FW_RETURN_IF_ERROR(WaitFor(fd, POLLOUT, deadline_ms));
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return IoError("issuer socket: send: " + ErrnoText(errno));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status ReadExact(int fd, uint8_t* out, size_t size, int64_t deadline_ms) {
  size_t done = 0;
  while (done < size) {
    FW_RETURN_IF_ERROR(WaitFor(fd, POLLIN, deadline_ms));
    const ssize_t n = ::recv(fd, out + done, size - done, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return IoError("issuer socket: recv: " + ErrnoText(errno));
    if (n == 0) return IoError("issuer socket: the peer closed the connection mid-frame");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// One whole frame (length prefix included). A length out of range is kCorrupt before any payload is read.
Result<Bytes> ReadFrame(int fd, int64_t deadline_ms) {
  Bytes frame(4);
  FW_RETURN_IF_ERROR(ReadExact(fd, frame.data(), 4, deadline_ms));
  const uint32_t n = (uint32_t{frame[0]} << 24) | (uint32_t{frame[1]} << 16) | (uint32_t{frame[2]} << 8) | frame[3];
  if (n == 0 || n > kMaxIssuerFrameBytes) return Corrupt("issuer frame length " + std::to_string(n) + " out of range");
  frame.resize(4 + size_t{n});
  FW_RETURN_IF_ERROR(ReadExact(fd, frame.data() + 4, n, deadline_ms));
  return frame;
}

// A connected non-blocking socket. A Unix socket's connect() does not go "in progress": EAGAIN means
// the listener's backlog is full (the issuer is busy), retried until the deadline.
Result<int> ConnectTo(const std::string& path, int64_t deadline_ms) {
  FW_ASSIGN_OR_RETURN(sockaddr_un addr, Address(path));
  while (true) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return IoError("socket: " + ErrnoText(errno));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
    const int err = errno;
    ::close(fd);
    if (err != EAGAIN && err != EINTR) {
      return IoError("issuer at " + path + " is not reachable (is `fwserver issuer` running?): " + ErrnoText(err));
    }
    if (SystemClock().MonotonicMs() >= deadline_ms) return Timeout("issuer at " + path + " is busy (backlog full)");
    SystemClock().SleepMs(10);
  }
}

class SocketIssuer final : public CertIssuer {
 public:
  SocketIssuer(std::string path, int timeout_ms) : path_(std::move(path)), timeout_ms_(timeout_ms) {}

  Result<IssuedCert> IssueDeviceCert(std::string_view csr_pem, std::string_view serial, int64_t not_before_s,
                                     int64_t not_after_s) override {
    // Refuse locally what could not even be framed (the issuer re-checks everything).
    FW_ASSIGN_OR_RETURN(CsrInfo csr, ParseCsr(csr_pem));
    const int64_t deadline = SystemClock().MonotonicMs() + timeout_ms_;
    FW_ASSIGN_OR_RETURN(int raw_fd, ConnectTo(path_, deadline));
    Fd fd(raw_fd);
    const Bytes request = EncodeIssuerRequest({std::string(csr_pem), std::string(serial), not_before_s, not_after_s});
    FW_RETURN_IF_ERROR_CTX(WriteAll(fd.get(), request, deadline), "issuer request");
    auto frame = ReadFrame(fd.get(), deadline);
    if (!frame.ok()) return frame.status().WithContext("issuer response");
    auto issued = ParseIssuerResponse(*frame);
    if (!issued.ok()) return issued.status();
    if (issued->spki_sha256_hex != csr.spki_sha256_hex) {
      return VerificationFailed("issuer response: the certificate is not for the CSR's key");
    }
    return issued;
  }

 private:
  std::string path_;
  int timeout_ms_;
};

// Binds and listens on `path` with mode 0600, replacing a stale socket.
Result<int> Listen(const std::string& path) {
  FW_ASSIGN_OR_RETURN(sockaddr_un addr, Address(path));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return FailedPrecondition(path + " exists and is not a socket; not replacing it");
    auto probe = ConnectTo(path, SystemClock().MonotonicMs() + 1000);
    if (probe.ok()) {
      ::close(*probe);
      return FailedPrecondition("another issuer is already listening on " + path);
    }
    if (::unlink(path.c_str()) != 0) return IoError("removing the stale socket " + path + ": " + ErrnoText(errno));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return IoError("socket: " + ErrnoText(errno));
  const mode_t old_mask = ::umask(0177);  // the socket is created 0600: no window with wider access
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) {
    ::close(fd);
    return IoError("binding " + path + ": " + ErrnoText(bind_errno));
  }
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 16) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return IoError("listening on " + path + ": " + ErrnoText(err));
  }
  return fd;
}

void ServeOne(CertIssuer& issuer, int fd, const IssuerServiceOptions& options) {
  const int64_t deadline = SystemClock().MonotonicMs() + options.io_timeout_ms;
  auto frame = ReadFrame(fd, deadline);
  Result<IssuedCert> result = Internal("unset");
  if (!frame.ok()) {
    if (frame.status().code() != ErrorCode::kCorrupt) {
      if (options.log) options.log("connection dropped: " + frame.status().message());
      return;  // timed out or closed: nobody to answer
    }
    result = frame.status();
  } else {
    auto request = ParseIssuerRequest(*frame);
    if (!request.ok()) {
      result = request.status();
    } else {
      result = issuer.IssueDeviceCert(request->csr_pem, request->serial, request->not_before_s, request->not_after_s);
      if (result.ok() && options.log) {
        options.log("issued device certificate CN=" + request->serial + " serial " + result->cert_serial_hex);
      }
    }
  }
  if (!result.ok() && options.log) options.log("refused: " + result.status().message());
  WriteAll(fd, EncodeIssuerResponse(result), SystemClock().MonotonicMs() + options.io_timeout_ms).IgnoreError();
}

}  // namespace

Result<std::unique_ptr<CertIssuer>> ConnectIssuer(const std::string& socket_path, int timeout_ms) {
  FW_RETURN_IF_ERROR(Address(socket_path).status());
  if (timeout_ms <= 0) return InvalidArgument("issuer timeout must be positive");
  return std::unique_ptr<CertIssuer>(new SocketIssuer(socket_path, timeout_ms));
}

Status ServeIssuer(CertIssuer& issuer, const IssuerServiceOptions& options, const std::atomic<bool>& stop) {
  FW_ASSIGN_OR_RETURN(int raw_fd, Listen(options.socket_path));
  Fd listener(raw_fd);
  if (options.ready) options.ready();
  while (!stop.load()) {
    pollfd p{listener.get(), POLLIN, 0};
    const int rc = ::poll(&p, 1, 200);
    if (rc <= 0) continue;  // timeout or EINTR (a signal asking us to stop)
    Fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (conn.get() < 0) continue;
    ServeOne(issuer, conn.get(), options);
  }
  ::unlink(options.socket_path.c_str());
  return Status::Ok();
}

}  // namespace fw::server
