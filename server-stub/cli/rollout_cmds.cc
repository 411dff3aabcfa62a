// `fwserver rollout ...` (docs/fleet-operator.md "Rollouts"; the engine: docs/fleet-rollouts.md): the
// operator API's rollout routes from the command line, through fwfleet's client (connection options
// and environment, exit codes from the HTTP answer, --json failure objects: fleetcli/fleet_cmds.h).
// `show --watch` redraws a table of groups x classes on a terminal until the rollout ends or Ctrl-C;
// in a pipe or with --json it prints one snapshot (with --json --watch: one JSON line per interval).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "commands.h"
#include "fleet_cmds.h"
#include "fleet_table.h"
#include "fw/file_io.h"
#include "fw/server/rollout.h"

namespace fw::server {
namespace {

namespace po = cli::po;
using fleet::Json;

constexpr uint64_t kMaxSpecBytes = 64 * 1024;  // as the server (fw/server/rollout.h)

std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted = true; }

// The spec file ("-": stdin) as JSON; a repeated key anywhere is refused here (the server's parser
// would see only one of them after this re-serialisation). Bad content is kCorrupt (exit 3, as the
// server's refusal of a bad spec).
Result<Json> ReadSpec(const std::string& path) {
  std::string text;
  if (path == "-") {
    std::ostringstream in;
    in << std::cin.rdbuf();
    text = in.str();
  } else {
    FW_ASSIGN_OR_RETURN(text, ReadFileToString(path, kMaxSpecBytes + 1));
  }
  if (text.size() > kMaxSpecBytes) return Corrupt("--spec " + path + ": the spec exceeds 64 KiB");
  std::vector<std::set<std::string>> keys;  // one per open object
  std::string repeated;
  Json::parser_callback_t cb = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) keys.emplace_back();
    if (event == Json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == Json::parse_event_t::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
        repeated.empty()) {
      repeated = parsed.get<std::string>();
    }
    return true;
  };
  Json j = Json::parse(text, cb, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corrupt("--spec " + path + ": not a JSON object");
  if (!repeated.empty()) return Corrupt("--spec " + path + ": key \"" + repeated + "\" given twice");
  return j;
}

std::string Counter(const Json& group, const std::string& name) {
  const Json c = group.value("counters", Json::object());
  return c.is_object() && c.contains(name) ? fleet::Cell(c[name]) : "0";
}

// The rollout's state lines and its groups x classes table (the live view's frame).
std::string RolloutText(const Json& v) {
  std::string out = "rollout " + fleet::Cell(v.value("id", Json())) + "  " + fleet::Sanitize(v.value("name", "")) +
                    "  -> " + fleet::Cell(v.value("target", Json::object()).value("name", Json())) + " (" +
                    fleet::Cell(v.value("target", Json::object()).value("version", Json())) + ")\n";
  out += "state " + fleet::Sanitize(v.value("state", "?"));
  if (v.value("state", "") == "paused") {
    out += " (" + fleet::Sanitize(v.value("pause_kind", "")) + "): " + fleet::Sanitize(v.value("pause_reason", ""));
  }
  out += "\ncurrent group " + fleet::Cell(v.value("current_group", Json())) + ", started " +
         fleet::Cell(v.value("started", Json()), true) + ", updated " + fleet::Cell(v.value("updated", Json()), true);
  if (v.value("revert_rollout", 0) != 0) out += ", reverted by rollout " + fleet::Cell(v["revert_rollout"]);
  if (v.value("revert_of", 0) != 0) out += ", reverts rollout " + fleet::Cell(v["revert_of"]);
  out += "\n";
  fleet::Table t;
  t.headers = {"GROUP", "STATE", "MEMBERS", "ASSIGNED", "SUCCEEDED"};
  for (const char* c : rollout::kClasses) t.headers.push_back(c);
  t.headers.insert(t.headers.end(), {"NO_RESPONSE", "SKIPPED"});
  const Json groups = v.value("groups", Json::array());
  for (const Json& g : groups.is_array() ? groups : Json::array()) {
    if (!g.is_object()) continue;
    std::vector<std::string> row = {fleet::Cell(g.value("index", Json())) + ":" + fleet::Sanitize(g.value("name", "")),
                                    fleet::Sanitize(g.value("state", "")), fleet::Cell(g.value("members", Json())),
                                    Counter(g, "assigned"), Counter(g, "succeeded")};
    for (const char* c : rollout::kClasses) row.push_back(Counter(g, std::string("failed:") + c));
    row.push_back(Counter(g, "no_response"));
    row.push_back(Counter(g, "skipped"));
    t.rows.push_back(std::move(row));
  }
  return out + fleet::Render(t);
}

