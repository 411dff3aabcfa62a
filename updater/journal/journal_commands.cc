// fwupdate journal append|simulate|verify|snapshot|check|restore|export|migrate.
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include "commands.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/install/terminal_lock.h"
#include "fw/journal/guard.h"
#include "fw/journal/journal.h"
#include "fw/journal/migrations.h"
#include "fw/journal/simulator.h"
#include "fw/journal/snapshot.h"

namespace fw::updater {
namespace {

using cli::Invocation;
namespace po = cli::po;
namespace jr = fw::journal;

std::string Arg(const Invocation& inv, const char* name) { return inv.vm[name].as<std::string>(); }

// Restore and migrate write the journal: they hold the terminal lock (docs/install.md,
// "Lock protocol") in the journal's directory — the terminal's data area — so that no
// install, confirm or other restore runs meanwhile. Appenders are kept out separately by
// the journal lock (docs/journal.md, "Journal lock protocol").
Result<install::TerminalLock> LockForJournalWrite(const Invocation& inv, const std::string& operation) {
  std::string dir = std::filesystem::path(Arg(inv, "journal")).parent_path().string();
  if (dir.empty()) dir = ".";
  return install::TerminalLock::Acquire(dir, operation, inv.vm["lock-timeout"].as<int>() * 1000);
}

void WriterLockOption(po::options_description& o) {
  o.add_options()("lock-timeout", cli::Int<int>(0, 86400)->default_value(10),
                  "seconds to wait while another fwupdate command writes to the terminal (0-86400); then exit 6");
}

nlohmann::json RecordJson(const jr::Record& r) { return nlohmann::json::parse(jr::RecordJsonLine(r)); }

nlohmann::json SummaryJson(const jr::ChainSummary& s) {
  return {{"record_count", s.record_count},
          {"first_seq", s.first_seq},
          {"last_seq", s.last_seq},
          {"chain_head", HexEncode(s.head)},
          {"schema_version", s.schema_version}};
}

nlohmann::json SnapshotJson(const jr::SnapshotInfo& s) {
  auto j = nlohmann::json::parse(jr::SerializeDescriptor(s.descriptor));
  j["name"] = s.name;
  j["path"] = s.db_path;
  j["descriptor_path"] = s.descriptor_path;
  return j;
}

jr::OpenOptions Opts(const Invocation& inv, bool create = false) {
  jr::OpenOptions o;
  o.create = create;
  o.lock_timeout_ms = inv.vm["lock-timeout-ms"].as<int>();
  if (inv.vm.count("schema-version")) o.create_schema_version = inv.vm["schema-version"].as<int>();
  return o;
}

void LockOption(po::options_description& o) {
  o.add_options()("lock-timeout-ms", cli::Int<int>(0, 3600000)->default_value(5000),
                  "how long to wait for another process's lock before failing (exit 6)");
}

void JournalPositional(po::options_description& o, po::positional_options_description& pos) {
  o.add_options()("journal", po::value<std::string>()->required(), "journal database file");
  pos.add("journal", 1);
  LockOption(o);
}

int Append(const Invocation& inv) {
  const auto& vm = inv.vm;
  jr::RecordInput in;
  auto kind = jr::ParseKind(Arg(inv, "kind"));
  if (!kind.ok()) return cli::Fail(inv, kind.status());
  in.kind = *kind;
  in.amount_minor = vm["amount"].as<int64_t>();
  in.currency = Arg(inv, "currency");
  in.pan_masked = Arg(inv, "pan");
  in.auth_code = Arg(inv, "auth-code");
  in.result = Arg(inv, "result");
  in.terminal_id = Arg(inv, "terminal-id");
  in.time_ms = vm.count("time-ms") ? vm["time-ms"].as<int64_t>() : SystemClock().WallMs();
  if (vm.count("entry-mode")) in.extensions["entry_mode"] = Arg(inv, "entry-mode");
  // Validate before touching the file: bad input writes nothing.
  if (Status s = jr::ValidateRecordInput(in); !s.ok()) return cli::Fail(inv, s.WithContext("record rejected"));
  auto j = jr::Journal::Open(Arg(inv, "journal"), Opts(inv, vm.count("create") > 0));
  if (!j.ok()) return cli::Fail(inv, j.status());
  auto r = j->Append(in);
  if (!r.ok()) return cli::Fail(inv, r.status());
  if (inv.json) {
    auto out = RecordJson(*r);
    out["ok"] = true;
    cli::PrintJson(out);
  } else {
    std::cout << "appended record " << r->seq << " (" << HexEncode(r->hash) << ")\n";
  }
  return cli::kExitOk;
}

int Simulate(const Invocation& inv) {
  const auto& vm = inv.vm;
  jr::SimulatorOptions so;
  so.terminal_id = Arg(inv, "terminal-id");
  so.currency = Arg(inv, "currency");
  so.seed = vm["seed"].as<uint32_t>();
  so.rate_per_second = vm["rate"].as<double>();
  so.entry_mode = vm.count("no-entry-mode") == 0;
  int64_t count = vm["count"].as<int64_t>();
  if (count < 0 || so.rate_per_second < 0) return cli::Fail(inv, InvalidArgument("--count and --rate must be >= 0"));
  auto j = jr::Journal::Open(Arg(inv, "journal"), Opts(inv, vm.count("create") > 0));
  if (!j.ok()) return cli::Fail(inv, j.status());
  jr::Simulator sim(so);
  const bool print_records = vm.count("print-records") > 0;
  Status s = sim.Run(*j, count, [&](const jr::Record& r) {
    // One line per committed record, flushed at once: a concurrent test (or operator)
    // knows exactly which records the application was told are durable.
    if (print_records) std::cout << "committed " << r.seq << " " << HexEncode(r.hash) << std::endl;
  });
  if (!s.ok()) return cli::Fail(inv, s);
  auto sum = j->Summary();
  if (!sum.ok()) return cli::Fail(inv, sum.status());
  if (inv.json) {
    auto out = SummaryJson(*sum);
    out["ok"] = true;
    out["appended"] = count;
    cli::PrintJson(out);
  } else {
    std::cout << "appended " << count << " records; journal holds " << sum->record_count << " (last " << sum->last_seq
              << ")\n";
  }
  return cli::kExitOk;
}

int Verify(const Invocation& inv) {
  jr::OpenOptions o = Opts(inv);
  o.read_only = true;
  auto j = jr::Journal::Open(Arg(inv, "journal"), o);
  if (!j.ok()) return cli::Fail(inv, j.status());
  auto rep = j->Verify();
  if (!rep.ok()) return cli::Fail(inv, rep.status());
  if (inv.json) {
    nlohmann::json probs = nlohmann::json::array();
    for (const auto& p : rep->problems) probs.push_back({{"seq", p.seq}, {"problem", p.what}});
    auto out = SummaryJson(rep->summary);
    out["ok"] = rep->ok();
    out["integrity_ok"] = rep->integrity_ok;
    out["integrity_message"] = rep->integrity_message;
    out["problem_count"] = rep->problem_count;
    out["problems"] = probs;
    out["exit_code"] = rep->ok() ? 0 : int{cli::kExitRejected};
    cli::PrintJson(out);
  } else {
    std::cout << Arg(inv, "journal") << ": " << rep->summary.record_count << " records (" << rep->summary.first_seq
              << ".." << rep->summary.last_seq << "), schema v" << rep->summary.schema_version << ", head "
              << HexEncode(rep->summary.head) << "\n";
    if (!rep->integrity_ok) std::cout << "integrity_check: " << rep->integrity_message << "\n";
    for (const auto& p : rep->problems) std::cout << "record " << p.seq << ": " << p.what << "\n";
    std::cout << (rep->ok() ? "chain OK\n"
                            : "JOURNAL DAMAGED: " + std::to_string(rep->problem_count) + " chain problem(s)\n");
  }
  if (!rep->ok()) {
    std::cerr << inv.command << ": error: journal " << Arg(inv, "journal") << " is damaged\n";
    return cli::kExitRejected;
  }
  return cli::kExitOk;
}

int Snapshot(const Invocation& inv) {
  const auto& vm = inv.vm;
  jr::SnapshotOptions so;
  so.firmware_version = Arg(inv, "firmware-version");
  so.lock_timeout_ms = vm["lock-timeout-ms"].as<int>();
  so.keep = vm["keep"].as<int>();
  so.host_dir = cli::OptionalString(vm, "host-dir");
  jr::SnapshotStore store(Arg(inv, "store"));
  Result<jr::SnapshotInfo> info = NotFound("unset");
  if (vm.count("foreign-table")) {
    jr::ForeignSpec spec;
    spec.table = Arg(inv, "foreign-table");
    spec.order_column = Arg(inv, "order-column");
    if (vm.count("column")) spec.columns = vm["column"].as<std::vector<std::string>>();
    info = store.TakeForeign(Arg(inv, "journal"), spec, so);
  } else {
    info = store.Take(Arg(inv, "journal"), so);
  }
  if (!info.ok()) return cli::Fail(inv, info.status());
  if (inv.json) {
    auto out = SnapshotJson(*info);
    out["ok"] = true;
    cli::PrintJson(out);
  } else {
    const auto& d = info->descriptor;
    std::cout << "snapshot " << info->name << ": " << d.record_count << " records (" << d.first_seq << ".."
              << d.last_seq << "), head " << HexEncode(d.chain_head) << ", verified\n  " << info->db_path << "\n";
    if (so.host_dir) std::cout << "  copied to " << *so.host_dir << "\n";
  }
  return cli::kExitOk;
}

Result<jr::SnapshotInfo> ChooseSnapshot(const Invocation& inv) {
  jr::SnapshotStore store(Arg(inv, "store"));
  if (auto name = cli::OptionalString(inv.vm, "snapshot")) return store.Find(*name);
  return store.Latest();
}

void StoreOptions(po::options_description& o) {
  o.add_options()("store", po::value<std::string>()->required(), "snapshot store directory")(
      "snapshot", po::value<std::string>(), "snapshot name or descriptor path (default: the newest)");
}

int Check(const Invocation& inv) {
  auto snap = ChooseSnapshot(inv);
  if (!snap.ok()) return cli::Fail(inv, snap.status());
  jr::GuardOptions go;
  go.lock_timeout_ms = inv.vm["lock-timeout-ms"].as<int>();
  auto rep = jr::Check(Arg(inv, "journal"), *snap, go);
  if (!rep.ok()) return cli::Fail(inv, rep.status());
  nlohmann::json missing = nlohmann::json::array();
  for (const auto& m : rep->missing) missing.push_back({{"first", m.first}, {"last", m.last}});
  if (inv.json) {
    nlohmann::json probs = nlohmann::json::array();
    for (const auto& p : rep->chain_problems) probs.push_back({{"seq", p.seq}, {"problem", p.what}});
    cli::PrintJson({{"ok", rep->ok()},
                    {"snapshot", snap->name},
                    {"snapshot_records", rep->snapshot_records},
                    {"records_after", rep->records_after},
                    {"missing", missing},
                    {"missing_count", rep->missing_count},
                    {"altered", rep->altered},
                    {"altered_count", rep->altered_count},
                    {"inserted", rep->inserted},
                    {"inserted_count", rep->inserted_count},
                    {"chain_problems", probs},
                    {"chain_problem_count", rep->chain_problem_count},
                    {"exit_code", rep->ok() ? 0 : int{cli::kExitFailure}}});
  } else {
    std::cout << "snapshot " << snap->name << ": " << rep->snapshot_records << " records\n";
    for (const auto& m : rep->missing) {
      std::cout << "missing: " << m.first << (m.last != m.first ? ".." + std::to_string(m.last) : "") << "\n";
    }
    for (auto s : rep->altered) std::cout << "altered: " << s << "\n";
    for (auto s : rep->inserted) std::cout << "inserted: " << s << "\n";
    for (const auto& p : rep->chain_problems) std::cout << "chain: record " << p.seq << ": " << p.what << "\n";
    if (rep->ok()) {
      std::cout << "OK: every snapshotted record is present and unchanged; " << rep->records_after
                << " records after it\n";
    } else {
      std::cout << "DIFFERENCES: " << rep->missing_count << " missing, " << rep->altered_count << " altered, "
                << rep->inserted_count << " inserted, " << rep->chain_problem_count << " chain problem(s)\n";
    }
  }
  return rep->ok() ? cli::kExitOk : cli::kExitFailure;
}

int Restore(const Invocation& inv) {
  auto snap = ChooseSnapshot(inv);
  if (!snap.ok()) return cli::Fail(inv, snap.status());
  auto lock = LockForJournalWrite(inv, "journal-restore");
  if (!lock.ok()) return cli::Fail(inv, lock.status());
  jr::GuardOptions go;
  go.lock_timeout_ms = inv.vm["lock-timeout-ms"].as<int>();
  auto rep = jr::Restore(Arg(inv, "journal"), *snap, go);
  if (!rep.ok()) return cli::Fail(inv, rep.status());
  if (inv.json) {
    auto out = SummaryJson(rep->result);
    out["ok"] = true;
    out["snapshot"] = snap->name;
    out["aside"] = rep->aside_path;
    out["snapshot_records"] = rep->snapshot_records;
    out["reappended"] = rep->reappended;
    out["dropped"] = rep->dropped;
    out["read_error"] = rep->read_error;
    cli::PrintJson(out);
  } else {
    std::cout << "restored " << rep->snapshot_records << " records from " << snap->name << ", re-appended "
              << rep->reappended << " written after it\n";
    if (!rep->aside_path.empty()) std::cout << "previous journal kept as " << rep->aside_path << "\n";
    for (auto s : rep->dropped) std::cout << "not re-appended (invalid): record " << s << "\n";
    if (!rep->read_error.empty()) std::cout << "reading the previous journal stopped: " << rep->read_error << "\n";
  }
  return cli::kExitOk;
}

int Export(const Invocation& inv) {
  std::string format = Arg(inv, "format");
  if (format != "jsonl" && format != "csv") {
    return cli::Fail(inv, InvalidArgument("--format must be jsonl or csv, got '" + format + "'"));
  }
  jr::OpenOptions o = Opts(inv);
  o.read_only = true;
  auto j = jr::Journal::Open(Arg(inv, "journal"), o);
  if (!j.ok()) return cli::Fail(inv, j.status());
  std::ostringstream buf;
  if (format == "csv") {
    buf << "seq,time_ms,terminal_id,kind,amount_minor,currency,pan_masked,auth_code,result,entry_mode,hash\n";
  }
  int64_t n = 0;
  Status s = j->ForEach(inv.vm["from-seq"].as<int64_t>(), [&](const jr::Record& r) {
    if (format == "jsonl") {
      buf << jr::RecordJsonLine(r) << "\n";
    } else {
      auto em = r.extensions.count("entry_mode") ? r.extensions.at("entry_mode") : "";
      buf << r.seq << "," << r.time_ms << "," << cli::CsvField(r.terminal_id) << "," << jr::KindName(r.kind) << ","
          << r.amount_minor << "," << r.currency << "," << r.pan_masked << "," << r.auth_code << "," << r.result << ","
          << cli::CsvField(em) << "," << HexEncode(r.hash) << "\n";
    }
    ++n;
    return Status::Ok();
  });
  if (!s.ok()) return cli::Fail(inv, s);
  if (auto out = cli::OptionalString(inv.vm, "output")) {
    if (Status w = WriteFileAtomic(*out, buf.str()); !w.ok()) return cli::Fail(inv, w);
    if (inv.json) {
      cli::PrintJson({{"ok", true}, {"records", n}, {"output", *out}});
    } else {
      std::cout << "exported " << n << " records to " << *out << "\n";
    }
  } else {
    std::cout << buf.str();
  }
  return cli::kExitOk;
}

int Migrate(const Invocation& inv) {
  const std::string path = Arg(inv, "journal");
  std::vector<jr::Journal::MigrationStep> steps;
  int version = 0;
  std::optional<install::TerminalLock> lock;
  if (inv.vm.count("to")) {
    auto l = LockForJournalWrite(inv, "journal-migrate");
    if (!l.ok()) return cli::Fail(inv, l.status());
    lock.emplace(std::move(*l));
  }
  {
    auto j = jr::Journal::Open(path, Opts(inv));
    if (!j.ok()) return cli::Fail(inv, j.status());
    if (inv.vm.count("to")) {
      auto r = j->MigrateTo(inv.vm["to"].as<int>());
      if (!r.ok()) return cli::Fail(inv, r.status());
      steps = std::move(*r);
    }
    auto v = j->SchemaVersion();
    if (!v.ok()) return cli::Fail(inv, v.status());
    version = *v;
  }
  auto stored = jr::ListStoredMigrations(path);
  if (!stored.ok()) return cli::Fail(inv, stored.status());
  if (inv.json) {
    nlohmann::json js = nlohmann::json::array(), jst = nlohmann::json::array();
    for (const auto& s : steps) js.push_back({{"from", s.from}, {"to", s.to}, {"description", s.description}});
    for (const auto& m : *stored) {
      jst.push_back({{"version", m.version}, {"description", m.description}, {"has_down", m.has_down}});
    }
    cli::PrintJson({{"ok", true},
                    {"schema_version", version},
                    {"firmware_schema_version", jr::kCurrentSchemaVersion},
                    {"steps", js},
                    {"stored_migrations", jst}});
  } else {
    for (const auto& s : steps) std::cout << "v" << s.from << " -> v" << s.to << ": " << s.description << "\n";
    std::cout << "schema v" << version << " (this firmware knows up to v" << jr::kCurrentSchemaVersion << ")\n";
    for (const auto& m : *stored) {
      std::cout << "  stored migration v" << m.version << (m.has_down ? " (up+down)" : " (up)") << ": " << m.description
                << "\n";
    }
  }
  return cli::kExitOk;
}

void AppendOptions(po::options_description& o, po::positional_options_description& pos) {
  JournalPositional(o, pos);
  o.add_options()("kind", po::value<std::string>()->default_value("sale"), "sale | refund | void | settlement")(
      "amount", cli::Int<int64_t>(0)->required(), "amount in minor units (cents)")(
      "currency", po::value<std::string>()->default_value("EUR"), "ISO 4217 code")(
      "pan", po::value<std::string>()->required(), "MASKED card number; a full PAN is refused")(
      "auth-code", po::value<std::string>()->default_value(""), "authorisation code")(
      "result", po::value<std::string>()->default_value("approved"), "approved | declined | error")(
      "terminal-id", po::value<std::string>()->default_value("TERM-0001"), "terminal id")(
      "entry-mode", po::value<std::string>(), "chip | contactless | swipe | manual (schema v2)")(
      "time-ms", cli::Int<int64_t>(0), "transaction time, Unix ms (default: now)")(
      "create", "create the journal if it does not exist")("schema-version", cli::Int<int>(1, 65535),
                                                           "schema version of a journal created now");
}

void SimulateOptions(po::options_description& o, po::positional_options_description& pos) {
  JournalPositional(o, pos);
  o.add_options()("count", cli::Int<int64_t>(0, 1000000000)->default_value(100), "records to append")(
      "rate", cli::Real(0, 1e6)->default_value(0), "records per second (0: as fast as possible)")(
      "seed", cli::Int<uint32_t>()->default_value(1), "random seed")(
      "terminal-id", po::value<std::string>()->default_value("TERM-0001"), "terminal id")(
      "currency", po::value<std::string>()->default_value("EUR"), "ISO 4217 code")("no-entry-mode",
                                                                                   "do not set the entry_mode field")(
      "print-records", "print 'committed SEQ HASH' for every committed record, as it commits")(
      "create", "create the journal if it does not exist")("schema-version", cli::Int<int>(1, 65535),
                                                           "schema version of a journal created now");
}

void SnapshotCommandOptions(po::options_description& o, po::positional_options_description& pos) {
  JournalPositional(o, pos);
  o.add_options()("store", po::value<std::string>()->required(), "snapshot store directory")(
      "host-dir", po::value<std::string>(), "also copy the snapshot to this directory")(
      "keep", cli::Int<int>(1, 10000)->default_value(5), "snapshots the store keeps (retention)")(
      "firmware-version", po::value<std::string>()->default_value("unknown"),
      "firmware version recorded in the descriptor")("foreign-table", po::value<std::string>(),
                                                     "guard this table of a foreign SQLite journal")(
      "order-column", po::value<std::string>()->default_value("rowid"), "foreign: INTEGER column ordering the rows")(
      "column", po::value<std::vector<std::string>>(), "foreign: a protected column (repeat)");
}

void CheckOptions(po::options_description& o, po::positional_options_description& pos) {
  JournalPositional(o, pos);
  StoreOptions(o);
}

void RestoreOptions(po::options_description& o, po::positional_options_description& pos) {
  JournalPositional(o, pos);
  StoreOptions(o);
  WriterLockOption(o);
}

void ExportOptions(po::options_description& o, po::positional_options_description& pos) {
  JournalPositional(o, pos);
  o.add_options()("format", po::value<std::string>()->default_value("jsonl"), "jsonl | csv")(
      "output,o", po::value<std::string>(), "write to this file (atomically) instead of stdout")(
      "from-seq", cli::Int<int64_t>(0)->default_value(0), "first sequence number");
}

void MigrateOptions(po::options_description& o, po::positional_options_description& pos) {
  JournalPositional(o, pos);
  o.add_options()("to", cli::Int<int>(1, 65535), "target schema version");
  WriterLockOption(o);
}

Status ExportConflicts(const po::variables_map& vm) {
  // Without -o the records are the output: CSV cannot also be JSON.
  if (vm.count("json") && vm["format"].as<std::string>() == "csv" && !vm.count("output")) {
    return InvalidArgument("--json and --format csv cannot be used together without -o");
  }
  return Status::Ok();
}

}  // namespace

std::vector<cli::Subcommand> JournalCommands() {
  std::vector<cli::Subcommand> c;
  c.push_back({"journal append", "append one transaction record (durable before it returns)",
               "JOURNAL --kind sale --amount 1250 --currency EUR --pan 411111******1111 [options]", AppendOptions,
               Append});
  c.push_back({"journal simulate", "append realistic card transactions at a given rate (terminal simulator)",
               "JOURNAL --count N [--rate PER_SECOND] [options]", SimulateOptions, Simulate});
  c.push_back({"journal verify", "check the database and recompute the whole chain (exit 3 if damaged)", "JOURNAL",
               JournalPositional, Verify});
  c.push_back({"journal snapshot", "take a verified snapshot of a journal into a store (and a host dir)",
               "JOURNAL --store DIR [--host-dir DIR] [options]", SnapshotCommandOptions, Snapshot});
  c.push_back({"journal check", "prove the journal still holds every record of a snapshot (exit 1 if not)",
               "JOURNAL --store DIR [--snapshot NAME]", CheckOptions, Check});
  c.push_back({"journal restore",
               "restore a snapshot, keeping the current journal aside and re-appending newer valid records",
               "JOURNAL --store DIR [--snapshot NAME]", RestoreOptions, Restore});
  c.push_back({"journal export",
               "print the records as JSON lines or CSV",
               "JOURNAL [--format jsonl|csv] [-o FILE]",
               ExportOptions,
               Export,
               {},
               ExportConflicts});
  c.push_back({"journal migrate", "show or change the schema version (up or down; down SQL is stored in the file)",
               "JOURNAL [--to VERSION]", MigrateOptions, Migrate});
  return c;
}

}  // namespace fw::updater
