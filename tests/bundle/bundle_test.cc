// Offline bundles: `fwsign bundle create` output read by the streaming reader, and
// every malformed or hostile variant refused (the tars are rewritten here with
// libarchive, entry by entry).
#include "fw/bundle_reader.h"

#include "fw/bundle_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "tar_testing.h"
#include "testing.h"

namespace fw::bundle {
namespace {

using fw::testing::ReadTar;
using fw::testing::RunCommand;
using fw::testing::TarEntry;
using fw::testing::TempDir;
using fw::testing::WriteTar;

class BundleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto d = [](const std::string& n) { return (*dir_) / n; };
    for (const char* k : {"root", "root2", "targets", "snapshot", "timestamp", "image"}) {
      ASSERT_EQ(RunCommand({"fwsign", "key", "generate", "--out", d(std::string(k) + ".pem")}).exit_code, 0);
    }
    ASSERT_EQ(RunCommand({"fwsign", "repo", "init", d("repo"), "--root-key", d("root.pem"), "--targets-key",
                          d("targets.pem"), "--snapshot-key", d("snapshot.pem"), "--timestamp-key", d("timestamp.pem")})
                  .exit_code,
              0);
    fw::testing::WriteBytes(d("p.bin"), fw::testing::PseudoRandomBytes(50000, 4));
    auto r = RunCommand({"fwsign", "image", "sign", "--key", d("image.pem"), "--version", "3.0.0", "--security-counter",
                         "7", "--hardware-id", "POS-X1", d("p.bin"), "-o", d("fw.img")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunCommand({"fwsign", "repo", "add-target", d("repo"), "--image", d("fw.img"), "--name", "pos/fw.img",
                    "--chunk-size", "4096"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // A larger image (several read-ahead slots) for the streaming tests.
    fw::testing::WriteBytes(d("big.bin"), fw::testing::PseudoRandomBytes(5 << 20, 5));
    r = RunCommand({"fwsign", "image", "sign", "--key", d("image.pem"), "--version", "3.0.1", "--security-counter", "7",
                    "--hardware-id", "POS-X1", d("big.bin"), "-o", d("big.img")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunCommand({"fwsign", "repo", "add-target", d("repo"), "--image", d("big.img"), "--name", "pos/big.img",
                    "--chunk-size", "4096"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Root rotation: devices that trust root 1 must learn root 2 from the bundle.
    r = RunCommand({"fwsign", "repo", "rotate", d("repo"), "--role", "root", "--new-key", d("root2.pem"), "--key",
                    d("root.pem"), "--key", d("root2.pem")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunCommand({"fwsign", "repo", "publish", d("repo"), "--key", d("targets.pem"), "--key", d("snapshot.pem"),
                    "--key", d("timestamp.pem")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunCommand({"fwsign", "bundle", "create", d("repo"), "--target", "pos/fw.img", "-o", d("good.tar")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunCommand({"fwsign", "bundle", "create", d("repo"), "--target", "pos/big.img", "-o", d("big.tar")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::filesystem::create_directories(d("device"));
    fw::testing::WriteFile(d("device/root.json"), fw::testing::ReadFile(d("repo/metadata/1.root.json")));
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string D(const std::string& n) { return (*dir_) / n; }

  ReaderOptions Options(const std::string& hw = "POS-X1", uint32_t counter = 0) {
    ReaderOptions o;
    o.metadata_dir = D("device");
    o.policy = {hw, counter};
    return o;
  }

  // Reads a bundle, collecting the verified chunks.
  Result<VerifiedBundle> Read(const std::string& path, const ReaderOptions& o) {
    image_.clear();
    metadata_seen_before_first_chunk_ = false;
    bool metadata = false;
    return ReadBundleFile(
        path, o,
        [&](uint64_t offset, ByteSpan chunk) {
          EXPECT_EQ(offset, image_.size());
          if (image_.empty()) metadata_seen_before_first_chunk_ = metadata;
          image_.insert(image_.end(), chunk.begin(), chunk.end());
          return Status::Ok();
        },
        [&](const VerifiedBundle&) {
          metadata = true;
          return Status::Ok();
        });
  }

  // Rewrites the good bundle with `mutate` applied and expects refusal naming `needle`.
  void ExpectRefused(const std::function<void(std::vector<TarEntry>&)>& mutate, const std::string& needle) {
    auto entries = ReadTar(D("good.tar"));
    mutate(entries);
    TempDir tmp;
    WriteTar(tmp / "bad.tar", entries);
    const auto before = fw::testing::ListDir(D("device"));
    auto r = Read(tmp / "bad.tar", Options());
    ASSERT_FALSE(r.ok()) << "accepted a bundle that should be refused (" << needle << ")";
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
    EXPECT_EQ(fw::testing::ListDir(D("device")), before);
  }

  static size_t Index(const std::vector<TarEntry>& e, const std::string& prefix) {
    for (size_t i = 0; i < e.size(); ++i) {
      if (e[i].name.starts_with(prefix)) return i;
    }
    ADD_FAILURE() << "no entry " << prefix;
    return 0;
  }

  static TempDir* dir_;
  std::vector<uint8_t> image_;
  bool metadata_seen_before_first_chunk_ = false;
};
TempDir* BundleTest::dir_ = nullptr;

TEST_F(BundleTest, GoodBundleYieldsTheImageInVerifiedChunks) {
  auto names = ReadTar(D("good.tar"));
  std::vector<std::string> order;
  for (const auto& e : names) order.push_back(e.name);
  EXPECT_EQ(order, (std::vector<std::string>{"root/1.root.json", "root/2.root.json", "timestamp.json", "snapshot.json",
                                             "targets.json", "chunk-index/pos/fw.img", "image/pos/fw.img"}));
  auto r = Read(D("good.tar"), Options());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(image_, fw::testing::ReadBytes(D("fw.img")));
  EXPECT_TRUE(metadata_seen_before_first_chunk_);
  EXPECT_EQ(r->target_path, "pos/fw.img");
  EXPECT_EQ(r->facts.security_counter, 7u);
  ASSERT_EQ(r->new_roots.size(), 1u);  // the device trusted root 1; it learns root 2
  EXPECT_EQ(r->new_roots[0], fw::testing::ReadFile(D("repo/metadata/2.root.json")));
  // A bundle without timestamp/snapshot is checked against root's targets keys.
  ASSERT_EQ(RunCommand({"fwsign", "bundle", "create", D("repo"), "--target", "pos/fw.img", "--no-timestamp", "-o",
                        D("nots.tar")})
                .exit_code,
            0);
  EXPECT_TRUE(Read(D("nots.tar"), Options()).ok());
}

TEST_F(BundleTest, PolicyRefusesWrongHardwareAndLowerSecurityCounter) {
  auto hw = Read(D("good.tar"), Options("POS-Y9", 0));
  EXPECT_NE(hw.status().message().find("not for hardware \"POS-Y9\""), std::string::npos) << hw.status().message();
  auto sc = Read(D("good.tar"), Options("POS-X1", 8));
  EXPECT_NE(sc.status().message().find("lower than the installed 8"), std::string::npos) << sc.status().message();
  EXPECT_TRUE(image_.empty());
}

TEST_F(BundleTest, RefusesLinksAbsolutePathsDotDotAndDuplicates) {
  ExpectRefused(
      [](auto& e) {
        e.insert(e.begin(), TarEntry{"root/0.lnk", "", AE_IFLNK, "/etc/passwd", false});
      },
      "only regular files");
  ExpectRefused(
      [](auto& e) {
        e.insert(e.begin() + 4, TarEntry{"targets.json", "", AE_IFREG, "timestamp.json", true});
      },
      "only regular files");
  ExpectRefused([](auto& e) { e.insert(e.begin(), TarEntry{"dir", "", AE_IFDIR, "", false}); }, "only regular files");
  ExpectRefused([](auto& e) { e[4].name = "/targets.json"; }, "absolute path");
  ExpectRefused([](auto& e) { e.back().name = "image/../pos/fw.img"; }, "contains \"..\"");
  ExpectRefused([](auto& e) { e.insert(e.begin() + 1, e[0]); }, "duplicate name");
}

TEST_F(BundleTest, RefusesOrderUnknownEntriesAndTrailingData) {
  ExpectRefused([](auto& e) { std::swap(e[4], e[5]); }, "out of order");
  ExpectRefused([](auto& e) { std::swap(e[0], e[1]); }, "root versions out of order");
  ExpectRefused([](auto& e) { std::swap(e[2], e[3]); }, "out of order");
  ExpectRefused(
      [](auto& e) {
        e.insert(e.begin() + 4, TarEntry{"extra.txt", "hi", AE_IFREG, "", false});
      },
      "unknown entry");
  ExpectRefused(
      [](auto& e) {
        e.push_back(TarEntry{"image/pos/other.img", "x", AE_IFREG, "", false});
      },
      "after the image");
  ExpectRefused([](auto& e) { e.pop_back(); }, "ends before its image");
  ExpectRefused([](auto& e) { e[1].name = "root/3.root.json"; }, "skips a version");
}

TEST_F(BundleTest, RefusesSizesBeyondTheSignedLengthAndTamperedBytes) {
  ExpectRefused([](auto& e) { e.back().data.push_back('x'); }, "the signed length is");
  ExpectRefused([](auto& e) { e.back().data.pop_back(); }, "the signed length is");
  ExpectRefused([](auto& e) { e[Index(e, "chunk-index/")].data[0] ^= 1; }, "chunk_index_sha256");
  ExpectRefused([](auto& e) { e[Index(e, "chunk-index/")].data.append(32, '\0'); }, "the signed target needs");
  ExpectRefused([](auto& e) { e[Index(e, "chunk-index/")].name = "chunk-index/pos/nope.img"; }, "not listed");
  ExpectRefused(
      [](auto& e) {
        char& c = e[Index(e, "targets.json")].data[50];  // always a change, whatever the fixture's byte is
        c = c == '0' ? '1' : '0';
      },
      "targets");
  ExpectRefused([](auto& e) { e[0].data = std::string(600000, ' '); }, "exceeds the cap");
  // A flipped byte in chunk 5: chunks 0-4 were yielded, chunk 5 never is.
  auto entries = ReadTar(D("good.tar"));
  entries.back().data[5 * 4096 + 10] ^= 0x40;
  TempDir tmp;
  WriteTar(tmp / "flip.tar", entries);
  auto r = Read(tmp / "flip.tar", Options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("chunk 5 (offset 20480) does not match"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(image_.size(), 5u * 4096);
}

// Chunks are read and hashed ahead on another thread and reach the sink in
// slots of whole chunks, in order, on the caller's thread. A failing sink stops
// the stream at once — it is not called again — and its error says where; a bad
// chunk deep in the image stops it after exactly the chunks before it.
TEST_F(BundleTest, ReadAheadKeepsOrderAndStopsAtTheFirstError) {
  auto r = Read(D("big.tar"), Options());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(image_, fw::testing::ReadBytes(D("big.img")));

  std::vector<uint64_t> offsets;
  const auto caller = std::this_thread::get_id();
  auto failed = ReadBundleFile(D("big.tar"), Options(), [&](uint64_t offset, ByteSpan chunk) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(chunk.size() % 4096, 0u);
    offsets.push_back(offset);
    return offsets.size() == 2 ? IoError("bank full") : Status::Ok();
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kIoError);
  ASSERT_EQ(offsets.size(), 2u);
  EXPECT_EQ(offsets[0], 0u);
  EXPECT_GT(offsets[1], 0u);
  EXPECT_NE(failed.status().message().find("bytes from " + std::to_string(offsets[1]) + " (chunk " +
                                           std::to_string(offsets[1] / 4096) + "): bank full"),
            std::string::npos)
      << failed.status().message();

  auto entries = ReadTar(D("big.tar"));
  entries.back().data[700 * 4096 + 3] ^= 0x01;  // chunk 700, in the third 1 MiB slot
  TempDir tmp;
  WriteTar(tmp / "flip.tar", entries);
  auto bad = Read(tmp / "flip.tar", Options());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("chunk 700 (offset 2867200) does not match"), std::string::npos)
      << bad.status().message();
  EXPECT_EQ(image_.size(), 700u * 4096);
}

TEST_F(BundleTest, RefusesCompressedTruncatedAndGarbageInput) {
  auto entries = ReadTar(D("good.tar"));
  TempDir tmp;
  WriteTar(tmp / "gz.tar.gz", entries, {.gzip = true});
  EXPECT_FALSE(Read(tmp / "gz.tar.gz", Options()).ok());
  std::string good = fw::testing::ReadFile(D("good.tar"));
  fw::testing::WriteFile(tmp / "trunc.tar", good.substr(0, good.size() / 2));
  auto t = Read(tmp / "trunc.tar", Options());
  EXPECT_FALSE(t.ok());
  fw::testing::WriteFile(tmp / "junk.tar", std::string(4096, 'j'));
  EXPECT_FALSE(Read(tmp / "junk.tar", Options()).ok());
  EXPECT_FALSE(ReadBundleMemory({}, Options(), [](uint64_t, ByteSpan) { return Status::Ok(); }).ok());
}

TEST_F(BundleTest, FwupdateBundleVerifyCommand) {
  auto ok = RunCommand({"fwupdate", "bundle", "verify", "--metadata-dir", D("device"), "--hardware-id", "POS-X1",
                        D("good.tar"), "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("\"version\": \"3.0.0\""), std::string::npos) << ok.out;
  auto hw = RunCommand(
      {"fwupdate", "bundle", "verify", "--metadata-dir", D("device"), "--hardware-id", "POS-Y9", D("good.tar")});
  EXPECT_EQ(hw.exit_code, 3) << hw.err;
  auto sc = RunCommand({"fwupdate", "bundle", "verify", "--metadata-dir", D("device"), "--hardware-id", "POS-X1",
                        "--installed-security-counter", "8", D("good.tar")});
  EXPECT_EQ(sc.exit_code, 3) << sc.err;
}

TEST_F(BundleTest, ExpiredMetadataRefused) {
  ReaderOptions o = Options();
  FakeClock clock(SystemClock().WallMs() + 2 * 86400 * 1000);  // timestamp lives one day
  o.clock = &clock;
  auto r = Read(D("good.tar"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expired"), std::string::npos) << r.status().message();
}

TEST(TargetNameRule, OneRuleForAddTargetWriterAndReader) {
  for (const std::string name : {"fw.img", "pos/fw-1.2.0+7.img", "a/b/c~d_e", "x..y"}) {
    EXPECT_TRUE(ValidateTargetName(name).ok()) << name;
  }
  const std::vector<std::string> bad = {"",
                                        ".",
                                        "..",
                                        "a//b",
                                        "../x",
                                        "/abs",
                                        "dir/",
                                        "a/./b",
                                        "fw-\xc3\xbc.img",
                                        "fw\x01.img",
                                        "fw\x7f.img",
                                        "a b",
                                        "a\\b",
                                        std::string(256, 'a')};
  for (const std::string& name : bad) {
    Status s = ValidateTargetName(name);
    EXPECT_FALSE(s.ok()) << name;
    EXPECT_NE(s.message().find("target name"), std::string::npos) << s.message();
  }
  EXPECT_NE(ValidateTargetName("fw-\xc3\xbc.img").message().find("non-ASCII"), std::string::npos);
  EXPECT_NE(ValidateTargetName("fw\x01.img").message().find("\\x01"), std::string::npos);
}

TEST(ChunkCountArithmetic, ExactNearTwoToThe64) {
  EXPECT_EQ(ChunkCount(0, 4096), 0u);
  EXPECT_EQ(ChunkCount(4097, 4096), 2u);
  EXPECT_EQ(ChunkCount(UINT64_MAX, 4096), UINT64_MAX / 4096 + 1);  // a naive round-up wraps to 0
}

TEST_F(BundleTest, HeadModeStopsAtTheFirstVerifiedChunkAndTrailingBytesAreRefused) {
  auto head = ReadBundleHeadFile(D("big.tar"), Options());
  ASSERT_TRUE(head.ok()) << head.status().message();
  const auto image = fw::testing::ReadBytes(D("big.img"));
  ASSERT_EQ(head->first_chunk.size(), head->bundle.facts.chunk_size);
  EXPECT_TRUE(std::equal(head->first_chunk.begin(), head->first_chunk.end(), image.begin()));
  TempDir tmp;
  const std::string bytes = fw::testing::ReadFile(D("good.tar"));
  fw::testing::WriteFile(tmp / "padded.tar", bytes + std::string(5000, '\0'));
  EXPECT_TRUE(Read(tmp / "padded.tar", Options()).ok());
  EXPECT_TRUE(ReadBundleHeadFile(tmp / "padded.tar", Options()).ok());
  fw::testing::WriteFile(tmp / "garbage.tar", bytes + "x");
  for (auto r :
       {Read(tmp / "garbage.tar", Options()).status(), ReadBundleHeadFile(tmp / "garbage.tar", Options()).status()}) {
    EXPECT_EQ(r.code(), ErrorCode::kCorrupt) << r.message();
    EXPECT_NE(r.message().find("zero padding"), std::string::npos) << r.message();
  }
  auto mem = ReadBundleMemory(AsBytes(bytes + "x"), Options(), [](uint64_t, ByteSpan) { return Status::Ok(); });
  EXPECT_EQ(mem.status().code(), ErrorCode::kCorrupt) << mem.status().message();
}

// A source that can only go forward, knows no size and may fail at a byte offset (as an
// HTTP stream would): the reader checks what follows the image when the stream gets
// there, and a failure of the source is an I/O error, not hostile input.
class StreamSource final : public BundleSource {
 public:
  StreamSource(std::string bytes, uint64_t fail_at = UINT64_MAX) : bytes_(std::move(bytes)), fail_at_(fail_at) {}
  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (pos_ >= fail_at_) return IoError("connection reset at byte " + std::to_string(pos_));
    const size_t n = static_cast<size_t>(std::min<uint64_t>({buf.size(), bytes_.size() - pos_, fail_at_ - pos_}));
    std::copy_n(bytes_.data() + pos_, n, buf.data());
    pos_ += n;
    return n;
  }
  const std::string& Name() const override { return name_; }
  std::optional<uint64_t> Size() const override { return std::nullopt; }

 private:
  std::string bytes_;
  uint64_t fail_at_;
  uint64_t pos_ = 0;
  std::string name_ = "http://bundles/test.tar";
};

TEST_F(BundleTest, AForwardOnlySourceIsReadOnceAndItsFailuresAreIoErrors) {
  const std::string big = fw::testing::ReadFile(D("big.tar"));
  StreamSource whole(big);
  Bytes image;
  auto r = ReadBundle(whole, Options(), [&](uint64_t, ByteSpan chunk) {
    image.insert(image.end(), chunk.begin(), chunk.end());
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(image, fw::testing::ReadBytes(D("big.img")));

  // Trailing bytes: the head cannot see them; the end of the stream refuses them.
  StreamSource garbage(fw::testing::ReadFile(D("good.tar")) + "x");
  auto reader = BundleReader::Open(garbage, Options());
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  ASSERT_TRUE((*reader)->ReadHead().ok());
  auto tail = (*reader)->ReadImage([](uint64_t, ByteSpan) { return Status::Ok(); });
  EXPECT_EQ(tail.status().code(), ErrorCode::kCorrupt) << tail.status().message();
  EXPECT_NE(tail.status().message().find("zero padding"), std::string::npos) << tail.status().message();

  // The source fails mid-way through the image, or in its first block.
  for (uint64_t at : {uint64_t{big.size() / 2}, uint64_t{100}}) {
    StreamSource failing(big, at);
    auto f = ReadBundle(failing, Options(), [](uint64_t, ByteSpan) { return Status::Ok(); });
    EXPECT_EQ(f.status().code(), ErrorCode::kIoError) << at << ": " << f.status().message();
    EXPECT_NE(f.status().message().find("bundle http://bundles/test.tar"), std::string::npos) << f.status().message();
    EXPECT_NE(f.status().message().find("connection reset at byte " + std::to_string(at)), std::string::npos)
        << f.status().message();
  }
}

}  // namespace
}  // namespace fw::bundle
