// Internal to fw_journal: whole-file operations on journal databases — the online-backup
// copy a snapshot and a restore are made with, syncing a file through its VFS, and an
// integrity check on a connection of its own. These are the journal's bulk paths that
// use the SQLite facade's escape hatch (sql::Database::raw()).
// Failure model: Status by the table in fw/sqlite.h; a copy that fails removes `dest`.
// Thread safety: each call uses connections of its own.
#pragma once

#include <string>

#include "fw/clock.h"
#include "fw/status.h"

namespace fw::journal {

// Copies the database `src` into a new file `dest` with the online backup API in
// one step (one read transaction: a consistent copy while writers continue in WAL
// mode). Waits at most `lock_timeout_ms` for a lock, then kTimeout. The source is
// read 64 KiB at a time (BulkIo::kReadAhead). The copy is left in `dest_journal_mode`
// ("delete" or "wal"). With `durable` it is committed with synchronous=FULL; without,
// nothing is synced (synchronous=OFF, no rollback journal: for a fresh private file
// that the caller syncs with SyncFile before anyone relies on it) and its pages go
// out in 64 KiB writes on a thread of their own (BulkIo::kCombineWrites). On failure
// `dest` is removed.
Status BackupFile(const std::string& src, const std::string& dest, const std::string& vfs, int lock_timeout_ms,
                  const std::string& dest_journal_mode, bool durable = true, Clock& clock = SystemClock());

// Makes a database file's content durable through the VFS (xSync, as SQLite's own
// commit would: fdatasync with the default VFS), so a test VFS sees the sync.
Status SyncFile(const std::string& path, const std::string& vfs);

// PRAGMA integrity_check on its own read-only connection; "" when the file is sound,
// else the first problems SQLite reports. An unreadable file is an error. `map`: read
// through a memory map (sql::OpenOptions::map), only for a private copy just written.
Result<std::string> IntegrityCheck(const std::string& path, const std::string& vfs, bool map = false);

}  // namespace fw::journal
