// fwfleet's device-side commands (fleet_cmds.h): devices, device, actions, action, labels, label,
// quarantine, release, revoke, re-enrol, journal.
#include <sys/stat.h>

#include <iostream>

#include "fleet_cmds.h"
#include "fleet_table.h"
#include "fw/file_io.h"

namespace fw::fleet {
namespace {

namespace po = cli::po;
using Params = std::vector<std::pair<std::string, std::optional<std::string>>>;

constexpr uint64_t kMaxSegmentBytes = 64 << 20;

std::string Seg(const po::variables_map& vm, const char* name) { return PercentEncode(vm[name].as<std::string>()); }

std::optional<std::string> When(const po::variables_map& vm, const char* name) {
  if (!vm.count(name)) return std::nullopt;
  auto t = ParseWhen(name, vm[name].as<std::string>());
  return t.ok() ? std::optional<std::string>(std::to_string(*t)) : std::nullopt;
}

void ListOptions(po::options_description& o) {
  o.add_options()("limit", cli::Int<int64_t>(1, 500), "items per page (1-500; the server's default 100)")(
      "all", "fetch every page (follows next_cursor)")("cursor", po::value<std::string>(),
                                                       "start at this page (a next_cursor printed before)");
}

// A list as a table; the next page's cursor on stderr.
int EmitList(Session& s, const Json& list, const std::vector<Column>& columns) {
  if (!s.json() && !list["next_cursor"].is_null()) {
    std::cerr << "more: --cursor " << Sanitize(list["next_cursor"].get<std::string>()) << " (or --all)\n";
  }
  return s.Emit(list, Render(ColumnsTable(list["items"], columns)));
}

const std::vector<Column>& DeviceColumns() {
  static const std::vector<Column> c = {
      {"SERIAL", "serial"},       {"STATE", "state"},   {"HARDWARE", "hardware_id"}, {"VERSION", "version"},
      {"LAST SEEN", "last_seen"}, {"LABELS", "labels"}, {"REASON", "reason", 40}};
  return c;
}

const std::vector<Column>& ActionColumns() {
  static const std::vector<Column> c = {{"ID", "id"},          {"DEVICE", "device"},   {"KIND", "kind"},
                                        {"TARGET", "target"},  {"VERSION", "version"}, {"TYPE", "type"},
                                        {"STATE", "state"},    {"ATTEMPT", "attempt"}, {"CANCEL", "cancel_requested"},
                                        {"UPDATED", "updated"}};
  return c;
}

int Devices(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const auto& vm = inv.vm;
    Params params = {{"label", cli::OptionalString(vm, "label")},
                     {"hardware", cli::OptionalString(vm, "hardware")},
                     {"version", cli::OptionalString(vm, "version")},
                     {"state", cli::OptionalString(vm, "state")},
                     {"seen_after", When(vm, "seen-after")},
                     {"seen_before", When(vm, "seen-before")},
                     {"limit", Number(vm, "limit")}};
    auto list = s.client().List("/v1/devices", params, vm.count("all") > 0, cli::OptionalString(vm, "cursor"));
    if (!list.ok()) return s.Fail(list.status());
    return EmitList(s, *list, DeviceColumns());
  });
}

Status CheckDevices(const po::variables_map& vm) {
  for (const char* name : {"seen-after", "seen-before"}) {
    if (vm.count(name)) FW_RETURN_IF_ERROR(ParseWhen(name, vm[name].as<std::string>()).status());
  }
  if (vm.count("state")) {
    const std::string st = vm["state"].as<std::string>();
    if (st != "active" && st != "quarantined" && st != "revoked") {
      return InvalidArgument("--state must be active, quarantined or revoked");
    }
  }
  return Status::Ok();
}

int DeviceShow(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    auto j = s.client().Get("/v1/devices/" + Seg(inv.vm, "serial"));
    if (!j.ok()) return s.Fail(j.status());
    return s.Emit(*j, Describe(*j));
  });
}

int Actions(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const auto& vm = inv.vm;
    Params params = {{"device", cli::OptionalString(vm, "device")},
                     {"state", cli::OptionalString(vm, "state")},
                     {"open", vm.count("open") ? std::optional<std::string>("true") : std::nullopt},
                     {"limit", Number(vm, "limit")}};
    auto list = s.client().List("/v1/actions", params, vm.count("all") > 0, cli::OptionalString(vm, "cursor"));
    if (!list.ok()) return s.Fail(list.status());
    return EmitList(s, *list, ActionColumns());
  });
}

