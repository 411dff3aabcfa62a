// A webhook receiver for the scheduler tests (server_scheduler_test.cc, server_instances_test.cc):
// a RequestHandler that records every request and answers `status` (200 unless a test changes it),
// and Lines() to read a heads file.
// Thread safety: Received is shared between the server's I/O threads and the test (its mutex).
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "fw/server/https_server.h"
#include "testing.h"

namespace fw::server::webhook_test {

struct Received {
  std::mutex mu;
  std::vector<Request> requests;
  std::atomic<int> status{200};
};

class ReceiverHandler final : public RequestHandler {
 public:
  explicit ReceiverHandler(Received& r) : r_(r) {}
  Response Handle(const Request& request) override {
    std::lock_guard<std::mutex> lock(r_.mu);
    r_.requests.push_back(request);
    Response resp;
    resp.status = r_.status.load();
    resp.body = "ok";
    return resp;
  }
  uint64_t MaxBodyBytes(const std::string&, const std::string&) const override { return 65536; }

 private:
  Received& r_;
};

// The lines of a text file (none when it does not exist); a last line without '\n' is not counted.
inline std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(path)) return out;
  std::string text = fw::testing::ReadFile(path), line;
  for (char ch : text) {
    if (ch == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line.push_back(ch);
    }
  }
  return out;
}

}  // namespace fw::server::webhook_test
