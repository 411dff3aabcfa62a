#include "bulk_io_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace fw::journal {

namespace {

// One system call's worth. The unix VFS moves at most 128 KiB - 1 per call; dd of a
// 140 MiB file into the page cache took 0.22 s at 4 KiB, 0.08 s at 64 KiB and 0.07 s
// at 1 MiB on the reference VM.
constexpr int kChunk = 64 * 1024;
// What the connection hands the writer thread at once (written in kChunk calls):
// large enough that waking the thread costs little next to the writing.
constexpr int kHandOff = 1024 * 1024;

// The unix VFS writes at most 128 KiB - 1 per call (and reports a larger write as a
// full disk), so larger writes go in kChunk pieces.
int WriteInChunks(sqlite3_file* real, const uint8_t* data, int amt, int64_t off) {
  int rc = SQLITE_OK;
  for (int done = 0; done < amt && rc == SQLITE_OK; done += kChunk) {
    rc = real->pMethods->xWrite(real, data + done, std::min(kChunk, amt - done), off + done);
  }
  return rc;
}

// The state of one main database file (other files pass straight through).
struct FileState {
  FileState(sqlite3_file* real_file, BulkIo io_mode) : real(real_file), mode(io_mode) {}
  ~FileState() {
    if (writer.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        stop = true;
      }
      cv.notify_all();
      writer.join();
    }
  }
  FileState(const FileState&) = delete;
  FileState& operator=(const FileState&) = delete;

  sqlite3_file* real;
  BulkIo mode;
  std::unique_ptr<uint8_t[]> buf;  // kChunk (read-ahead) or kHandOff (combined writes) bytes
  int64_t buf_off = 0;
  int64_t buf_len = 0;  // kCombineWrites: bytes buffered; kReadAhead: bytes cached

  // kCombineWrites: the writer thread writes `spare` while the connection fills `buf`.
  std::unique_ptr<uint8_t[]> spare;
  std::thread writer;
  std::mutex mu;
  std::condition_variable cv;
  bool busy = false;  // the writer holds `spare`
  bool stop = false;
  int64_t spare_off = 0;
  int spare_len = 0;
  int failed = SQLITE_OK;  // the first write of the writer that failed

  void WriterLoop() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return busy || stop; });
      if (!busy) return;
      lock.unlock();
      int rc = WriteInChunks(real, spare.get(), spare_len, spare_off);
      lock.lock();
      if (rc != SQLITE_OK && failed == SQLITE_OK) failed = rc;
      busy = false;
      cv.notify_all();
    }
  }

  void WaitIdle() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !busy; });
  }

  // Gives the buffered bytes to the writer (after it finished the previous ones).
  int HandOff() {
    if (buf_len == 0) return Failed();
    WaitIdle();
    std::swap(buf, spare);
    {
      std::lock_guard<std::mutex> lock(mu);
      spare_off = buf_off;
      spare_len = static_cast<int>(buf_len);
      busy = true;
    }
    cv.notify_all();
    buf_len = 0;
    return Failed();
  }

  int Failed() {
    std::lock_guard<std::mutex> lock(mu);
    return failed;
  }

  // Before any call that passes through: every buffered byte written, the writer idle,
  // a failed write reported. In read-ahead mode: forget the cached bytes.
  int Settle() {
    if (mode == BulkIo::kReadAhead) {
      buf_len = 0;
      return SQLITE_OK;
    }
    int rc = HandOff();
    WaitIdle();
    return rc != SQLITE_OK ? rc : Failed();
  }
};

struct BulkFile {
  sqlite3_file base;  // first: SQLite sees this struct as an sqlite3_file
  sqlite3_file* real;
  FileState* state;  // null: pass straight through
};

BulkFile* Self(sqlite3_file* f) { return reinterpret_cast<BulkFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Self(f)->real; }
int Settle(sqlite3_file* f) { return Self(f)->state ? Self(f)->state->Settle() : SQLITE_OK; }

int Close(sqlite3_file* f) {
  BulkFile* p = Self(f);
  int rc = Settle(f);
  delete p->state;
  p->state = nullptr;
  int rc2 = p->real->pMethods->xClose(p->real);
  return rc != SQLITE_OK ? rc : rc2;
}

