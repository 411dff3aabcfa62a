// journal_bench: append rate (durable, batched), snapshot vs `sqlite3 .backup`,
// chain verification rate and check-against-snapshot time, in one run.
// Run through bench/journal_bench.sh.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fw/journal/guard.h"
#include "fw/journal/journal.h"
#include "fw/journal/simulator.h"
#include "fw/journal/snapshot.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace jr = fw::journal;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

[[noreturn]] void Die(const fw::Status& s, const char* what) {
  std::fprintf(stderr, "journal_bench: %s: %s\n", what, s.message().c_str());
  std::exit(1);
}

// What one run measured (seconds).
struct Figures {
  int64_t records = 0;
  int64_t durable = 0;
  int64_t batched = 0;
  bool reuse = false;
  uintmax_t size = 0;
  double t_durable = 0, t_batched = 0, t_cli = 1e9, t_snap = 1e9, t_verify = 0, t_check = 0;
  jr::SnapshotInfo snap;
  bool fast_path = false;
};

// --reuse: keep DIR/journal.db from an earlier run if it holds RECORDS records (the
// append figures are then not measured).
bool ReuseJournal(const std::string& path, int64_t records, bool wanted) {
  bool reuse = false;
  if (wanted && std::filesystem::exists(path)) {
    auto old = jr::Journal::Open(path);
    auto sum = old.ok() ? old->Summary() : fw::Result<jr::ChainSummary>(old.status());
    reuse = sum.ok() && sum->record_count == records;
  }
  if (!reuse) std::filesystem::remove(path);
  return reuse;
}

// 1. One durable transaction per record; 2. batches of 10,000 per transaction up to RECORDS.
void Append(jr::Journal& j, Figures& f) {
  jr::SimulatorOptions so;
  so.start_time_ms = 1700000000000;
  jr::Simulator sim(so);
  auto t = Clock::now();
  for (int64_t i = 0; !f.reuse && i < f.durable; ++i) {
    auto r = j.Append(sim.Next());
    if (!r.ok()) Die(r.status(), "append");
  }
  f.t_durable = Since(t);
  t = Clock::now();
  std::vector<jr::RecordInput> batch;
  while (!f.reuse && f.durable + f.batched < f.records) {
    batch.clear();
    for (int64_t i = 0; i < 10000 && f.durable + f.batched + i < f.records; ++i) batch.push_back(sim.Next());
    auto r = j.AppendBatch(batch);
    if (!r.ok()) Die(r.status(), "append batch");
    f.batched += static_cast<int64_t>(batch.size());
  }
  f.t_batched = Since(t);
}

// 3./4. The sqlite3 CLI's online backup of the same file (the baseline) and our
// snapshot (copy + integrity_check + full chain + SHA-256 + descriptor), interleaved
// so that the VM's drifting speed affects both alike; the best of 5 of each.
void SnapshotAgainstCli(const std::string& dir, const std::string& path, jr::SnapshotStore& store, Figures& f) {
  for (int i = 0; i < 5; ++i) {
    std::string out = dir + "/cli-backup.db";
    std::filesystem::remove(out);
    std::string cmd = "sqlite3 '" + path + "' \".backup '" + out + "'\"";
    auto t = Clock::now();
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "journal_bench: sqlite3 CLI backup failed\n");
      std::exit(1);
    }
    f.t_cli = std::min(f.t_cli, Since(t));
    jr::SnapshotOptions o;
    o.keep = 1;
    t = Clock::now();
    auto s = store.Take(path, o);
    if (!s.ok()) Die(s.status(), "snapshot");
    double took = Since(t);
    if (took < f.t_snap) {
      f.t_snap = took;
      f.snap = *s;
    }
  }
}

