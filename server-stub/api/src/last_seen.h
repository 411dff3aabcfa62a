// When each device was last seen, kept in memory and written to the store in batches, so a
// steady-state check-in needs no durable commit (docs/fleet-protocol.md, "What a check-in
// writes"). Internal to fw_server_api.
//
// Contract: one buffer per database path, shared by every handler of the process
// (LastSeenBuffer::For). Note() records a sighting and hands back the whole batch to write
// once kFlushEntries devices are waiting or kFlushMs of monotonic time passed since the last
// hand-out; TakeAll() hands back everything (a handler closing). A batch handed out is the
// caller's to write; a crash loses at most one flush interval of last_seen values (never
// anything else: last_seen is informational, `no_response` is judged on a scale of hours).
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

  using Batch = std::vector<std::pair<std::string, int64_t>>;
  Batch Note(const std::string& serial, int64_t wall_s, int64_t monotonic_ms);
  Batch TakeAll(int64_t monotonic_ms);

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> pending_;  // guarded by mu_
  int64_t last_flush_ms_ = INT64_MIN;       // guarded by mu_ (INT64_MIN: not started)
};

}  // namespace fw::server
