// HttpStream against the hostile HTTPS server: every scripted fault, checked on the bytes returned
// (byte-identical or an error, never a wrong byte) and on the server's request log (resumes from
// the right offsets with If-Range).
#include "fw/http_stream.h"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "hostile_server.h"
#include "testing.h"

namespace fw::net {
namespace {

using fw::testing::Fault;
using fw::testing::HostileServer;
using fw::testing::HostileServerOptions;

// A fake clock that records its sleeps (backoffs, Retry-After) and returns at once.
class RecordingClock final : public Clock {
 public:
  int64_t WallMs() const override { return 1'700'000'000'000 + now_; }
  int64_t MonotonicMs() const override { return now_; }
  void SleepMs(int64_t ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    sleeps_.push_back(ms);
    if (ms > 0) now_ += ms;
  }
  std::vector<int64_t> sleeps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

 private:
  mutable std::mutex mu_;
  std::atomic<int64_t> now_{0};
  std::vector<int64_t> sleeps_;
};

std::string Content(size_t n, uint32_t seed) {
  const auto bytes = fw::testing::PseudoRandomBytes(n, seed);
  return std::string(bytes.begin(), bytes.end());
}

class HttpStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { server_ = StartServer({}); }

  std::unique_ptr<HostileServer> StartServer(const HostileServerOptions& o) {
    std::string error;
    auto s = HostileServer::Start(o, &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  StreamOptions Options() const {
    StreamOptions o;
    o.http.ca_file = server_->ca_file();
    o.http.deadline_seconds = 30;
    o.http.connect_timeout_seconds = 5;
    o.max_attempts = 50;
    o.backoff_initial_ms = 100;
    o.backoff_max_ms = 1000;
    o.overall_deadline_ms = 600000;
    return o;
  }

  // Reads the whole stream in `piece`-byte reads; the error if one stops it.
  static Result<std::string> ReadAll(ByteStream& s, size_t piece = 100000) {
    std::string out;
    std::vector<uint8_t> buf(piece);
    for (;;) {
      FW_ASSIGN_OR_RETURN(size_t n, s.Read(buf));
      if (n == 0) return out;
      out.append(reinterpret_cast<const char*>(buf.data()), n);
    }
  }

  Result<std::string> Fetch(const std::string& path, const StreamOptions& o, StreamStats* stats = nullptr) {
    FW_ASSIGN_OR_RETURN(auto s, HttpStream::Open(server_->Url(path), o, clock_));
    auto r = ReadAll(*s);
    if (stats != nullptr) *stats = s->stats();
    return r;
  }

  std::vector<std::string> Ranges() const {
    std::vector<std::string> out;
    for (const auto& r : server_->Log()) out.push_back(r.range);
    return out;
  }

  RecordingClock clock_;
  std::unique_ptr<HostileServer> server_;
};

TEST_F(HttpStreamTest, PlainDownloadIsByteIdentical) {
  const std::string body = Content(1 << 20, 1);
  server_->Serve("/img", body);
  StreamStats stats;
  auto r = Fetch("/img", Options(), &stats);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, body);
  EXPECT_EQ(stats.connections, 1u);
  ASSERT_EQ(server_->Log().size(), 1u);
  EXPECT_EQ(server_->Log()[0].range, "");
}

TEST_F(HttpStreamTest, DropsResumeWithRangeAndIfRangeFromTheNextByte) {
  const std::string body = Content(4 << 20, 2);
  server_->Serve("/img", body);
  server_->AddFault(Fault::DropAfter("/img", 256 * 1024));
  StreamStats stats;
  auto r = Fetch("/img", Options(), &stats);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  const auto log = server_->Log();
  ASSERT_EQ(log.size(), 16u);
  for (size_t i = 1; i < log.size(); ++i) {
    EXPECT_EQ(log[i].range, "bytes=" + std::to_string(i * 256 * 1024) + "-") << i;
    EXPECT_EQ(log[i].if_range, HostileServer::EtagOf(body)) << i;
    EXPECT_EQ(log[i].status, 206);
  }
  EXPECT_EQ(stats.resumes, 15u);
  EXPECT_EQ(stats.restarts, 0u);
  EXPECT_EQ(stats.bytes_received, body.size());
}

}  // namespace
}  // namespace fw::net
