// fwupdate init|install|status|confirm|rollback|boot repair|history — the technician's reflash.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "fw/install/installer.h"
#include "fw/progress.h"
#include "install_net.h"

namespace fw::updater {
namespace {

using cli::Invocation;
namespace po = cli::po;

std::string DefaultOperator() {
  const char* user = std::getenv("USER");
  return user && *user ? user : "technician";
}

void DeviceOptions(po::options_description& o) {
  o.add_options()("device,d", po::value<std::string>()->required(), "layout file of the terminal (JSON)")(
      "journal", po::value<std::string>(), "the payment application's journal (default: DATA_DIR/journal.db)")(
      "operator", po::value<std::string>()->default_value(DefaultOperator()), "who runs this (flash history)")(
      "lock-timeout-ms", cli::Int<int>(0, 3600000)->default_value(5000),
      "bound on waiting for the journal's lock, ms (0-3600000)");
}

void ProgressOptions(po::options_description& o) { o.add_options()("quiet,q", "no progress output"); }

// Commands that write hold the terminal lock (docs/install.md, "Lock protocol").
constexpr int kMaxLockTimeoutS = 86400;
void WriterOptions(po::options_description& o) {
  o.add_options()("lock-timeout", cli::Int<int>(0, kMaxLockTimeoutS)->default_value(10),
                  "seconds to wait while another fwupdate command writes to the terminal (0-86400; 0: do not "
                  "wait); then exit 6 naming it");
}

std::unique_ptr<Progress> MakeProgressFor(const Invocation& inv) {
  if (inv.json) return MakeProgress(ProgressStyle::kJson, stdout);
  if (inv.vm.count("quiet")) return MakeProgress(ProgressStyle::kQuiet, stderr);
  return MakeProgress(ProgressStyle::kAuto, stderr);
}

Result<std::unique_ptr<install::OpenedTerminal>> OpenDevice(const Invocation& inv) {
  int lock_timeout_s = 0;
  if (inv.vm.count("lock-timeout")) {
    lock_timeout_s = inv.vm["lock-timeout"].as<int>();
    if (lock_timeout_s < 0 || lock_timeout_s > kMaxLockTimeoutS) {
      return InvalidArgument("--lock-timeout must be 0 to " + std::to_string(kMaxLockTimeoutS) + " seconds, not " +
                             std::to_string(lock_timeout_s));
    }
  }
  auto t = install::OpenedTerminal::Open(inv.vm["device"].as<std::string>(), cli::OptionalString(inv.vm, "journal"));
  if (t.ok()) {
    (*t)->terminal().lock_timeout_ms = inv.vm["lock-timeout-ms"].as<int>();
    (*t)->terminal().terminal_lock_timeout_ms = lock_timeout_s * 1000;
  }
  return t;
}

nlohmann::json LockJson(const std::optional<install::LockHolder>& h) {
  if (!h) return nullptr;
  return {{"pid", h->pid},
          {"operation", h->operation},
          {"history_id", h->history_id > 0 ? nlohmann::json(h->history_id) : nlohmann::json(nullptr)},
          {"started_at", h->started_at},
          {"message", h->Describe()}};
}

nlohmann::json OrphanIds(const install::LiveState& live) {
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& e : live.orphans) ids.push_back(e.id);
  return ids;
}

// With --json a stream of events precedes the result, so every document is one line.
void PrintResult(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

nlohmann::json EntryJson(const history::Entry& e) {
  auto opt = [](const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); };
  return {{"id", e.id},
          {"started_at", e.started_at},
          {"finished_at", opt(e.finished_at)},
          {"operation", e.intent.operation},
          {"operator", e.intent.operator_name},
          {"bundle", opt(e.intent.bundle)},
          {"image_sha256", opt(e.intent.image_sha256)},
          {"from_version", opt(e.intent.from_version)},
          {"to_version", opt(e.intent.to_version)},
          {"slot", opt(e.intent.target_slot)},
          {"snapshot", opt(e.intent.snapshot_id)},
          {"outcome", std::string(history::OutcomeName(e.outcome))},
          {"stage", e.stage},
          {"detail", e.detail}};
}

int Init(const Invocation& inv) {
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  Status s = install::InitDataArea((*dev)->terminal(), inv.vm["tuf-root"].as<std::string>());
  if (!s.ok()) return cli::Fail(inv, s);
  const auto& t = (*dev)->terminal();
  if (inv.json) {
    PrintResult({{"ok", true}, {"data_dir", t.data_dir}, {"tuf_dir", t.TufDir()}, {"history", t.HistoryPath()}});
  } else {
    std::cout << "data area ready in " << t.data_dir << ": trusted TUF root in " << t.TufDir() << ", flash history in "
              << t.HistoryPath() << "\n";
  }
  return cli::kExitOk;
}

// BUNDLE (a file or an https:// URL of a bundle), or --repository URL --target NAME.
Result<bundle::SourceOpener> BundleOpener(const po::variables_map& vm, const install::Terminal& t,
                                          const std::shared_ptr<NetInstallStats>& stats) {
  const bool repo = vm.count("repository") > 0, target = vm.count("target") > 0, file = vm.count("bundle") > 0;
  if (repo != target) return InvalidArgument("--repository and --target go together");
  if (repo == file)
    return InvalidArgument("give either BUNDLE (a file or an https:// URL) or --repository and --target");
  if (file && !IsBundleUrl(vm["bundle"].as<std::string>())) {
    for (const char* net_only : {"ca", "cert", "key"}) {
      if (vm.count(net_only)) return InvalidArgument(std::string("--") + net_only + " is for network installs only");
    }
    // Absolute, as the flash history records it.
    return bundle::FileSourceOpener(std::filesystem::absolute(vm["bundle"].as<std::string>()).string());
  }
  FW_ASSIGN_OR_RETURN(net::StreamOptions options, StreamOptionsFrom(vm));
  if (file) return UrlBundleOpener(vm["bundle"].as<std::string>(), options, stats);
  return RepositoryOpener(t.TufDir(), vm["repository"].as<std::string>(), vm["target"].as<std::string>(), options,
                          stats);
}

int InstallCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  auto progress = MakeProgressFor(inv);
  install::InstallOptions o;
  auto net_stats = std::make_shared<NetInstallStats>();
  auto opener = BundleOpener(vm, (*dev)->terminal(), net_stats);
  if (!opener.ok()) return cli::Fail(inv, opener.status());
  o.open_bundle = std::move(*opener);
  const bool networked = !vm.count("bundle") || IsBundleUrl(vm["bundle"].as<std::string>());
  o.operator_name = vm["operator"].as<std::string>();
  o.host_snapshot_dir = cli::OptionalString(vm, "host-snapshots");
  int tries = vm["tries"].as<int>();
  if (tries < 1 || tries > boot::kMaxTries) {
    return cli::Fail(inv, InvalidArgument("--tries must be 1 to " + std::to_string(boot::kMaxTries)));
  }
  o.tries = static_cast<uint8_t>(tries);
  o.allow_downgrade = vm.count("allow-downgrade") > 0;
  o.progress = progress.get();
  if (const char* delay = std::getenv("FWUPDATE_TEST_WRITE_DELAY_MS")) {  // tests: a slow flash
    o.write_delay_ms = std::clamp(std::atoi(delay), 0, 10000);
  }
  auto r = install::Install((*dev)->terminal(), o);
  if (!r.ok()) return cli::Fail(inv, r.status());
  if (inv.json) {
    PrintResult({{"ok", true},
                 {"history_id", r->history_id},
                 {"slot", std::string(1, boot::SlotLetter(r->target_slot))},
                 {"from_version", r->from_version},
                 {"to_version", r->to_version},
                 {"security_counter", r->security_counter},
                 {"image_size", r->image_size},
                 {"snapshot", r->snapshot_name},
                 {"snapshot_records", r->snapshot_records},
                 {"tries", r->tries},
                 {"network", networked ? net_stats->Json() : nlohmann::json(nullptr)}});
  } else {
    std::cout << "Installed " << r->to_version << " into slot " << boot::SlotLetter(r->target_slot) << " as a trial ("
              << static_cast<int>(r->tries) << " tries). Journal snapshot " << r->snapshot_name << " holds "
              << r->snapshot_records << " records.\n"
              << "Next: reset the terminal ('fwboot boot'); on the new firmware run 'fwupdate confirm'.\n"
              << "If it is not confirmed within " << static_cast<int>(r->tries)
              << " boots, the bootloader goes back to " << r->from_version << " by itself.\n";
    if (networked) {
      std::cout << "Network: " << net_stats->connections << " connection(s), " << net_stats->resumes << " resume(s), "
                << net_stats->restarts << " restart(s), " << net_stats->target.chunks_refetched
                << " chunk(s) fetched again.\n";
    }
  }
  return cli::kExitOk;
}

