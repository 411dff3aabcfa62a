// The technician's reflash: install a bundle into the inactive bank, confirm or
// roll back the trial, recover from interruptions, report status.
//
// docs/install.md is the protocol; each step below names the invariants of
// ../shared/DESIGN.md it serves. Every check runs before the first write; every
// operation is recorded in the flash history before it writes (intent) and after
// (outcome); the bank holding the confirmed firmware is never handed to a writer.
//
// One writer per terminal at a time (invariant 12): Install, Confirm, Rollback and
// InitDataArea hold the terminal lock (fw/install/terminal_lock.h) from before their
// first check to their end; recovery runs only under it. GetStatus only reads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/boot/boot_backend.h"
#include "fw/boot/flash.h"
#include "fw/bundle_source.h"
#include "fw/clock.h"
#include "fw/flash_history.h"
#include "fw/install/terminal_lock.h"
#include "fw/journal/guard.h"
#include "fw/progress.h"
#include "fw/status.h"

namespace fw::boot {
class Device;
}

namespace fw::install {

// What the updater touches on a terminal. The data directory holds the payment
// application's journal, the snapshot store, the flash history and the TUF metadata.
struct Terminal {
  boot::BootBackend* boot = nullptr;  // the boot state (the layout's backend)
  boot::Flash* banks[boot::kSlotCount] = {nullptr, nullptr};
  image::KeyRing* boot_keys = nullptr;  // the trust store's boot keys, for the read-back (ProveBank)
  std::string hardware_id;
  std::string data_dir;
  std::string journal_path;              // default: DATA_DIR/journal.db
  int lock_timeout_ms = 5000;            // the journal's SQLite lock
  int terminal_lock_timeout_ms = 10000;  // waiting for another writer (--lock-timeout)
  std::string sqlite_vfs;                // tests: power-loss VFS for the journal and snapshots

  std::string SnapshotDir() const { return data_dir + "/snapshots"; }
  std::string HistoryPath() const { return data_dir + "/history.db"; }
  std::string TufDir() const { return data_dir + "/tuf"; }
};

// A terminal opened from a layout file (file-backed regions). Keeps the device alive.
class OpenedTerminal {
 public:
  static Result<std::unique_ptr<OpenedTerminal>> Open(const std::string& layout_path,
                                                      const std::optional<std::string>& journal_path = std::nullopt);
  ~OpenedTerminal();
  Terminal& terminal() { return terminal_; }

