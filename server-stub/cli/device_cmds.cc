// fwserver's device-side operator commands (api component): enrolment tokens, actions and
// devices, on the data directory's store (data_store.h; docs/fleet-protocol.md; the operator HTTP API is a later
// issue). Exit codes: docs/exit-codes.md (2 usage, 4 no store / no such device, 5 refused by state).
// Every command that writes appends its audit row (fw/server/audit.h, actor CliActor()) in the
// same transaction as the change.
#include <ctime>
#include <iostream>

#include "commands.h"
#include "data_store.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/config.h"
#include "fw/server/device_messages.h"
#include "fw/server/fleet_server.h"
#include "fw/server/operator_json.h"
#include "fw/server/rollout.h"
#include "fw/server/store.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;

void DataOption(cli::po::options_description& o) {
  o.add_options()("data", cli::po::value<std::string>()->required(),
                  "the server's data directory (its fwserver.json names the database)");
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// JSON text for an audit row (bytes that are not UTF-8, e.g. in a device's detail, replaced).
std::string AuditText(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Unix seconds, or ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ".
Result<int64_t> ParseTime(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 12) {
    return static_cast<int64_t>(std::stoll(text));
  }
  std::tm tm{};
  char z = 0;
  if (text.size() == 20 &&
      std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &z) == 7 &&
      z == 'Z') {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<int64_t>(timegm(&tm));
  }
  return InvalidArgument("--deadline '" + text + "' is neither Unix seconds nor YYYY-MM-DDTHH:MM:SSZ");
}

Json DeviceJson(const Device& d) {
  return Json{{"serial", d.serial},       {"spki_sha256", d.spki_sha256_hex}, {"state", DeviceStateName(d.state)},
              {"reason", d.state_reason}, {"created", d.created_s},           {"last_seen", d.last_seen_s}};
}

void PrintAction(const Action& a) {
  std::cout << a.id << "  " << a.device_serial << "  " << a.kind;
  if (!a.target_name.empty()) std::cout << " " << a.target_name << " " << a.target_version;
  std::cout << "  " << a.type << "  " << a.state << (a.cancel_requested ? " (cancel requested)" : "")
            << (a.failure_class.empty() ? "" : " {" + a.failure_class + "}") << "\n";
}

int TokenCreate(const cli::Invocation& inv) {
  const std::string serial = inv.vm["serial"].as<std::string>();
  if (!IsValidSerial(serial)) return cli::Fail(inv, InvalidArgument("--serial must be 1-64 of [A-Za-z0-9._-]"));
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  auto device = (*store)->GetDevice(serial);
  if (!device.ok()) return cli::Fail(inv, device.status());
  if (device->has_value() && (*device)->state == DeviceState::kRevoked) {
    return cli::Fail(inv, FailedPrecondition("device " + serial + " is revoked"));
  }
  auto random = RandomBytes(32);
  if (!random.ok()) return cli::Fail(inv, random.status());
  const std::string token = HexEncode(*random);
  const int64_t now = Now(), expires = now + inv.vm["expires-in"].as<int64_t>();
  const std::string hash = HexEncode(Sha256::Of(AsBytes(token)));
  Status s = (*store)->Atomically([&]() -> Status {
    FW_RETURN_IF_ERROR((*store)->AddEnrolToken({hash, serial, now, expires, std::nullopt}));
    const Json after{{"serial", serial},
                     {"expires", expires},
                     {"hash_prefix", hash.substr(0, 12)},
                     {"re_enrol", device->has_value()}};
    return Record(**store, now, CliActor(), "enrol_token.create", "enrol_token:" + hash.substr(0, 12), "null",
                  AuditText(after))
        .status();
  });
  if (!s.ok()) return cli::Fail(inv, s);
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"serial", serial}, {"token", token}, {"expires", expires}});
  } else {
    std::cout << token << "\n";
    std::cerr << "enrolment token for " << serial << ", single use, expires " << IsoTimeUtc(expires)
              << " (shown once: only its hash is stored)\n";
  }
  return cli::kExitOk;
}