int ActionShow(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    auto j = s.client().Get("/v1/actions/" + std::to_string(inv.vm["id"].as<int64_t>()));
    if (!j.ok()) return s.Fail(j.status());
    return s.Emit(*j, Describe(*j));
  });
}

ActionOptions ActionOptionsFrom(const po::variables_map& vm) {
  return ActionOptions{vm["kind"].as<std::string>(),        cli::OptionalString(vm, "target"),
                       cli::OptionalString(vm, "type"),     cli::OptionalString(vm, "window"),
                       cli::OptionalString(vm, "deadline"), vm.count("no-backup") > 0};
}

int ActionCreate(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    auto body = ActionBody(ActionOptionsFrom(inv.vm));
    if (!body.ok()) return s.Fail(body.status());
    auto j = s.client().Post("/v1/devices/" + Seg(inv.vm, "serial") + "/actions", *body);
    if (!j.ok()) return s.Fail(j.status());
    const Json& a = *j;
    std::string human = "action " + Cell(a.value("id", Json())) + " created: " + Cell(a.value("kind", Json()));
    if (a.contains("target") && a["target"].is_string() && !a["target"].get<std::string>().empty()) {
      human += " " + Cell(a["target"]) + " " + Cell(a.value("version", Json()));
    }
    human += " on " + Cell(a.value("device", Json())) + " (" + Cell(a.value("type", Json())) + ", " +
             Cell(a.value("state", Json())) + ")\n";
    return s.Emit(a, human);
  });
}

int ActionCancel(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const std::string id = std::to_string(inv.vm["id"].as<int64_t>());
    auto j = s.client().Post("/v1/actions/" + id + "/cancel", Json{{"reason", inv.vm["reason"].as<std::string>()}});
    if (!j.ok()) return s.Fail(j.status());
    const bool done = j->value("done", false);
    return s.Emit(*j, "action " + id + (done ? " canceled\n" : ": cancel requested (sent at the next check-in)\n"));
  });
}

int Labels(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    auto j = s.client().Get("/v1/labels");
    if (!j.ok()) return s.Fail(j.status());
    const Json items = j->is_object() && j->contains("items") ? (*j)["items"] : *j;
    if (!items.is_array()) return s.Fail(Corrupt("GET /v1/labels: not a list of labels"));
    return s.Emit(*j, Render(ColumnsTable(items, {{"LABEL", "label"}, {"DEVICES", "devices"}})));
  });
}

int LabelChange(const cli::Invocation& inv, const std::string& method) {
  return WithSession(inv, [&](Session& s) -> int {
    const std::string serial = inv.vm["serial"].as<std::string>(), label = inv.vm["label"].as<std::string>();
    auto r = s.client().Send(method, "/v1/devices/" + PercentEncode(serial) + "/labels/" + PercentEncode(label));
    if (!r.ok()) return s.Fail(r.status());
    const Json doc = r->json.is_null() ? Json{{"ok", true}, {"serial", serial}, {"label", label}} : r->json;
    return s.Emit(doc, "device " + Sanitize(serial) + ": label " + Sanitize(label) +
                           (method == "PUT" ? " added\n" : " removed\n"));
  });
}

int DeviceDecision(const cli::Invocation& inv, const std::string& verb) {
  return WithSession(inv, [&](Session& s) -> int {
    const std::string serial = inv.vm["serial"].as<std::string>();
    auto j = s.client().Post("/v1/devices/" + PercentEncode(serial) + "/" + verb,
                             Json{{"reason", inv.vm["reason"].as<std::string>()}});
    if (!j.ok()) return s.Fail(j.status());
    const Json state = j->contains("state") ? (*j)["state"] : Json(verb + "d");
    return s.Emit(*j, "device " + Sanitize(serial) + ": " + Cell(state) + "\n");
  });
}

