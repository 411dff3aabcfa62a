// HttpStream against the hostile HTTPS server: every scripted fault, checked on the bytes returned
// (byte-identical or an error, never a wrong byte) and on the server's request log (resumes from
// the right offsets with If-Range).
#include "fw/http_stream.h"

#include "fw/net_sources.h"

#include <gtest/gtest.h>

#include <filesystem>
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

TEST_F(HttpStreamTest, SmallReadsThroughTheBufferAreByteIdentical) {
  const std::string body = Content(3 << 20, 3);
  server_->Serve("/img", body);
  server_->AddFault(Fault::DropAfter("/img", 1 << 20));
  auto s = HttpStream::Open(server_->Url("/img"), Options(), clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->Size(), body.size());
  auto r = ReadAll(**s, 4093);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  EXPECT_EQ((*s)->Offset(), body.size());
}

TEST_F(HttpStreamTest, StallIsATimeoutWithinTheOverallDeadline) {
  server_->Serve("/img", Content(1 << 20, 4));
  server_->AddFault(Fault::StallAfter("/img", 100000));
  StreamOptions o = Options();
  o.overall_deadline_ms = 2000;  // on the real clock: the stall must end the stream
  auto s = HttpStream::Open(server_->Url("/img"), o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = ReadAll(**s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout) << r.status().message();
  EXPECT_LT((*s)->Offset(), 1u << 20);
}

TEST_F(HttpStreamTest, StallBelowTheSpeedFloorResumes) {
  const std::string body = Content(1 << 20, 5);
  server_->Serve("/img", body);
  server_->AddFault(Fault::StallAfter("/img", 2000).Requests(1, 1));
  StreamOptions o = Options();
  o.http.min_bytes_per_second = 1000;
  o.http.min_speed_window_seconds = 1;
  StreamStats stats;
  auto r = Fetch("/img", o, &stats);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  ASSERT_EQ(server_->Log().size(), 2u);
  EXPECT_EQ(server_->Log()[1].range, "bytes=2000-");
}

TEST_F(HttpStreamTest, TruncatedBodyResumes) {
  const std::string body = Content(2 << 20, 6);
  server_->Serve("/img", body);
  server_->AddFault(Fault::Truncate("/img", 700000).Requests(1, 1));
  auto r = Fetch("/img", Options());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  EXPECT_EQ(Ranges(), (std::vector<std::string>{"", "bytes=700000-"}));
}

TEST_F(HttpStreamTest, CorruptedByteIsRefetchedAfterASeek) {
  const std::string body = Content(1 << 20, 7);
  server_->Serve("/img", body);
  server_->AddFault(Fault::CorruptAt("/img", 500000));
  auto s = HttpStream::Open(server_->Url("/img"), Options(), clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto first = ReadAll(**s);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), body.size());
  EXPECT_NE((*first)[500000], body[500000]);  // the stream hands out what came; the chunk hash catches it
  ASSERT_TRUE((*s)->Seek(400000).ok());
  EXPECT_EQ((*s)->Offset(), 400000u);
  auto again = ReadAll(**s);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(*again == body.substr(400000));
  EXPECT_EQ(Ranges(), (std::vector<std::string>{"", "bytes=400000-"}));
  EXPECT_EQ(server_->Log()[1].if_range, HostileServer::EtagOf(body));
}

TEST_F(HttpStreamTest, RangeIgnoredRestartsFromZeroAndDiscards) {
  const std::string body = Content(2 << 20, 8);
  server_->Serve("/img", body);
  server_->AddFault(Fault::DropAfter("/img", 600000).Requests(1, 1));
  server_->AddFault(Fault::IgnoreRange("/img"));
  StreamStats stats;
  auto r = Fetch("/img", Options(), &stats);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  EXPECT_EQ(Ranges(), (std::vector<std::string>{"", "bytes=600000-"}));
  EXPECT_EQ(server_->Log()[1].status, 200);
  EXPECT_EQ(stats.restarts, 1u);
  EXPECT_EQ(stats.bytes_received, body.size() + 600000);
}

TEST_F(HttpStreamTest, WrongContentRangeIsAFailedAttempt) {
  const std::string body = Content(2 << 20, 9);
  server_->Serve("/img", body);
  server_->AddFault(Fault::DropAfter("/img", 500000).Requests(1, 1));
  server_->AddFault(Fault::WrongContentRange("/img", 10).Requests(2, 1));
  auto r = Fetch("/img", Options());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  EXPECT_EQ(Ranges(), (std::vector<std::string>{"", "bytes=500000-", "bytes=500000-"}));
  EXPECT_EQ(server_->Log()[1].status, 206);
}

