// Repository serving (fw/server/static_files.h) as pure request -> response: confinement,
// ETag / Cache-Control, conditional requests and Range edge cases; no sockets.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/static_files.h"
#include "testing.h"

namespace fw::server {
namespace {

using fw::testing::TempDir;
using fw::testing::WriteFile;
using Kind = RangeDecision::Kind;

std::string Header(const Response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

class RepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "repo/metadata");
    std::filesystem::create_directories(dir_ / "repo/targets/fw");
    std::filesystem::create_directories(dir_ / "repo/staged");
    content_ = "0123456789abcdefghij";  // 20 bytes
    WriteFile(dir_ / "repo/metadata/1.root.json", R"({"signed":{}})");
    WriteFile(dir_ / "repo/metadata/timestamp.json", R"({"ts":1})");
    WriteFile(dir_ / "repo/metadata/root.json", R"({"root":1})");
    hash_ = HexEncode(Sha256::Of(AsBytes(content_)));
    target_ = "targets/fw/" + hash_ + ".image.bin";
    WriteFile(dir_ / ("repo/" + target_), content_);
    WriteFile(dir_ / "repo/targets/fw/empty.bin", "");
    WriteFile(dir_ / "repo/repo.json", "{}");
    WriteFile(dir_ / "repo/staged/targets.json", "{}");
    WriteFile(dir_ / "secret.txt", "outside");
  }
  Response Get(const std::string& target, std::map<std::string, std::string> headers = {},
               const std::string& method = "GET") {
    Request r;
    r.method = method;
    r.target = target;
    r.headers = std::move(headers);
    return ServeRepositoryFile(dir_ / "repo", r);
  }
  TempDir dir_;
  std::string content_, hash_, target_;
};

TEST_F(RepoTest, WholeFileHasContentHashEtagAndImmutableCaching) {
  const Response r = Get("/repo/" + target_);
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->offset, 0u);
  EXPECT_EQ(r.file->length, 20u);
  EXPECT_EQ(Header(r, "ETag"), "\"sha256-" + hash_ + "\"");
  EXPECT_EQ(Header(r, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(r, "Content-Type"), "application/octet-stream");
  EXPECT_EQ(Header(r, "Accept-Ranges"), "bytes");
  EXPECT_FALSE(Header(r, "Last-Modified").empty());
}

