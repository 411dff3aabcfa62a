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
    if (bank.DurableReadMode() != boot::ReadBackMode::kFlash)
      b->fetcher_ = std::thread([p = b.get()] { p->Fetcher(); });
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
    if (complete) {
      readable_ = bank_.Size();
    } else {
      aborted_ = true;
    }
  }
  cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  if (!complete && fetcher_.joinable()) fetcher_.join();
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
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return offset + len <= readable_ || stopping_; });
    if (offset + len > readable_) return FlashError::kIo;
  }
  if (bank_.DurableReadMode() == boot::ReadBackMode::kFlash || !fetcher_.joinable()) {
    std::lock_guard<std::mutex> io(io_mu_);
    return bank_.ReadDurable(offset, buf, len);
  }
  return ReadFetched(offset, buf, len);
}

// Reads the durable bytes from the medium ahead of the reader, in order, into free slots.
void ReadBehindBank::Fetcher() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    Slot* slot = nullptr;
    cv_.wait(lock, [&] {
      if (aborted_) return true;
      slot = nullptr;
      for (Slot& s : slots_) {
        if (s.state == Slot::kFree) slot = &s;
      }
      return slot != nullptr && readable_ > fetched_to_;
    });
    if (aborted_) return;
    const uint64_t limit = readable_, rewinds = rewinds_;
    const uint64_t from = fetched_to_ / kReadAlign * kReadAlign;
    const uint64_t to =
        std::min<uint64_t>({from + kSlotSize, (limit + kReadAlign - 1) / kReadAlign * kReadAlign, bank_.Size()});
    slot->state = Slot::kBusy;
    slot->from = from;
    slot->to = to;
    lock.unlock();
    if (!slot->data) slot->data.reset(static_cast<uint8_t*>(std::aligned_alloc(kReadAlign, kSlotSize)));
    // The aligned end may pass the durable limit: those bytes are read but never served.
    const FlashError e =
        slot->data ? bank_.ReadDurable(from, slot->data.get(), static_cast<size_t>(to - from)) : FlashError::kIo;
    lock.lock();
    if (rewinds != rewinds_) {  // bytes were rewritten meanwhile: fetch them again
      slot->state = Slot::kFree;
      fetched_to_ = std::min(fetched_to_, from);
    } else {
      slot->state = Slot::kReady;
      slot->error = e;
      slot->to = std::min(to, limit);
      fetched_to_ = std::max(fetched_to_, slot->to);
    }
    cv_.notify_all();
  }
}

// Serves [offset, offset + len) from the fetched slots, waiting for the fetcher; a read
// behind the slots (a re-read) goes to the medium directly.
FlashError ReadBehindBank::ReadFetched(uint64_t offset, uint8_t* buf, size_t len) {
  std::lock_guard<std::mutex> rd(rd_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  for (uint64_t at = offset, end = offset + len; at < end;) {
    if (aborted_) return FlashError::kIo;
    Slot* hit = nullptr;
    bool busy_ahead = false, busy = false;
    for (Slot& s : slots_) {
      if (s.state == Slot::kReady && s.to <= at) {  // the reader is past it
        s.state = Slot::kFree;
        cv_.notify_all();
      }
      if (s.state == Slot::kReady && s.from <= at && at < s.to) hit = &s;
      if (s.state == Slot::kBusy) {
        busy = true;
        busy_ahead = busy_ahead || (s.from <= at && at < s.to);
      }
    }
    if (hit != nullptr) {
      if (hit->error != FlashError::kOk) return hit->error;
      const uint64_t n = std::min(hit->to, end) - at;
      std::memcpy(buf + (at - offset), hit->data.get() + (at - hit->from), static_cast<size_t>(n));
      at += n;
      continue;
    }
    if (!busy_ahead && at < fetched_to_ / kReadAlign * kReadAlign) {
      lock.unlock();  // behind the read-ahead: read the medium directly
      const FlashError e = bank_.ReadDurable(at, buf + (at - offset), static_cast<size_t>(end - at));
      lock.lock();
      if (e != FlashError::kOk) return e;
      at = end;
      continue;
    }
    if (!busy && at >= fetched_to_ + kSlotSize) {
      fetched_to_ = at;  // far ahead of the read-ahead: skip the bytes in between
      cv_.notify_all();
    }
    cv_.wait(lock);
  }
  return FlashError::kOk;
}

// Bytes from `offset` on are being rewritten: fetched copies of them are stale.
void ReadBehindBank::Rewind(uint64_t offset) {
  ++rewinds_;
  fetched_to_ = std::min(fetched_to_, offset);
  for (Slot& s : slots_) {
    if (s.state != Slot::kReady || s.to <= offset) continue;
    s.to = std::max(s.from, offset);
    if (s.to == s.from) s.state = Slot::kFree;
  }
}

FlashError ReadBehindBank::Write(uint64_t offset, const uint8_t* data, size_t len) {
  {
    // Bytes being rewritten are not readable until they are durable again.
    std::lock_guard<std::mutex> lock(mu_);
    readable_ = std::min(readable_, offset);
    if (offset < programmed_) Rewind(offset);
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
    if (offset < programmed_) Rewind(offset);
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