TEST_F(HttpStreamTest, WrongContentRangeEveryTimeGivesUpAsCorrupt) {
  const std::string body = Content(1 << 20, 10);
  server_->Serve("/img", body);
  server_->AddFault(Fault::DropAfter("/img", 300000).Requests(1, 1));
  server_->AddFault(Fault::WrongContentRange("/img", 1).Requests(2, Fault::kAlways));
  StreamOptions o = Options();
  o.max_attempts = 4;
  auto s = HttpStream::Open(server_->Url("/img"), o, clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = ReadAll(**s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << r.status().message();
  EXPECT_NE(r.status().message().find("max_attempts"), std::string::npos) << r.status().message();
  EXPECT_EQ(server_->Log().size(), 4u);
  EXPECT_EQ((*s)->Offset(), 300000u);
}

TEST_F(HttpStreamTest, ChangedTotalLengthIsCorrupt) {
  server_->Serve("/img", Content(1 << 20, 11));
  server_->AddFault(Fault::DropAfter("/img", 300000).Requests(1, 1));
  server_->AddFault(Fault::WrongTotal("/img"));
  auto r = Fetch("/img", Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << r.status().message();
  EXPECT_NE(r.status().message().find("changed"), std::string::npos) << r.status().message();
  EXPECT_EQ(server_->Log().size(), 2u);
}

// The content changes between two connections: If-Range makes the server send the new content (200,
// new ETag); the stream refuses it instead of splicing two versions.
TEST_F(HttpStreamTest, ChangedEtagIsCorruptAndNoByteOfTheOtherContentIsReturned) {
  for (bool honour : {true, false}) {
    SCOPED_TRACE(honour ? "server honours If-Range" : "server ignores If-Range");
    server_->ClearFaults();
    server_->ClearLog();
    const std::string body = Content(1 << 20, 12);
    server_->Serve("/img", body);
    server_->AddFault(Fault::DropAfter("/img", 400000).Requests(1, 1));
    Fault change = Fault::ChangeContent("/img", Content(1 << 20, 13), 2);
    change.honour_if_range = honour;
    server_->AddFault(change);
    auto s = HttpStream::Open(server_->Url("/img"), Options(), clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    std::string got;
    std::vector<uint8_t> buf(65536);
    Status error;
    for (;;) {
      auto n = (*s)->Read(buf);
      if (!n.ok()) {
        error = n.status();
        break;
      }
      ASSERT_NE(*n, 0u) << "the stream ended without noticing the change";
      got.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    EXPECT_EQ(error.code(), ErrorCode::kCorrupt) << error.message();
    EXPECT_NE(error.message().find("ETag"), std::string::npos) << error.message();
    EXPECT_TRUE(got == body.substr(0, got.size()));
    EXPECT_EQ(got.size(), 400000u);
    ASSERT_EQ(server_->Log().size(), 2u);
    EXPECT_EQ(server_->Log()[1].status, honour ? 200 : 206);
    EXPECT_EQ(server_->Log()[1].if_range, HostileServer::EtagOf(body));
  }
}

TEST_F(HttpStreamTest, ServerErrorsAreRetriedWithCappedExponentialBackoff) {
  const std::string body = Content(300000, 14);
  server_->Serve("/img", body);
  server_->AddFault(Fault::Status("/img", 500, 5));
  StreamStats stats;
  auto r = Fetch("/img", Options(), &stats);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  EXPECT_EQ(stats.connections, 6u);
  const auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 5u);
  const int64_t caps[] = {100, 200, 400, 800, 1000};  // initial 100 ms doubling, capped at 1000 ms
  for (size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i], 0);
    EXPECT_LE(sleeps[i], caps[i]) << i;
  }
}

TEST_F(HttpStreamTest, RetryAfterIsHonoured) {
  const std::string body = Content(200000, 15);
  server_->Serve("/img", body);
  server_->AddFault(Fault::Status("/img", 503, 2, 7));
  auto r = Fetch("/img", Options());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  const auto sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_GE(sleeps[0], 7000);
  EXPECT_GE(sleeps[1], 7000);
}

TEST_F(HttpStreamTest, RetryAfterBeyondTheOverallDeadlineIsATimeoutWithoutWaiting) {
  server_->Serve("/img", Content(1000, 16));
  server_->AddFault(Fault::Status("/img", 429, 1, 3600));
  StreamOptions o = Options();
  o.overall_deadline_ms = 60000;
  auto r = Fetch("/img", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout) << r.status().message();
  EXPECT_NE(r.status().message().find("overall deadline 60000 ms"), std::string::npos) << r.status().message();
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(HttpStreamTest, RedirectIsNotFollowed) {
  server_->Serve("/img", Content(1000, 17));
  for (const std::string location : {"https://elsewhere.example/img", "http://127.0.0.1:1/img"}) {
    server_->ClearFaults();
    server_->ClearLog();
    server_->AddFault(Fault::Redirect("/img", location));
    auto r = Fetch("/img", Options());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kIoError);
    EXPECT_NE(r.status().message().find(location), std::string::npos) << r.status().message();
    EXPECT_EQ(server_->Log().size(), 1u);
  }
}

TEST_F(HttpStreamTest, WrongServerCertificateIsRefusedWithoutRetrying) {
  for (auto cert : {HostileServerOptions::Cert::kOtherCa, HostileServerOptions::Cert::kWrongHost}) {
    HostileServerOptions o;
    o.cert = cert;
    auto other = StartServer(o);
    ASSERT_NE(other, nullptr);
    other->Serve("/img", Content(1000, 18));
    auto s = HttpStream::Open(other->Url("/img"), Options(), clock_);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), ErrorCode::kIoError) << s.status().message();
    EXPECT_TRUE(other->Log().empty());
    EXPECT_TRUE(clock_.sleeps().empty()) << "a certificate failure is final";
  }
}

