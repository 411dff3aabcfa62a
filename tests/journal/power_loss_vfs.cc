#include "power_loss_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace fw::testing {

namespace {

struct Undo {
  int64_t offset;
  std::vector<uint8_t> old;
};

struct FileLog {
  int64_t synced_size = -1;  // -1: no unsynced change
  std::vector<Undo> undo;
};

struct State {
  std::mutex mu;
  sqlite3_vfs* root = nullptr;
  int64_t writes = 0;
  int64_t crash_at = 0;
  bool torn = false;
  bool crashed = false;
  std::string torn_path;
  int64_t torn_offset = 0;
  std::vector<uint8_t> torn_data;
  std::map<std::string, FileLog> logs;
  std::string quota_part;
  int64_t quota = 0;
};

State& S() {
  static State s;
  return s;
}

struct PlFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* path;
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<PlFile*>(f)->real; }
const std::string& PathOf(sqlite3_file* f) { return *reinterpret_cast<PlFile*>(f)->path; }

// Counts a write-like operation; true if the power is (now) out.
bool CountAndMaybeCrash(State& s) {
  if (s.crashed) return true;
  ++s.writes;
  if (s.crash_at > 0 && s.writes >= s.crash_at) s.crashed = true;
  return s.crashed;
}

// Before changing bytes [off, off+len) of a file, saves what they were.
void SaveUndo(State& s, sqlite3_file* f, int64_t off, int64_t len) {
  sqlite3_file* real = Real(f);
  sqlite3_int64 size = 0;
  real->pMethods->xFileSize(real, &size);
  FileLog& log = s.logs[PathOf(f)];
  if (log.synced_size < 0) log.synced_size = size;
  if (off >= size) return;
  int64_t n = std::min<int64_t>(len, size - off);
  Undo u{off, std::vector<uint8_t>(static_cast<size_t>(n))};
  real->pMethods->xRead(real, u.old.data(), static_cast<int>(n), off);
  log.undo.push_back(std::move(u));
}

int Close(sqlite3_file* f) {
  int rc = Real(f)->pMethods->xClose(Real(f));
  delete reinterpret_cast<PlFile*>(f)->path;
  return rc;
}
int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  State& s = S();
  std::lock_guard lock(s.mu);
  if (!s.quota_part.empty() && PathOf(f).find(s.quota_part) != std::string::npos && off + n > s.quota) {
    return SQLITE_FULL;
  }
  if (s.crashed) return SQLITE_IOERR_WRITE;
  if (CountAndMaybeCrash(s)) {
    if (s.torn) {
      s.torn_path = PathOf(f);
      s.torn_offset = off;
      auto* p = static_cast<const uint8_t*>(buf);
      s.torn_data.assign(p, p + std::min(n, 256));
    }
    return SQLITE_IOERR_WRITE;
  }
  SaveUndo(s, f, off, n);
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  State& s = S();
  std::lock_guard lock(s.mu);
  if (CountAndMaybeCrash(s)) return SQLITE_IOERR_TRUNCATE;
  sqlite3_int64 cur = 0;
  Real(f)->pMethods->xFileSize(Real(f), &cur);
  SaveUndo(s, f, size, cur > size ? cur - size : 0);
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int Sync(sqlite3_file* f, int flags) {
  State& s = S();
  std::lock_guard lock(s.mu);
  if (s.crashed) return SQLITE_IOERR_FSYNC;
  int rc = Real(f)->pMethods->xSync(Real(f), flags);
  if (rc == SQLITE_OK) s.logs.erase(PathOf(f));
  return rc;
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) { return Real(f)->pMethods->xFileSize(Real(f), size); }
int Lock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int Unlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int CheckReserved(sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); }
int FileControl(sqlite3_file* f, int op, void* arg) { return Real(f)->pMethods->xFileControl(Real(f), op, arg); }
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  // Claim no atomic or safe-append guarantees: SQLite must not rely on them.
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f)) &
         ~(SQLITE_IOCAP_ATOMIC | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL | SQLITE_IOCAP_POWERSAFE_OVERWRITE |
           SQLITE_IOCAP_ATOMIC512 | SQLITE_IOCAP_ATOMIC4K);
}
int ShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** pp) {
  return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, pp);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }

const sqlite3_io_methods kMethods = {2,
                                     Close,
                                     Read,
                                     Write,
                                     Truncate,
                                     Sync,
                                     FileSize,
                                     Lock,
                                     Unlock,
                                     CheckReserved,
                                     FileControl,
                                     SectorSize,
                                     DeviceCharacteristics,
                                     ShmMap,
                                     ShmLock,
                                     ShmBarrier,
                                     ShmUnmap,
                                     nullptr,
                                     nullptr};

