#include "last_seen.h"

#include <algorithm>

#include "fw/server/store.h"

namespace fw::server {

std::shared_ptr<LastSeenBuffer> LastSeenBuffer::For(const std::string& db_path) {
  static std::mutex registry_mu;
  static std::map<std::string, std::weak_ptr<LastSeenBuffer>> registry;
  std::lock_guard<std::mutex> lock(registry_mu);
  auto& slot = registry[db_path];
  auto buffer = slot.lock();
  if (!buffer) {
    buffer = std::make_shared<LastSeenBuffer>();
    slot = buffer;
  }
  return buffer;
}

LastSeenBuffer::Batch LastSeenBuffer::Note(const std::string& serial, int64_t wall_s, int64_t monotonic_ms,
                                           bool checkin) {
  std::lock_guard<std::mutex> lock(mu_);
  if (last_flush_ms_ == INT64_MIN) last_flush_ms_ = monotonic_ms;
  int64_t& t = pending_[serial];
  t = std::max(t, wall_s);
  if (checkin) {
    // floor, also for a (nonsensical) negative wall clock.
    const int64_t bucket = wall_s - ((wall_s % kCheckinBucketSeconds) + kCheckinBucketSeconds) % kCheckinBucketSeconds;
    ++pending_checkins_[bucket];
  }
  if (pending_.size() < kFlushEntries && monotonic_ms - last_flush_ms_ < kFlushMs) return {};
  return TakeLocked(monotonic_ms);
}

LastSeenBuffer::Batch LastSeenBuffer::TakeAll(int64_t monotonic_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  return TakeLocked(monotonic_ms);
}

LastSeenBuffer::Batch LastSeenBuffer::TakeLocked(int64_t monotonic_ms) {
  Batch out;
  out.seen.assign(pending_.begin(), pending_.end());
  out.checkins.assign(pending_checkins_.begin(), pending_checkins_.end());
  pending_.clear();
  pending_checkins_.clear();
  last_flush_ms_ = monotonic_ms;
  return out;
}

}  // namespace fw::server