TEST_F(RepoTest, CachingPolicyPerFile) {
  EXPECT_EQ(Header(Get("/repo/metadata/1.root.json"), "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(Get("/repo/metadata/1.root.json"), "Content-Type"), "application/json");
  EXPECT_EQ(Header(Get("/repo/metadata/timestamp.json"), "Cache-Control"), "public, max-age=60");
  EXPECT_EQ(Header(Get("/repo/metadata/root.json"), "Cache-Control"), "no-cache");
  EXPECT_EQ(Header(Get("/repo/targets/fw/empty.bin"), "Cache-Control"), "no-cache");
}

TEST_F(RepoTest, EtagFollowsTheContent) {
  const std::string before = Header(Get("/repo/metadata/timestamp.json"), "ETag");
  WriteFile(dir_ / "repo/metadata/timestamp.json", R"({"ts":2})");  // same size, new content
  const std::string after = Header(Get("/repo/metadata/timestamp.json"), "ETag");
  EXPECT_NE(before, after);
  EXPECT_EQ(after, "\"sha256-" + HexEncode(Sha256::Of(AsBytes(std::string(R"({"ts":2})")))) + "\"");
}

TEST_F(RepoTest, IfNoneMatchGives304) {
  const std::string etag = Header(Get("/repo/" + target_), "ETag");
  EXPECT_EQ(Get("/repo/" + target_, {{"if-none-match", etag}}).status, 304);
  EXPECT_EQ(Get("/repo/" + target_, {{"if-none-match", "W/" + etag}}).status, 304);  // weak comparison
  EXPECT_EQ(Get("/repo/" + target_, {{"if-none-match", "\"x\", " + etag}}).status, 304);
  EXPECT_EQ(Get("/repo/" + target_, {{"if-none-match", "*"}}).status, 304);
  const Response other = Get("/repo/" + target_, {{"if-none-match", "\"sha256-00\""}});
  EXPECT_EQ(other.status, 200);
  EXPECT_FALSE(Get("/repo/" + target_, {{"if-none-match", etag}}).file.has_value());
}

TEST_F(RepoTest, SingleRanges) {
  const std::string t = "/repo/" + target_;
  Response r = Get(t, {{"range", "bytes=2-5"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.file->offset, 2u);
  EXPECT_EQ(r.file->length, 4u);
  EXPECT_EQ(Header(r, "Content-Range"), "bytes 2-5/20");
  r = Get(t, {{"range", "bytes=0-"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(Header(r, "Content-Range"), "bytes 0-19/20");
  r = Get(t, {{"range", "bytes=-5"}});  // suffix
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(Header(r, "Content-Range"), "bytes 15-19/20");
  r = Get(t, {{"range", "bytes=-500"}});  // suffix longer than the file: all of it
  EXPECT_EQ(Header(r, "Content-Range"), "bytes 0-19/20");
  r = Get(t, {{"range", "bytes=10-99999999999999999999999"}});  // last beyond the end: clamped
  EXPECT_EQ(Header(r, "Content-Range"), "bytes 10-19/20");
  r = Get(t, {{"range", "bytes=19-19"}});
  EXPECT_EQ(Header(r, "Content-Range"), "bytes 19-19/20");
}

TEST_F(RepoTest, UnsatisfiableRangesAre416) {
  const std::string t = "/repo/" + target_;
  for (const char* range : {"bytes=20-", "bytes=20-30", "bytes=99999999999999999999999-", "bytes=-0"}) {
    const Response r = Get(t, {{"range", range}});
    EXPECT_EQ(r.status, 416) << range;
    EXPECT_EQ(Header(r, "Content-Range"), "bytes */20") << range;
    EXPECT_FALSE(r.file.has_value());
  }
}

TEST_F(RepoTest, MultiRangeAndInvalidRangesGetTheWholeFile) {
  const std::string t = "/repo/" + target_;
  for (const char* range : {"bytes=0-1,5-6", "bytes=0-1, 30-40", "items=0-1", "bytes=5-2", "bytes=a-b",
                            "bytes=", "bytes=1", "bytes=--1", "bytes=-"}) {
    const Response r = Get(t, {{"range", range}});
    EXPECT_EQ(r.status, 200) << range;
    ASSERT_TRUE(r.file.has_value());
    EXPECT_EQ(r.file->length, 20u) << range;
    EXPECT_EQ(Header(r, "Content-Range"), "") << range;
  }
}

TEST_F(RepoTest, IfRangeWithEtagAndDate) {
  const std::string t = "/repo/" + target_;
  const Response whole = Get(t);
  const std::string etag = Header(whole, "ETag");
  const std::string date = Header(whole, "Last-Modified");
  EXPECT_EQ(Get(t, {{"range", "bytes=2-3"}, {"if-range", etag}}).status, 206);
  EXPECT_EQ(Get(t, {{"range", "bytes=2-3"}, {"if-range", date}}).status, 206);
  EXPECT_EQ(Get(t, {{"range", "bytes=2-3"}, {"if-range", "\"sha256-00\""}}).status, 200);  // changed
  EXPECT_EQ(Get(t, {{"range", "bytes=2-3"}, {"if-range", "W/" + etag}}).status, 200);      // weak: never
  EXPECT_EQ(Get(t, {{"range", "bytes=2-3"}, {"if-range", "Sun, 06 Nov 1994 08:49:37 GMT"}}).status, 200);
  EXPECT_EQ(Get(t, {{"range", "bytes=2-3"}, {"if-range", "garbage"}}).status, 200);
  // A mismatching If-Range also disarms an unsatisfiable range: the whole file.
  EXPECT_EQ(Get(t, {{"range", "bytes=50-"}, {"if-range", "\"sha256-00\""}}).status, 200);
}

TEST_F(RepoTest, EmptyFile) {
  Response r = Get("/repo/targets/fw/empty.bin");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file->length, 0u);
  EXPECT_EQ(Get("/repo/targets/fw/empty.bin", {{"range", "bytes=0-"}}).status, 416);
  r = Get("/repo/targets/fw/empty.bin", {{"range", "bytes=-5"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file->length, 0u);
}

TEST_F(RepoTest, HeadHasTheSameHeadersAsGet) {
  const Response get = Get("/repo/" + target_, {{"range", "bytes=1-2"}});
  const Response head = Get("/repo/" + target_, {{"range", "bytes=1-2"}}, "HEAD");
  EXPECT_EQ(head.status, 206);
  EXPECT_EQ(head.headers, get.headers);
  EXPECT_EQ(head.file->length, 2u);  // the transport sends this as Content-Length, without the bytes
}

TEST_F(RepoTest, OtherMethodsAre405) {
  const Response r = Get("/repo/" + target_, {}, "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, HEAD");
}

TEST_F(RepoTest, TraversalAndOutsideFilesAre404) {
  for (const char* t :
       {"/repo/../secret.txt", "/repo/metadata/../../secret.txt", "/repo/metadata/%2e%2e/%2e%2e/secret.txt",
        "/repo/metadata/..%2F..%2Fsecret.txt", "/repo//etc/passwd", "/repo/metadata//1.root.json", "/repo/repo.json",
        "/repo/staged/targets.json", "/repo/metadata/./1.root.json", "/repo/metadata/1.root.json%00",
        "/repo/metadata/..\\secret.txt", "/repo/metadata", "/repo/metadata/", "/repo/", "/repox/metadata/1.root.json",
        "/secret.txt", "/repo/metadata/nope.json", "/repo/targets/fw", "/repo/metadata/%zz"}) {
    EXPECT_EQ(Get(t).status, 404) << t;
  }
  // Percent-encoding of ordinary characters and a query string are fine.
  EXPECT_EQ(Get("/repo/metadata/%31.root.json?x=1").status, 200);
}

TEST_F(RepoTest, SymlinksMayNotEscape) {
  ASSERT_EQ(symlink((dir_ / "secret.txt").c_str(), (dir_ / "repo/metadata/escape.json").c_str()), 0);
  ASSERT_EQ(symlink("../repo.json", (dir_ / "repo/metadata/config.json").c_str()), 0);
  ASSERT_EQ(symlink("1.root.json", (dir_ / "repo/metadata/2.root.json").c_str()), 0);
  ASSERT_EQ(symlink((dir_ / "repo/metadata").c_str(), (dir_ / "repo/targets/meta").c_str()), 0);
  EXPECT_EQ(Get("/repo/metadata/escape.json").status, 404);
  EXPECT_EQ(Get("/repo/metadata/config.json").status, 404);  // inside the repo, but not served
  EXPECT_EQ(Get("/repo/metadata/2.root.json").status, 200);  // a link inside the served tree
  EXPECT_EQ(Get("/repo/targets/meta/1.root.json").status, 200);
}

TEST(RangeParse, Decisions) {
  EXPECT_EQ(DecideRange("bytes=0-0", 1).kind, Kind::kPartial);
  EXPECT_EQ(DecideRange("BYTES = 0-0", 1).kind, Kind::kPartial);  // unit is case-insensitive
  EXPECT_EQ(DecideRange("bytes=0-0", 0).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(DecideRange("bytes=18446744073709551615-", 10).kind, Kind::kUnsatisfiable);
  const auto r = DecideRange("bytes=-18446744073709551616", 10);  // saturates: the whole file as a range
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 10u);
  EXPECT_EQ(DecideRange("bytes=+1-2", 10).kind, Kind::kWhole);
  EXPECT_EQ(DecideRange("bytes=1 -2", 10).kind, Kind::kWhole);
}

TEST(HttpDates, RoundTripAndStrictness) {
  EXPECT_EQ(HttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_FALSE(ParseHttpDate("Mon, 06 Nov 1994 08:49:37 GMT").has_value());   // wrong weekday
  EXPECT_FALSE(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT").has_value());  // obsolete format
  EXPECT_FALSE(ParseHttpDate("").has_value());
}

}  // namespace
}  // namespace fw::server
