// fwupdate journal align — the early-boot step that moves the journal into the booted
// firmware's signed journal-schema range before the payment application starts.
#include <iostream>

#include "commands.h"
#include "fw/install/journal_align.h"
#include "fw/install/terminal_lock.h"

namespace fw::updater {
namespace {

using cli::Invocation;
namespace po = cli::po;

int Align(const Invocation& inv) {
  auto dev = install::OpenedTerminal::Open(inv.vm["device"].as<std::string>(), cli::OptionalString(inv.vm, "journal"));
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  install::Terminal& t = (*dev)->terminal();
  t.lock_timeout_ms = inv.vm["lock-timeout-ms"].as<int>();
  // Align may migrate the journal: it is a writer and holds the terminal lock (docs/install.md).
  auto lock = install::TerminalLock::Acquire(t.data_dir, "journal-align", inv.vm["lock-timeout"].as<int>() * 1000);
  if (!lock.ok()) return cli::Fail(inv, lock.status());
  auto r = install::AlignJournal(t);
  if (!r.ok()) return cli::Fail(inv, r.status());
  const std::string slot(1, boot::SlotLetter(r->slot));
  if (inv.json) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : r->steps) steps.push_back({{"from", s.from}, {"to", s.to}, {"description", s.description}});
    nlohmann::json range = nullptr;
    if (r->range) range = {{"min", r->range->min}, {"max", r->range->max}};
    cli::PrintJson({{"ok", true},
                    {"slot", slot},
                    {"firmware_version", r->firmware_version},
                    {"journal_schema", range},
                    {"range_source", r->range_source},
                    {"note", r->note},
                    {"journal_exists", r->journal_exists},
                    {"from", r->from},
                    {"to", r->to},
                    {"steps", steps}});
    return cli::kExitOk;
  }
  if (!r->journal_exists) {
    std::cout << "no journal at " << t.journal_path << ": nothing to align\n";
    return cli::kExitOk;
  }
  if (!r->note.empty()) std::cout << "note: " << r->note << "\n";
  if (!r->range) {
    std::cout << "slot " << slot << " (" << r->firmware_version
              << "): no signed journal-schema range is known; journal left at v" << r->from << "\n";
  } else {
    std::cout << "slot " << slot << " (" << r->firmware_version << ") reads journal schema " << r->range->Text() << " ("
              << r->range_source << ")\n";
    for (const auto& s : r->steps) std::cout << "v" << s.from << " -> v" << s.to << ": " << s.description << "\n";
    std::cout << (r->from == r->to
                      ? "journal already at v" + std::to_string(r->to) + "\n"
                      : "journal moved from v" + std::to_string(r->from) + " to v" + std::to_string(r->to) + "\n");
  }
  return cli::kExitOk;
}

}  // namespace

std::vector<cli::Subcommand> AlignCommands() {
  std::vector<cli::Subcommand> c;
  c.push_back({"journal align",
               "at boot, before the payment application: move the journal into the booted firmware's signed "
               "journal-schema range",
               "--device LAYOUT [--journal PATH]",
               [](po::options_description& o, po::positional_options_description&) {
                 o.add_options()("device,d", po::value<std::string>()->required(),
                                 "layout file of the terminal (JSON)")("journal", po::value<std::string>(),
                                                                       "the journal (default: DATA_DIR/journal.db)")(
                     "lock-timeout-ms", cli::Int<int>(0, 3600000)->default_value(5000),
                     "bound on waiting for the journal's lock, ms (0-3600000)")(
                     "lock-timeout", cli::Int<int>(0, 86400)->default_value(10),
                     "seconds to wait while another fwupdate command writes to the terminal (0-86400); then exit 6");
               },
               Align});
  return c;
}

}  // namespace fw::updater
