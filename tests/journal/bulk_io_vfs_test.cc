// The VFS layers a snapshot copies through (updater/journal/src/bulk_io_vfs.h): what
// they write must be exactly what SQLite wrote, reads must see every write, a failed
// write must be reported, and read-ahead must not outlive a lock.
#include "bulk_io_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "power_loss_vfs.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::TempDir;

// A file opened through a VFS as SQLite would open a main database.
class VfsFile {
 public:
  VfsFile(const std::string& vfs_name, const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
      : vfs_(sqlite3_vfs_find(vfs_name.c_str())), path_(path) {
    EXPECT_NE(vfs_, nullptr) << vfs_name;
    mem_.resize(static_cast<size_t>(vfs_->szOsFile));
    rc_ = vfs_->xOpen(vfs_, path_.c_str(), file(), flags | SQLITE_OPEN_MAIN_DB, nullptr);
  }
  ~VfsFile() { Close(); }
  int Close() {
    if (closed_ || rc_ != SQLITE_OK) return SQLITE_OK;
    closed_ = true;
    return file()->pMethods->xClose(file());
  }
  int open_rc() const { return rc_; }
  sqlite3_file* file() { return reinterpret_cast<sqlite3_file*>(mem_.data()); }
  int Write(const std::vector<uint8_t>& data, int64_t off) {
    return file()->pMethods->xWrite(file(), data.data(), static_cast<int>(data.size()), off);
  }
  int Read(std::vector<uint8_t>& out, int64_t off) {
    return file()->pMethods->xRead(file(), out.data(), static_cast<int>(out.size()), off);
  }

 private:
  sqlite3_vfs* vfs_;
  std::string path_;
  std::vector<uint64_t> mem_;  // 8-byte aligned, like SQLite's own allocation
  int rc_ = SQLITE_ERROR;
  bool closed_ = false;
};

std::vector<uint8_t> Page(uint8_t fill, size_t n = 4096) { return std::vector<uint8_t>(n, fill); }

TEST(BulkIoVfs, CombinedWritesLeaveExactlyWhatWasWrittenAndReadsSeeThem) {
  TempDir dir;
  auto name = BulkIoVfs("", BulkIo::kCombineWrites);
  ASSERT_TRUE(name.ok()) << name.status().message();
  std::vector<uint8_t> model;
  auto apply = [&](const std::vector<uint8_t>& d, int64_t off) {
    if (model.size() < off + d.size()) model.resize(off + d.size(), 0);
    std::memcpy(model.data() + off, d.data(), d.size());
  };
  VfsFile f(*name, dir / "copy.db");
  ASSERT_EQ(f.open_rc(), SQLITE_OK);
  std::mt19937 rng(7);
  // Mostly in order, as a backup writes, with rewrites of buffered and handed-off
  // pages, jumps, large writes, and reads and size queries in between.
  int64_t next = 4096;
  for (int i = 0; i < 1500; ++i) {
    int op = static_cast<int>(rng() % 100);
    if (op < 80) {
      auto d = Page(static_cast<uint8_t>(rng()));
      ASSERT_EQ(f.Write(d, next), SQLITE_OK);
      apply(d, next);
      next += 4096;
    } else if (op < 90) {
      int64_t off = 4096 * static_cast<int64_t>(rng() % (next / 4096));
      auto d = Page(static_cast<uint8_t>(rng()), 100 + rng() % 3000);
      ASSERT_EQ(f.Write(d, off), SQLITE_OK);
      apply(d, off);
    } else if (op < 93) {
      auto d = Page(static_cast<uint8_t>(rng()), (1 << 20) + 4096 * (rng() % 40));
      ASSERT_EQ(f.Write(d, next), SQLITE_OK);
      apply(d, next);
      next += static_cast<int64_t>(d.size());
    } else if (op < 98) {
      int64_t off = static_cast<int64_t>(rng() % model.size());
      std::vector<uint8_t> got(std::min<size_t>(4096, model.size() - off));
      ASSERT_EQ(f.Read(got, off), SQLITE_OK);
      ASSERT_TRUE(std::equal(got.begin(), got.end(), model.begin() + off)) << "read at " << off << " after op " << i;
    } else {
      sqlite3_int64 size = 0;
      ASSERT_EQ(f.file()->pMethods->xFileSize(f.file(), &size), SQLITE_OK);
      EXPECT_EQ(size, static_cast<sqlite3_int64>(model.size()));
    }
  }
  auto first = Page(0x51);  // page 1 last, as SQLite commits
  ASSERT_EQ(f.Write(first, 0), SQLITE_OK);
  apply(first, 0);
  ASSERT_EQ(f.Close(), SQLITE_OK);
  EXPECT_EQ(fw::testing::ReadBytes(dir / "copy.db"), model);
}

TEST(BulkIoVfs, AFailedCombinedWriteIsReportedNotLost) {
  TempDir dir;
  auto& pl = fw::testing::PowerLossVfs::Get();
  pl.Arm(0, false);
  pl.SetQuota("/full/", 256 * 1024);
  auto name = BulkIoVfs(fw::testing::PowerLossVfs::kName, BulkIo::kCombineWrites);
  ASSERT_TRUE(name.ok());
  std::filesystem::create_directories(dir / "full");
  VfsFile f(*name, dir / "full/copy.db");
  ASSERT_EQ(f.open_rc(), SQLITE_OK);
  int rc = SQLITE_OK;
  for (int i = 0; i < 1024 && rc == SQLITE_OK; ++i) rc = f.Write(Page(1), 4096 * static_cast<int64_t>(i));
  if (rc == SQLITE_OK) rc = f.file()->pMethods->xSync(f.file(), SQLITE_SYNC_NORMAL);
  EXPECT_EQ(rc & 0xff, SQLITE_FULL);
  f.Close();
  pl.SetQuota("", 0);
}

TEST(BulkIoVfs, ReadAheadAnswersFromItsBufferOnlyUntilTheNextLock) {
  TempDir dir;
  const std::string path = dir / "src.db";
  {
    VfsFile plain("unix", path);
    for (int i = 0; i < 40; ++i) ASSERT_EQ(plain.Write(Page(static_cast<uint8_t>(i)), 4096 * i), SQLITE_OK);
  }
  auto name = BulkIoVfs("", BulkIo::kReadAhead);
  ASSERT_TRUE(name.ok());
  VfsFile f(*name, path);
  ASSERT_EQ(f.open_rc(), SQLITE_OK);
  auto* m = f.file()->pMethods;
  ASSERT_EQ(m->xLock(f.file(), SQLITE_LOCK_SHARED), SQLITE_OK);
  std::vector<uint8_t> got(4096);
  ASSERT_EQ(f.Read(got, 4096 * 3), SQLITE_OK);
  EXPECT_EQ(got, Page(3));
  ASSERT_EQ(m->xUnlock(f.file(), SQLITE_LOCK_NONE), SQLITE_OK);
  {  // another process changes page 4 while nobody holds a lock
    VfsFile other("unix", path);
    ASSERT_EQ(other.Write(Page(0xee), 4096 * 4), SQLITE_OK);
  }
  ASSERT_EQ(m->xLock(f.file(), SQLITE_LOCK_SHARED), SQLITE_OK);
  ASSERT_EQ(f.Read(got, 4096 * 4), SQLITE_OK);
  EXPECT_EQ(got, Page(0xee));
  // The end of the file: a short read, zero-filled, as the real VFS reports it.
  std::vector<uint8_t> tail(4096, 0x77);
  EXPECT_EQ(f.Read(tail, 4096 * 39 + 2048), SQLITE_IOERR_SHORT_READ);
  EXPECT_EQ(std::vector<uint8_t>(tail.begin(), tail.begin() + 2048), Page(39, 2048));
  EXPECT_EQ(std::vector<uint8_t>(tail.begin() + 2048, tail.end()), Page(0, 2048));
  ASSERT_EQ(m->xUnlock(f.file(), SQLITE_LOCK_NONE), SQLITE_OK);
}

}  // namespace
}  // namespace fw::journal
