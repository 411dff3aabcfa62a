#include "fw/journal/guard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "backup.h"
#include "fw/file_io.h"
#include "fw/journal/foreign.h"

namespace fw::journal {

namespace fs = std::filesystem;

namespace {

struct Entry {
  int64_t seq;
  Digest digest;  // content digest (reference: hash with prev_hash zeroed; foreign: row digest)
};

Digest ContentDigest(ChainHasher& h, const Record& r) {
  Record copy = r;
  copy.prev_hash = kGenesisHash;
  return h.Hash(copy);
}

void AddMissing(CheckReport& rep, int64_t seq) {
  ++rep.missing_count;
  if (!rep.missing.empty() && rep.missing.back().last + 1 == seq) {
    rep.missing.back().last = seq;
  } else if (rep.missing.size() < CheckReport::kMaxListed) {
    rep.missing.push_back({seq, seq});
  }
}

// Merge-compares snapshot entries with journal entries (both in seq order, the
// journal's restricted to seq <= last).
void Compare(const std::vector<Entry>& snap, const std::vector<Entry>& cur, CheckReport& rep) {
  size_t i = 0, k = 0;
  while (i < snap.size() || k < cur.size()) {
    if (k == cur.size() || (i < snap.size() && snap[i].seq < cur[k].seq)) {
      AddMissing(rep, snap[i++].seq);
    } else if (i == snap.size() || cur[k].seq < snap[i].seq) {
      ++rep.inserted_count;
      if (rep.inserted.size() < CheckReport::kMaxListed) rep.inserted.push_back(cur[k].seq);
      ++k;
    } else {
      if (snap[i].digest != cur[k].digest) {
        ++rep.altered_count;
        if (rep.altered.size() < CheckReport::kMaxListed) rep.altered.push_back(snap[i].seq);
      }
      ++i;
      ++k;
    }
  }
}

Result<std::vector<Entry>> ContentEntries(Journal& j, int64_t up_to) {
  std::vector<Entry> out;
  ChainHasher h;
  FW_RETURN_IF_ERROR(j.ForEach(0, [&](const Record& r) {
    if (r.seq > up_to) return Status::Ok();
    out.push_back({r.seq, ContentDigest(h, r)});
    return Status::Ok();
  }));
  return out;
}

// The snapshot's records as content entries, each checked as it is read: its hash
// matches its content and its link, and the whole read reproduces the evidence
// (count, first/last, head). So a snapshot file changed after its figures were
// derived is refused, not compared.
Result<std::vector<Entry>> SnapshotEntries(Journal& j, const SnapshotEvidence& ev, const std::string& name) {
  std::vector<Entry> out;
  ChainHasher h;
  Digest prev = kGenesisHash;
  bool first = true;
  FW_RETURN_IF_ERROR(j.ForEach(0, [&](const Record& r) {
    if (h.Hash(r) != r.hash || (!first && r.prev_hash != prev)) {
      return VerificationFailed("snapshot " + name + ": record " + std::to_string(r.seq) +
                                " does not verify (the file changed after its figures were derived)");
    }
    first = false;
    prev = r.hash;
    out.push_back({r.seq, ContentDigest(h, r)});
    return Status::Ok();
  }));
  const ChainSummary& e = ev.summary;
  if (static_cast<int64_t>(out.size()) != e.record_count ||
      (!out.empty() && (out.front().seq != e.first_seq || out.back().seq != e.last_seq)) ||
      (out.empty() ? kGenesisHash : prev) != e.head) {
    return VerificationFailed("snapshot " + name + " changed after its figures were derived from it");
  }
  return out;
}

Result<CheckReport> CheckForeign(const std::string& path, const SnapshotInfo& snap, const SnapshotEvidence& ev,
                                 const GuardOptions& options) {
  const auto& d = snap.descriptor;
  const ChainSummary& e = ev.summary;
  FW_ASSIGN_OR_RETURN(auto srows,
                      ReadForeignRows(snap.db_path, *d.foreign, std::nullopt, options.vfs, options.lock_timeout_ms));
  if (ForeignAggregate(srows) != e.head || static_cast<int64_t>(srows.size()) != e.record_count) {
    return VerificationFailed("snapshot " + snap.name + " changed after its figures were derived from it");
  }
  FW_ASSIGN_OR_RETURN(auto crows,
                      ReadForeignRows(path, *d.foreign, std::nullopt, options.vfs, options.lock_timeout_ms));
  CheckReport rep;
  rep.snapshot_records = e.record_count;
  std::vector<Entry> s, c;
  for (const auto& r : srows) s.push_back({r.key, r.digest});
  for (const auto& r : crows) {
    if (e.record_count == 0 || r.key <= e.last_seq) {
      c.push_back({r.key, r.digest});
    } else {
      ++rep.records_after;
    }
  }
  Compare(s, c, rep);
  return rep;
}

}  // namespace

Result<CheckReport> Check(const std::string& journal_path, const SnapshotInfo& snap, const GuardOptions& options) {
  auto ctx = "check " + journal_path + " against snapshot " + snap.name;
  if (snap.descriptor.kind != "foreign" && !fs::exists(journal_path)) {
    return NotFound(ctx + ": journal does not exist");
  }
  FW_ASSIGN_OR_RETURN(SnapshotEvidence ev, DeriveSnapshotEvidence(snap, options.vfs).WithContext(ctx));
  return Check(journal_path, snap, ev, options);
}

Result<CheckReport> Check(const std::string& journal_path, const SnapshotInfo& snap, const SnapshotEvidence& ev,
                          const GuardOptions& options) {
  auto ctx = "check " + journal_path + " against snapshot " + snap.name;
  // Every figure below comes from the snapshot file (ev), never from the descriptor.
  const ChainSummary& e = ev.summary;
  if (snap.descriptor.kind == "foreign") return CheckForeign(journal_path, snap, ev, options).WithContext(ctx);
  if (!fs::exists(journal_path)) return NotFound(ctx + ": journal does not exist");
  OpenOptions o;
  o.read_only = true;
  o.vfs = options.vfs;
  o.lock_timeout_ms = options.lock_timeout_ms;
  FW_ASSIGN_OR_RETURN(Journal cur, Journal::Open(journal_path, o).WithContext(ctx));
  // Fast path: the chain verifies and the record at the snapshot's last sequence
  // number carries the snapshot's chain head. Then every earlier record is the
  // snapshot's (SHA-256 chain), so only the records after it remain to count.
  VerifyOptions vo;
  vo.integrity_check = false;
  FW_ASSIGN_OR_RETURN(VerifyReport vr, cur.Verify(vo).WithContext(ctx));
  CheckReport rep;
  rep.snapshot_records = e.record_count;
  rep.chain_problem_count = vr.problem_count;
  rep.chain_problems = vr.problems;
  if (vr.ok() && e.record_count == 0) {
    rep.fast_path = true;
    rep.records_after = vr.summary.record_count;
    return rep;
  }
  if (vr.ok()) {
    FW_ASSIGN_OR_RETURN(auto at, cur.Get(e.last_seq).WithContext(ctx));
    if (at && at->hash == e.head && vr.summary.first_seq == e.first_seq) {
      // Count records in the snapshot range to prove nothing was inserted or dropped.
      rep.fast_path = true;
      int64_t in_range = 0;
      FW_RETURN_IF_ERROR(cur.ForEach(e.last_seq + 1, [&](const Record&) {
        ++rep.records_after;
        return Status::Ok();
      }));
      in_range = vr.summary.record_count - rep.records_after;
      if (in_range == e.record_count) return rep;
      rep.fast_path = false;
      rep.records_after = 0;
    }
  }
  // Slow path: compare record by record.
  OpenOptions so = o;
  FW_ASSIGN_OR_RETURN(Journal sj, Journal::Open(snap.db_path, so).WithContext(ctx));
  FW_ASSIGN_OR_RETURN(auto s, SnapshotEntries(sj, ev, snap.name).WithContext(ctx + ": reading the snapshot"));
  FW_ASSIGN_OR_RETURN(auto c, ContentEntries(cur, e.last_seq).WithContext(ctx + ": reading the journal"));
  Compare(s, c, rep);
  FW_RETURN_IF_ERROR(cur.ForEach(e.last_seq + 1, [&](const Record&) {
    ++rep.records_after;
    return Status::Ok();
  }));
  return rep;
}

namespace {

bool NonEmptyFile(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec) && fs::file_size(path, ec) > 0;
}

Status LinkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return Status::Ok();
  std::error_code ec;
  fs::copy_file(from, to, ec);
  if (ec) return IoError("cannot keep " + from + " as " + to + ": " + ec.message());
  FW_ASSIGN_OR_RETURN(File f, File::OpenRead(to));
  return f.Sync();
}

}  // namespace

