#include "read_behind.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
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

void ReadBehindBank::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

void ReadBehindBank::Flusher() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || programmed_ >= flushed_ + window_; });
    if (stopping_) return;
    const uint64_t from = flushed_, to = programmed_, rewinds = rewinds_;
    lock.unlock();
    const FlashError e = bank_.SyncRange(from, to - from);
    lock.lock();
    // A failed flush is left to the writer's final Sync(), which reports it.
    if (e != FlashError::kOk) return;
    if (rewinds != rewinds_) continue;  // bytes below `to` were rewritten meanwhile: flush again
    flushed_ = to;
    if (!stopping_) readable_ = std::max(readable_, flushed_);
    cv_.notify_all();
  }
}

FlashError ReadBehindBank::Read(uint64_t offset, uint8_t* buf, size_t len) {
  if (offset > bank_.Size() || len > bank_.Size() - offset) return FlashError::kOutOfRange;
  uint64_t limit;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return offset + len <= readable_ || stopping_; });
    if (offset + len > readable_) return FlashError::kIo;
    limit = readable_;
  }
  if (bank_.DurableReadMode() == boot::ReadBackMode::kFlash) {
    std::lock_guard<std::mutex> io(io_mu_);
    return bank_.ReadDurable(offset, buf, len);
  }
  return ReadBuffered(offset, buf, len, limit);
}

// Serves [offset, offset + len) from the read buffer, refilling it from the medium in
// large aligned reads of durable bytes (below `limit`).
FlashError ReadBehindBank::ReadBuffered(uint64_t offset, uint8_t* buf, size_t len, uint64_t limit) {
  std::lock_guard<std::mutex> rd(rd_mu_);
  if (!buf_) {
    buf_.reset(static_cast<uint8_t*>(std::aligned_alloc(kReadAlign, kReadBuffer)));
    if (!buf_) return FlashError::kIo;
  }
  for (uint64_t at = offset, end = offset + len; at < end;) {
    uint64_t from, to;
    {
      std::lock_guard<std::mutex> lock(mu_);
      from = buf_from_;
      to = buf_to_;
    }
    if (at >= from && at < to) {
      const uint64_t n = std::min(to, end) - at;
      std::memcpy(buf + (at - offset), buf_.get() + (at - from), static_cast<size_t>(n));
      at += n;
      continue;
    }
    // Refill: aligned start, up to the buffer's size; the aligned end may pass the durable
    // limit (those bytes are read but never served).
    from = at / kReadAlign * kReadAlign;
    const uint64_t want = std::min<uint64_t>(from + kReadBuffer, (limit + kReadAlign - 1) / kReadAlign * kReadAlign);
    to = std::min(want, bank_.Size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      buf_from_ = buf_to_ = 0;
    }
    if (FlashError e = bank_.ReadDurable(from, buf_.get(), static_cast<size_t>(to - from)); e != FlashError::kOk) {
      return e;
    }
    std::lock_guard<std::mutex> lock(mu_);
    buf_from_ = from;
    buf_to_ = std::min(to, std::min(limit, readable_));
    if (buf_to_ <= at) return FlashError::kIo;  // rewritten while it was read
  }
  return FlashError::kOk;
}

FlashError ReadBehindBank::Write(uint64_t offset, const uint8_t* data, size_t len) {
  {
    // Bytes being rewritten are not readable until they are durable again.
    std::lock_guard<std::mutex> lock(mu_);
    readable_ = std::min(readable_, offset);
    buf_to_ = std::min(buf_to_, offset);
    if (offset < programmed_) ++rewinds_;
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
  }
  cv_.notify_all();
  return e;
}

FlashError ReadBehindBank::Erase(uint64_t offset, uint64_t len) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    readable_ = std::min(readable_, offset);
    buf_to_ = std::min(buf_to_, offset);
    if (offset < programmed_) ++rewinds_;
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