int Read(sqlite3_file* f, void* out, int amt, sqlite3_int64 off) {
  FileState* s = Self(f)->state;
  if (!s || s->mode != BulkIo::kReadAhead || amt > kChunk) {
    if (int rc = Settle(f); rc != SQLITE_OK) return rc;
    return Real(f)->pMethods->xRead(Real(f), out, amt, off);
  }
  if (s->buf_len == 0 || off < s->buf_off || off + amt > s->buf_off + s->buf_len) {
    s->buf_len = 0;
    int rc = Real(f)->pMethods->xRead(Real(f), s->buf.get(), kChunk, off);
    if (rc == SQLITE_IOERR_SHORT_READ) {
      // The end of the file: read just what was asked (SQLite wants its own zero fill).
      return Real(f)->pMethods->xRead(Real(f), out, amt, off);
    }
    if (rc != SQLITE_OK) return rc;
    s->buf_off = off;
    s->buf_len = kChunk;
  }
  std::memcpy(out, s->buf.get() + (off - s->buf_off), static_cast<size_t>(amt));
  return SQLITE_OK;
}

int Write(sqlite3_file* f, const void* data, int amt, sqlite3_int64 off) {
  FileState* s = Self(f)->state;
  if (!s || s->mode != BulkIo::kCombineWrites) {
    if (int rc = Settle(f); rc != SQLITE_OK) return rc;
    return Real(f)->pMethods->xWrite(Real(f), data, amt, off);
  }
  if (s->buf_len > 0 && off >= s->buf_off && off + amt <= s->buf_off + s->buf_len) {
    std::memcpy(s->buf.get() + (off - s->buf_off), data, static_cast<size_t>(amt));  // rewrites buffered bytes
    return SQLITE_OK;
  }
  if (s->buf_len > 0 && off == s->buf_off + s->buf_len && s->buf_len + amt <= kHandOff) {
    std::memcpy(s->buf.get() + s->buf_len, data, static_cast<size_t>(amt));
    s->buf_len += amt;
    return SQLITE_OK;
  }
  if (amt > kHandOff) {
    if (int rc = s->Settle(); rc != SQLITE_OK) return rc;
    return WriteInChunks(Real(f), static_cast<const uint8_t*>(data), amt, off);
  }
  if (int rc = s->HandOff(); rc != SQLITE_OK) return rc;
  std::memcpy(s->buf.get(), data, static_cast<size_t>(amt));
  s->buf_off = off;
  s->buf_len = amt;
  return SQLITE_OK;
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int Sync(sqlite3_file* f, int flags) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int Lock(sqlite3_file* f, int level) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xLock(Real(f), level);
}
int Unlock(sqlite3_file* f, int level) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xUnlock(Real(f), level);
}
int CheckReservedLock(sqlite3_file* f, int* out) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) {
  Settle(f);
  Real(f)->pMethods->xShmBarrier(Real(f));
}
int ShmUnmap(sqlite3_file* f, int del) {
  if (int rc = Settle(f); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xShmUnmap(Real(f), del);
}

// Version 1 for files whose real methods have no shared memory, and for combined
// writes (a private file: no other connection to share a WAL index with); version 2
// passes shared memory through. Neither maps the file (version 3), so every page goes
// through Read and Write above.
const sqlite3_io_methods kMethodsV2 = {2,
                                       Close,
                                       Read,
                                       Write,
                                       Truncate,
                                       Sync,
                                       FileSize,
                                       Lock,
                                       Unlock,
                                       CheckReservedLock,
                                       FileControl,
                                       SectorSize,
                                       DeviceCharacteristics,
                                       ShmMap,
                                       ShmLock,
                                       ShmBarrier,
                                       ShmUnmap,
                                       nullptr,
                                       nullptr};
constexpr sqlite3_io_methods WithoutSharedMemory(sqlite3_io_methods m) {
  m.iVersion = 1;
  m.xShmMap = nullptr;
  m.xShmLock = nullptr;
  m.xShmBarrier = nullptr;
  m.xShmUnmap = nullptr;
  return m;
}
const sqlite3_io_methods kMethodsV1 = WithoutSharedMemory(kMethodsV2);

struct VfsData {
  sqlite3_vfs vfs;
  sqlite3_vfs* real;
  BulkIo mode;
  std::string name;
};

VfsData* Data(sqlite3_vfs* v) { return static_cast<VfsData*>(v->pAppData); }
sqlite3_vfs* RealVfs(sqlite3_vfs* v) { return Data(v)->real; }

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  BulkFile* p = Self(f);
  p->base.pMethods = nullptr;
  p->state = nullptr;
  p->real = reinterpret_cast<sqlite3_file*>(p + 1);
  std::memset(p->real, 0, static_cast<size_t>(RealVfs(vfs)->szOsFile));
  int rc = RealVfs(vfs)->xOpen(RealVfs(vfs), name, p->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  const BulkIo mode = Data(vfs)->mode;
  if (flags & SQLITE_OPEN_MAIN_DB) {
    p->state = new (std::nothrow) FileState(p->real, mode);
    if (!p->state) {
      p->real->pMethods->xClose(p->real);
      return SQLITE_NOMEM;
    }
    if (mode == BulkIo::kReadAhead) {
      p->state->buf = std::make_unique_for_overwrite<uint8_t[]>(kChunk);
    } else {
      p->state->buf = std::make_unique_for_overwrite<uint8_t[]>(kHandOff);
      p->state->spare = std::make_unique_for_overwrite<uint8_t[]>(kHandOff);
      p->state->writer = std::thread([s = p->state] { s->WriterLoop(); });
    }
  }
  const bool shm = mode == BulkIo::kReadAhead && p->real->pMethods->iVersion >= 2;
  p->base.pMethods = shm ? &kMethodsV2 : &kMethodsV1;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs* v, const char* n, int sync) { return RealVfs(v)->xDelete(RealVfs(v), n, sync); }
int Access(sqlite3_vfs* v, const char* n, int flags, int* out) {
  return RealVfs(v)->xAccess(RealVfs(v), n, flags, out);
}
int FullPathname(sqlite3_vfs* v, const char* n, int len, char* out) {
  return RealVfs(v)->xFullPathname(RealVfs(v), n, len, out);
}
void* DlOpen(sqlite3_vfs* v, const char* n) { return RealVfs(v)->xDlOpen(RealVfs(v), n); }
void DlError(sqlite3_vfs* v, int len, char* out) { RealVfs(v)->xDlError(RealVfs(v), len, out); }
void (*DlSym(sqlite3_vfs* v, void* h, const char* s))(void) { return RealVfs(v)->xDlSym(RealVfs(v), h, s); }
void DlClose(sqlite3_vfs* v, void* h) { RealVfs(v)->xDlClose(RealVfs(v), h); }
int Randomness(sqlite3_vfs* v, int len, char* out) { return RealVfs(v)->xRandomness(RealVfs(v), len, out); }
int Sleep(sqlite3_vfs* v, int us) { return RealVfs(v)->xSleep(RealVfs(v), us); }
int CurrentTime(sqlite3_vfs* v, double* out) { return RealVfs(v)->xCurrentTime(RealVfs(v), out); }
int GetLastError(sqlite3_vfs* v, int len, char* out) {
  return RealVfs(v)->xGetLastError ? RealVfs(v)->xGetLastError(RealVfs(v), len, out) : 0;
}
int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  sqlite3_vfs* r = RealVfs(v);
  if (r->iVersion >= 2 && r->xCurrentTimeInt64) return r->xCurrentTimeInt64(r, out);
  double now = 0;
  int rc = r->xCurrentTime(r, &now);
  *out = static_cast<sqlite3_int64>(now * 86400000.0);
  return rc;
}

}  // namespace