namespace {

Clock& ClockOf(const GuardOptions& options) { return options.clock ? *options.clock : SystemClock(); }

OpenOptions JournalOptions(const GuardOptions& options) {
  OpenOptions o;
  o.vfs = options.vfs;
  o.lock_timeout_ms = options.lock_timeout_ms;
  o.clock = options.clock;
  return o;
}

// Restore, step 1: the valid records written after the snapshot's last one (`last`);
// the others are listed in rep.dropped, an unreadable journal in rep.read_error.
std::vector<Record> RecordsAfter(const std::string& journal_path, int64_t last, const GuardOptions& options,
                                 RestoreReport& rep) {
  std::vector<Record> after;
  auto cur = Journal::Open(journal_path, JournalOptions(options));
  if (!cur.ok()) {
    rep.read_error = cur.status().message();
    return after;
  }
  ChainHasher h;
  Status s = cur->ForEach(last + 1, [&](const Record& r) {
    if (ValidateRecordInput(r).ok() && h.Hash(r) == r.hash) {
      after.push_back(r);
    } else {
      rep.dropped.push_back(r.seq);
    }
    return Status::Ok();
  });
  if (!s.ok()) rep.read_error = s.message();
  return after;
}

// Restore, step 2: the snapshot copied to `building`, checked against its evidence, the
// records in `after` re-appended, verified and checkpointed.
Status BuildRestored(const std::string& building, const SnapshotInfo& snap, const SnapshotEvidence& ev,
                     const std::vector<Record>& after, const GuardOptions& options, const std::string& ctx,
                     RestoreReport& rep) {
  FW_RETURN_IF_ERROR_CTX(
      BackupFile(snap.db_path, building, options.vfs, options.lock_timeout_ms, "wal", true, ClockOf(options)), ctx);
  FW_ASSIGN_OR_RETURN(Journal j, Journal::Open(building, JournalOptions(options)).WithContext(ctx));
  // The copy must be the file the evidence was derived from (it may have changed since).
  FW_ASSIGN_OR_RETURN(ChainSummary copied, j.Summary().WithContext(ctx));
  if (copied.record_count != ev.summary.record_count || copied.last_seq != ev.summary.last_seq ||
      copied.first_seq != ev.summary.first_seq || copied.head != ev.summary.head) {
    return VerificationFailed(ctx + ": the snapshot file changed after its figures were derived from it");
  }
  FW_RETURN_IF_ERROR_CTX(j.Reappend(after), ctx + ": re-appending records written after the snapshot");
  FW_ASSIGN_OR_RETURN(VerifyReport vr, j.Verify().WithContext(ctx));
  if (!vr.ok()) {
    return Internal(ctx + ": the restored journal does not verify: " +
                    (vr.problems.empty() ? vr.integrity_message : vr.problems.front().what));
  }
  FW_RETURN_IF_ERROR_CTX(j.Checkpoint(), ctx);
  rep.result = vr.summary;
  return Status::Ok();
}

// Restore, step 3: the current journal kept aside (a hard link: the file itself is
// untouched) and its WAL removed, which would be replayed into the new file.
Status SetAside(const std::string& journal_path, const GuardOptions& options, RestoreReport& rep) {
  {
    auto cur = Journal::Open(journal_path, JournalOptions(options));
    if (cur.ok()) cur->Checkpoint().IgnoreError();  // best effort: a damaged journal keeps its WAL below
  }
  rep.aside_path = journal_path + ".aside-" + std::to_string(ClockOf(options).WallMs());
  FW_RETURN_IF_ERROR(LinkOrCopy(journal_path, rep.aside_path));
  if (NonEmptyFile(journal_path + "-wal")) {
    FW_RETURN_IF_ERROR(LinkOrCopy(journal_path + "-wal", rep.aside_path + "-wal"));
  }
  FW_RETURN_IF_ERROR(SyncParentDir(journal_path));
  ::unlink((journal_path + "-wal").c_str());
  ::unlink((journal_path + "-shm").c_str());
  return Status::Ok();
}

}  // namespace