TEST_F(HttpStreamTest, ClientCertificateIsSentWhenConfigured) {
  HostileServerOptions so;
  so.require_client_cert = true;
  auto mtls = StartServer(so);
  ASSERT_NE(mtls, nullptr);
  const std::string body = Content(100000, 19);
  mtls->Serve("/img", body);
  StreamOptions o = Options();
  o.max_attempts = 2;
  auto without = HttpStream::Open(mtls->Url("/img"), o, clock_);
  EXPECT_FALSE(without.ok());
  EXPECT_TRUE(mtls->Log().empty());
  o.http.client_cert_file = mtls->client_cert();
  o.http.client_key_file = mtls->client_key();
  auto with = HttpStream::Open(mtls->Url("/img"), o, clock_);
  ASSERT_TRUE(with.ok()) << with.status().message();
  auto r = ReadAll(**with);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  ASSERT_EQ(mtls->Log().size(), 1u);
  EXPECT_NE(mtls->Log()[0].client_subject.find("TERM-0001"), std::string::npos) << mtls->Log()[0].client_subject;
}

TEST_F(HttpStreamTest, DirectoryUnderAPrefixWithAFaultOnASubtree) {
  fw::testing::TempDir dir;
  std::filesystem::create_directories(dir / "targets");
  const std::string body = Content(700000, 26);
  fw::testing::WriteFile(dir / "targets/a.img", body);
  fw::testing::WriteFile(dir / "meta.json", "{}");
  server_->ServeDirectory(dir.path(), "/repo/");
  server_->AddFault(Fault::DropAfter("/repo/targets/*", 250000));
  auto meta = Fetch("/repo/meta.json", Options());
  ASSERT_TRUE(meta.ok()) << meta.status().message();
  EXPECT_EQ(*meta, "{}");
  auto r = Fetch("/repo/targets/a.img", Options());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body);
  EXPECT_EQ(Ranges(), (std::vector<std::string>{"", "", "bytes=250000-", "bytes=500000-"}));
  EXPECT_EQ(Fetch("/meta.json", Options()).status().code(), ErrorCode::kNotFound);
}

TEST_F(HttpStreamTest, MissingFileIsNotFound) {
  auto r = Fetch("/nothing", Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kNotFound) << r.status().message();
  EXPECT_EQ(server_->Log().size(), 1u);
}

TEST_F(HttpStreamTest, MaxAttemptsBoundsTheConnections) {
  server_->Serve("/img", Content(1 << 20, 20));
  server_->AddFault(Fault::DropAfter("/img", 1000));
  StreamOptions o = Options();
  o.max_attempts = 3;
  auto s = HttpStream::Open(server_->Url("/img"), o, clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto r = ReadAll(**s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kIoError);
  EXPECT_NE(r.status().message().find("gave up after 3 connections"), std::string::npos) << r.status().message();
  EXPECT_EQ(server_->Log().size(), 3u);
  EXPECT_EQ((*s)->Offset(), 3000u);
}

TEST_F(HttpStreamTest, OpenAtAnOffsetAsksForTheRest) {
  const std::string body = Content(500000, 21);
  server_->Serve("/img", body);
  auto s = HttpStream::Open(server_->Url("/img"), Options(), clock_, 123456);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->Size(), body.size());
  EXPECT_EQ((*s)->Offset(), 123456u);
  auto r = ReadAll(**s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r == body.substr(123456));
  EXPECT_EQ(Ranges(), std::vector<std::string>{"bytes=123456-"});
  EXPECT_EQ((*s)->etag(), HostileServer::EtagOf(body));
  EXPECT_FALSE((*s)->Seek(body.size() + 1).ok());
}

