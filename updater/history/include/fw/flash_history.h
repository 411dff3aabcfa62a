// Durable flash history (invariant 10): every flash operation is recorded
// *before* it starts (intent, outcome "in-progress") and again when it ends
// (outcome). An operation cut short by a power loss stays "in-progress" until
// recovery marks it "interrupted" — so the history always shows it.
//
// Stored in an SQLite database on the device's data area (WAL, synchronous=FULL):
// RecordIntent() returns only once the intent is durable.
//
// Writers (install, confirm, rollback, init, recovery) open it with Open() only while
// they hold the terminal lock (fw/install/terminal_lock.h); readers (status, history)
// use OpenReadOnly(), which never creates, migrates or modifies anything.
//
// Thread safety: one FlashHistory per thread; several processes may share the file
// (SQLite locking, bounded wait).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/clock.h"
#include "fw/status.h"

namespace fw::history {

enum class Outcome { kInProgress, kSucceeded, kFailed, kInterrupted };

// "in-progress", "succeeded", "failed", "interrupted".
std::string_view OutcomeName(Outcome outcome);

struct Intent {
  std::string operation;  // install | confirm | rollback | revert | mark-bad | provision | restore …
  std::string operator_name;
  std::optional<std::string> bundle;
  std::optional<std::string> image_sha256;
  std::optional<std::string> from_version;
  std::optional<std::string> to_version;
  std::optional<std::string> target_slot;
  std::optional<std::string> snapshot_id;
};

struct Entry {
  int64_t id = 0;
  std::string started_at;  // ISO 8601 UTC
  std::optional<std::string> finished_at;
  Intent intent;
  Outcome outcome = Outcome::kInProgress;
  std::string stage;  // last step reached (e.g. "snapshot", "write", "trial-set")
  std::string detail;
};

class FlashHistory {
 public:
  ~FlashHistory();
  FlashHistory(FlashHistory&&) noexcept;
  FlashHistory& operator=(FlashHistory&&) noexcept;

  // Opens (creating if needed) the history database at `path`. The schema is written
  // only when the file lacks it: opening an existing history changes no byte of it.
  // `clock` (WallSeconds) stamps started_at/finished_at; it must outlive the history.
  static Result<FlashHistory> Open(const std::string& path, Clock& clock = SystemClock());
  // Opens the history for reading only (SQLite read-only connection): creates no file
  // and writes nothing. A missing file reads as an empty history. Every writing
  // method then fails with FailedPrecondition.
  static Result<FlashHistory> OpenReadOnly(const std::string& path);
  bool read_only() const;

  // Durably records an operation about to start; returns its id.
  Result<int64_t> RecordIntent(const Intent& intent);
  // Attaches the journal snapshot id to an in-progress operation.
  Status SetSnapshot(int64_t id, const std::string& snapshot_id);
  // Durably records the step an in-progress operation has reached.
  Status SetStage(int64_t id, const std::string& stage);
  // Durably records how an in-progress operation ended.
  Status RecordOutcome(int64_t id, Outcome outcome, const std::string& detail);
  // Marks every in-progress operation interrupted (recovery after a power cut); returns how many.
  Result<int> MarkInterrupted(const std::string& detail);

  // Newest first; at most `limit` entries (0 = all).
  Result<std::vector<Entry>> List(size_t limit = 0);
  Result<std::optional<Entry>> Get(int64_t id);

 private:
  FlashHistory();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fw::history
