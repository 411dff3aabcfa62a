#include "read_behind.h"

namespace fw::install {

using boot::FlashError;

void ReadBehindBank::Publish(uint64_t end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (end <= published_) return;
    published_ = end;
  }
  published_cv_.notify_all();
}

void ReadBehindBank::Abort() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
  }
  published_cv_.notify_all();
}

FlashError ReadBehindBank::Read(uint64_t offset, uint8_t* buf, size_t len) {
  if (offset > bank_.Size() || len > bank_.Size() - offset) return FlashError::kOutOfRange;
  {
    std::unique_lock<std::mutex> lock(mu_);
    published_cv_.wait(lock, [&] { return offset + len <= published_ || aborted_; });
    if (offset + len > published_) return FlashError::kIo;
  }
  std::lock_guard<std::mutex> io(io_mu_);
  return bank_.Read(offset, buf, len);
}

FlashError ReadBehindBank::Write(uint64_t offset, const uint8_t* data, size_t len) {
  std::lock_guard<std::mutex> io(io_mu_);
  return bank_.Write(offset, data, len);
}

FlashError ReadBehindBank::Erase(uint64_t offset, uint64_t len) {
  std::lock_guard<std::mutex> io(io_mu_);
  return bank_.Erase(offset, len);
}

FlashError ReadBehindBank::Sync() {
  std::lock_guard<std::mutex> io(io_mu_);
  return bank_.Sync();
}

}  // namespace fw::install