Status CheckActionOptions(const cli::po::variables_map& vm) {
  const std::string kind = vm["kind"].as<std::string>();
  if (kind != "install" && kind != "rollback" && kind != "journal_backup") {
    return InvalidArgument("--kind must be install, rollback or journal_backup");
  }
  const bool target = vm.count("target") > 0 && vm.count("version") > 0;
  if (kind != "journal_backup" && !target) return InvalidArgument("--kind " + kind + " needs --target and --version");
  if (kind == "journal_backup" && (vm.count("target") || vm.count("version"))) {
    return InvalidArgument("--kind journal_backup takes no --target/--version");
  }
  const std::string type = vm["type"].as<std::string>();
  if (type != "forced" && type != "soft" && type != "time-forced" && type != "download-only") {
    return InvalidArgument("--type must be forced, soft, time-forced or download-only");
  }
  if (vm.count("window") && !IsValidWindow(vm["window"].as<std::string>())) {
    return InvalidArgument("--window must be HH:MM-HH:MM (terminal local time, start != end)");
  }
  if (vm.count("deadline")) return ParseTime(vm["deadline"].as<std::string>()).status();
  for (const char* name : {"target", "version"}) {
    if (vm.count(name) && (vm[name].as<std::string>().empty() || vm[name].as<std::string>().size() > kMaxNameBytes)) {
      return InvalidArgument(std::string("--") + name + " must be 1-128 bytes");
    }
  }
  return Status::Ok();
}

int ActionCreate(const cli::Invocation& inv) {
  const auto& vm = inv.vm;
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  Action a;
  a.device_serial = vm["device"].as<std::string>();
  auto device = (*store)->GetDevice(a.device_serial);
  if (!device.ok()) return cli::Fail(inv, device.status());
  if (!device->has_value()) return cli::Fail(inv, NotFound("no device " + a.device_serial));
  if ((*device)->state != DeviceState::kActive) {
    return cli::Fail(
        inv, FailedPrecondition("device " + a.device_serial + " is " + std::string(DeviceStateName((*device)->state))));
  }
  a.kind = vm["kind"].as<std::string>();
  a.target_name = cli::OptionalString(vm, "target").value_or("");
  a.target_version = cli::OptionalString(vm, "version").value_or("");
  a.type = vm["type"].as<std::string>();
  a.window = cli::OptionalString(vm, "window").value_or("");
  a.deadline_s = vm.count("deadline") ? *ParseTime(vm["deadline"].as<std::string>()) : 0;
  a.backup_required = vm.count("no-backup-required") == 0;
  a.created_s = a.updated_s = Now();
  Status s = (*store)->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(a.id, (*store)->CreateAction(a));
    return Record(**store, a.created_s, CliActor(), "action.create", "action:" + std::to_string(a.id), "null",
                  AuditText(ops::ActionJson(a)))
        .status();
  });
  if (!s.ok()) return cli::Fail(inv, s);
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"action", ops::ActionJson(a)}});
  } else {
    std::cout << "action " << a.id << " created\n";
  }
  return cli::kExitOk;
}

int ActionCancel(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  const int64_t id = inv.vm["id"].as<int64_t>();
  Action result;
  Status s = (*store)->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto a, (*store)->GetAction(id));
    if (!a) return NotFound("no action " + std::to_string(id));
    if (a->done) return FailedPrecondition("action " + std::to_string(id) + " is closed (" + a->state + ")");
    if (a->state == "trial_set" || a->state == "rebooting" || a->state == "confirmed") {
      return FailedPrecondition("action " + std::to_string(id) + " is past the trial (" + a->state +
                                "): cancels are honoured only until the trial is set");
    }
    const Json before = ops::ActionJson(*a);
    if (a->attempt == 0) {
      a->state = "canceled";  // never reported on: nothing to tell the terminal beyond dropping it
      a->done = true;
    }
    a->cancel_requested = true;
    a->updated_s = Now();
    result = *a;
    FW_RETURN_IF_ERROR((*store)->UpdateAction(*a));
    FW_RETURN_IF_ERROR(Record(**store, a->updated_s, CliActor(), "action.cancel", "action:" + std::to_string(id),
                              AuditText(before), AuditText(ops::ActionJson(*a)))
                           .status());
    if (!a->done || a->rollout_id == 0) return Status::Ok();
    // Closed at once: its rollout member moves in this transaction, with the server's alert policy.
    FW_ASSIGN_OR_RETURN(auto config, LoadConfig(inv.vm["data"].as<std::string>()));
    const AlertPolicy alerts = MakeAlertPolicy(config);
    rollout::Context ctx;
    ctx.alerts = &alerts;
    return rollout::OnActionClosed(**store, ctx, *a, a->updated_s);
  });
  if (!s.ok()) return cli::Fail(inv, s);
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"action", ops::ActionJson(result)}});
  } else {
    std::cout << "action " << id << (result.done ? " canceled\n" : ": cancel requested (sent at the next check-in)\n");
  }
  return cli::kExitOk;
}

