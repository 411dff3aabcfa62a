// The install's read-back comes from the medium, not the OS page cache (issue 11,
// item 11; docs/install.md "Read-back").
//
// - FileFlash::ReadDurable reads from storage: /proc/self/io read_bytes grows by the
//   bytes read (O_DIRECT), while a plain Read of the same freshly written bytes is
//   served from the cache (the control that shows the measure can fail); in
//   dropped-cache mode the synced range's pages leave the cache (mincore).
// - A bank on a loop device whose backing file is altered behind the device's page
//   cache after the window was synced and before it is read back: the medium read-back
//   refuses it (install fails, slot not made a trial); the same alteration read back
//   through the page cache (today's behaviour, simulated by a wrapper) passes it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fw/boot/file_flash.h"
#include "fw/boot/layout.h"
#include "fw/flash_history.h"
#include "fw/install/installer.h"
#include "read_behind.h"
#include "testing.h"

namespace fw::install {
namespace {

namespace fs = std::filesystem;
using boot::FlashError;
using boot::ReadBackMode;
using fw::testing::RunCommand;
using fw::testing::TempDir;

uint64_t ProcReadBytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "read_bytes:") return value;
  }
  return 0;
}

boot::FlashGeometry Geometry(uint64_t size, uint32_t erase_block = 4096) {
  boot::FlashGeometry g;
  g.size = size;
  g.erase_block_size = erase_block;
  g.write_alignment = 8;
  g.erased_value = 0xFF;
  return g;
}

std::unique_ptr<boot::FileFlash> MakeFlash(const std::string& path, uint64_t base, uint64_t size, bool direct = true,
                                           uint32_t erase_block = 4096) {
  { std::ofstream f(path, std::ios::binary); }
  fs::resize_file(path, base + size);
  auto f = boot::FileFlash::Open(path, base, Geometry(size, erase_block), direct);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return f.ok() ? std::move(*f) : nullptr;
}

// How many pages of [offset, offset + len) of `path` are in the page cache.
size_t ResidentPages(const std::string& path, uint64_t offset, uint64_t len) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return SIZE_MAX;
  void* p = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset));
  ::close(fd);
  if (p == MAP_FAILED) return SIZE_MAX;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((len + page - 1) / page);
  size_t n = SIZE_MAX;
  if (::mincore(p, len, vec.data()) == 0) {
    n = 0;
    for (unsigned char v : vec) n += v & 1;
  }
  ::munmap(p, len);
  return n;
}

constexpr uint64_t kSize = 8 << 20;

bool IsTmpfs(const std::string& path) {
  struct statfs info {};
  return ::statfs(path.c_str(), &info) == 0 && info.f_type == TMPFS_MAGIC;
}

TEST(FileFlashReadBack, DirectReadsComeFromTheMediumNotThePageCache) {
  TempDir dir;  // $TMPDIR, a disk file system in CI (/tmp)
  if (IsTmpfs(dir.path())) GTEST_SKIP() << dir.path() << " is tmpfs: its page cache is the medium";
  auto flash = MakeFlash(dir / "bank.bin", 0, kSize);
  ASSERT_TRUE(flash);
  if (flash->DurableReadMode() != ReadBackMode::kDirect) {
    GTEST_SKIP() << dir.path() << " refuses O_DIRECT (tmpfs?): covered by the dropped-cache tests";
  }
  auto bytes = fw::testing::PseudoRandomBytes(kSize, 7);
  ASSERT_EQ(flash->Write(0, bytes.data(), bytes.size()), FlashError::kOk);
  ASSERT_EQ(flash->Sync(), FlashError::kOk);
  std::vector<uint8_t> back(kSize);
  // Control: the written bytes are cached, a plain read reads (almost) nothing from storage.
  uint64_t before = ProcReadBytes();
  ASSERT_EQ(flash->Read(0, back.data(), back.size()), FlashError::kOk);
  EXPECT_LT(ProcReadBytes() - before, kSize / 2) << "the control read was not served by the page cache";
  before = ProcReadBytes();
  ASSERT_EQ(flash->ReadDurable(0, back.data(), back.size()), FlashError::kOk);
  EXPECT_GE(ProcReadBytes() - before, kSize) << "ReadDurable did not read from storage";
  EXPECT_EQ(back, bytes);
  // Unaligned requests go through the bounce buffer and still come from the medium.
  std::vector<uint8_t> part(100000);
  before = ProcReadBytes();
  ASSERT_EQ(flash->ReadDurable(12345, part.data(), part.size()), FlashError::kOk);
  EXPECT_GE(ProcReadBytes() - before, part.size());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), bytes.begin() + 12345));
  EXPECT_EQ(std::string(boot::ReadBackModeName(flash->DurableReadMode())), "direct");
}