int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  State& s = S();
  auto* pf = reinterpret_cast<PlFile*>(f);
  pf->real = reinterpret_cast<sqlite3_file*>(pf + 1);
  pf->base.pMethods = nullptr;
  int rc = s.root->xOpen(s.root, name, pf->real, flags, out_flags);
  if (rc != SQLITE_OK || pf->real->pMethods == nullptr) return rc;
  pf->path = new std::string(name ? name : "");
  pf->base.pMethods = &kMethods;
  (void)vfs;
  return SQLITE_OK;
}
int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  State& s = S();
  {
    std::lock_guard lock(s.mu);
    if (CountAndMaybeCrash(s)) return SQLITE_IOERR_DELETE;
    s.logs.erase(name);
  }
  return s.root->xDelete(s.root, name, sync_dir);
}
int Access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return S().root->xAccess(S().root, name, flags, out);
}
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return S().root->xFullPathname(S().root, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return S().root->xDlOpen(S().root, name); }
void DlError(sqlite3_vfs*, int n, char* msg) { S().root->xDlError(S().root, n, msg); }
void (*DlSym(sqlite3_vfs*, void* h, const char* sym))(void) { return S().root->xDlSym(S().root, h, sym); }
void DlClose(sqlite3_vfs*, void* h) { S().root->xDlClose(S().root, h); }
int Randomness(sqlite3_vfs*, int n, char* out) { return S().root->xRandomness(S().root, n, out); }
int Sleep(sqlite3_vfs*, int us) { return S().root->xSleep(S().root, us); }
int CurrentTime(sqlite3_vfs*, double* t) { return S().root->xCurrentTime(S().root, t); }
int GetLastError(sqlite3_vfs*, int n, char* out) { return S().root->xGetLastError(S().root, n, out); }
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* t) { return S().root->xCurrentTimeInt64(S().root, t); }

sqlite3_vfs g_vfs;

}  // namespace

PowerLossVfs& PowerLossVfs::Get() {
  static PowerLossVfs* instance = [] {
    State& s = S();
    s.root = sqlite3_vfs_find(nullptr);
    if (!s.root) throw std::runtime_error("no default SQLite VFS");
    g_vfs = {};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(PlFile)) + s.root->szOsFile;
    g_vfs.mxPathname = s.root->mxPathname;
    g_vfs.zName = kName;
    g_vfs.xOpen = Open;
    g_vfs.xDelete = Delete;
    g_vfs.xAccess = Access;
    g_vfs.xFullPathname = FullPathname;
    g_vfs.xDlOpen = DlOpen;
    g_vfs.xDlError = DlError;
    g_vfs.xDlSym = DlSym;
    g_vfs.xDlClose = DlClose;
    g_vfs.xRandomness = Randomness;
    g_vfs.xSleep = Sleep;
    g_vfs.xCurrentTime = CurrentTime;
    g_vfs.xGetLastError = GetLastError;
    g_vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) throw std::runtime_error("cannot register VFS");
    return new PowerLossVfs();
  }();
  return *instance;
}

void PowerLossVfs::Arm(int64_t crash_at_write, bool torn) {
  State& s = S();
  std::lock_guard lock(s.mu);
  s.writes = 0;
  s.crash_at = crash_at_write;
  s.torn = torn;
  s.crashed = false;
  s.torn_path.clear();
  s.torn_data.clear();
  s.logs.clear();
}

int64_t PowerLossVfs::writes() const {
  std::lock_guard lock(S().mu);
  return S().writes;
}

bool PowerLossVfs::crashed() const {
  std::lock_guard lock(S().mu);
  return S().crashed;
}

void PowerLossVfs::SimulatePowerLoss() {
  State& s = S();
  std::lock_guard lock(s.mu);
  for (auto& [path, log] : s.logs) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;  // deleted since (deletion is durable in this model)
    for (auto it = log.undo.rbegin(); it != log.undo.rend(); ++it) {
      if (::pwrite(fd, it->old.data(), it->old.size(), it->offset) != static_cast<ssize_t>(it->old.size())) {
        throw std::runtime_error("power-loss VFS: cannot roll back " + path);
      }
    }
    if (log.synced_size >= 0 && ::ftruncate(fd, log.synced_size) != 0) {
      throw std::runtime_error("power-loss VFS: cannot truncate " + path);
    }
    ::close(fd);
  }
  if (!s.torn_data.empty()) {
    int fd = ::open(s.torn_path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t w = ::pwrite(fd, s.torn_data.data(), s.torn_data.size(), s.torn_offset);
      (void)w;
      ::close(fd);
    }
  }
  s.logs.clear();
  s.crash_at = 0;
  s.crashed = false;
  s.torn_data.clear();
}

std::vector<std::string> PowerLossVfs::UnsyncedFiles() const {
  std::lock_guard lock(S().mu);
  std::vector<std::string> out;
  for (const auto& [path, log] : S().logs) {
    if (log.synced_size >= 0 || !log.undo.empty()) out.push_back(path);
  }
  return out;
}

void PowerLossVfs::SetQuota(const std::string& path_part, int64_t max_bytes) {
  std::lock_guard lock(S().mu);
  S().quota_part = path_part;
  S().quota = max_bytes;
}

}  // namespace fw::testing
