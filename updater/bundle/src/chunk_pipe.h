// Internal to fw_bundle: the bounded hand-over of verified image chunks from the
// reader's read-ahead thread to the caller's thread.
// Thread safety: one producer thread and one consumer thread (see below).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "fw/bundle_reader.h"
#include "fw/status.h"

namespace fw::bundle {

// A bounded queue of verified chunks between the read-ahead thread (libarchive +
// SHA-256 of each chunk) and the caller's thread (the sink: e.g. writing a bank),
// so hashing overlaps the sink's I/O. Chunks travel in slots of about kSlotBytes
// (whole chunks, at least one), and at most kReadAheadBytes (at least two slots)
// are in flight; a slot changes threads once, not each chunk.
class ChunkPipe {
 public:
  struct Slot {
    std::vector<uint8_t> data;
    uint64_t first_chunk = 0;  // index of the slot's first chunk
    uint64_t offset = 0;       // its byte offset in the image
    size_t size = 0;           // verified bytes in `data`
  };
  static constexpr size_t kSlotBytes = 1 << 20;
  static constexpr size_t kReadAheadBytes = 4 << 20;

  explicit ChunkPipe(uint32_t chunk_size) {
    const size_t slot = std::max<size_t>(1, kSlotBytes / chunk_size) * chunk_size;
    slots_.resize(std::max<size_t>(2, kReadAheadBytes / slot));
    for (auto& s : slots_) {
      s.data.resize(slot);
      free_.push_back(&s);
    }
  }

  // Producer: a free slot, or nullptr once the consumer cancelled.
  Slot* Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    free_cv_.wait(lock, [&] { return !free_.empty() || cancelled_; });
    if (cancelled_) return nullptr;
    Slot* s = free_.back();
    free_.pop_back();
    return s;
  }
  void Push(Slot* s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(s);
    }
    ready_cv_.notify_one();
  }
  // Producer: no more chunks; `s` is the reason if it stopped early.
  void Finish(Status s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      status_ = std::move(s);
    }
    ready_cv_.notify_one();
  }
  // Consumer: stop the producer (it finishes its current slot and exits).
  void Cancel() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    free_cv_.notify_one();
  }

  // Consumer: hands the verified bytes to `sink` in order until the producer is done.
  Status Drain(const ChunkSink& sink, const std::string& what) {
    while (true) {
      Slot* s = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_cv_.wait(lock, [&] { return !ready_.empty() || done_; });
        if (ready_.empty()) return status_;
        s = ready_.front();
        ready_.pop_front();
      }
      FW_RETURN_IF_ERROR_CTX(
          sink(s->offset, {s->data.data(), s->size}),
          what + ": bytes from " + std::to_string(s->offset) + " (chunk " + std::to_string(s->first_chunk) + ")");
      {
        std::lock_guard<std::mutex> lock(mu_);
        free_.push_back(s);
      }
      free_cv_.notify_one();
    }
  }

 private:
  std::vector<Slot> slots_;
  std::mutex mu_;
  std::condition_variable free_cv_, ready_cv_;
  std::vector<Slot*> free_;  // guarded by mu_
  std::deque<Slot*> ready_;  // guarded by mu_, in image order
  bool done_ = false;        // guarded by mu_
  bool cancelled_ = false;   // guarded by mu_
  Status status_;            // guarded by mu_
};

}  // namespace fw::bundle
