// fwfleet's administrative commands (fleet_cmds.h): whoami, tokens, enrol-token, targets, ca,
// audit, alerts.
#include <iostream>

#include "fleet_cmds.h"
#include "fleet_table.h"

namespace fw::fleet {
namespace {

namespace po = cli::po;
using Params = std::vector<std::pair<std::string, std::optional<std::string>>>;

// The items of a list answer: {"items":[...]} or a bare array.
Json ItemsOf(const Json& j) { return j.is_object() && j.contains("items") ? j["items"] : j; }

int Show(const cli::Invocation& inv, const std::string& path) {
  return WithSession(inv, [&](Session& s) -> int {
    auto j = s.client().Get(path);
    if (!j.ok()) return s.Fail(j.status());
    return s.Emit(*j, Describe(*j));
  });
}

int ShowList(const cli::Invocation& inv, const std::string& path, const std::vector<Column>& columns) {
  return WithSession(inv, [&](Session& s) -> int {
    auto j = s.client().Get(path);
    if (!j.ok()) return s.Fail(j.status());
    if (!ItemsOf(*j).is_array()) return s.Fail(Corrupt("GET " + path + ": not a list"));
    return s.Emit(*j, Render(ColumnsTable(ItemsOf(*j), columns)));
  });
}

// A token the server shows once: alone on stdout (for a pipe into a file), the rest on stderr.
int EmitOnce(Session& s, const Json& j, const std::string& what) {
  if (!j.contains("token") || !j["token"].is_string()) return s.Fail(Corrupt("the server's answer holds no token"));
  if (s.json()) return s.Emit(j, "");
  std::cout << Sanitize(j["token"].get<std::string>()) << std::endl;
  std::cerr << what << ", expires " << Cell(j.value("expires", Json()), true)
            << " (shown once: only its hash is stored)\n";
  return cli::kExitOk;
}

std::optional<int64_t> Expires(const po::variables_map& vm) {
  if (!vm.count("expires-in")) return std::nullopt;
  auto d = ParseDuration("expires-in", vm["expires-in"].as<std::string>());
  return d.ok() ? std::optional<int64_t>(*d) : std::nullopt;
}

int TokenCreate(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const auto& vm = inv.vm;
    Json body = {{"name", vm["name"].as<std::string>()},
                 {"role", vm["role"].as<std::string>()},
                 {"journal_read", vm.count("journal-read") > 0}};
    if (auto e = Expires(vm)) body["expires_in"] = *e;
    auto j = s.client().Post("/v1/tokens", body);
    if (!j.ok()) return s.Fail(j.status());
    return EmitOnce(s, *j,
                    "token " + Cell(j->value("id", Json())) + " " + Sanitize(vm["name"].as<std::string>()) + " (" +
                        vm["role"].as<std::string>() + (vm.count("journal-read") ? ", journal_read" : "") + ")");
  });
}

Status CheckTokenCreate(const po::variables_map& vm) {
  const std::string role = vm["role"].as<std::string>();
  if (role != "viewer" && role != "operator" && role != "approver" && role != "admin") {
    return InvalidArgument("--role must be viewer, operator, approver or admin");
  }
  const std::string name = vm["name"].as<std::string>();
  if (name.empty() || name.size() > 64) return InvalidArgument("--name must be 1-64 bytes");
  return CheckExpiresIn(vm);
}

int TokenRevoke(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const std::string id = std::to_string(inv.vm["id"].as<int64_t>());
    auto r = s.client().Send("DELETE", "/v1/tokens/" + id);
    if (!r.ok()) return s.Fail(r.status());
    return s.Emit(r->json.is_null() ? Json{{"ok", true}, {"id", std::stoll(id)}} : r->json,
                  "token " + id + " revoked\n");
  });
}

int EnrolTokenCreate(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const std::string serial = inv.vm["serial"].as<std::string>();
    Json body = {{"serial", serial}};
    if (auto e = Expires(inv.vm)) body["expires_in"] = *e;
    auto j = s.client().Post("/v1/enrol-tokens", body);
    if (!j.ok()) return s.Fail(j.status());
    return EmitOnce(s, *j, "enrolment token for " + Sanitize(serial) + ", single use");
  });
}