TEST(FileFlashReadBack, AnUnalignedRegionReadsBackThroughTheBounceBuffer) {
  TempDir dir;
  // The region starts 512 bytes into the file: no O_DIRECT request can use the caller's buffer.
  auto flash = MakeFlash(dir / "bank.bin", 512, 1 << 20, true, 512);
  ASSERT_TRUE(flash);
  auto bytes = fw::testing::PseudoRandomBytes(1 << 20, 9);
  ASSERT_EQ(flash->Write(0, bytes.data(), bytes.size()), FlashError::kOk);
  ASSERT_EQ(flash->Sync(), FlashError::kOk);
  for (auto [off, len] :
       std::vector<std::pair<uint64_t, size_t>>{{0, 1 << 20}, {1, 7}, {4095, 2}, {(1 << 20) - 3, 3}}) {
    std::vector<uint8_t> back(len);
    ASSERT_EQ(flash->ReadDurable(off, back.data(), len), FlashError::kOk) << off;
    EXPECT_TRUE(std::equal(back.begin(), back.end(), bytes.begin() + static_cast<long>(off))) << off;
  }
  std::vector<uint8_t> one(1);
  EXPECT_EQ(flash->ReadDurable(1 << 20, one.data(), 1), FlashError::kOutOfRange);
}

TEST(FileFlashReadBack, DroppedCacheModeEvictsTheSyncedRange) {
  TempDir dir;
  if (IsTmpfs(dir.path())) GTEST_SKIP() << dir.path() << " is tmpfs: its page cache is the medium";
  auto flash = MakeFlash(dir / "bank.bin", 0, kSize, /*direct=*/false);
  ASSERT_TRUE(flash);
  ASSERT_EQ(flash->DurableReadMode(), ReadBackMode::kDroppedCache);
  auto bytes = fw::testing::PseudoRandomBytes(kSize, 8);
  ASSERT_EQ(flash->Write(0, bytes.data(), bytes.size()), FlashError::kOk);
  const size_t pages = kSize / static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t cached = ResidentPages(dir / "bank.bin", 0, kSize);
  if (cached < pages / 2) GTEST_SKIP() << "this file system does not keep written pages cached";
  ASSERT_EQ(flash->SyncRange(0, kSize / 2), FlashError::kOk);
  EXPECT_EQ(ResidentPages(dir / "bank.bin", 0, kSize / 2), 0u) << "the synced window's pages stayed cached";
  uint64_t before = ProcReadBytes();
  std::vector<uint8_t> back(kSize / 2);
  ASSERT_EQ(flash->ReadDurable(0, back.data(), back.size()), FlashError::kOk);
  EXPECT_GE(ProcReadBytes() - before, kSize / 2) << "the read-back did not read from storage";
  EXPECT_TRUE(std::equal(back.begin(), back.end(), bytes.begin()));
}

