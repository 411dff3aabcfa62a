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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: journal_bench DIR RECORDS DURABLE_RECORDS [--reuse]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int64_t records = std::atoll(argv[2]);
  const int64_t durable = std::atoll(argv[3]);
  const bool reuse_wanted = argc > 4 && std::string(argv[4]) == "--reuse";
  const std::string path = dir + "/journal.db";
  std::filesystem::remove_all(dir + "/store");

  // --reuse: keep DIR/journal.db from an earlier run if it holds RECORDS records (the
  // append figures are then not measured).
  bool reuse = false;
  if (reuse_wanted && std::filesystem::exists(path)) {
    auto old = jr::Journal::Open(path);
    auto sum = old.ok() ? old->Summary() : fw::Result<jr::ChainSummary>(old.status());
    reuse = sum.ok() && sum->record_count == records;
  }
  if (!reuse) std::filesystem::remove(path);

  jr::OpenOptions create;
  create.create = true;
  auto j = jr::Journal::Open(path, create);
  if (!j.ok()) Die(j.status(), "open");
  jr::SimulatorOptions so;
  so.start_time_ms = 1700000000000;
  jr::Simulator sim(so);

  // 1. One durable transaction per record.
  auto t = Clock::now();
  for (int64_t i = 0; !reuse && i < durable; ++i) {
    auto r = j->Append(sim.Next());
    if (!r.ok()) Die(r.status(), "append");
  }
  double t_durable = Since(t);

  // 2. Batches of 10,000 records per transaction up to RECORDS.
  t = Clock::now();
  int64_t batched = 0;
  std::vector<jr::RecordInput> batch;
  while (!reuse && durable + batched < records) {
    batch.clear();
    for (int64_t i = 0; i < 10000 && durable + batched + i < records; ++i) batch.push_back(sim.Next());
    auto r = j->AppendBatch(batch);
    if (!r.ok()) Die(r.status(), "append batch");
    batched += static_cast<int64_t>(batch.size());
  }
  double t_batched = Since(t);
  if (auto s = j->Checkpoint(); !s.ok()) Die(s, "checkpoint");
  auto size = std::filesystem::file_size(path);

  // 3./4. The sqlite3 CLI's online backup of the same file (the baseline) and our
  // snapshot (copy + integrity_check + full chain + SHA-256 + descriptor), interleaved
  // so that the VM's drifting speed affects both alike; the best of 5 of each.
  double t_cli = 1e9;
  double t_snap = 1e9;
  jr::SnapshotInfo snap;
  jr::SnapshotStore store(dir + "/store");
  for (int i = 0; i < 5; ++i) {
    std::string out = dir + "/cli-backup.db";
    std::filesystem::remove(out);
    std::string cmd = "sqlite3 '" + path + "' \".backup '" + out + "'\"";
    t = Clock::now();
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "journal_bench: sqlite3 CLI backup failed\n");
      return 1;
    }
    t_cli = std::min(t_cli, Since(t));
    jr::SnapshotOptions o;
    o.keep = 1;
    t = Clock::now();
    auto s = store.Take(path, o);
    if (!s.ok()) Die(s.status(), "snapshot");
    double took = Since(t);
    if (took < t_snap) {
      t_snap = took;
      snap = *s;
    }
  }

  // 5. Chain verification rate (no integrity_check: the chain alone).
  jr::VerifyOptions vo;
  vo.integrity_check = false;
  t = Clock::now();
  auto rep = j->Verify(vo);
  double t_verify = Since(t);
  if (!rep.ok() || !rep->ok()) Die(rep.ok() ? fw::Internal("chain problems") : rep.status(), "verify");

  // 6. Check the journal against the snapshot the store kept (retention deleted the others);
  //    the check re-derives the snapshot's figures from its file first.
  auto kept = store.Latest();
  if (!kept.ok()) Die(kept.status(), "latest snapshot");
  t = Clock::now();
  auto chk = jr::Check(path, *kept);
  double t_check = Since(t);
  if (!chk.ok() || !chk->ok()) Die(chk.ok() ? fw::Internal("differences") : chk.status(), "check");

  const double n = static_cast<double>(records);
  std::printf("journal: %lld records, %.1f MiB\n", static_cast<long long>(records), size / 1048576.0);
  std::printf("%-44s %12s %14s\n", "operation", "seconds", "rate / ratio");
  if (reuse) {
    std::printf("%-44s %12s\n", "append (journal of an earlier run reused)", "-");
  } else {
    std::printf("%-44s %12.3f %10.0f rec/s\n", "append, durable (1 record per transaction)", t_durable,
                durable / t_durable);
    std::printf("%-44s %12.3f %10.0f rec/s\n", "append, batched (10,000 per transaction)", t_batched,
                batched / t_batched);
  }
  std::printf("%-44s %12.3f %12s\n", "sqlite3 CLI .backup (baseline)", t_cli, "1.00 x");
  std::printf("%-44s %12.3f %10.2f x   goal <= 1.50 x\n", "snapshot (backup+verify+sha256+descriptor)", t_snap,
              t_snap / t_cli);
  const auto& st = snap.timings;
  std::printf("%-44s %12.3f\n", "  1. copy (backup API, not synced)", st.copy);
  std::printf("%-44s %12.3f\n", "  2. sync || verify, until both are done", st.verify);
  std::printf("%-44s %12.3f\n", "       fsync of the copy", st.sync);
  std::printf("%-44s %12.3f\n", "       integrity_check       } one queue,", st.integrity);
  std::printf("%-44s %12.3f\n", "       SHA-256 of the file   } a thread", st.sha256);
  std::printf("%-44s %12.3f\n", "       ...then chain ranges  } per core", st.chain);
  std::printf("%-44s %12.3f\n", "  3. publish (rename, dir fsync, descriptor)", st.publish);
  std::printf("%-44s %12.3f\n", "  4. retention (keep 1: delete the previous)", st.retention);
  std::printf("%-44s %12.3f %10.0f rec/s   goal >= 1,000,000 rec/s\n", "chain verification", t_verify, n / t_verify);
  std::printf("%-44s %12.3f %12s   goal <= 2 s\n", "check against snapshot", t_check,
              chk->fast_path ? "fast path" : "slow path");
  return 0;
}