int Targets(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    auto j = s.client().Get("/v1/targets");
    if (!j.ok()) return s.Fail(j.status());
    if (!j->is_object() || !j->contains("items") || !(*j)["items"].is_array()) {
      return s.Fail(Corrupt("GET /v1/targets: no items"));
    }
    std::string human = "root version " + Cell(j->value("root_version", Json())) + ", targets version " +
                        Cell(j->value("targets_version", Json())) + ", expires " +
                        Cell(j->value("targets_expires", Json()), true) + "\n";
    human += Render(ColumnsTable((*j)["items"], {{"PATH", "path"},
                                                 {"VERSION", "firmware.version"},
                                                 {"HARDWARE", "firmware.hardware_ids"},
                                                 {"COUNTER", "firmware.security_counter"},
                                                 {"LENGTH", "length"},
                                                 {"SHA256", "sha256", 16}}));
    return s.Emit(*j, human);
  });
}

void MoreHint(Session& s, const Json& list) {
  if (!s.json() && !list["next_cursor"].is_null()) {
    std::cerr << "more: --cursor " << Sanitize(list["next_cursor"].get<std::string>()) << " (or --all)\n";
  }
}

// Alerts with two summary fields for the table: how many attempts were logged, and each
// delivery as WEBHOOK:STATE.
Json AlertRows(const Json& items) {
  Json rows = items.is_array() ? items : Json::array();
  for (auto& a : rows) {
    if (!a.is_object()) continue;
    a["attempt_count"] = a.contains("attempts") && a["attempts"].is_array() ? a["attempts"].size() : 0;
    std::string states;
    if (a.contains("deliveries") && a["deliveries"].is_array()) {
      for (const auto& d : a["deliveries"]) {
        if (!d.is_object()) continue;
        states += (states.empty() ? "" : ",") + Cell(d.value("webhook", Json())) + ":" + Cell(d.value("state", Json()));
      }
    }
    a["delivery_states"] = states;
  }
  return rows;
}

int Audit(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const auto& vm = inv.vm;
    Params params = {{"after", Number(vm, "after")}, {"limit", Number(vm, "limit")}};
    auto list = s.client().List("/v1/audit", params, vm.count("all") > 0, cli::OptionalString(vm, "cursor"));
    if (!list.ok()) return s.Fail(list.status());
    MoreHint(s, *list);
    return s.Emit(*list, Render(ColumnsTable((*list)["items"], {{"SEQ", "seq"},
                                                                {"TIME", "time"},
                                                                {"ACTOR", "actor"},
                                                                {"ACTION", "action"},
                                                                {"OBJECT", "object"},
                                                                {"AFTER", "after", 60}})));
  });
}

int AuditVerify(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    auto j = s.client().Get("/v1/audit/verify");
    if (!j.ok()) return s.Fail(j.status());
    if (!j->is_object() || !j->contains("ok") || !(*j)["ok"].is_boolean()) {
      return s.Fail(Corrupt("GET /v1/audit/verify: no \"ok\" in the answer"));
    }
    const bool ok = (*j)["ok"].get<bool>();
    const Json head = j->value("head", Json::object());
    std::string human = ok ? "audit log OK: " + Cell(j->value("rows", Json())) + " rows, head seq " +
                                 Cell(head.value("seq", Json())) + " " + Cell(head.value("hash", Json())) + "\n"
                           : "audit log BROKEN at seq " + Cell(j->value("bad_seq", Json())) + ": " +
                                 Cell(j->value("problem", Json())) + "\n";
    s.Emit(*j, human);
    return ok ? cli::kExitOk : cli::kExitRejected;
  });
}

int Alerts(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const auto& vm = inv.vm;
    Params params = {{"after", Number(vm, "after")}, {"limit", Number(vm, "limit")}};
    auto list = s.client().List("/v1/alerts", params, vm.count("all") > 0, cli::OptionalString(vm, "cursor"));
    if (!list.ok()) return s.Fail(list.status());
    MoreHint(s, *list);
    return s.Emit(*list, Render(ColumnsTable(AlertRows((*list)["items"]), {{"ID", "id"},
                                                                           {"CREATED", "created"},
                                                                           {"KIND", "kind"},
                                                                           {"OBJECT", "object"},
                                                                           {"ATTEMPTS", "attempt_count"},
                                                                           {"DELIVERIES", "delivery_states"}})));
  });
}