Result<RestoreReport> Restore(const std::string& journal_path, const SnapshotInfo& snap, const GuardOptions& options) {
  auto ctx = "restore " + journal_path + " from snapshot " + snap.name;
  if (snap.descriptor.kind != "reference") {
    return Unsupported(ctx + ": only reference journals can be restored by the guard");
  }
  // The terminal-wide updater lock is taken by the caller (fwupdate journal restore, confirm).
  // Lock protocol: from reading the records written since the snapshot until the
  // rebuilt file is in place, no appender commits (docs/journal.md).
  FW_ASSIGN_OR_RETURN(JournalLock lock, JournalLock::Acquire(journal_path, JournalLock::Mode::kExclusive,
                                                             options.lock_timeout_ms, ClockOf(options))
                                            .WithContext(ctx));
  // Every figure used below is re-derived from the snapshot file, never the descriptor.
  FW_ASSIGN_OR_RETURN(SnapshotEvidence ev,
                      DeriveSnapshotEvidence(snap, options.vfs).WithContext(ctx + ": the snapshot is not usable"));
  RestoreReport rep;
  rep.snapshot_records = ev.summary.record_count;
  const bool exists = fs::exists(journal_path);
  // 1. Collect the valid records written after the snapshot.
  std::vector<Record> after;
  if (exists) after = RecordsAfter(journal_path, ev.summary.last_seq, options, rep);
  // 2. Build the restored journal beside the current one.
  std::string building = journal_path + ".restoring";
  struct Cleanup {
    std::string path;
    bool keep = false;
    ~Cleanup() {
      if (keep) return;
      for (const char* sfx : {"", "-wal", "-shm", "-journal"}) ::unlink((path + sfx).c_str());
    }
  } cleanup{building};
  FW_RETURN_IF_ERROR(BuildRestored(building, snap, ev, after, options, ctx, rep));
  rep.reappended = static_cast<int64_t>(after.size());
  // 3. Keep the current journal aside.
  if (exists) FW_RETURN_IF_ERROR_CTX(SetAside(journal_path, options, rep), ctx);
  // 4. Replace atomically.
  if (::rename(building.c_str(), journal_path.c_str()) != 0) {
    return IoError(ctx + ": cannot rename the restored journal into place: " + ErrnoText(errno));
  }
  cleanup.keep = true;
  ::unlink((building + "-wal").c_str());
  ::unlink((building + "-shm").c_str());
  FW_RETURN_IF_ERROR_CTX(SyncParentDir(journal_path), ctx);
  return rep;
}

}  // namespace fw::journal