// Prints a token the server shows once: the token alone on stdout, the rest on stderr.
int EmitOnce(Session& s, const Json& j, const std::string& what) {
  if (!j.contains("token") || !j["token"].is_string()) return s.Fail(Corrupt("the server's answer holds no token"));
  if (s.json()) return s.Emit(j, "");
  std::cout << Sanitize(j["token"].get<std::string>()) << std::endl;
  std::cerr << what << ", expires " << Cell(j.value("expires", Json()), true)
            << " (shown once: only its hash is stored)\n";
  return cli::kExitOk;
}

int ReEnrol(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const std::string serial = inv.vm["serial"].as<std::string>();
    Json body = Json::object();
    if (inv.vm.count("expires-in"))
      body["expires_in"] = *ParseDuration("expires-in", inv.vm["expires-in"].as<std::string>());
    auto j = s.client().Post("/v1/devices/" + PercentEncode(serial) + "/re-enrol", body);
    if (!j.ok()) return s.Fail(j.status());
    return EmitOnce(s, *j, "re-enrolment token for " + Sanitize(serial) + " (its next enrolment replaces its key)");
  });
}

int Journal(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const auto& vm = inv.vm;
    const std::string base = "/v1/devices/" + Seg(vm, "serial") + "/journal";
    if (!vm.count("segment")) {
      auto j = s.client().Get(base);
      if (!j.ok()) return s.Fail(j.status());
      return s.Emit(*j, Describe(*j));
    }
    auto range = *ParseSegmentRange(vm["segment"].as<std::string>());
    auto out = cli::OptionalString(vm, "output");
    if (out && !vm.count("force")) {
      struct stat st {};
      if (::stat(out->c_str(), &st) == 0) return s.Fail(FailedPrecondition(*out + " exists (use --force)"));
    }
    auto r =
        s.client().Send("GET", base + "/segments/" + std::to_string(range.first) + "-" + std::to_string(range.second),
                        nullptr, kMaxSegmentBytes);
    if (!r.ok()) return s.Fail(r.status());
    if (!out) {
      std::cout << r->body << std::flush;
      return cli::kExitOk;
    }
    // Journal segments are cardholder data (masked): the copy is private to its owner.
    if (Status w = WriteFileAtomic(*out, r->body, 0600); !w.ok()) return s.Fail(w);
    return s.Emit(Json{{"ok", true}, {"file", *out}, {"bytes", r->body.size()}},
                  "segment " + vm["segment"].as<std::string>() + ": " + std::to_string(r->body.size()) +
                      " bytes written to " + *out + " (mode 0600)\n");
  });
}

Status CheckJournal(const po::variables_map& vm) {
  if (vm.count("segment")) return ParseSegmentRange(vm["segment"].as<std::string>()).status();
  if (vm.count("output")) return InvalidArgument("--output needs --segment FIRST-LAST");
  return Status::Ok();
}

Options Serial(Options more = nullptr) {
  return [more](po::options_description& o, po::positional_options_description& p) {
    o.add_options()("serial", po::value<std::string>()->required(), "the device's serial");
    p.add("serial", 1);
    if (more) more(o, p);
  };
}

Options Reason() {
  return Serial([](po::options_description& o, po::positional_options_description&) {
    o.add_options()("reason", po::value<std::string>()->required(), "why (recorded in the audit log)");
  });
}

// size: the option table of the device commands, one entry each
void AddActionCommands(cli::Program& p) {
  p.commands.push_back(Command(
      "actions", "list actions (filters: --device, --state, --open)", "[options]",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()("device", po::value<std::string>(), "of this serial")(
            "state", po::value<std::string>(), "in this state (e.g. downloading)")("open",
                                                                                   "only actions not closed yet");
        ListOptions(o);
      },
      Actions));
  auto id = [](po::options_description& o, po::positional_options_description& pos) {
    o.add_options()("id", cli::Int<int64_t>(1)->required(), "the action's id");
    pos.add("id", 1);
  };
  p.commands.push_back(Command("action show", "one action with its event timeline", "[options] ID", id, ActionShow));
  p.commands.push_back(Command(
      "action create", "give a device an action (install, rollback, journal_backup); the plan checks apply",
      "[options] SERIAL --kind KIND [--target T]",
      Serial([](po::options_description& o, po::positional_options_description&) {
        o.add_options()("kind", po::value<std::string>()->required(), "install, rollback or journal_backup")(
            "target", po::value<std::string>(), "repository target name (install: required)")(
            "type", po::value<std::string>(), "forced, soft, time-forced or download-only (server default: forced)")(
            "window", po::value<std::string>(), "install window HH:MM-HH:MM, terminal local time")(
            "deadline", po::value<std::string>(), "Unix seconds or YYYY-MM-DDTHH:MM:SSZ")(
            "no-backup", "do not require a journal backup first (approver role)");
      }),
      ActionCreate, [](const po::variables_map& vm) { return ActionBody(ActionOptionsFrom(vm)).status(); }));
  p.commands.push_back(Command(
      "action cancel", "request a cancel (sent at the next check-in)", "[options] ID --reason TEXT",
      [id](po::options_description& o, po::positional_options_description& pos) {
        id(o, pos);
        o.add_options()("reason", po::value<std::string>()->required(), "why (recorded in the audit log)");
      },
      ActionCancel));
}

}  // namespace