void Print(const Figures& f) {
  const double n = static_cast<double>(f.records);
  std::printf("journal: %lld records, %.1f MiB\n", static_cast<long long>(f.records), f.size / 1048576.0);
  std::printf("%-44s %12s %14s\n", "operation", "seconds", "rate / ratio");
  if (f.reuse) {
    std::printf("%-44s %12s\n", "append (journal of an earlier run reused)", "-");
  } else {
    std::printf("%-44s %12.3f %10.0f rec/s\n", "append, durable (1 record per transaction)", f.t_durable,
                f.durable / f.t_durable);
    std::printf("%-44s %12.3f %10.0f rec/s\n", "append, batched (10,000 per transaction)", f.t_batched,
                f.batched / f.t_batched);
  }
  std::printf("%-44s %12.3f %12s\n", "sqlite3 CLI .backup (baseline)", f.t_cli, "1.00 x");
  std::printf("%-44s %12.3f %10.2f x   goal <= 1.50 x\n", "snapshot (backup+verify+sha256+descriptor)", f.t_snap,
              f.t_snap / f.t_cli);
  const auto& st = f.snap.timings;
  std::printf("%-44s %12.3f\n", "  1. copy (backup API, not synced)", st.copy);
  std::printf("%-44s %12.3f\n", "  2. sync || verify, until both are done", st.verify);
  std::printf("%-44s %12.3f\n", "       fsync of the copy", st.sync);
  std::printf("%-44s %12.3f\n", "       integrity_check       } one queue,", st.integrity);
  std::printf("%-44s %12.3f\n", "       SHA-256 of the file   } a thread", st.sha256);
  std::printf("%-44s %12.3f\n", "       ...then chain ranges  } per core", st.chain);
  std::printf("%-44s %12.3f\n", "  3. publish (rename, dir fsync, descriptor)", st.publish);
  std::printf("%-44s %12.3f\n", "  4. retention (keep 1: delete the previous)", st.retention);
  std::printf("%-44s %12.3f %10.0f rec/s   goal >= 1,000,000 rec/s\n", "chain verification", f.t_verify,
              n / f.t_verify);
  std::printf("%-44s %12.3f %12s   goal <= 2 s\n", "check against snapshot", f.t_check,
              f.fast_path ? "fast path" : "slow path");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: journal_bench DIR RECORDS DURABLE_RECORDS [--reuse]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string path = dir + "/journal.db";
  Figures f;
  f.records = std::atoll(argv[2]);
  f.durable = std::atoll(argv[3]);
  std::filesystem::remove_all(dir + "/store");
  f.reuse = ReuseJournal(path, f.records, argc > 4 && std::string(argv[4]) == "--reuse");

  jr::OpenOptions create;
  create.create = true;
  auto j = jr::Journal::Open(path, create);
  if (!j.ok()) Die(j.status(), "open");
  Append(*j, f);
  if (auto s = j->Checkpoint(); !s.ok()) Die(s, "checkpoint");
  f.size = std::filesystem::file_size(path);
  jr::SnapshotStore store(dir + "/store");
  SnapshotAgainstCli(dir, path, store, f);

  // 5. Chain verification rate (no integrity_check: the chain alone).
  jr::VerifyOptions vo;
  vo.integrity_check = false;
  auto t = Clock::now();
  auto rep = j->Verify(vo);
  f.t_verify = Since(t);
  if (!rep.ok() || !rep->ok()) Die(rep.ok() ? fw::Internal("chain problems") : rep.status(), "verify");

  // 6. Check the journal against the snapshot the store kept (retention deleted the others);
  //    the check re-derives the snapshot's figures from its file first.
  auto kept = store.Latest();
  if (!kept.ok()) Die(kept.status(), "latest snapshot");
  t = Clock::now();
  auto chk = jr::Check(path, *kept);
  f.t_check = Since(t);
  if (!chk.ok() || !chk->ok()) Die(chk.ok() ? fw::Internal("differences") : chk.status(), "check");
  f.fast_path = chk->fast_path;
  Print(f);
  return 0;
}