int StatusCmd(const Invocation& inv) {
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  auto r = install::GetStatus((*dev)->terminal(), inv.vm["operator"].as<std::string>());
  if (!r.ok()) return cli::Fail(inv, r.status());
  if (inv.json) {
    nlohmann::json slots = nlohmann::json::array();
    for (const auto& s : r->slots) {
      slots.push_back({{"slot", s.name},
                       {"state", s.state},
                       {"version", s.version},
                       {"security_counter", s.security_counter},
                       {"tries_remaining", s.tries_remaining}});
    }
    nlohmann::json recent = nlohmann::json::array();
    for (const auto& e : r->recent) recent.push_back(EntryJson(e));
    PrintResult({{"ok", true},
                 {"slots", slots},
                 {"active_slot", std::string(1, boot::SlotLetter(r->active_slot))},
                 {"booted_slot", r->booted_slot == boot::kNoSlot
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json(std::string(1, boot::SlotLetter(r->booted_slot)))},
                 {"min_security_counter", r->min_security_counter},
                 {"boot_counter", r->boot_counter},
                 {"boot_state_valid", r->boot_control_valid},
                 {"notes", r->notes},
                 {"lock", LockJson(r->live.lock)},
                 {"interrupted", OrphanIds(r->live)},
                 {"recent", recent}});
    return cli::kExitOk;
  }
  for (const auto& n : r->notes) std::cout << "note: " << n << "\n";
  for (uint8_t i = 0; i < boot::kSlotCount; ++i) {
    const auto& s = r->slots[i];
    std::cout << "slot " << s.name << ": " << s.state;
    if (!s.version.empty()) std::cout << ", version " << s.version << ", security counter " << s.security_counter;
    if (s.state == "trial") std::cout << ", " << static_cast<int>(s.tries_remaining) << " tries left";
    if (i == r->active_slot) std::cout << "  [active]";
    if (i == r->booted_slot) std::cout << "  [running]";
    std::cout << "\n";
  }
  std::cout << "minimum security counter: " << r->min_security_counter << "\n";
  if (!r->recent.empty()) {
    const auto& e = r->recent.front();
    std::cout << "last operation: #" << e.id << " " << e.intent.operation << " " << e.intent.to_version.value_or("")
              << " — " << history::OutcomeName(e.outcome) << (e.detail.empty() ? "" : " (" + e.detail + ")") << "\n";
  }
  return cli::kExitOk;
}

int ConfirmCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  auto progress = MakeProgressFor(inv);
  install::ConfirmOptions o;
  o.operator_name = vm["operator"].as<std::string>();
  o.health_cmd = cli::OptionalString(vm, "health-cmd");
  o.health_timeout_s = vm["health-timeout"].as<int>();
  o.progress = progress.get();
  auto r = install::Confirm((*dev)->terminal(), o);
  if (!r.ok()) return cli::Fail(inv, r.status());
  if (inv.json) {
    nlohmann::json j = {{"ok", r->confirmed},
                        {"confirmed", r->confirmed},
                        {"version", r->version},
                        {"slot", std::string(1, boot::SlotLetter(r->slot))},
                        {"min_security_counter", r->min_security_counter},
                        {"reason", r->reason},
                        {"journal",
                         {{"snapshot_records", r->check.snapshot_records},
                          {"records_after", r->check.records_after},
                          {"missing", r->check.missing_count},
                          {"altered", r->check.altered_count}}}};
    if (r->restore) {
      j["restore"] = {{"aside_path", r->restore->aside_path}, {"reappended", r->restore->reappended}};
    }
    PrintResult(j);
  } else if (r->confirmed) {
    std::cout << "Confirmed " << r->version << " in slot " << boot::SlotLetter(r->slot) << ": all "
              << r->check.snapshot_records << " snapshotted records are intact (" << r->check.records_after
              << " written since). Minimum security counter is now " << r->min_security_counter << ".\n";
  } else {
    std::cout << "NOT confirmed: " << r->reason << "\n";
    if (r->restore) {
      std::cout << "The journal was restored from the snapshot and the " << r->restore->reappended
                << " records written since were kept; the damaged journal is kept at " << r->restore->aside_path
                << ".\n";
    }
    std::cout << "Trial " << r->version << " was reverted: the previous firmware runs at the next reset.\n";
  }
  return r->confirmed ? cli::kExitOk : cli::kExitFailure;
}