TEST(FileFlashReadBack, TmpfsFallsBackToDroppedCache) {
  if (::access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no /dev/shm";
  const std::string path = "/dev/shm/fw-readback-" + std::to_string(::getpid());
  auto flash = MakeFlash(path, 0, 1 << 20);
  ASSERT_TRUE(flash);
  auto bytes = fw::testing::PseudoRandomBytes(1 << 20, 10);
  ASSERT_EQ(flash->Write(0, bytes.data(), bytes.size()), FlashError::kOk);
  ASSERT_EQ(flash->Sync(), FlashError::kOk);
  std::vector<uint8_t> back(1 << 20);
  ASSERT_EQ(flash->ReadDurable(0, back.data(), back.size()), FlashError::kOk);
  EXPECT_EQ(back, bytes);
  // tmpfs refuses O_DIRECT opens on older kernels; newer ones accept them.
  EXPECT_NE(flash->DurableReadMode(), ReadBackMode::kFlash);
  ::unlink(path.c_str());
}

// A read of the read-back waits until its bytes are durable (flushed), not merely programmed.
class CountingFlash final : public boot::Flash {
 public:
  explicit CountingFlash(boot::Flash& f) : f_(f) {}
  uint64_t Size() const override { return f_.Size(); }
  uint32_t EraseBlockSize() const override { return f_.EraseBlockSize(); }
  uint32_t WriteAlignment() const override { return f_.WriteAlignment(); }
  uint8_t ErasedValue() const override { return f_.ErasedValue(); }
  bool ProgramNeedsErase() const override { return f_.ProgramNeedsErase(); }
  FlashError Read(uint64_t o, uint8_t* b, size_t n) override { return f_.Read(o, b, n); }
  FlashError Write(uint64_t o, const uint8_t* d, size_t n) override { return f_.Write(o, d, n); }
  FlashError Erase(uint64_t o, uint64_t n) override { return f_.Erase(o, n); }
  FlashError Sync() override { return f_.Sync(); }
  FlashError SyncRange(uint64_t o, uint64_t n) override {
    FlashError e = f_.SyncRange(o, n);
    synced_end = std::max<uint64_t>(synced_end, o + n);
    return e;
  }
  FlashError ReadDurable(uint64_t o, uint8_t* b, size_t n) override {
    if (o + n > synced_end.load()) read_before_sync = true;
    return f_.ReadDurable(o, b, n);
  }
  ReadBackMode DurableReadMode() const override { return f_.DurableReadMode(); }
  std::atomic<uint64_t> synced_end{0};
  std::atomic<bool> read_before_sync{false};

 private:
  boot::Flash& f_;
};

TEST(ReadBehindBank, ReadsOnlyWhatIsDurableAndFromTheMedium) {
  TempDir dir;
  auto flash = MakeFlash(dir / "bank.bin", 0, 1 << 20);
  ASSERT_TRUE(flash);
  CountingFlash counting(*flash);
  auto behind = ReadBehindBank::Start(counting, 64 << 10);
  ASSERT_TRUE(behind.ok());
  auto bytes = fw::testing::PseudoRandomBytes(1 << 20, 11);
  std::vector<uint8_t> back(1 << 20);
  std::thread reader([&] {
    for (size_t off = 0; off < back.size(); off += 10000) {
      const size_t n = std::min<size_t>(10000, back.size() - off);
      ASSERT_EQ((*behind)->Read(off, back.data() + off, n), FlashError::kOk) << off;
    }
    // A re-read behind the read-ahead (the core re-reading a header) reads the medium directly.
    std::vector<uint8_t> again(100);
    ASSERT_EQ((*behind)->Read(7, again.data(), again.size()), FlashError::kOk);
    EXPECT_TRUE(std::equal(again.begin(), again.end(), back.begin() + 7));
  });
  for (size_t off = 0; off < bytes.size(); off += 32768) {
    ASSERT_EQ((*behind)->Write(off, bytes.data() + off, 32768), FlashError::kOk);
  }
  ASSERT_EQ((*behind)->Sync(), FlashError::kOk);
  counting.synced_end = 1 << 20;  // the final Sync covers the whole bank
  (*behind)->Complete();
  reader.join();
  EXPECT_EQ(back, bytes);
  EXPECT_FALSE(counting.read_before_sync) << "a read-back read bytes that were not yet synced";
  EXPECT_EQ((*behind)->mode(), flash->DurableReadMode());
}

// ------------------------------------------------------------------ a bank on a loop device

// Alters the loop device's backing file at `at` right after the window holding it was
// made durable (and before the read-back reads it): the loop device's own page cache
// still holds the written byte, the medium (the backing file, which the loop driver
// reads) holds another. `through_cache` reads the read-back through the page cache as
// the install did before (Read instead of ReadDurable).
class AlterBehindTheCache final : public boot::Flash {
 public:
  AlterBehindTheCache(boot::Flash& f, std::string backing, uint64_t backing_offset, uint64_t at, bool through_cache)
      : f_(f), backing_(std::move(backing)), backing_offset_(backing_offset), at_(at), through_cache_(through_cache) {}
  uint64_t Size() const override { return f_.Size(); }
  uint32_t EraseBlockSize() const override { return f_.EraseBlockSize(); }
  uint32_t WriteAlignment() const override { return f_.WriteAlignment(); }
  uint8_t ErasedValue() const override { return f_.ErasedValue(); }
  bool ProgramNeedsErase() const override { return f_.ProgramNeedsErase(); }
  FlashError Read(uint64_t o, uint8_t* b, size_t n) override { return f_.Read(o, b, n); }
  FlashError Write(uint64_t o, const uint8_t* d, size_t n) override { return f_.Write(o, d, n); }
  FlashError Erase(uint64_t o, uint64_t n) override { return f_.Erase(o, n); }
  FlashError Sync() override { return After(f_.Sync(), 0, Size()); }
  FlashError SyncRange(uint64_t o, uint64_t n) override { return After(f_.SyncRange(o, n), o, n); }
  FlashError ReadDurable(uint64_t o, uint8_t* b, size_t n) override {
    return through_cache_ ? f_.Read(o, b, n) : f_.ReadDurable(o, b, n);
  }
  ReadBackMode DurableReadMode() const override { return f_.DurableReadMode(); }
  bool altered() const { return altered_; }

 private:
  // The flusher's SyncRange and the writer's final Sync may run at once: alter once.
  FlashError After(FlashError e, uint64_t o, uint64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    if (e != FlashError::kOk || altered_ || at_ < o || at_ >= o + n) return e;
    int fd = ::open(backing_.c_str(), O_RDWR);
    if (fd < 0) return FlashError::kIo;
    uint8_t b = 0;
    const off_t pos = static_cast<off_t>(backing_offset_ + at_);
    bool ok = ::pread(fd, &b, 1, pos) == 1;
    b ^= 0x5A;
    ok = ok && ::pwrite(fd, &b, 1, pos) == 1 && ::fdatasync(fd) == 0;
    ::close(fd);
    altered_ = ok;
    return ok ? e : FlashError::kIo;
  }
  boot::Flash& f_;
  std::string backing_;
  uint64_t backing_offset_;
  uint64_t at_;
  bool through_cache_;
  std::mutex mu_;
  std::atomic<bool> altered_{false};
};

void Must(const std::vector<std::string>& argv) {
  auto r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << ": " << r.out << r.err;
}

constexpr uint64_t kBankSize = 1 << 20;

class LoopBank : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "loop devices need root";
    backing_ = dir_ / "bank_b.img";
    { std::ofstream f(backing_, std::ios::binary); }
    fs::resize_file(backing_, kBankSize);
    auto r = RunCommand({"losetup", "--find", "--show", backing_});
    if (r.exit_code != 0) GTEST_SKIP() << "loop devices not usable here: " << r.err;
    loop_ = r.out.substr(0, r.out.find('\n'));

    // Vendor: keys, 1.0.0 and 1.1.0, a TUF repository, the 1.1.0 bundle.
    const std::string v = dir_ / "vendor";
    fs::create_directories(v);
    for (const char* k : {"image", "root", "targets", "snapshot", "timestamp"}) {
      Must({"fwsign", "key", "generate", "--out", v + "/" + k + ".pem"});
    }
    for (const char* ver : {"1.0.0", "1.1.0"}) {
      fw::testing::WriteBytes(v + "/" + ver + ".bin", fw::testing::PseudoRandomBytes(300000, ver[2]));
      Must({"fwsign", "image", "sign", "--key", v + "/image.pem", "--version", ver, "--security-counter",
            std::string(1, ver[2]), "--hardware-id", "POS-X1", v + "/" + ver + ".bin", "-o",
            v + "/fw-" + ver + ".img"});
    }
    Must({"fwsign", "repo", "init", "--repo", v + "/repo", "--root-key", v + "/root.pem", "--targets-key",
          v + "/targets.pem", "--snapshot-key", v + "/snapshot.pem", "--timestamp-key", v + "/timestamp.pem"});
    Must({"fwsign", "repo", "add-target", "--repo", v + "/repo", "--image", v + "/fw-1.1.0.img"});
    Must({"fwsign", "repo", "publish", "--repo", v + "/repo", "--key", v + "/targets.pem", "--key", v + "/snapshot.pem",
          "--key", v + "/timestamp.pem"});
    bundle_ = v + "/bundle.tar";
    Must({"fwsign", "bundle", "create", "--repo", v + "/repo", "--target", "fw-1.1.0.img", "-o", bundle_});

    // The terminal: bank B on the loop device, everything else in files.
    nlohmann::json layout = {{"version", 1},
                             {"flash", {{"erase_block_size", 4096}, {"write_alignment", 8}, {"erased_value", 255}}},
                             {"regions",
                              {{"boot_control_0", {{"path", "control.bin"}, {"offset", 0}, {"size", 4096}}},
                               {"boot_control_1", {{"path", "control.bin"}, {"offset", 4096}, {"size", 4096}}},
                               {"bank_a", {{"path", "bank_a.bin"}, {"offset", 0}, {"size", kBankSize}}},
                               {"bank_b", {{"path", loop_}, {"offset", 0}, {"size", kBankSize}}},
                               {"trust_store", {{"path", "trust.bin"}, {"offset", 0}, {"size", 8192}}},
                               {"data", {{"path", "data.bin"}, {"offset", 0}, {"size", 4096}}}}},
                             {"data_dir", "data"}};
    layout_ = dir_ / "layout.json";
    fw::testing::WriteFile(layout_, layout.dump());
    Must({"fwboot", "provision", "--device", layout_, "--image", v + "/fw-1.0.0.img", "--pubkey", v + "/image.pub.pem",
          "--hardware-id", "POS-X1", "--force"});
    Must({"fwupdate", "init", "--device", layout_, "--tuf-root", v + "/repo/metadata/1.root.json"});
    Must({"fwupdate", "journal", "simulate", "--journal", dir_ / "data/journal.db", "--create", "--count", "50"});
  }
  void TearDown() override {
    if (!loop_.empty()) RunCommand({"losetup", "-d", loop_});
  }

  // Installs 1.1.0 into bank B through `AlterBehindTheCache`.
  Result<InstallResult> InstallAltered(bool through_cache, bool* altered, std::string* mode) {
    auto opened = OpenedTerminal::Open(layout_);
    if (!opened.ok()) return opened.status();
    Terminal t = (*opened)->terminal();
    // A byte of the payload, in the first 64 KiB flush window.
    AlterBehindTheCache bank(*t.banks[1], backing_, 0, 5000, through_cache);
    t.banks[1] = &bank;
    InstallOptions io;
    io.open_bundle = bundle::FileSourceOpener(bundle_);
    io.flush_window = 64 << 10;
    auto r = Install(t, io);
    *altered = bank.altered();
    *mode = boot::ReadBackModeName(bank.DurableReadMode());
    return r;
  }
  history::Entry LastHistory() {
    auto h = history::FlashHistory::Open(dir_ / "data/history.db");
    EXPECT_TRUE(h.ok()) << h.status().message();
    auto entries = h->List();
    EXPECT_TRUE(entries.ok() && !entries->empty());
    return entries->front();
  }
  nlohmann::json Status() {
    auto r = RunCommand({"fwupdate", "status", "--device", layout_, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }

  TempDir dir_;
  std::string backing_, loop_, layout_, bundle_;
};

TEST_F(LoopBank, AByteAlteredBehindThePageCacheIsCaughtByTheMediumReadBack) {
  bool altered = false;
  std::string mode;
  auto r = InstallAltered(/*through_cache=*/false, &altered, &mode);
  ASSERT_TRUE(altered) << "the rig did not alter the backing file";
  EXPECT_EQ(mode, "direct");
  ASSERT_FALSE(r.ok()) << "a bank whose medium holds other bytes was made a trial";
  EXPECT_NE(r.status().message().find("does not verify"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("read back: direct"), std::string::npos) << r.status().message();
  const history::Entry e = LastHistory();
  EXPECT_EQ(e.outcome, history::Outcome::kFailed);
  EXPECT_NE(e.detail.find("read back: direct"), std::string::npos) << e.detail;
  auto s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "unbootable") << s.dump();
  EXPECT_EQ(s["active_slot"], "A") << s.dump();
}

// The control: the same alteration read back through the page cache (as before this
// change) passes — which is why the read-back has to come from the medium.
TEST_F(LoopBank, ThePageCacheReadBackWouldHavePassedTheSameBank) {
  bool altered = false;
  std::string mode;
  auto r = InstallAltered(/*through_cache=*/true, &altered, &mode);
  ASSERT_TRUE(altered);
  EXPECT_TRUE(r.ok()) << "the control expected the cached read-back to miss the alteration: " << r.status().message();
}

TEST_F(LoopBank, AnUnalteredLoopBankInstallsAndRecordsTheReadBackMode) {
  auto r = RunCommand({"fwupdate", "install", "--device", layout_, "--quiet", bundle_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const history::Entry e = LastHistory();
  EXPECT_EQ(e.outcome, history::Outcome::kSucceeded);
  EXPECT_NE(e.detail.find("read back: direct"), std::string::npos) << e.detail;
}

}  // namespace
}  // namespace fw::install
