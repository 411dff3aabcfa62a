// When each device was last seen, and how many check-ins each kCheckinBucketSeconds bucket had
// (the dashboard's check-ins over time, Store::AddCheckinCounts), kept in memory and written to
// the store in batches, so a steady-state check-in needs no durable commit (docs/fleet-protocol.md,
// "What a check-in writes"). Internal to fw_server_api.
//
// Contract: one buffer per database path, shared by every handler of the process
// (LastSeenBuffer::For). Note() records a sighting (and, for a successful check-in, adds 1 to the
// bucket of wall_s) and hands back the whole batch to write once kFlushEntries devices are waiting
// or kFlushMs of monotonic time passed since the last hand-out; TakeAll() hands back everything (a
// handler closing). A batch handed out is the caller's to write (TouchLastSeen, AddCheckinCounts);
// a crash loses at most one flush interval of last_seen values and check-in counts (never anything
// else: both are informational, `no_response` is judged on a scale of hours).
// Thread safety: all methods may be called from several threads at once (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fw::server {

class LastSeenBuffer {
 public:
  static constexpr size_t kFlushEntries = 1000;
  static constexpr int64_t kFlushMs = 60'000;

  static std::shared_ptr<LastSeenBuffer> For(const std::string& db_path);

  struct Batch {
    std::vector<std::pair<std::string, int64_t>> seen;  // (serial, last_seen_s)
    std::vector<std::pair<int64_t, int64_t>> checkins;  // (bucket_s, check-ins), oldest first
    bool empty() const { return seen.empty() && checkins.empty(); }
  };
  // `checkin`: a successful check-in, counted in the bucket of wall_s.
  Batch Note(const std::string& serial, int64_t wall_s, int64_t monotonic_ms, bool checkin = false);
  Batch TakeAll(int64_t monotonic_ms);

 private:
  Batch TakeLocked(int64_t monotonic_ms);  // mu_ held

  std::mutex mu_;
  std::map<std::string, int64_t> pending_;       // guarded by mu_
  std::map<int64_t, int64_t> pending_checkins_;  // bucket_s -> check-ins; guarded by mu_
  int64_t last_flush_ms_ = INT64_MIN;            // guarded by mu_ (INT64_MIN: not started)
};

}  // namespace fw::server
