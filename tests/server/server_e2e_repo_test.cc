// End-to-end, the repository under /repo/: a real `fwsign repo` directory in DIR/repo served by
// the running fwserver over TLS (no client certificate: any static server or CDN could serve it).
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "e2e_fleet.h"

namespace fw::server::e2e {
namespace {

namespace fs = std::filesystem;
using fw::testing::ReadFile;
using fw::testing::RunCommand;

class E2eRepoTest : public E2eFixture {
 protected:
  void SetUp() override {
    E2eFixture::SetUp();
    if (HasFatalFailure()) return;
    auto k = [&](const std::string& n) { return tmp_ / (n + ".pem"); };
    for (const char* name : {"root", "targets", "snapshot", "timestamp", "image"}) {
      ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", k(name)}).exit_code, 0);
    }
    const std::string repo = server_->dir() + "/repo";
    auto r = RunCommand({"fwsign", "repo", "init", repo, "--root-key", k("root"), "--targets-key", k("targets"),
                         "--snapshot-key", k("snapshot"), "--timestamp-key", k("timestamp")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(fw::testing::SignAndPublishRelease({repo, k("image"), tmp_ / "fw.img", "1.3.0", 2, 150000, 9},
                                                 {k("targets"), k("snapshot"), k("timestamp")}),
              "");
    for (const auto& name : fw::testing::ListDir(repo + "/targets")) {
      // The image, not its chunk index file (tuf.md, "Chunk index files").
      if (std::regex_match(name, std::regex("[0-9a-f]{64}\\..+")) && !name.ends_with(".chunk-index")) target_ = name;
    }
    ASSERT_FALSE(target_.empty());
    file_ = repo + "/targets/" + target_;
    content_ = ReadFile(file_);
    size_ = content_.size();
    url_ = "/repo/targets/" + target_;
  }
  std::string target_, file_, content_, url_;
  size_t size_ = 0;
};

TEST_F(E2eRepoTest, MetadataAndTargetsWithContentHashETagsAndCaching) {
  const std::string md = server_->dir() + "/repo/metadata/";
  HttpReply r = server_->Get("/repo/metadata/timestamp.json");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, ReadFile(md + "timestamp.json"));
  EXPECT_EQ(r.Header("etag"), "\"sha256-" + FileSha256Hex(md + "timestamp.json") + "\"");
  EXPECT_NE(r.Header("cache-control").find("max-age=60"), std::string::npos) << r.Header("cache-control");
  r = server_->Get("/repo/metadata/1.root.json");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_NE(r.Header("cache-control").find("immutable"), std::string::npos) << r.Header("cache-control");
  r = server_->Get(url_);
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, content_);
  const std::string etag = "\"sha256-" + FileSha256Hex(file_) + "\"";
  EXPECT_EQ(r.Header("etag"), etag);
  EXPECT_NE(r.Header("cache-control").find("immutable"), std::string::npos) << r.Header("cache-control");
  r = server_->Get(url_, {"If-None-Match: " + etag});
  EXPECT_EQ(r.status, 304) << r.Describe();
  EXPECT_EQ(r.body, "");
  // Only the repository's served parts, and nothing outside it.
  EXPECT_EQ(server_->Get("/repo/repo.json").status, 404);
  EXPECT_EQ(server_->Get("/repo/%2e%2e/server.db").status, 404);
  EXPECT_EQ(server_->Get("/repo/targets/%2e%2e/%2e%2e/fwserver.json").status, 404);
}

TEST_F(E2eRepoTest, RangeRequests) {
  const std::string n = std::to_string(size_);
  const std::string etag = "\"sha256-" + FileSha256Hex(file_) + "\"";
  HttpReply r = server_->Get(url_, {"Range: bytes=100-199"});
  ASSERT_EQ(r.status, 206) << r.Describe();
  EXPECT_EQ(r.Header("content-range"), "bytes 100-199/" + n);
  EXPECT_EQ(r.body, content_.substr(100, 100));
  // Resuming with If-Range: the same content -> the range; another ETag -> the whole file.
  r = server_->Get(url_, {"Range: bytes=1000-", "If-Range: " + etag});
  ASSERT_EQ(r.status, 206) << r.Describe();
  EXPECT_EQ(r.Header("content-range"), "bytes 1000-" + std::to_string(size_ - 1) + "/" + n);
  EXPECT_EQ(r.body, content_.substr(1000));
  r = server_->Get(url_, {"Range: bytes=1000-", "If-Range: \"sha256-" + std::string(64, '0') + "\""});
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, content_);
  // Suffix range: the last 500 bytes.
  r = server_->Get(url_, {"Range: bytes=-500"});
  ASSERT_EQ(r.status, 206) << r.Describe();
  EXPECT_EQ(r.Header("content-range"),
            "bytes " + std::to_string(size_ - 500) + "-" + std::to_string(size_ - 1) + "/" + n);
  EXPECT_EQ(r.body, content_.substr(size_ - 500));
  // A range that ends beyond the file is cut to it; one that starts beyond it is 416.
  r = server_->Get(url_, {"Range: bytes=" + std::to_string(size_ - 10) + "-" + std::to_string(size_ + 1000)});
  ASSERT_EQ(r.status, 206) << r.Describe();
  EXPECT_EQ(r.body, content_.substr(size_ - 10));
  r = server_->Get(url_, {"Range: bytes=" + n + "-"});
  EXPECT_EQ(r.status, 416) << r.Describe();
  EXPECT_EQ(r.Header("content-range"), "bytes */" + n);
  r = server_->Get(url_, {"Range: bytes=" + std::to_string(size_ + 5) + "-" + std::to_string(size_ + 9)});
  EXPECT_EQ(r.status, 416) << r.Describe();
  // Several ranges: the documented choice is the whole file (200), never multipart/byteranges.
  r = server_->Get(url_, {"Range: bytes=0-9,20-29"});
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, content_);
  EXPECT_EQ(r.Header("content-type").find("multipart"), std::string::npos);
}

}  // namespace
}  // namespace fw::server::e2e
