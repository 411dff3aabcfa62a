// bundle::OpenTargetStream over a repository written by `fwsign repo` in a temp dir, the image
// served by memory ByteStreams that can corrupt bytes in transit: the synthesized bundle is what
// `fwsign bundle create` would write and passes the reader; a corrupted chunk is fetched again
// and its bad bytes are never handed on.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/bundle_reader.h"
#include "fw/encoding.h"
#include "fw/net_sources.h"
#include "fw/tuf_updater.h"
#include "tar_testing.h"
#include "testing.h"
#include "tuf_test_repo.h"

namespace fw::bundle {
namespace {

namespace fs = std::filesystem;
using fw::testing::RunCommand;
using fw::testing::TempDir;

constexpr char kTargetsUrl[] = "http://repo.test/targets/";

// What the test server does to the bytes of one file.
struct Faults {
  std::string url_suffix;  // the file it applies to
  uint64_t corrupt_at = 0;
  int corrupt_times = 0;  // how many deliveries of that byte are flipped
};

// A file of the repository as a ByteStream (what HttpStream is in production).
class MemoryStream : public net::ByteStream {
 public:
  MemoryStream(std::string name, std::vector<uint8_t> bytes, Faults* faults)
      : name_(std::move(name)), bytes_(std::move(bytes)), faults_(faults) {}
  Result<size_t> Read(std::span<uint8_t> buf) override {
    const size_t n = std::min<size_t>({buf.size(), bytes_.size() - pos_, 7000});  // short reads too
    std::copy_n(bytes_.begin() + static_cast<ptrdiff_t>(pos_), n, buf.begin());
    if (faults_ && name_.ends_with(faults_->url_suffix) && faults_->corrupt_times > 0 && faults_->corrupt_at >= pos_ &&
        faults_->corrupt_at < pos_ + n) {
      buf[faults_->corrupt_at - pos_] ^= 0x40;
      --faults_->corrupt_times;
    }
    pos_ += n;
    return n;
  }
  Status Seek(uint64_t offset) override {
    if (offset > bytes_.size()) return InvalidArgument("seek beyond the end");
    pos_ = offset;
    ++seeks;
    return Status::Ok();
  }
  std::optional<uint64_t> Size() const override { return bytes_.size(); }
  uint64_t Offset() const override { return pos_; }
  const std::string& Name() const override { return name_; }
  int seeks = 0;

 private:
  std::string name_;
  std::vector<uint8_t> bytes_;
  uint64_t pos_ = 0;
  Faults* faults_;
};

class TargetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* k : {"root", "root2", "targets", "snapshot", "timestamp", "image"}) {
      Must({"fwsign", "key", "generate", "--out", Key(k)});
    }
    Must({"fwsign", "repo", "init", Repo(), "--root-key", Key("root"), "--targets-key", Key("targets"),
          "--snapshot-key", Key("snapshot"), "--timestamp-key", Key("timestamp")});
    image_ = SignImage("fw-2.0.0.img", "2.0.0", 3, 1 << 20);
    Must({"fwsign", "repo", "add-target", Repo(), "--image", image_, "--name", kTarget});
    Publish();
    const std::string root1 = fw::testing::ReadFile(Repo() + "/metadata/1.root.json");
    ASSERT_TRUE(tuf::Updater::Init(Device(), root1).ok());
    ASSERT_TRUE(tuf::Updater::Init(Refreshed(), root1).ok());
    Refresh();
  }

  static constexpr char kTarget[] = "pos-x1/fw-2.0.0.img";
  std::string Key(const std::string& k) const { return dir_ / (k + ".pem"); }
  std::string Repo() const { return dir_ / "repo"; }
  std::string Device() const { return dir_ / "device-tuf"; }
  std::string Refreshed() const { return dir_ / "agent-tuf"; }
  static void Must(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << argv[1] << " " << argv[2] << ": " << r.err;
  }
  std::string SignImage(const std::string& name, const std::string& version, int counter, size_t size) {
    fw::testing::WriteBytes(dir_ / (name + ".bin"), fw::testing::PseudoRandomBytes(size, counter));
    Must({"fwsign", "image", "sign", "--key", Key("image"), "--version", version, "--security-counter",
          std::to_string(counter), "--hardware-id", "POS-X1", dir_ / (name + ".bin"), "-o", dir_ / name});
    return dir_ / name;
  }
  void Publish() {
    Must({"fwsign", "repo", "publish", Repo(), "--key", Key("targets"), "--key", Key("snapshot"), "--key",
          Key("timestamp")});
  }
  void Refresh() {
    tuf::testing::DirFetcher fetcher(Repo());
    tuf::UpdaterConfig c;
    c.metadata_dir = Refreshed();
    c.metadata_base_url = std::string(tuf::testing::kBase) + "metadata/";
    tuf::Updater updater(c, fetcher);
    Status s = updater.Refresh();
    ASSERT_TRUE(s.ok()) << s.message();
  }

  TargetStreamSpec Spec(const std::string& target = kTarget) {
    TargetStreamSpec spec;
    spec.metadata_dir = Refreshed();
    spec.device_root_version = 1;
    spec.target_path = target;
    spec.target_base_url = kTargetsUrl;
    spec.open = [this](const std::string& url) -> Result<std::unique_ptr<net::ByteStream>> {
      opened.push_back(url);
      if (!url.starts_with(kTargetsUrl)) return InvalidArgument("unexpected URL " + url);
      const std::string path = Repo() + "/targets/" + url.substr(std::strlen(kTargetsUrl));
      if (!fw::testing::Exists(path)) return NotFound(url + ": HTTP 404");
      return std::unique_ptr<net::ByteStream>(new MemoryStream(url, fw::testing::ReadBytes(path), &faults));
    };
    return spec;
  }

  ReaderOptions Reader() const { return ReaderOptions{Device(), {"POS-X1", 0}}; }

  // The whole pass; `image` receives every byte the reader handed on.
  Result<VerifiedBundle> ReadAll(BundleSource& source, std::vector<uint8_t>& image) {
    return ReadBundle(source, Reader(), [&](uint64_t offset, ByteSpan chunk) {
      EXPECT_EQ(offset, image.size());
      image.insert(image.end(), chunk.begin(), chunk.end());
      return Status::Ok();
    });
  }

  TempDir dir_;
  std::string image_;
  Faults faults;
  std::vector<std::string> opened;
};

