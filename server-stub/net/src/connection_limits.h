// The connection cap of HttpsServer (internal to server-stub/net).
//
// Admit() is called once per accepted socket: kAdmit while fewer than `max` connections are
// open; above that kBusy (the connection is served a 503 + Retry-After and closed) while fewer
// than max / 4 + 16 such answers are in progress; beyond that kDrop (closed at once). Every
// kAdmit / kBusy is matched by one Release(busy) when the connection ends.
// Thread safety: all members may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace fw::server {

class ConnectionLimits {
 public:
  enum class Admission { kAdmit, kBusy, kDrop };
  struct Counts {
    uint64_t accepted, open, refused, dropped;
  };

  explicit ConnectionLimits(uint64_t max) : max_(max), busy_max_(max / 4 + 16) {}

  Admission Admit() {
    accepted_++;
    if (open_.fetch_add(1) < max_) return Admission::kAdmit;
    open_--;
    if (busy_.fetch_add(1) < busy_max_) return Admission::kBusy;
    busy_--;
    dropped_++;
    return Admission::kDrop;
  }
  void Release(bool busy) {
    if (busy) {
      busy_--;
    } else {
      open_--;
    }
  }
  void NoteRefused() { refused_++; }
  Counts Snapshot() const { return {accepted_.load(), open_.load() + busy_.load(), refused_.load(), dropped_.load()}; }

 private:
  const uint64_t max_;
  const uint64_t busy_max_;
  std::atomic<uint64_t> accepted_{0}, open_{0}, busy_{0}, refused_{0}, dropped_{0};
};

}  // namespace fw::server
