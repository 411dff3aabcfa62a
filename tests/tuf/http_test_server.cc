#include "http_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fw::testing {
namespace {

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string Decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

HttpTestServer::HttpTestServer(std::string root_dir) : root_(std::move(root_dir)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::listen(listen_fd_, 16) != 0) throw std::runtime_error("listen");
  thread_ = std::thread([this] { Loop(); });
}

HttpTestServer::~HttpTestServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::vector<std::string> HttpTestServer::Requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void HttpTestServer::Loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    Handle(fd);
    ::close(fd);
  }
}

void HttpTestServer::Handle(int fd) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    req.append(buf, static_cast<size_t>(n));
  }
  std::istringstream line(req.substr(0, req.find("\r\n")));
  std::string method, target;
  line >> method >> target;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(target);
  }
  const std::string path = Decode(target.substr(1));
  auto stream_until_stopped = [&](const std::string& header, std::chrono::milliseconds gap, size_t piece) {
    if (!SendAll(fd, header)) return;
    const std::string chunk(piece, ' ');
    while (!stop_) {
      if (!SendAll(fd, chunk)) return;
      if (gap.count() > 0) std::this_thread::sleep_for(gap);
    }
  };
  if (!endless_path.empty() && path == endless_path) {
    return stream_until_stopped("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", std::chrono::milliseconds(0), 65536);
  }
  if (!trickle_path.empty() && path == trickle_path) {
    return stream_until_stopped("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n",
                                std::chrono::milliseconds(300), 1);
  }
  if (!stall_prefix.empty() && path.starts_with(stall_prefix)) {
    // A wedged server: never answers; the connection ends when the client gives up.
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0 && ::recv(fd, buf, sizeof buf, 0) <= 0) return;
    }
    return;
  }
  if (!huge_path.empty() && path == huge_path) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\nConnection: close\r\n\r\n");
    for (int i = 0; i < 50 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return;
  }
  std::ifstream in(root_ + "/" + path, std::ios::binary);
  if (path.find("..") != std::string::npos || !in || method != "GET") {
    SendAll(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  std::ostringstream body;
  body << in.rdbuf();
  const std::string b = body.str();
  SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(b.size()) + "\r\nConnection: close\r\n\r\n" + b);
}

}  // namespace fw::testing