bool Finished(const Json& v) {
  const std::string state = v.value("state", "");
  return state == "stopped" || state == "finished";
}

std::string IdText(const po::variables_map& vm) { return std::to_string(vm["id"].as<int64_t>()); }

int Create(const cli::Invocation& inv) {
  auto spec = ReadSpec(inv.vm["spec"].as<std::string>());
  if (!spec.ok()) return fleet::FailNoReply(inv, spec.status());
  return fleet::WithSession(inv, [&](fleet::Session& s) -> int {
    auto j = s.client().Post("/v1/rollouts", *spec);
    if (!j.ok()) return s.Fail(j.status());
    return s.Emit(*j, RolloutText(*j));
  });
}

int Operation(const cli::Invocation& inv, const std::string& op) {
  return fleet::WithSession(inv, [&](fleet::Session& s) -> int {
    Json body = Json::object();
    if (auto reason = cli::OptionalString(inv.vm, "reason")) body["reason"] = *reason;
    if (inv.vm.count("revert")) body["revert"] = true;
    auto j = s.client().Post("/v1/rollouts/" + IdText(inv.vm) + "/" + op, body);
    if (!j.ok()) return s.Fail(j.status());
    return s.Emit(*j, RolloutText(*j));
  });
}

// size: the three ways of showing (snapshot, JSON lines, live terminal view) share the loop
int Show(const cli::Invocation& inv) {
  const bool watch = inv.vm.count("watch") > 0;
  const int64_t interval = inv.vm["interval"].as<int64_t>();
  const bool live = watch && !inv.json && isatty(STDOUT_FILENO) == 1;
  return fleet::WithSession(inv, [&](fleet::Session& s) -> int {
    const std::string path = "/v1/rollouts/" + IdText(inv.vm);
    g_interrupted = false;
    if (live || (watch && inv.json)) std::signal(SIGINT, OnInterrupt);
    while (true) {
      auto j = s.client().Get(path);
      if (!j.ok()) return s.Fail(j.status());
      if (!watch) return s.Emit(*j, RolloutText(*j));
      if (inv.json) {
        std::cout << j->dump(-1, ' ', false, Json::error_handler_t::replace) << std::endl;
      } else if (live) {
        std::cout << "\033[H\033[2J" << RolloutText(*j) << "\nevery " << interval << " s; Ctrl-C to quit\n"
                  << std::flush;
      } else {
        return s.Emit(*j, RolloutText(*j));  // not a terminal: one snapshot
      }
      if (Finished(*j)) return cli::kExitOk;
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(interval);
      while (!g_interrupted && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (g_interrupted) return cli::kExitOk;
    }
  });
}

int List(const cli::Invocation& inv) {
  return fleet::WithSession(inv, [&](fleet::Session& s) -> int {
    auto j = s.client().List("/v1/rollouts", {{"limit", fleet::Number(inv.vm, "limit")}}, inv.vm.count("all") > 0,
                             cli::OptionalString(inv.vm, "cursor"));
    if (!j.ok()) return s.Fail(j.status());
    if (!s.json() && !(*j)["next_cursor"].is_null()) {
      std::cerr << "more: --cursor " << fleet::Sanitize((*j)["next_cursor"].get<std::string>()) << " (or --all)\n";
    }
    return s.Emit(*j, fleet::Render(fleet::ColumnsTable((*j)["items"], {{"ID", "id"},
                                                                        {"NAME", "name"},
                                                                        {"TARGET", "target.name"},
                                                                        {"VERSION", "target.version"},
                                                                        {"STATE", "state"},
                                                                        {"PAUSE", "pause_kind"},
                                                                        {"GROUP", "current_group"},
                                                                        {"UPDATED", "updated"}})));
  });
}

int Members(const cli::Invocation& inv) {
  return fleet::WithSession(inv, [&](fleet::Session& s) -> int {
    auto j = s.client().List("/v1/rollouts/" + IdText(inv.vm) + "/members",
                             {{"group", cli::OptionalString(inv.vm, "group")},
                              {"state", cli::OptionalString(inv.vm, "state")},
                              {"limit", fleet::Number(inv.vm, "limit")}},
                             inv.vm.count("all") > 0, cli::OptionalString(inv.vm, "cursor"));
    if (!j.ok()) return s.Fail(j.status());
    if (!s.json() && !(*j)["next_cursor"].is_null()) {
      std::cerr << "more: --cursor " << fleet::Sanitize((*j)["next_cursor"].get<std::string>()) << " (or --all)\n";
    }
    return s.Emit(*j, fleet::Render(fleet::ColumnsTable((*j)["items"], {{"SERIAL", "serial"},
                                                                        {"GROUP", "group"},
                                                                        {"STATE", "state"},
                                                                        {"ACTION", "action"},
                                                                        {"CLASS", "failure_class"},
                                                                        {"FROM", "from_version"},
                                                                        {"DETAIL", "detail", 60}})));
  });
}

void IdOption(po::options_description& o, po::positional_options_description& p) {
  o.add_options()("id", cli::Int<int64_t>(1)->required(), "the rollout's id");
  p.add("id", 1);
}

void PageOptions(po::options_description& o) {
  o.add_options()("limit", cli::Int<int64_t>(1, 500), "items per page (1-500)")(
      "cursor", po::value<std::string>(), "continue from this page (next_cursor)")("all", "follow every page");
}

Status CheckPages(const po::variables_map& vm) {
  if (vm.count("cursor") && vm.count("all")) return InvalidArgument("--cursor and --all do not go together");
  return Status::Ok();
}

}  // namespace

