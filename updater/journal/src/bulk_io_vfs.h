// Internal: SQLite VFS layers that move a database file in 64 KiB system calls
// instead of one call per page. A snapshot copies a whole journal with the online
// backup API, which reads the source and writes the copy one page (4 KiB) at a time;
// on Linux each such call costs more than copying its page. See docs/journal.md,
// "Snapshot speed".
#pragma once

#include <string>

#include "fw/status.h"

namespace fw::journal {

enum class BulkIo {
  // Main database files keep consecutive writes in a 64 KiB buffer that a writer
  // thread of the file passes on, while the connection fills the next one. Only for a
  // private file one connection writes from start to end (a snapshot's copy): every
  // other call (read, sync, truncate, size, lock, file control, close) first waits
  // until everything written has been passed on, and reports a failed write. No
  // shared memory: WAL mode works only with locking_mode=EXCLUSIVE.
  kCombineWrites,
  // Main database files read 64 KiB at once and answer the following page reads from
  // that buffer until the connection's next lock, shared-memory or write call, that
  // is, within one read transaction, during which SQLite reads no page of the
  // database file that another connection may change (the reasoning SQLite's own
  // memory-mapped I/O rests on). Everything else passes straight through. For a
  // source journal that others may be writing.
  kReadAhead,
};

// Registers (once per base and mode) and names a VFS layered over the VFS `base`
// ("" = the default one).
Result<std::string> BulkIoVfs(const std::string& base, BulkIo mode);

}  // namespace fw::journal