TEST_F(TargetStreamTest, SynthesizedBundleIsWhatFwsignBundleCreateWritesAndPassesTheReader) {
  TargetStreamStats stats;
  TargetStreamSpec from_root1 = Spec();
  from_root1.device_root_version = 0;  // root/1.root.json too, as `fwsign bundle create` writes by default
  auto source = OpenTargetStream(from_root1, &stats);
  ASSERT_TRUE(source.ok()) << source.status().message();
  // Every byte, as a file: the same entries as the offline bundle of the same repository.
  std::vector<uint8_t> all;
  std::vector<uint8_t> buf(100000);
  while (true) {
    auto n = (*source)->Read(buf);
    ASSERT_TRUE(n.ok()) << n.status().message();
    if (*n == 0) break;
    all.insert(all.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
  }
  EXPECT_EQ(all.size(), *(*source)->Size());
  EXPECT_EQ(all.size() % 512, 0u);
  fw::testing::WriteBytes(dir_ / "synth.tar", all);
  Must({"fwsign", "bundle", "create", "--repo", Repo(), "--target", kTarget, "-o", dir_ / "offline.tar"});
  auto synth = fw::testing::ReadTar(dir_ / "synth.tar");
  auto offline = fw::testing::ReadTar(dir_ / "offline.tar");
  ASSERT_EQ(synth.size(), offline.size());
  for (size_t i = 0; i < synth.size(); ++i) {
    EXPECT_EQ(synth[i].name, offline[i].name);
    EXPECT_TRUE(synth[i].data == offline[i].data) << synth[i].name;
  }
  EXPECT_EQ(synth.back().name, std::string("image/") + kTarget);
  // The reader takes it as it is.
  auto again = OpenTargetStream(Spec(), &stats);
  ASSERT_TRUE(again.ok());
  std::vector<uint8_t> image;
  auto verified = ReadAll(**again, image);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_EQ(verified->target_path, kTarget);
  EXPECT_TRUE(image == fw::testing::ReadBytes(image_));
  EXPECT_EQ(stats.chunks_refetched, 0u);
  // Content-addressed names: the chunk index and the image, both hash-prefixed.
  ASSERT_GE(opened.size(), 2u);
  EXPECT_TRUE(opened[0].ends_with(".fw-2.0.0.img.chunk-index")) << opened[0];
  EXPECT_TRUE(opened.back().starts_with(std::string(kTargetsUrl) + "pos-x1/")) << opened.back();
  EXPECT_TRUE(opened.back().ends_with(".fw-2.0.0.img")) << opened.back();
}

TEST_F(TargetStreamTest, LongTargetNamesGetPaxHeaders) {
  const std::string name = "pos-x1/" + std::string(150, 'n') + ".img";
  const std::string img = SignImage("long.img", "2.0.1", 3, 100000);
  Must({"fwsign", "repo", "add-target", Repo(), "--image", img, "--name", name});
  Publish();
  Refresh();
  auto source = OpenTargetStream(Spec(name));
  ASSERT_TRUE(source.ok()) << source.status().message();
  std::vector<uint8_t> image;
  auto verified = ReadAll(**source, image);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_EQ(verified->target_path, name);
  EXPECT_TRUE(image == fw::testing::ReadBytes(img));
}

TEST_F(TargetStreamTest, ACorruptedByteIsFetchedAgainAndNeverHandedOn) {
  faults = {".fw-2.0.0.img", 300001, 1};  // chunk 4 of 64 KiB chunks
  TargetStreamStats stats;
  auto source = OpenTargetStream(Spec(), &stats);
  ASSERT_TRUE(source.ok()) << source.status().message();
  std::vector<uint8_t> image;
  auto verified = ReadAll(**source, image);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_TRUE(image == fw::testing::ReadBytes(image_));
  EXPECT_EQ(stats.chunks_refetched, 1u);
  EXPECT_EQ(faults.corrupt_times, 0);  // the fault did happen
}

TEST_F(TargetStreamTest, PersistentCorruptionFailsWithoutHandingOnTheBadBytes) {
  faults = {".fw-2.0.0.img", 300001, 1000};
  TargetStreamStats stats;
  TargetStreamSpec spec = Spec();
  spec.max_chunk_refetches = 2;
  auto source = OpenTargetStream(spec, &stats);
  ASSERT_TRUE(source.ok()) << source.status().message();
  std::vector<uint8_t> image;
  auto verified = ReadAll(**source, image);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.status().code(), ErrorCode::kVerificationFailed) << verified.status().message();
  EXPECT_NE(verified.status().message().find("image chunk 4 (bytes 262144-327679)"), std::string::npos)
      << verified.status().message();
  EXPECT_EQ(stats.chunks_refetched, 2u);
  // Everything handed on is the image's own bytes, and nothing from the bad chunk on.
  const auto original = fw::testing::ReadBytes(image_);
  EXPECT_LE(image.size(), 262144u);
  EXPECT_TRUE(std::equal(image.begin(), image.end(), original.begin()));
}

