// The libcurl fetcher against a loopback server (caps, deadlines, status codes) and
// the conformance-protocol client (fwtuf-client) end to end, also under faketime.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "fw/http_fetcher.h"
#include "http_test_server.h"
#include "testing.h"

namespace fw {
namespace {

using testing::HttpTestServer;
using testing::RunCommand;
using testing::TempDir;

class HttpFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::WriteFile(dir_ / "hello.txt", "hello, terminal"); }
  TempDir dir_;
  HttpTestServer server_{dir_.path()};
};

TEST_F(HttpFetcherTest, FetchesBodyAndMaps404ToNotFound) {
  net::HttpFetcher f;
  auto body = net::FetchToString(f, server_.Url() + "hello.txt", 100);
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_EQ(*body, "hello, terminal");
  EXPECT_EQ(net::FetchToString(f, server_.Url() + "missing.json", 100).status().code(), ErrorCode::kNotFound);
  // Exactly at the cap is fine; one byte less is refused.
  EXPECT_TRUE(net::FetchToString(f, server_.Url() + "hello.txt", 15).ok());
  EXPECT_EQ(net::FetchToString(f, server_.Url() + "hello.txt", 14).status().code(), ErrorCode::kResourceExhausted);
}

TEST_F(HttpFetcherTest, EndlessAndHugeBodiesAreCutAtTheCap) {
  server_.endless_path = "endless";
  server_.huge_path = "huge";
  net::HttpFetcher f;
  uint64_t delivered = 0;
  const auto start = std::chrono::steady_clock::now();
  Status s = f.Fetch(server_.Url() + "endless", 1 << 20, [&](ByteSpan b) {
    delivered += b.size();
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted) << s.message();
  EXPECT_LE(delivered, 1u << 20);
  delivered = 0;
  s = f.Fetch(server_.Url() + "huge", 1 << 20, [&](ByteSpan b) {
    delivered += b.size();
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted) << s.message();
  EXPECT_EQ(delivered, 0u);  // refused on the announced length, before any body
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST_F(HttpFetcherTest, SlowBodiesHitTheThroughputFloorAndTheDeadline) {
  server_.trickle_path = "slow";
  net::HttpOptions o;
  o.min_bytes_per_second = 100;
  o.min_speed_window_seconds = 1;
  net::HttpFetcher floor(o);
  Status s = floor.Fetch(server_.Url() + "slow", 1 << 20, [](ByteSpan) { return Status::Ok(); });
  EXPECT_EQ(s.code(), ErrorCode::kTimeout) << s.message();
  net::HttpOptions d;
  d.min_bytes_per_second = 0;
  d.deadline_seconds = 1;
  net::HttpFetcher deadline(d);
  const auto start = std::chrono::steady_clock::now();
  s = deadline.Fetch(server_.Url() + "slow", 1 << 20, [](ByteSpan) { return Status::Ok(); });
  EXPECT_EQ(s.code(), ErrorCode::kTimeout) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(HttpFetcherTest, RefusesOtherSchemesAndUnknownCa) {
  net::HttpFetcher f;
  EXPECT_FALSE(net::FetchToString(f, "file:///etc/passwd", 1 << 20).ok());
  net::HttpOptions o;
  o.ca_file = dir_ / "no-such-ca.pem";
  net::HttpFetcher with_ca(o);
  // Plain HTTP ignores the CA; an HTTPS URL to a plain HTTP port fails the handshake.
  EXPECT_TRUE(net::FetchToString(with_ca, server_.Url() + "hello.txt", 100).ok());
  std::string https = server_.Url();
  https.replace(0, 4, "https");
  EXPECT_EQ(net::FetchToString(with_ca, https + "hello.txt", 100).status().code(), ErrorCode::kIoError);
}

// ---- fwtuf-client (tuf-conformance CLIENT-CLI) --------------------------------

class ConformanceClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* k : {"root", "targets", "snapshot", "timestamp", "image"}) {
      ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", dir_ / (std::string(k) + ".pem")}).exit_code, 0);
    }
    auto r = RunCommand({"fwsign", "repo", "init", dir_ / "repo", "--root-key", dir_ / "root.pem", "--targets-key",
                         dir_ / "targets.pem", "--snapshot-key", dir_ / "snapshot.pem", "--timestamp-key",
                         dir_ / "timestamp.pem"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    testing::WriteBytes(dir_ / "p.bin", testing::PseudoRandomBytes(100000, 9));
    r = RunCommand({"fwsign", "image", "sign", "--key", dir_ / "image.pem", "--version", "1.2.3", "--security-counter",
                    "4", "--hardware-id", "POS-X1", dir_ / "p.bin", "-o", dir_ / "fw.img"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* name : {"fw/pos-x1.img", "odd#name?.img"}) {
      r = RunCommand({"fwsign", "repo", "add-target", dir_ / "repo", "--image", dir_ / "fw.img", "--name", name});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    r = RunCommand({"fwsign", "repo", "publish", dir_ / "repo", "--key", dir_ / "targets.pem", "--key",
                    dir_ / "snapshot.pem", "--key", dir_ / "timestamp.pem"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::vector<std::string> Base(const std::string& cmd) {
    return {"fwtuf-client", "--metadata-dir", dir_ / "md", "--metadata-url", server_.Url() + "metadata", cmd};
  }

  TempDir dir_;
  HttpTestServer server_{dir_ / "repo"};
};

TEST_F(ConformanceClientTest, InitRefreshDownloadWithExitCodesZeroOrOne) {
  auto init = RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "init", dir_ / "repo/metadata/1.root.json"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_TRUE(server_.Requests().empty());  // init makes no request
  auto refresh = RunCommand(Base("refresh"));
  ASSERT_EQ(refresh.exit_code, 0) << refresh.err;
  EXPECT_EQ(testing::ReadFile(dir_ / "md/timestamp.json"), testing::ReadFile(dir_ / "repo/metadata/timestamp.json"));
  std::vector<std::string> dl = {"fwtuf-client",
                                 "--metadata-dir",
                                 dir_ / "md",
                                 "--metadata-url",
                                 server_.Url() + "metadata",
                                 "--target-name",
                                 "fw/pos-x1.img",
                                 "--target-name",
                                 "odd#name?.img",
                                 "--target-base-url",
                                 server_.Url() + "targets",
                                 "--target-dir",
                                 dir_ / "out",
                                 "download"};
  auto download = RunCommand(dl);
  ASSERT_EQ(download.exit_code, 0) << download.err;
  EXPECT_EQ(testing::ReadBytes(dir_ / "out/fw%2Fpos-x1.img"), testing::ReadBytes(dir_ / "fw.img"));
  EXPECT_EQ(testing::ReadBytes(dir_ / "out/odd%23name%3F.img"), testing::ReadBytes(dir_ / "fw.img"));
  // Cached: a second download fetches no target.
  const size_t before = server_.Requests().size();
  ASSERT_EQ(RunCommand(dl).exit_code, 0);
  for (size_t i = before; i < server_.Requests().size(); ++i) {
    EXPECT_EQ(server_.Requests()[i].find("/targets/"), std::string::npos) << server_.Requests()[i];
  }
  // Unknown target, bad usage, unreachable repository: exit 1, never another code.
  dl[6] = "no/such.img";
  EXPECT_EQ(RunCommand(dl).exit_code, 1);
  EXPECT_EQ(RunCommand({"fwtuf-client", "refresh"}).exit_code, 1);
  EXPECT_EQ(RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "--bogus", "refresh"}).exit_code, 1);
  EXPECT_EQ(RunCommand({"fwtuf-client"}).exit_code, 1);
  EXPECT_EQ(
      RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "--metadata-url", "http://127.0.0.1:1/", "refresh"})
          .exit_code,
      1);
  EXPECT_EQ(RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md2", "init", dir_ / "p.bin"}).exit_code, 1);
}

TEST_F(ConformanceClientTest, ExpiredMetadataRefusedUnderFaketime) {
  ASSERT_EQ(
      RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "init", dir_ / "repo/metadata/1.root.json"}).exit_code,
      0);
  ASSERT_EQ(RunCommand(Base("refresh")).exit_code, 0);
  const std::string stored = testing::ReadFile(dir_ / "md/timestamp.json");
  // Timestamp lives one day: two days ahead it is expired (faketime fakes the C
  // library's time(), which the client reads once as its reference time).
  auto argv = Base("refresh");
  argv[0] = testing::BinaryPath("fwtuf-client");
  argv.insert(argv.begin(), {"env", "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", "faketime", "-f", "+2d"});
  auto r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("expired"), std::string::npos) << r.err;
  EXPECT_EQ(testing::ReadFile(dir_ / "md/timestamp.json"), stored);
  // Root lives a year: 400 days ahead the root itself is refused.
  argv[4] = "+400d";
  r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("root version 1 expired"), std::string::npos) << r.err;
  // And today it still refreshes.
  EXPECT_EQ(RunCommand(Base("refresh")).exit_code, 0);
}

}  // namespace
}  // namespace fw