void PageOptions(po::options_description& o) {
  o.add_options()("after", cli::Int<int64_t>(0), "only items after this sequence number / id")(
      "limit", cli::Int<int64_t>(1, 500), "items per page (1-500)")("all", "fetch every page")(
      "cursor", po::value<std::string>(), "start at this page (a next_cursor printed before)");
}

void ExpiresOption(po::options_description& o) {
  o.add_options()("expires-in", po::value<std::string>(), "lifetime: N seconds, Nm, Nh or Nd (server default)");
}

}  // namespace

// size: the option table of the administrative commands, one entry each
void AddAdminCommands(cli::Program& p) {
  p.commands.push_back(Command("whoami", "the token's id, name, role, journal right and expiry", "[options]", nullptr,
                               [](const cli::Invocation& inv) { return Show(inv, "/v1/whoami"); }));
  p.commands.push_back(
      Command("tokens list", "operator tokens (admin)", "[options]", nullptr, [](const cli::Invocation& inv) {
        return ShowList(inv, "/v1/tokens",
                        {{"ID", "id"},
                         {"NAME", "name"},
                         {"ROLE", "role"},
                         {"JOURNAL", "journal_read"},
                         {"CREATED", "created"},
                         {"EXPIRES", "expires"},
                         {"REVOKED", "revoked"}});
      }));
  p.commands.push_back(Command(
      "tokens create", "make an operator token (admin; printed once)", "[options] --name N --role R",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()("name", po::value<std::string>()->required(), "who or what holds it")(
            "role", po::value<std::string>()->required(), "viewer, operator, approver or admin")(
            "journal-read", "may read journal segments (cardholder data)");
        ExpiresOption(o);
      },
      TokenCreate, CheckTokenCreate));
  p.commands.push_back(Command(
      "tokens revoke", "revoke an operator token (admin)", "[options] ID",
      [](po::options_description& o, po::positional_options_description& pos) {
        o.add_options()("id", cli::Int<int64_t>(1)->required(), "the token's id");
        pos.add("id", 1);
      },
      TokenRevoke));
  p.commands.push_back(Command(
      "enrol-token create", "a single-use enrolment token for a serial (admin; printed once)", "[options] SERIAL",
      [](po::options_description& o, po::positional_options_description& pos) {
        o.add_options()("serial", po::value<std::string>()->required(), "the terminal's serial");
        pos.add("serial", 1);
        ExpiresOption(o);
      },
      EnrolTokenCreate, CheckExpiresIn));
  p.commands.push_back(Command("enrol-token list", "enrolment tokens (hash prefixes only; admin)", "[options]", nullptr,
                               [](const cli::Invocation& inv) {
                                 return ShowList(inv, "/v1/enrol-tokens",
                                                 {{"HASH", "hash_prefix"},
                                                  {"SERIAL", "serial"},
                                                  {"CREATED", "created"},
                                                  {"EXPIRES", "expires"},
                                                  {"USED", "used"}});
                               }));
  p.commands.push_back(
      Command("targets", "firmware targets in the server's repository", "[options]", nullptr, Targets));
  p.commands.push_back(Command(
      "ca", "fleet CA status: certificates expiring soon", "[options]",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()("within-days", cli::Int<int64_t>(0, 3650), "expiring within this many days");
      },
      [](const cli::Invocation& inv) {
        return Show(inv, "/v1/ca" + Query({{"within_days", Number(inv.vm, "within-days")}}));
      }));
  p.commands.push_back(Command(
      "audit list", "the audit log (approver)", "[options]",
      [](po::options_description& o, po::positional_options_description&) { PageOptions(o); }, Audit));
  p.commands.back().exclusive = {{"after", "cursor"}};
  p.commands.push_back(Command(
      "audit verify", "recompute the audit chain on the server (approver); exit 3 if broken (as fwserver audit verify)",
      "[options]", nullptr, AuditVerify));
  p.commands.push_back(Command(
      "alerts", "alerts with their webhook deliveries", "[options]",
      [](po::options_description& o, po::positional_options_description&) { PageOptions(o); }, Alerts));
  p.commands.back().exclusive = {{"after", "cursor"}};
}

}  // namespace fw::fleet