int ActionList(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  auto device = cli::OptionalString(inv.vm, "device");
  auto actions = device ? (*store)->ListActions(*device, inv.vm.count("open") > 0) : (*store)->ListAllActions();
  if (!actions.ok()) return cli::Fail(inv, actions.status());
  Json out = Json::array();
  for (const auto& a : *actions) {
    if (inv.vm.count("open") && a.done) continue;
    if (inv.json) {
      out.push_back(ops::ActionJson(a));
    } else {
      PrintAction(a);
    }
  }
  if (inv.json) cli::PrintJson({{"ok", true}, {"actions", out}});
  return cli::kExitOk;
}

int DeviceList(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  auto devices = (*store)->ListDevices();
  if (!devices.ok()) return cli::Fail(inv, devices.status());
  Json out = Json::array();
  for (const auto& d : *devices) {
    if (inv.json) {
      out.push_back(DeviceJson(d));
    } else {
      std::cout << d.serial << "  " << DeviceStateName(d.state) << "  last seen "
                << (d.last_seen_s ? IsoTimeUtc(d.last_seen_s) : "never") << "\n";
    }
  }
  if (inv.json) cli::PrintJson({{"ok", true}, {"devices", out}});
  return cli::kExitOk;
}

int DeviceShow(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  const std::string serial = inv.vm["serial"].as<std::string>();
  auto d = (*store)->GetDevice(serial);
  if (!d.ok()) return cli::Fail(inv, d.status());
  if (!d->has_value()) return cli::Fail(inv, NotFound("no device " + serial));
  auto certs = (*store)->ListCerts(serial);
  auto actions = (*store)->ListActions(serial, false);
  auto segments = (*store)->ListSegments(serial);
  if (!certs.ok() || !actions.ok() || !segments.ok()) {
    return cli::Fail(inv, !certs.ok() ? certs.status() : !actions.ok() ? actions.status() : segments.status());
  }
  Json j = DeviceJson(**d);
  j["manifest"] = (*d)->manifest_json.empty() ? Json(nullptr) : Json::parse((*d)->manifest_json, nullptr, false);
  j["witness"] = (*d)->witness_state;
  j["certificates"] = Json::array();
  for (const auto& c : *certs) {
    auto denied = (*store)->IsCertDenied(c.cert_serial_hex);
    j["certificates"].push_back({{"serial", c.cert_serial_hex},
                                 {"spki_sha256", c.spki_sha256_hex},
                                 {"not_after", c.not_after_s},
                                 {"revoked", denied.ok() && *denied}});
  }
  j["actions"] = Json::array();
  for (const auto& a : *actions) j["actions"].push_back(ops::ActionJson(a));
  j["segments"] = Json::array();
  for (const auto& s : *segments) {
    j["segments"].push_back({{"first_seq", s.first_seq}, {"last_seq", s.last_seq}, {"sha256", s.sha256_hex}});
  }
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"device", j}});
  } else {
    std::cout << j.dump(2) << "\n";
  }
  return cli::kExitOk;
}