// size: the option table of the device commands, one entry each
void AddDeviceCommands(cli::Program& p) {
  p.commands.push_back(Command(
      "devices", "list terminals (filters: label, hardware, version, state, last seen)", "[options]",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()("label", po::value<std::string>(), "with this label")("hardware", po::value<std::string>(),
                                                                              "with this hardware id")(
            "version", po::value<std::string>(), "running this version")("state", po::value<std::string>(),
                                                                         "active, quarantined or revoked")(
            "seen-after", po::value<std::string>(), "last seen after (Unix seconds or YYYY-MM-DDTHH:MM:SSZ)")(
            "seen-before", po::value<std::string>(), "last seen before (same forms)");
        ListOptions(o);
      },
      Devices, CheckDevices));
  p.commands.push_back(Command("device", "one terminal: manifest, labels, witness findings, certificates",
                               "[options] SERIAL", Serial(), DeviceShow));
  AddActionCommands(p);
  p.commands.push_back(Command("labels", "labels in use, with their device counts", "[options]", nullptr, Labels));
  auto label = Serial([](po::options_description& o, po::positional_options_description& pos) {
    o.add_options()("label", po::value<std::string>()->required(), "the label");
    pos.add("label", 1);
  });
  p.commands.push_back(Command("label add", "label a device", "[options] SERIAL LABEL", label,
                               [](const cli::Invocation& inv) { return LabelChange(inv, "PUT"); }));
  p.commands.push_back(Command("label remove", "remove a device's label", "[options] SERIAL LABEL", label,
                               [](const cli::Invocation& inv) { return LabelChange(inv, "DELETE"); }));
  p.commands.push_back(Command("quarantine", "quarantine a device (operator)", "[options] SERIAL --reason TEXT",
                               Reason(), [](const cli::Invocation& inv) { return DeviceDecision(inv, "quarantine"); }));
  p.commands.push_back(Command("release", "release a quarantined device (approver)", "[options] SERIAL --reason TEXT",
                               Reason(), [](const cli::Invocation& inv) { return DeviceDecision(inv, "release"); }));
  p.commands.push_back(Command("revoke", "revoke a device and deny-list its certificates (admin)",
                               "[options] SERIAL --reason TEXT", Reason(),
                               [](const cli::Invocation& inv) { return DeviceDecision(inv, "revoke"); }));
  p.commands.push_back(
      Command("re-enrol", "a token that lets an existing serial enrol again with a new key (admin)", "[options] SERIAL",
              Serial([](po::options_description& o, po::positional_options_description&) {
                o.add_options()("expires-in", po::value<std::string>(), "token lifetime: N seconds, Nm, Nh or Nd");
              }),
              ReEnrol, CheckExpiresIn));
  p.commands.push_back(
      Command("journal", "a device's journal witness and segments; --segment downloads one (journal_read right)",
              "[options] SERIAL [--segment FIRST-LAST -o FILE]",
              Serial([](po::options_description& o, po::positional_options_description&) {
                o.add_options()("segment", po::value<std::string>(), "download the segment FIRST-LAST (JSON lines)")(
                    "output,o", po::value<std::string>(), "write it to FILE (mode 0600) instead of stdout")(
                    "force", "overwrite FILE");
              }),
              Journal, CheckJournal));
}

}  // namespace fw::fleet