// size: one table of subcommands and their options
void AddRolloutCommands(cli::Program& p) {
  p.commands.push_back(fleet::Command(
      "rollout create", "create a rollout from a spec (docs/fleet-rollouts.md); it starts with 'rollout start'",
      "--spec FILE|-",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()("spec", po::value<std::string>()->required(), "the spec JSON file, - for stdin (<= 64 KiB)");
      },
      Create));
  struct Op {
    const char* name;
    const char* summary;
    bool reason_required;
  };
  for (const Op& op : {Op{"start", "freeze the membership and start assigning (operator)", false},
                       Op{"pause", "pause: no more assignments; open actions before the trial are canceled", true},
                       Op{"resume", "resume a paused rollout (approver unless an operator paused it)", true},
                       Op{"stop", "stop for good (--revert: roll the updated members back)", true},
                       Op{"approve", "approve the next group after a pause for approval (approver)", true}}) {
    const std::string name = op.name;
    const bool stop = name == "stop";
    const bool required = op.reason_required;
    p.commands.push_back(fleet::Command(
        "rollout " + name, op.summary,
        std::string("ID") + (required ? " --reason TEXT" : " [--reason TEXT]") + (stop ? " [--revert]" : ""),
        [stop](po::options_description& o, po::positional_options_description& pos) {
          IdOption(o, pos);
          o.add_options()("reason", po::value<std::string>(), "why (1-512 bytes; recorded in the audit log)");
          if (stop) o.add_options()("revert", "make a revert rollout for the members already updated");
        },
        [name](const cli::Invocation& inv) { return Operation(inv, name); },
        [required](const po::variables_map& vm) -> Status {
          if (!vm.count("reason")) return required ? InvalidArgument("--reason is required: say why") : Status::Ok();
          const std::string reason = vm["reason"].as<std::string>();
          if (reason.empty() || reason.size() > 512) return InvalidArgument("--reason must be 1-512 bytes");
          return Status::Ok();
        }));
  }
  p.commands.push_back(fleet::Command(
      "rollout show", "a rollout: state, pause reason, groups x classes (--watch: live on a terminal)",
      "ID [--watch] [--interval S]",
      [](po::options_description& o, po::positional_options_description& pos) {
        IdOption(o, pos);
        o.add_options()("watch", "redraw every --interval until the rollout stops or finishes (Ctrl-C quits)")(
            "interval", cli::Int<int64_t>(1, 3600)->default_value(2), "seconds between redraws (1-3600)");
      },
      Show));
  p.commands.push_back(fleet::Command(
      "rollout list", "list rollouts", "[--limit N] [--cursor C | --all]",
      [](po::options_description& o, po::positional_options_description&) { PageOptions(o); }, List, CheckPages));
  p.commands.push_back(fleet::Command(
      "rollout members", "a rollout's members with their state, action and failure class",
      "ID [--group G] [--state S] [--limit N] [--cursor C | --all]",
      [](po::options_description& o, po::positional_options_description& pos) {
        IdOption(o, pos);
        o.add_options()("group", po::value<std::string>(), "a group's index or name")(
            "state", po::value<std::string>(),
            "waiting | assigned | retry_wait | succeeded | failed | no_response | skipped");
        PageOptions(o);
      },
      Members, CheckPages));
}

}  // namespace fw::server