TEST_F(HttpStreamTest, NameHasNoCredentials) {
  server_->Serve("/img", Content(100, 22));
  std::string url = server_->Url("/img");
  url.insert(url.find("//") + 2, "user:secret@");
  auto s = HttpStream::Open(url, Options(), clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->Name(), server_->Url("/img"));
}

TEST_F(HttpStreamTest, StreamBundleSourceHandsOnTheStream) {
  const std::string body = Content(1 << 20, 23);
  server_->Serve("/b.tar", body);
  server_->AddFault(Fault::DropAfter("/b.tar", 300000).Requests(1, 1));
  auto stream = bundle::HttpStreamOpener(Options(), clock_)(server_->Url("/b.tar"));
  ASSERT_TRUE(stream.ok()) << stream.status().message();
  auto source = bundle::StreamBundleSource(std::move(*stream));
  EXPECT_EQ(source->Name(), server_->Url("/b.tar"));
  EXPECT_EQ(source->Size(), body.size());
  std::vector<uint8_t> peek(10);
  auto peeked = source->PeekAt(body.size() - 10, peek);
  ASSERT_TRUE(peeked.ok());
  EXPECT_FALSE(*peeked);
  std::string got;
  std::vector<uint8_t> buf(70000);
  for (;;) {
    auto n = source->Read(buf);
    ASSERT_TRUE(n.ok()) << n.status().message();
    if (*n == 0) break;
    got.append(reinterpret_cast<const char*>(buf.data()), *n);
  }
  EXPECT_TRUE(got == body);
  EXPECT_EQ(Ranges(), (std::vector<std::string>{"", "bytes=300000-"}));
}

// A weak ETag is never used for If-Range (RFC 9110 allows only strong ones); without a validator
// the resume asks for the range alone.
TEST_F(HttpStreamTest, WeakOrMissingEtagIsNotSentAsIfRange) {
  const std::string body = Content(1 << 20, 24);
  for (const std::string etag : {"W/\"weak\"", ""}) {
    SCOPED_TRACE(etag);
    server_->ClearFaults();
    server_->ClearLog();
    server_->Serve("/img", body, etag);
    server_->AddFault(Fault::DropAfter("/img", 333333).Requests(1, 1));
    auto s = HttpStream::Open(server_->Url("/img"), Options(), clock_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ((*s)->etag(), "");
    auto r = ReadAll(**s);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(*r == body);
    ASSERT_EQ(server_->Log().size(), 2u);
    EXPECT_EQ(server_->Log()[1].range, "bytes=333333-");
    EXPECT_EQ(server_->Log()[1].if_range, "");
  }
}

TEST_F(HttpStreamTest, EmptyContentEndsAtOnce) {
  server_->Serve("/empty", "");
  auto s = HttpStream::Open(server_->Url("/empty"), Options(), clock_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->Size(), 0u);
  auto r = ReadAll(**s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->empty());
}

TEST_F(HttpStreamTest, OpenBeyondTheEndIsRefused) {
  server_->Serve("/img", Content(1000, 25));
  auto s = HttpStream::Open(server_->Url("/img"), Options(), clock_, 5000);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("416"), std::string::npos) << s.status().message();
  EXPECT_EQ(server_->Log().size(), 1u);
}

TEST(StreamOptionsTest, BoundsAreValidated) {
  EXPECT_TRUE(StreamOptions().Validate().ok());
  auto bad = [](auto change, const std::string& name) {
    StreamOptions o;
    change(o);
    const Status s = o.Validate();
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  };
  bad([](StreamOptions& o) { o.max_attempts = 0; }, "max_attempts");
  bad([](StreamOptions& o) { o.max_attempts = 1001; }, "max_attempts");
  bad([](StreamOptions& o) { o.backoff_initial_ms = 0; }, "backoff_initial_ms");
  bad([](StreamOptions& o) { o.backoff_max_ms = o.backoff_initial_ms - 1; }, "backoff_max_ms");
  bad([](StreamOptions& o) { o.backoff_max_ms = 3600001; }, "backoff_max_ms");
  bad([](StreamOptions& o) { o.overall_deadline_ms = 0; }, "overall_deadline_ms");
  bad([](StreamOptions& o) { o.overall_deadline_ms = 7ull * 24 * 3600 * 1000 + 1; }, "overall_deadline_ms");
  bad([](StreamOptions& o) { o.http.deadline_seconds = 0; }, "deadline");
}

TEST(StreamOptionsTest, PlainHttpOnlyWhenAllowed) {
  auto s = HttpStream::Open("http://127.0.0.1:1/x", StreamOptions());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument);
  auto f = HttpStream::Open("ftp://127.0.0.1/x", StreamOptions());
  EXPECT_EQ(f.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace fw::net
