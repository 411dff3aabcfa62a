#include "fw/boot/file_flash.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace fw::boot {
namespace {

constexpr size_t kBounceSize = 1 << 20;  // direct reads of unaligned requests go through this

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// pread of exactly [pos, pos + need) into buf, reading `len` >= need bytes: fewer than
// `len` only at the end of the file. Returns 0 or an errno value.
int PreadCovering(int fd, uint8_t* buf, size_t len, uint64_t pos, size_t need) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, buf + done, len - done, static_cast<off_t>(pos + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done >= need ? 0 : EIO;
}

}  // namespace

Result<std::unique_ptr<FileFlash>> FileFlash::Open(const std::string& path, uint64_t offset,
                                                   const FlashGeometry& geometry, bool direct) {
  FW_ASSIGN_OR_RETURN(File f, File::OpenReadWrite(path));
  FW_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  if (offset + geometry.size > size) {
    return Corrupt(path + " holds " + std::to_string(size) + " bytes, the layout needs " +
                   std::to_string(offset + geometry.size));
  }
  ::posix_fadvise(f.fd(), static_cast<off_t>(offset), static_cast<off_t>(geometry.size), POSIX_FADV_SEQUENTIAL);
  std::unique_ptr<FileFlash> flash(new FileFlash(std::move(f), offset, geometry));
  if (direct) flash->OpenDirect();
  return flash;
}

FileFlash::~FileFlash() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

void FileFlash::OpenDirect() {
  // tmpfs and some FUSE file systems refuse O_DIRECT with EINVAL: dropped-cache mode.
  const int fd = ::open(file_.path().c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  int sector = 0;
  if (::fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ::ioctl(fd, BLKSSZGET, &sector) == 0 && sector > 0) {
    direct_align_ = std::max<uint32_t>(direct_align_, static_cast<uint32_t>(sector));
  }
  direct_fd_ = fd;
  mode_ = ReadBackMode::kDirect;
}

FlashError FileFlash::ReadDurable(uint64_t offset, uint8_t* buf, size_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  if (len == 0) return FlashError::kOk;
  if (mode_.load() == ReadBackMode::kDirect) {
    FlashError e = ReadDirect(offset, buf, len);
    if (mode_.load() == ReadBackMode::kDirect) return e;
    // The file system took the O_DIRECT open but refused the read: the bytes were synced
    // with their pages kept, so drop them now and read through the cache from here on.
    if (FlashError d = DropCached(offset, len); d != FlashError::kOk) return d;
  }
  return Read(offset, buf, len);  // dropped-cache: Sync/SyncRange dropped the synced pages
}

FlashError FileFlash::ReadDirect(uint64_t offset, uint8_t* buf, size_t len) {
  const uint64_t a = direct_align_;
  const uint64_t pos = base_ + offset;
  auto failed = [&](int err) {
    if (err == EINVAL) {
      mode_ = ReadBackMode::kDroppedCache;
      return FlashError::kIo;
    }
    return Fail(IoError("cannot read " + file_.path() + " back from the medium (O_DIRECT) at " + std::to_string(pos) +
                        ": " + ErrnoText(err)));
  };
  if (pos % a == 0 && len % a == 0 && reinterpret_cast<uintptr_t>(buf) % a == 0) {
    int err = PreadCovering(direct_fd_, buf, len, pos, len);
    return err == 0 ? FlashError::kOk : failed(err);
  }
  std::unique_ptr<uint8_t, FreeDeleter> bounce(static_cast<uint8_t*>(std::aligned_alloc(a, kBounceSize)));
  if (!bounce) return Fail(IoError("cannot allocate a buffer for reading " + file_.path() + " back"));
  for (uint64_t at = pos, end = pos + len; at < end;) {
    const uint64_t from = at / a * a;
    const uint64_t to = std::min<uint64_t>(from + kBounceSize, (end + a - 1) / a * a);
    const size_t need = static_cast<size_t>(std::min(to, end) - from);
    if (int err = PreadCovering(direct_fd_, bounce.get(), static_cast<size_t>(to - from), from, need); err != 0) {
      return failed(err);
    }
    std::memcpy(buf + (at - pos), bounce.get() + (at - from), static_cast<size_t>(std::min(to, end) - at));
    at = std::min(to, end);
  }
  return FlashError::kOk;
}

FlashError FileFlash::DropCached(uint64_t offset, uint64_t len) {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t from = (base_ + offset) / page * page;
  const uint64_t to = (base_ + offset + len + page - 1) / page * page;
  if (int err =
          ::posix_fadvise(file_.fd(), static_cast<off_t>(from), static_cast<off_t>(to - from), POSIX_FADV_DONTNEED);
      err != 0) {
    return Fail(IoError("cannot drop the cached pages of " + file_.path() + ": " + ErrnoText(err)));
  }
  return FlashError::kOk;
}

FlashError FileFlash::Fail(Status s) {
  std::lock_guard<std::mutex> lock(error_mu_);
  last_error_ = std::move(s);
  return FlashError::kIo;
}

FlashError FileFlash::Read(uint64_t offset, uint8_t* buf, size_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  Status s = file_.ReadAt(base_ + offset, {buf, len});
  return s.ok() ? FlashError::kOk : Fail(s);
}

FlashError FileFlash::Write(uint64_t offset, const uint8_t* data, size_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  if (offset % geometry_.write_alignment != 0 || len % geometry_.write_alignment != 0) return FlashError::kMisaligned;
  Status s = file_.WriteAt(base_ + offset, {data, len});
  return s.ok() ? FlashError::kOk : Fail(s);
}

FlashError FileFlash::Erase(uint64_t offset, uint64_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  if (offset % geometry_.erase_block_size != 0 || len % geometry_.erase_block_size != 0) {
    return FlashError::kMisaligned;
  }
  std::vector<uint8_t> fill(static_cast<size_t>(std::min<uint64_t>(len, 1 << 20)), geometry_.erased_value);
  for (uint64_t done = 0; done < len;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(fill.size(), len - done));
    Status s = file_.WriteAt(base_ + offset + done, {fill.data(), n});
    if (!s.ok()) return Fail(s);
    done += n;
  }
  return FlashError::kOk;
}

FlashError FileFlash::SyncRange(uint64_t offset, uint64_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  // fdatasync: the whole file, which includes the range.
  if (::fdatasync(file_.fd()) != 0) return Fail(IoError("cannot sync " + file_.path() + ": " + ErrnoText(errno)));
  if (mode_.load() == ReadBackMode::kDroppedCache) return DropCached(offset, len);
  return FlashError::kOk;
}

FlashError FileFlash::Sync() { return SyncRange(0, geometry_.size); }

}  // namespace fw::boot