int DeviceRevoke(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  const std::string serial = inv.vm["serial"].as<std::string>();
  const std::string reason = inv.vm["reason"].as<std::string>();
  int denied = 0;
  Status s = (*store)->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto d, (*store)->GetDevice(serial));
    if (!d) return NotFound("no device " + serial);
    const int64_t now = Now();
    FW_RETURN_IF_ERROR((*store)->SetDeviceState(serial, DeviceState::kRevoked, reason));
    FW_ASSIGN_OR_RETURN(auto certs, (*store)->ListCerts(serial));
    Json denied_list = Json::array();
    for (const auto& c : certs) {
      FW_ASSIGN_OR_RETURN(bool already, (*store)->IsCertDenied(c.cert_serial_hex));
      FW_RETURN_IF_ERROR((*store)->DenyCert(c.cert_serial_hex, serial, reason, now));
      if (!already) denied_list.push_back(c.cert_serial_hex);
      ++denied;
    }
    // The same row as the operator API's revoke (fw_server_ops).
    const Json before{{"state", DeviceStateName(d->state)}, {"reason", d->state_reason}};
    const Json after{{"state", "revoked"}, {"reason", reason}, {"why", reason}, {"denied_certificates", denied_list}};
    return Record(**store, now, CliActor(), "device.revoke", "device:" + serial, AuditText(before), AuditText(after))
        .status();
  });
  if (!s.ok()) return cli::Fail(inv, s);
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"serial", serial}, {"state", "revoked"}, {"certificates_denied", denied}});
  } else {
    std::cout << "device " << serial << " revoked; " << denied << " certificate(s) on the deny list\n";
  }
  return cli::kExitOk;
}

}  // namespace

// size: one table of subcommands and their options
void AddDeviceCommands(cli::Program& p) {
  namespace po = cli::po;
  p.commands.push_back({"enrol-token create", "make a single-use enrolment token for one serial (printed once)",
                        "--data DIR --serial S [--expires-in SECONDS]",
                        [](po::options_description& o, po::positional_options_description&) {
                          DataOption(o);
                          o.add_options()("serial", po::value<std::string>()->required(), "the terminal's serial")(
                              "expires-in", cli::Int<int64_t>(60, 90LL * 86400)->default_value(7 * 86400),
                              "seconds until the token expires (60-7776000)");
                        },
                        TokenCreate});
  p.commands.push_back(
      {"action create",
       "give a device an action (install, rollback, journal_backup)",
       "--data DIR --device S --kind K [--target NAME --version V] [--type T] [--window HH:MM-HH:MM] [--deadline T]",
       [](po::options_description& o, po::positional_options_description&) {
         DataOption(o);
         o.add_options()("device", po::value<std::string>()->required(), "the terminal's serial")(
             "kind", po::value<std::string>()->required(), "install | rollback | journal_backup")(
             "target", po::value<std::string>(), "target name (TUF targets path)")("version", po::value<std::string>(),
                                                                                   "target version")(
             "type", po::value<std::string>()->default_value("forced"), "forced | soft | time-forced | download-only")(
             "window", po::value<std::string>(), "maintenance window HH:MM-HH:MM in the terminal's local time")(
             "deadline", po::value<std::string>(), "Unix seconds or YYYY-MM-DDTHH:MM:SSZ")(
             "no-backup-required", "do not require a journal backup before the flash write (default: required)");
       },
       ActionCreate,
       {},
       CheckActionOptions});
  p.commands.push_back({"action cancel", "cancel an action (honoured until the terminal sets the trial)",
                        "--data DIR --id N",
                        [](po::options_description& o, po::positional_options_description&) {
                          DataOption(o);
                          o.add_options()("id", cli::Int<int64_t>(1)->required(), "the action's id");
                        },
                        ActionCancel});
  p.commands.push_back({"action list", "list actions (all, or one device's)", "--data DIR [--device S] [--open]",
                        [](po::options_description& o, po::positional_options_description&) {
                          DataOption(o);
                          o.add_options()("device", po::value<std::string>(), "only this device")(
                              "open", "only actions still open");
                        },
                        ActionList});
  p.commands.push_back({"device list", "list devices with their state and when they were last seen", "--data DIR",
                        [](po::options_description& o, po::positional_options_description&) { DataOption(o); },
                        DeviceList});
  p.commands.push_back({"device show", "one device: binding, manifest, witness, certificates, actions, segments",
                        "--data DIR --serial S",
                        [](po::options_description& o, po::positional_options_description&) {
                          DataOption(o);
                          o.add_options()("serial", po::value<std::string>()->required(), "the terminal's serial");
                        },
                        DeviceShow});
  p.commands.push_back({"device revoke", "revoke a device: every certificate it holds goes on the deny list",
                        "--data DIR --serial S [--reason TEXT]",
                        [](po::options_description& o, po::positional_options_description&) {
                          DataOption(o);
                          o.add_options()("serial", po::value<std::string>()->required(), "the terminal's serial")(
                              "reason", po::value<std::string>()->default_value("revoked by operator"), "why");
                        },
                        DeviceRevoke});
}

}  // namespace fw::server
