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
  d.min_bytes_per_second = 1;  // the trickle keeps above the floor: only the deadline can end it
  d.min_speed_window_seconds = net::kMaxMinSpeedWindowSeconds;
  d.deadline_seconds = 1;
  net::HttpFetcher deadline(d);
  const auto start = std::chrono::steady_clock::now();
  s = deadline.Fetch(server_.Url() + "slow", 1 << 20, [](ByteSpan) { return Status::Ok(); });
  EXPECT_EQ(s.code(), ErrorCode::kTimeout) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

// Issue 11 item 10: no bound can be switched off. libcurl reads 0 as "no limit", so a
// 0 deadline with a 0 floor waited forever on a stalled server.
TEST_F(HttpFetcherTest, BoundsThatWouldSwitchATimeoutOffAreRefusedBeforeAnyRequest) {
  server_.stall_prefix = "stall/";
  auto refused = [&](const net::HttpOptions& o, const std::string& needle) {
    EXPECT_EQ(o.Validate().code(), ErrorCode::kInvalidArgument) << needle;
    net::HttpFetcher f(o);
    const auto start = std::chrono::steady_clock::now();
    Status s = f.Fetch(server_.Url() + "stall/x", 100, [](ByteSpan) { return Status::Ok(); });
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  };
  net::HttpOptions o;
  o.deadline_seconds = 0;
  o.min_bytes_per_second = 0;
  refused(o, "deadline 0");
  o = {};
  o.deadline_seconds = net::kMaxDeadlineSeconds + 1;
  refused(o, "deadline 86401");
  o = {};
  o.min_bytes_per_second = 0;
  refused(o, "minimum speed 0");
  o = {};
  o.min_bytes_per_second = net::kMaxMinBytesPerSecond + 1;
  refused(o, "minimum speed");
  o = {};
  o.min_speed_window_seconds = 0;
  refused(o, "minimum speed window 0");
  o = {};
  o.connect_timeout_seconds = 0;
  refused(o, "connect timeout 0");
  EXPECT_TRUE(server_.Requests().empty());
  EXPECT_TRUE(net::HttpOptions{}.Validate().ok());
}