int RollbackCmd(const Invocation& inv) {
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  auto r = install::Rollback((*dev)->terminal(), inv.vm["operator"].as<std::string>());
  if (!r.ok()) return cli::Fail(inv, r.status());
  if (inv.json) {
    PrintResult({{"ok", true}, {"slot", std::string(1, boot::SlotLetter(r->slot))}, {"reverted_version", r->version}});
  } else {
    std::cout << "Rolled back: trial " << r->version << " in slot " << boot::SlotLetter(r->slot)
              << " is unbootable; the confirmed firmware runs at the next reset.\n";
  }
  return cli::kExitOk;
}

int RepairCmd(const Invocation& inv) {
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  auto r = install::RepairBootState((*dev)->terminal(), inv.vm["operator"].as<std::string>());
  if (!r.ok()) return cli::Fail(inv, r.status().WithContext("boot repair"));
  if (inv.json) {
    PrintResult({{"ok", true},
                 {"slot", std::string(1, boot::SlotLetter(r->slot))},
                 {"version", r->version},
                 {"min_security_counter", r->security_counter},
                 {"history_id", r->history_id}});
  } else {
    std::cout << "Boot state rewritten: slot " << boot::SlotLetter(r->slot) << " (" << r->version
              << ") confirmed and active, minimum security counter " << r->security_counter
              << ", the other slot unbootable.\n";
  }
  return cli::kExitOk;
}

int HistoryCmd(const Invocation& inv) {
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  auto& t = (*dev)->terminal();
  // A reader: read-only connection, no recovery, nothing written.
  auto h = history::FlashHistory::OpenReadOnly(t.HistoryPath());
  if (!h.ok()) return cli::Fail(inv, h.status());
  auto live = install::InspectLive(t, *h);
  if (!live.ok()) return cli::Fail(inv, live.status());
  auto entries = h->List(static_cast<size_t>(inv.vm["limit"].as<int>()));
  if (!entries.ok()) return cli::Fail(inv, entries.status());
  if (inv.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : *entries) arr.push_back(EntryJson(e));
    PrintResult({{"ok", true},
                 {"history", arr},
                 {"lock", LockJson(live->lock)},
                 {"interrupted", OrphanIds(*live)},
                 {"notes", live->notes}});
    return cli::kExitOk;
  }
  if (inv.vm.count("csv")) {
    for (const auto& n : live->notes) std::cerr << "note: " << n << "\n";
    std::cout << "id,started_at,finished_at,operation,operator,from_version,to_version,slot,snapshot,outcome,detail,"
                 "bundle,image_sha256\n";
    for (const auto& e : *entries) {
      std::cout << e.id << "," << e.started_at << "," << e.finished_at.value_or("") << "," << e.intent.operation << ","
                << cli::CsvField(e.intent.operator_name) << "," << e.intent.from_version.value_or("") << ","
                << e.intent.to_version.value_or("") << "," << e.intent.target_slot.value_or("") << ","
                << e.intent.snapshot_id.value_or("") << "," << history::OutcomeName(e.outcome) << ","
                << cli::CsvField(e.detail) << "," << cli::CsvField(e.intent.bundle.value_or("")) << ","
                << e.intent.image_sha256.value_or("") << "\n";
    }
    return cli::kExitOk;
  }
  std::printf("%-4s %-20s %-9s %-12s %-8s %-8s %-4s %-12s %s\n", "#", "started (UTC)", "operation", "operator", "from",
              "to", "slot", "outcome", "detail");
  for (const auto& e : *entries) {
    std::printf("%-4lld %-20s %-9s %-12s %-8s %-8s %-4s %-12s %s\n", static_cast<long long>(e.id), e.started_at.c_str(),
                e.intent.operation.c_str(), e.intent.operator_name.c_str(), e.intent.from_version.value_or("-").c_str(),
                e.intent.to_version.value_or("-").c_str(), e.intent.target_slot.value_or("-").c_str(),
                std::string(history::OutcomeName(e.outcome)).c_str(), e.detail.c_str());
  }
  for (const auto& n : live->notes) std::printf("note: %s\n", n.c_str());
  std::fflush(stdout);
  return cli::kExitOk;
}

}  // namespace