Result<std::string> BulkIoVfs(const std::string& base, BulkIo mode) {
  static std::mutex mu;
  // Never freed: SQLite may use a registered VFS until the process ends.
  static auto* registered = new std::map<std::pair<std::string, BulkIo>, std::unique_ptr<VfsData>>();
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(base, mode);
  if (auto it = registered->find(key); it != registered->end()) return it->second->name;
  sqlite3_vfs* real = sqlite3_vfs_find(base.empty() ? nullptr : base.c_str());
  if (!real) return NotFound("no SQLite VFS named '" + base + "'");
  auto data = std::make_unique<VfsData>();
  data->real = real;
  data->mode = mode;
  data->name = std::string(mode == BulkIo::kCombineWrites ? "fw-combine-writes-" : "fw-read-ahead-") + real->zName;
  sqlite3_vfs& v = data->vfs;
  std::memset(&v, 0, sizeof v);
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(sizeof(BulkFile)) + real->szOsFile;
  v.mxPathname = real->mxPathname;
  v.zName = data->name.c_str();
  v.pAppData = data.get();
  v.xOpen = Open;
  v.xDelete = Delete;
  v.xAccess = Access;
  v.xFullPathname = FullPathname;
  v.xDlOpen = DlOpen;
  v.xDlError = DlError;
  v.xDlSym = DlSym;
  v.xDlClose = DlClose;
  v.xRandomness = Randomness;
  v.xSleep = Sleep;
  v.xCurrentTime = CurrentTime;
  v.xGetLastError = GetLastError;
  v.xCurrentTimeInt64 = CurrentTimeInt64;
  if (sqlite3_vfs_register(&v, /*makeDflt=*/0) != SQLITE_OK) {
    return Internal("cannot register the SQLite VFS " + data->name);
  }
  std::string name = data->name;
  registered->emplace(key, std::move(data));
  return name;
}

}  // namespace fw::journal