TEST_F(TargetStreamTest, AMissingChunkIndexFileIsNotFoundNamingIt) {
  for (const auto& e : fs::directory_iterator(Repo() + "/targets/pos-x1")) {
    if (e.path().string().ends_with(".chunk-index")) fs::remove(e.path());
  }
  auto source = OpenTargetStream(Spec());
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(source.status().message().find(".fw-2.0.0.img.chunk-index"), std::string::npos)
      << source.status().message();
  EXPECT_NE(source.status().message().find("re-run `fwsign repo add-target`"), std::string::npos);
}

TEST_F(TargetStreamTest, AChangedChunkIndexFileIsRefused) {
  for (const auto& e : fs::directory_iterator(Repo() + "/targets/pos-x1")) {
    if (!e.path().string().ends_with(".chunk-index")) continue;
    auto bytes = fw::testing::ReadBytes(e.path());
    bytes[5] ^= 1;
    fw::testing::WriteBytes(e.path(), bytes);
  }
  auto source = OpenTargetStream(Spec());
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), ErrorCode::kVerificationFailed) << source.status().message();
}

TEST_F(TargetStreamTest, AnUnlistedTargetIsNotFound) {
  auto source = OpenTargetStream(Spec("pos-x1/fw-9.9.9.img"));
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), ErrorCode::kNotFound) << source.status().message();
  EXPECT_TRUE(opened.empty());  // nothing fetched
}

TEST_F(TargetStreamTest, RootRotationGoesIntoTheStream) {
  Must({"fwsign", "repo", "rotate", Repo(), "--role", "root", "--new-key", Key("root2"), "--key", Key("root"), "--key",
        Key("root2")});
  Publish();
  Refresh();
  EXPECT_TRUE(fw::testing::Exists(Refreshed() + "/root.history/1.root.json"));
  EXPECT_EQ(fw::testing::ReadFile(Refreshed() + "/root.history/2.root.json"),
            fw::testing::ReadFile(Repo() + "/metadata/2.root.json"));
  auto source = OpenTargetStream(Spec());
  ASSERT_TRUE(source.ok()) << source.status().message();
  std::vector<uint8_t> image;
  auto verified = ReadAll(**source, image);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  ASSERT_EQ(verified->new_roots.size(), 1u);
  EXPECT_EQ(verified->new_roots[0], fw::testing::ReadFile(Repo() + "/metadata/2.root.json"));
  // A device already at root 2 gets no root entries.
  TargetStreamSpec at2 = Spec();
  at2.device_root_version = 2;
  auto head = OpenTargetStream(at2);
  ASSERT_TRUE(head.ok());
  std::vector<uint8_t> first(512);
  ASSERT_TRUE((*head)->Read(first).ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(first.data())), "timestamp.json");
  // A history without root 2 cannot serve a device at root 1.
  fs::remove(Refreshed() + "/root.history/2.root.json");
  auto missing = OpenTargetStream(Spec());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("root.history/2.root.json"), std::string::npos);
}

}  // namespace
}  // namespace fw::bundle
