#include "fw/boot/file_flash.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace fw::boot {

Result<std::unique_ptr<FileFlash>> FileFlash::Open(const std::string& path, uint64_t offset,
                                                   const FlashGeometry& geometry) {
  FW_ASSIGN_OR_RETURN(File f, File::OpenReadWrite(path));
  FW_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  if (offset + geometry.size > size) {
    return Corrupt(path + " holds " + std::to_string(size) + " bytes, the layout needs " +
                   std::to_string(offset + geometry.size));
  }
  ::posix_fadvise(f.fd(), static_cast<off_t>(offset), static_cast<off_t>(geometry.size), POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<FileFlash>(new FileFlash(std::move(f), offset, geometry));
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
  return Sync();  // fdatasync: the whole file, which includes the range
}

FlashError FileFlash::Sync() {
  if (::fdatasync(file_.fd()) != 0) return Fail(IoError("cannot sync " + file_.path() + ": " + ErrnoText(errno)));
  return FlashError::kOk;
}

}  // namespace fw::boot