TEST(HttpOptionText, RangesAreCheckedBeforeNarrowing) {
  net::HttpOptions o;
  for (const char* bad : {"0", "-5", "", " 5", "5 ", "+5", "1e3", "0x10", "86401", "4294967296", "4294967297",
                          "18446744073709551616", "99999999999999999999999999"}) {
    Status s = net::ParseHttpOption(o, "--deadline", bad);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << "\"" << bad << "\" was accepted";
    EXPECT_NE(s.message().find("--deadline"), std::string::npos) << s.message();
  }
  EXPECT_EQ(o.deadline_seconds, net::HttpOptions{}.deadline_seconds);  // never changed by a refusal
  EXPECT_TRUE(net::ParseHttpOption(o, "--deadline", "86400").ok());
  EXPECT_EQ(o.deadline_seconds, 86400u);
  EXPECT_TRUE(net::ParseHttpOption(o, "--deadline", "1").ok());
  EXPECT_EQ(o.deadline_seconds, 1u);
  EXPECT_EQ(net::ParseHttpOption(o, "--min-speed", "0").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(net::ParseHttpOption(o, "--min-speed", "1073741825").code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(net::ParseHttpOption(o, "--min-speed", "1").ok());
  EXPECT_EQ(o.min_bytes_per_second, 1u);
  EXPECT_EQ(net::ParseHttpOption(o, "--min-speed-window", "0").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(net::ParseHttpOption(o, "--min-speed-window", "3601").code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(net::ParseHttpOption(o, "--min-speed-window", "3600").ok());
  EXPECT_EQ(net::ParseHttpOption(o, "--connect-timeout", "0").code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(o.Validate().ok());
}

// The smallest deadline ends the wait on a server that accepts and never answers, even
// with the loosest throughput floor (1 B/s over an hour never fires within the test).
TEST_F(HttpFetcherTest, TheSmallestDeadlineEndsTheWaitOnAStalledServer) {
  server_.stall_prefix = "stall/";
  net::HttpOptions o;
  o.deadline_seconds = 1;
  o.min_bytes_per_second = 1;
  o.min_speed_window_seconds = net::kMaxMinSpeedWindowSeconds;
  net::HttpFetcher f(o);
  const auto start = std::chrono::steady_clock::now();
  Status s = f.Fetch(server_.Url() + "stall/timestamp.json", 1 << 20, [](ByteSpan) { return Status::Ok(); });
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), ErrorCode::kTimeout) << s.message();
  EXPECT_NE(s.message().find("deadline 1 s"), std::string::npos) << s.message();
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(3));
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
    // A name outside the unreserved set ("+"): the client percent-encodes it on the wire and on disk.
    // (Names with "#" or "?" cannot be added by fwsign; the client side of them is in tuf_client_test.)
    for (const char* name : {"fw/pos-x1.img", "fw/1.2+b7.img"}) {
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
                                 "fw/1.2+b7.img",
                                 "--target-base-url",
                                 server_.Url() + "targets",
                                 "--target-dir",
                                 dir_ / "out",
                                 "download"};
  auto download = RunCommand(dl);
  ASSERT_EQ(download.exit_code, 0) << download.err;
  EXPECT_EQ(testing::ReadBytes(dir_ / "out/fw%2Fpos-x1.img"), testing::ReadBytes(dir_ / "fw.img"));
  EXPECT_EQ(testing::ReadBytes(dir_ / "out/fw%2F1.2%2Bb7.img"), testing::ReadBytes(dir_ / "fw.img"));
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

// fwtuf-client keeps to exit 0/1 (conformance protocol) but refuses a bound that would
// switch a timeout off, with a message, before any request; the smallest deadline ends
// the wait on a stalled repository.
TEST_F(ConformanceClientTest, NetworkBoundsAreValidatedAndTheDeadlineEndsAStall) {
  ASSERT_EQ(
      RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "init", dir_ / "repo/metadata/1.root.json"}).exit_code,
      0);
  server_.stall_prefix = "stall/";
  const std::string stalled = server_.Url() + "stall/metadata";
  auto client = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {"fwtuf-client", "--metadata-dir", dir_ / "md", "--metadata-url", stalled};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("refresh");
    return RunCommand(argv);
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--deadline", "0", "--min-speed", "0"}, "--deadline 0 is out of range"},
      {{"--deadline", "4294967296"}, "--deadline 4294967296 is out of range"},
      {{"--deadline", "-5"}, "--deadline needs a whole number"},
      {{"--min-speed", "0"}, "--min-speed 0 is out of range"},
      {{"--min-speed-window", "0"}, "--min-speed-window 0 is out of range"},
      {{"--connect-timeout", "0"}, "--connect-timeout 0 is out of range"},
      {{"--max-root-rotations", "4294967296"}, "--max-root-rotations 4294967296 is out of range"},
      {{"--max-root-rotations", "0"}, "--max-root-rotations 0 is out of range"},
  };
  for (const auto& [extra, needle] : bad) {
    auto r = client(extra);
    EXPECT_EQ(r.exit_code, 1) << needle;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
  EXPECT_TRUE(server_.Requests().empty());
  const auto start = std::chrono::steady_clock::now();
  auto r = client({"--deadline", "1", "--min-speed", "1", "--min-speed-window", "3600"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("deadline 1 s"), std::string::npos) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// fwupdate tuf refresh/download: the same bounds are usage errors (exit 2) and a stall
// ends at the deadline with the timeout code (6).
TEST_F(ConformanceClientTest, FwupdateTufBoundsAreUsageErrorsAndTheDeadlineIsExitSix) {
  ASSERT_EQ(
      RunCommand({"fwtuf-client", "--metadata-dir", dir_ / "md", "init", dir_ / "repo/metadata/1.root.json"}).exit_code,
      0);
  server_.stall_prefix = "stall/";
  auto refresh = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {"fwupdate",
                                     "tuf",
                                     "refresh",
                                     "--metadata-dir",
                                     dir_ / "md",
                                     "--metadata-url",
                                     server_.Url() + "stall/metadata"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  };
  for (const auto& extra : std::vector<std::vector<std::string>>{{"--deadline", "0", "--min-speed", "0"},
                                                                 {"--deadline", "4294967296"},
                                                                 {"--deadline", "-5"},
                                                                 {"--deadline", "86401"},
                                                                 {"--min-speed", "0"},
                                                                 {"--min-speed", "-1"},
                                                                 {"--min-speed-window", "0"},
                                                                 {"--connect-timeout", "0"}}) {
    auto r = refresh(extra);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << extra[1] << ": " << r.err;
    EXPECT_NE(r.err.find(extra[0]), std::string::npos) << r.err;
  }
  auto dl = RunCommand({"fwupdate", "tuf", "download", "--metadata-dir", dir_ / "md", "--metadata-url",
                        server_.Url() + "stall/metadata", "--target-base-url", server_.Url() + "targets", "--target",
                        "fw/pos-x1.img", "--hardware-id", "POS-X1", "--target-dir", dir_ / "out", "--deadline", "0"});
  EXPECT_EQ(dl.exit_code, 2) << dl.err;
  EXPECT_FALSE(testing::Exists(dir_ / "out"));
  // The device-policy counter is range-checked too (Boost would wrap "-1" to 4294967295).
  for (const char* counter : {"-1", "4294967296", "1x"}) {
    auto r = RunCommand({"fwupdate", "tuf", "download", "--metadata-dir", dir_ / "md", "--metadata-url",
                         server_.Url() + "stall/metadata", "--target-base-url", server_.Url() + "targets", "--target",
                         "fw/pos-x1.img", "--hardware-id", "POS-X1", "--target-dir", dir_ / "out",
                         "--installed-security-counter", counter});
    EXPECT_EQ(r.exit_code, 2) << counter << ": " << r.err;
    EXPECT_NE(r.err.find("--installed-security-counter"), std::string::npos) << r.err;
    r = RunCommand({"fwupdate", "bundle", "verify", "--metadata-dir", dir_ / "md", "--hardware-id", "POS-X1",
                    "--installed-security-counter", counter, dir_ / "no-such.tar"});
    EXPECT_EQ(r.exit_code, 2) << counter << ": " << r.err;
  }
  EXPECT_TRUE(server_.Requests().empty());
  const auto start = std::chrono::steady_clock::now();
  auto r = refresh({"--deadline", "1", "--min-speed", "1", "--min-speed-window", "3600"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace fw
