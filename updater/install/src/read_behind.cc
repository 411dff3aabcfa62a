#include "read_behind.h"

#include <algorithm>
#include <system_error>

namespace fw::install {

using boot::FlashError;

Result<std::unique_ptr<ReadBehindBank>> ReadBehindBank::Start(boot::Flash& bank, uint64_t window) {
  if (window == 0) return InvalidArgument("the flush window is 0 bytes");
  std::unique_ptr<ReadBehindBank> b(new ReadBehindBank(bank, window));
  try {
    b->flusher_ = std::thread([p = b.get()] { p->Flusher(); });
  } catch (const std::system_error& e) {
    return Internal(std::string("cannot start the bank flusher thread: ") + e.what());
  }
  return b;
}

ReadBehindBank::~ReadBehindBank() { Stop(false); }

void ReadBehindBank::Complete() { Stop(true); }

void ReadBehindBank::Abort() { Stop(false); }

void ReadBehindBank::Stop(bool complete) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (complete) readable_ = bank_.Size();
  }
  cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

void ReadBehindBank::Flusher() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || programmed_ >= flushed_ + window_; });
    if (stopping_) return;
    const uint64_t from = flushed_, to = programmed_;
    lock.unlock();
    const FlashError e = bank_.SyncRange(from, to - from);
    lock.lock();
    // A failed flush is left to the writer's final Sync(), which reports it.
    if (e != FlashError::kOk) return;
    flushed_ = to;
  }
}

FlashError ReadBehindBank::Read(uint64_t offset, uint8_t* buf, size_t len) {
  if (offset > bank_.Size() || len > bank_.Size() - offset) return FlashError::kOutOfRange;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return offset + len <= readable_ || stopping_; });
    if (offset + len > readable_) return FlashError::kIo;
  }
  std::lock_guard<std::mutex> io(io_mu_);
  return bank_.Read(offset, buf, len);
}

FlashError ReadBehindBank::Write(uint64_t offset, const uint8_t* data, size_t len) {
  {
    // Bytes being rewritten are not readable until the write is done.
    std::lock_guard<std::mutex> lock(mu_);
    readable_ = std::min(readable_, offset);
  }
  FlashError e;
  {
    std::lock_guard<std::mutex> io(io_mu_);
    e = bank_.Write(offset, data, len);
  }
  if (e == FlashError::kOk) {
    std::lock_guard<std::mutex> lock(mu_);
    if (offset <= programmed_) programmed_ = std::max(programmed_, offset + len);  // a contiguous prefix only
    flushed_ = std::min(flushed_, offset);
    if (!stopping_) readable_ = programmed_;
  }
  cv_.notify_all();
  return e;
}

FlashError ReadBehindBank::Erase(uint64_t offset, uint64_t len) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    readable_ = std::min(readable_, offset);
    programmed_ = std::min(programmed_, offset);
    flushed_ = std::min(flushed_, offset);
  }
  std::lock_guard<std::mutex> io(io_mu_);
  return bank_.Erase(offset, len);
}

FlashError ReadBehindBank::Sync() {
  std::lock_guard<std::mutex> io(io_mu_);
  return bank_.Sync();
}

}  // namespace fw::install
