// A tiny loopback (127.0.0.1) HTTP/1.1 server for tests: serves a directory and,
// for chosen paths, misbehaves like a hostile server (endless or trickling bodies,
// a Content-Length larger than any cap). One connection at a time, "Connection: close".
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fw::testing {

class HttpTestServer {
 public:
  explicit HttpTestServer(std::string root_dir);
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  std::vector<std::string> Requests();

  // Paths (without the leading '/') that get special treatment.
  std::string endless_path;  // 200, no length, never ends
  std::string trickle_path;  // 200, one byte every 300 ms
  std::string huge_path;     // 200, Content-Length: 10 GiB, then stalls
  std::string stall_prefix;  // paths starting with it: the request is read, then nothing is ever sent

 private:
  void Loop();
  void Handle(int fd);

  std::string root_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

}  // namespace fw::testing
