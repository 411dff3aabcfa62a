// A test SQLite VFS that simulates power loss and full disks.
//
// It wraps the default VFS and registers as "powerloss". Every write, truncate
// and delete through it is counted. Until a file is synced, the bytes each write
// overwrote are kept in an undo log; xSync makes the file's current content
// durable (clears its log). When armed with k, the k-th write does not complete:
// the power is lost — that write and every later write, sync, truncate or delete
// fails with an I/O error. SimulatePowerLoss() then rolls every file back to its
// last synced content (what survives a power cut), and with `torn` lets the first
// 256 bytes of the interrupted write land (a torn sector).
//
// Model limits (documented in docs/journal.md): file creation and deletion are
// durable at once; renames and links done outside SQLite are not seen by the VFS.
//
// Thread safety: the controller is guarded by a mutex; tests arm it from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fw::testing {

class PowerLossVfs {
 public:
  static constexpr const char* kName = "powerloss";
  // Registers the VFS on first use and returns the controller.
  static PowerLossVfs& Get();

  // Crash at the k-th counted write from now (k >= 1); 0 disarms. Resets counters and logs.
  void Arm(int64_t crash_at_write, bool torn);
  // Counted writes since the last Arm().
  int64_t writes() const;
  bool crashed() const;
  // Rolls files back to their synced state. Call after closing every connection.
  void SimulatePowerLoss();
  // Paths (as opened) with writes that no sync has made durable yet.
  std::vector<std::string> UnsyncedFiles() const;
  // Writes that would make a file whose path contains `path_part` larger than
  // `max_bytes` fail with SQLITE_FULL (a full disk). Empty part: no limit.
  void SetQuota(const std::string& path_part, int64_t max_bytes);

 private:
  PowerLossVfs() = default;
};

}  // namespace fw::testing
