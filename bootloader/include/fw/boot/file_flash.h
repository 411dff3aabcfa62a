// File-backed Flash: a region [offset, offset + size) of a regular file or block
// device (e.g. /dev/mmcblk0p3), used by fwboot and the updater.
//
// Reads and writes are pread/pwrite; Sync() is fdatasync, and Save() of the
// boot-control store calls it before reading back. Erase writes the erased value
// over the range, so files behave like the simulator for every reader. Unlike the
// simulator, programming non-erased bytes is not refused (block devices have no
// such rule); alignment and bounds are enforced.
//
// Read-back from the medium (ReadDurable, docs/install.md "Read-back"): Open() also
// opens the file with O_DIRECT; ReadDurable then reads through it with aligned
// buffers (mode "direct"), bypassing the page cache. Where the file system refuses
// O_DIRECT (EINVAL: tmpfs before Linux 6.6, some FUSE), or a direct read fails with EINVAL, the mode
// is "dropped-cache": Sync() and SyncRange() drop the synced range's cached pages
// (POSIX_FADV_DONTNEED after fdatasync), so the next read comes from the medium.
//
// Thread safety: Read, ReadDurable, Write and SyncRange may run on different threads
// at once (pread, pwrite, fdatasync); the rest is for one owner.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "fw/boot/flash.h"
#include "fw/boot/sim_flash.h"
#include "fw/file_io.h"
#include "fw/status.h"

namespace fw::boot {

class FileFlash final : public Flash {
 public:
  // Opens `path` read-write; it must hold at least offset + size bytes.
  // `geometry.size` is the region size. `direct` false: dropped-cache mode even where
  // O_DIRECT works (tests).
  static Result<std::unique_ptr<FileFlash>> Open(const std::string& path, uint64_t offset,
                                                 const FlashGeometry& geometry, bool direct = true);
  ~FileFlash();
  FileFlash(const FileFlash&) = delete;
  FileFlash& operator=(const FileFlash&) = delete;

  uint64_t Size() const override { return geometry_.size; }
  uint32_t EraseBlockSize() const override { return geometry_.erase_block_size; }
  uint32_t WriteAlignment() const override { return geometry_.write_alignment; }
  uint8_t ErasedValue() const override { return geometry_.erased_value; }
  FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override;
  FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override;
  FlashError Erase(uint64_t offset, uint64_t len) override;
  FlashError Sync() override;
  FlashError SyncRange(uint64_t offset, uint64_t len) override;
  // Files and block devices overwrite in place: no erase fill is needed before a write.
  bool ProgramNeedsErase() const override { return false; }
  FlashError ReadDurable(uint64_t offset, uint8_t* buf, size_t len) override;
  ReadBackMode DurableReadMode() const override { return mode_.load(); }
  // The O_DIRECT alignment (offsets, lengths and buffers) in direct mode.
  uint32_t DirectAlignment() const { return direct_align_; }

  // The OS error behind the last kIo, e.g. "cannot write bank_b.bin: No space left on device".
  Status last_error() const {
    std::lock_guard<std::mutex> lock(error_mu_);
    return last_error_;
  }
  const std::string& path() const { return file_.path(); }

 private:
  FileFlash(File file, uint64_t base, const FlashGeometry& g) : file_(std::move(file)), base_(base), geometry_(g) {}
  void OpenDirect();
  FlashError ReadDirect(uint64_t offset, uint8_t* buf, size_t len);
  FlashError DropCached(uint64_t offset, uint64_t len);
  bool InRange(uint64_t offset, uint64_t len) const {
    return offset <= geometry_.size && len <= geometry_.size - offset;
  }
  FlashError Fail(Status s);

  File file_;
  int direct_fd_ = -1;  // O_DIRECT, read-only; -1 in dropped-cache mode
  uint32_t direct_align_ = 4096;
  std::atomic<ReadBackMode> mode_{ReadBackMode::kDroppedCache};
  uint64_t base_;
  FlashGeometry geometry_;
  mutable std::mutex error_mu_;
  Status last_error_;  // guarded by error_mu_
};

}  // namespace fw::boot
