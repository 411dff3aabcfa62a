// The installer's plan and write share one pass over the bundle (issue 12): every byte
// of the bundle is pulled from its source at most once during an install, and a plan
// that refuses pulled only the bundle's head (metadata, chunk index, the image's tar
// header and first chunk) and the bytes after the image, nothing of the rest of the
// image. Runs on the power-cut sweep's simulated terminal (sweep_rig.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fw/bundle_source.h"
#include "sweep_rig.h"

namespace fw::install {
namespace {

// A file source that counts how often each byte was pulled (Read or PeekAt) and hands
// out at most 512 bytes a read, so the head is a small part of the bundle.
class CountingSource final : public bundle::BundleSource {
 public:
  CountingSource(std::unique_ptr<bundle::BundleSource> inner, std::vector<int>* counts)
      : inner_(std::move(inner)), counts_(counts) {
    counts_->assign(static_cast<size_t>(*inner_->Size()), 0);
  }
  Result<size_t> Read(std::span<uint8_t> buf) override {
    FW_ASSIGN_OR_RETURN(size_t n, inner_->Read(buf.first(std::min<size_t>(buf.size(), 512))));
    for (size_t i = 0; i < n; ++i) ++(*counts_)[pos_ + i];
    pos_ += n;
    return n;
  }
  const std::string& Name() const override { return inner_->Name(); }
  std::optional<uint64_t> Size() const override { return inner_->Size(); }
  Result<bool> PeekAt(uint64_t offset, std::span<uint8_t> buf) override {
    FW_ASSIGN_OR_RETURN(bool peeked, inner_->PeekAt(offset, buf));
    if (peeked) {
      for (size_t i = 0; i < buf.size(); ++i) ++(*counts_)[offset + i];
    }
    return peeked;
  }

 private:
  std::unique_ptr<bundle::BundleSource> inner_;
  std::vector<int>* counts_;
  size_t pos_ = 0;
};

class OnePassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("TMPDIR") == nullptr && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
    config_.erase_block = 4096;
    config_.bank_size = kBankSize;
    FactoryState(config_, work_ / "template", &flash_);
  }

  InstallOptions Options() {
    InstallOptions io;
    io.open_bundle = [this]() -> Result<std::unique_ptr<bundle::BundleSource>> {
      ++opened_;
      FW_ASSIGN_OR_RETURN(auto file, bundle::OpenFileSource(TheVendor().bundle_11));
      return std::unique_ptr<bundle::BundleSource>(new CountingSource(std::move(file), &counts_));
    };
    io.flush_window = kFlushWindow;
    return io;
  }

  ft::TempDir work_;
  SimConfig config_;
  std::vector<uint8_t> flash_;
  std::vector<int> counts_;
  int opened_ = 0;
};

TEST_F(OnePassTest, AnInstallPullsEachByteOfTheBundleAtMostOnce) {
  Rig rig(config_, flash_, work_ / "template", work_ / "run", TheVendor().records, 1);
  Terminal t = rig.terminal();
  auto r = Install(t, Options());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(opened_, 1);
  ASSERT_FALSE(counts_.empty());
  EXPECT_EQ(*std::max_element(counts_.begin(), counts_.end()), 1) << "a byte of the bundle was read twice";
  const size_t pulled = static_cast<size_t>(std::count(counts_.begin(), counts_.end(), 1));
  EXPECT_GE(pulled, TheVendor().images[1].size());  // the whole image, once
  EXPECT_EQ(rig.Reset().slot, 1);                   // the new firmware boots
}

TEST_F(OnePassTest, ARefusedPlanPulledOnlyTheHead) {
  Rig rig(config_, flash_, work_ / "template", work_ / "run", TheVendor().records, 1);
  Terminal t = rig.terminal();
  InstallOptions io = Options();
  io.min_free_bytes_margin = uint64_t{1} << 62;  // refused after the bundle's head: no room for the snapshot
  const uint64_t ops_before = rig.dev().flash().ops();
  auto r = Install(t, io);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted) << r.status().message();
  EXPECT_EQ(rig.dev().flash().ops(), ops_before) << "a refused install wrote to the flash";
  EXPECT_EQ(opened_, 1);
  ASSERT_FALSE(counts_.empty());
  EXPECT_EQ(*std::max_element(counts_.begin(), counts_.end()), 1);
  // Of the image (1.1.0, chunks of 4096 bytes), at most the first chunk and one read
  // beyond it were pulled: the rest of the image was never read.
  const size_t image = TheVendor().images[1].size();
  const size_t pulled = static_cast<size_t>(std::count(counts_.begin(), counts_.end(), 1));
  EXPECT_LE(pulled, counts_.size() - (image - 4096 - 512)) << "the plan read beyond the image's first chunk";
}

}  // namespace
}  // namespace fw::install