 private:
  OpenedTerminal() = default;
  std::unique_ptr<boot::Device> device_;
  Terminal terminal_;
};

// Sets up the updater's data area: the trusted TUF root (copied from `tuf_root_path`
// after it parses as signed root metadata), the flash history, the snapshot store and
// the terminal lock file. Holds the terminal lock.
Status InitDataArea(Terminal& t, const std::string& tuf_root_path);

inline constexpr uint64_t kDefaultFlushWindow = 8 << 20;

struct InstallOptions {
  // Opens the bundle once the terminal lock is held; the plan and the write share one
  // pass over it (e.g. bundle::FileSourceOpener(path)). Its Name() goes to the history.
  bundle::SourceOpener open_bundle;
  std::string operator_name = "technician";
  std::optional<std::string> host_snapshot_dir;  // technician's copy of the journal snapshot
  uint8_t tries = boot::kDefaultTries;
  bool allow_downgrade = false;  // a lower version (never a lower security counter)
  int snapshot_keep = 5;
  Progress* progress = nullptr;        // nullptr: silent
  Clock* clock = &SystemClock();       // TUF expiry reference; sleeps (write_delay_ms)
  uint64_t min_free_bytes_margin = 0;  // tests: pretend the disk is this much fuller
  // Every `flush_window` bytes written, the bank is made durable and the read-back
  // may follow (tests use small windows so it runs beside the writer).
  uint64_t flush_window = kDefaultFlushWindow;
  // Tests: pause this long after writing each chunk, so that other processes can be
  // run against a live install (fwupdate reads FWUPDATE_TEST_WRITE_DELAY_MS).
  int write_delay_ms = 0;
};

struct InstallResult {
  int64_t history_id = 0;
  uint8_t target_slot = 0;
  std::string from_version;
  std::string to_version;
  uint32_t security_counter = 0;
  uint64_t image_size = 0;
  std::string snapshot_name;
  int64_t snapshot_records = 0;
  uint8_t tries = 0;
};

// Plan (every check, no writes), then act: intent → journal snapshot → mark the
// target unbootable → stream verified chunks (the core reads the bank back behind
// the writer and checks the signed hash) → sync → trial → outcome.
Result<InstallResult> Install(Terminal& t, const InstallOptions& options);

struct ConfirmOptions {
  std::string operator_name = "technician";
  std::optional<std::string> health_cmd;  // run with /bin/sh -c; exit 0 = healthy
  // Used instead of health_cmd when set (the agent's injected Commands::Health): OK = healthy.
  std::function<Status()> health_check;
  int health_timeout_s = 120;
  Progress* progress = nullptr;
};

struct ConfirmResult {
  bool confirmed = false;
  std::string version;  // of the trial
  std::string reason;   // why it was not confirmed
  uint8_t slot = boot::kNoSlot;
  uint32_t min_security_counter = 0;
  journal::CheckReport check;
  std::optional<journal::RestoreReport> restore;
  int64_t history_id = 0;
};

// On the trial firmware: health check + journal check against the pre-update
// snapshot → confirm (the security counter advances only now). Otherwise restore the
// journal if needed (keeping every record written since) and revert the trial.
Result<ConfirmResult> Confirm(Terminal& t, const ConfirmOptions& options);

struct RollbackResult {
  uint8_t slot = boot::kNoSlot;
  std::string version;
  int64_t history_id = 0;
};

// Reverts a pending trial on purpose: the confirmed firmware runs at the next reset.
Result<RollbackResult> Rollback(Terminal& t, const std::string& operator_name);

struct SlotStatus {
  std::string name;   // "A" | "B"
  std::string state;  // empty | unbootable | trial | confirmed
  std::string version;
  uint32_t security_counter = 0;
  uint8_t tries_remaining = 0;
};

// What a reader sees of operations without touching anything.
struct LiveState {
  std::optional<LockHolder> lock;       // a writer is running
  std::vector<history::Entry> orphans;  // in-progress rows with no writer: interrupted, recovered by the next writer
  std::vector<std::string> notes;       // human sentences for the above and other pending recovery findings
};

struct StatusReport {
  SlotStatus slots[boot::kSlotCount];
  uint8_t active_slot = 0;
  uint8_t booted_slot = boot::kNoSlot;
  uint32_t min_security_counter = 0;
  uint32_t boot_counter = 0;
  bool boot_control_valid = true;
  std::vector<std::string> notes;  // what a writer's recovery would find (nothing is recorded by status)
  std::vector<history::Entry> recent;
  LiveState live;
};

// Reads boot control and the flash history (read-only); never writes, never recovers,
// never waits for or disturbs a running writer.
Result<StatusReport> GetStatus(Terminal& t, const std::string& operator_name, size_t history_limit = 5);

// Reader's view: is a writer running, which rows are orphaned, what would recovery do.
// `history` must be a read-only (or any) handle on the terminal's flash history.
Result<LiveState> InspectLive(Terminal& t, history::FlashHistory& history);

struct RepairResult {
  uint8_t slot = boot::kNoSlot;  // the slot made confirmed and active
  std::string version;
  uint32_t security_counter = 0;  // also the new anti-rollback floor
  int64_t history_id = 0;
};

// When no stored copy of the boot state is valid (both lost): rewrites it, under the
// terminal lock, from the flash history's last confirmed slot (the newest succeeded
// confirm or repair; none: slot A, the factory image) whose bank must verify and hold
// that version. That slot becomes confirmed and active, the floor its security counter,
// the other slot unbootable. Refused (kFailedPrecondition) while a copy is valid.
Result<RepairResult> RepairBootState(Terminal& t, const std::string& operator_name);

// Run by writers, under the terminal lock, before they write: operations left
// in-progress (their process died: the lock was free) are closed — an install whose
// trial was already set is recorded as succeeded; anything else as interrupted — and a
// trial the bootloader reverted is recorded. Returns one note per finding.
Result<std::vector<std::string>> Recover(Terminal& t, const TerminalLock& lock, const std::string& operator_name);

}  // namespace fw::install