std::vector<cli::Subcommand> InstallCommands() {
  std::vector<cli::Subcommand> c;
  c.push_back({"init", "set up the updater's data area: trusted TUF root, flash history",
               "--device LAYOUT --tuf-root ROOT.json",
               [](po::options_description& o, po::positional_options_description&) {
                 DeviceOptions(o);
                 WriterOptions(o);
                 o.add_options()("tuf-root", po::value<std::string>()->required(),
                                 "the vendor's signed TUF root metadata (root.json) the terminal will trust");
               },
               Init});
  c.push_back({"install", "install a signed bundle into the inactive bank as a trial",
               "--device LAYOUT [options] (BUNDLE | --repository URL --target NAME)",
               [](po::options_description& o, po::positional_options_description& pos) {
                 DeviceOptions(o);
                 WriterOptions(o);
                 ProgressOptions(o);
                 NetInstallOptions(o);
                 o.add_options()("bundle", po::value<std::string>(), "offline bundle (tar): a file or an https:// URL")(
                     "host-snapshots", po::value<std::string>(), "also keep a copy of the journal snapshot here")(
                     "tries", cli::Int<int>(1, boot::kMaxTries)->default_value(3),
                     "boots the trial gets to be confirmed (1-15)")(
                     "allow-downgrade", "allow a lower version (never a lower security counter)");
                 pos.add("bundle", 1);
               },
               InstallCmd});
  c.push_back({"status", "slots, versions, tries, counters, last operations; a running operation (read-only)",
               "--device LAYOUT",
               [](po::options_description& o, po::positional_options_description&) { DeviceOptions(o); }, StatusCmd});
  c.push_back({"confirm", "on the trial firmware: health check + journal check, then confirm or revert",
               "--device LAYOUT [--health-cmd CMD]",
               [](po::options_description& o, po::positional_options_description&) {
                 DeviceOptions(o);
                 WriterOptions(o);
                 ProgressOptions(o);
                 o.add_options()("health-cmd", po::value<std::string>(), "shell command; exit 0 means healthy")(
                     "health-timeout", cli::Int<int>(1, 3600)->default_value(120),
                     "seconds the health check may take (1-3600)");
               },
               ConfirmCmd});
  c.push_back({"rollback", "revert a pending trial: the confirmed firmware runs at the next reset", "--device LAYOUT",
               [](po::options_description& o, po::positional_options_description&) {
                 DeviceOptions(o);
                 WriterOptions(o);
               },
               RollbackCmd});
  c.push_back({"boot repair",
               "rewrite a lost boot state (both copies invalid) from the flash history and the verified banks",
               "--device LAYOUT",
               [](po::options_description& o, po::positional_options_description&) {
                 DeviceOptions(o);
                 WriterOptions(o);
               },
               RepairCmd});
  c.push_back({"history",
               "every flash operation: time, operator, bundle, versions, snapshot, outcome",
               "--device LAYOUT [--json|--csv] [--limit N]",
               [](po::options_description& o, po::positional_options_description&) {
                 DeviceOptions(o);
                 o.add_options()("csv", "print CSV")("limit", cli::Int<int>(0, 1000000)->default_value(0),
                                                     "newest N entries (0 = all)");
               },
               HistoryCmd,
               {{"json", "csv"}}});
  return c;
}

}  // namespace fw::updater
