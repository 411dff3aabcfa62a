// fwserver's offline operator-token and audit commands (store component), on the data
// directory's store (data_store.h: fwserver.json's "database", SQLite or PostgreSQL) like device_cmds.cc: `token
// create|list|revoke` (the bootstrap of the operator API: docs/fleet-operator.md) and `audit verify|list|export-head`
// (docs/fleet-audit.md). Exit codes: docs/exit-codes.md — 2 usage, 3 the audit log or heads file is tampered with or
// malformed (as `fwupdate journal verify` reports a damaged chain), 4 no store / no heads file / no
// such token, 5 refused by state (token already revoked; a heads file the database is behind).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "data_store.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/operator_auth.h"
#include "fw/server/operator_json.h"
#include "fw/server/store.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;

void DataOption(cli::po::options_description& o) {
  o.add_options()("data", cli::po::value<std::string>()->required(),
                  "the server's data directory (its fwserver.json names the database)");
}

void HeadsOption(cli::po::options_description& o) {
  o.add_options()("heads", cli::po::value<std::string>(), "heads file (default DIR/audit/heads.jsonl)");
}

std::string HeadsPath(const cli::Invocation& inv) {
  auto given = cli::OptionalString(inv.vm, "heads");
  return given ? *given : inv.vm["data"].as<std::string>() + "/audit/heads.jsonl";
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

Status CheckTokenOptions(const cli::po::variables_map& vm) {
  const std::string name = vm["name"].as<std::string>();
  if (name.empty() || name.size() > 64 ||
      std::any_of(name.begin(), name.end(), [](char c) { return c < 0x20 || c > 0x7e; })) {
    return InvalidArgument("--name must be 1-64 printable ASCII characters");
  }
  const std::string role = vm["role"].as<std::string>();
  if (!ParseRole(role)) {
    return InvalidArgument("--role must be viewer, operator, approver or admin");
  }
  return Status::Ok();
}

int TokenCreate(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  OperatorToken record;
  record.name = inv.vm["name"].as<std::string>();
  record.role = inv.vm["role"].as<std::string>();
  record.journal_read = inv.vm.count("journal-read") > 0;
  record.created_s = Now();
  record.expires_s = record.created_s + inv.vm["expires-days"].as<int64_t>() * 86400;
  record.created_by = CliActor();
  auto made = MakeOperatorToken(std::move(record));
  if (!made.ok()) return cli::Fail(inv, made.status());
  const std::string token = made->clear;
  OperatorToken& t = made->record;
  Status s = (*store)->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(t.id, (*store)->AddOperatorToken(t));
    return Record(**store, t.created_s, t.created_by, "token.create", "token:" + std::to_string(t.id), "null",
                  ops::TokenJson(t).dump())
        .status();
  });
  if (!s.ok()) return cli::Fail(inv, s);
  if (inv.json) {
    Json j = ops::TokenJson(t);
    j["ok"] = true;
    j["token"] = token;
    cli::PrintJson(j);
  } else {
    std::cout << token << "\n";
    std::cerr << "operator token " << t.id << " '" << t.name << "' (" << t.role
              << (t.journal_read ? ", may read journals" : "") << "), expires " << IsoTimeUtc(t.expires_s)
              << " (shown once: only its hash is stored)\n";
  }
  return cli::kExitOk;
}

int TokenList(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  auto tokens = (*store)->ListOperatorTokens();
  if (!tokens.ok()) return cli::Fail(inv, tokens.status());
  Json items = Json::array();
  for (const auto& t : *tokens) {
    items.push_back(ops::TokenJson(t));
    if (inv.json) continue;
    const std::string state = t.revoked_s            ? "revoked " + IsoTimeUtc(*t.revoked_s)
                              : t.expires_s <= Now() ? "expired"
                                                     : "expires " + IsoTimeUtc(t.expires_s);
    std::cout << t.id << "  " << t.name << "  " << t.role << (t.journal_read ? " +journal" : "") << "  " << state
              << "  by " << t.created_by << "\n";
  }
  if (inv.json) cli::PrintJson({{"ok", true}, {"tokens", items}});
  return cli::kExitOk;
}

int TokenRevoke(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  const int64_t id = inv.vm["id"].as<int64_t>();
  OperatorToken after;
  Status s = (*store)->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto t, (*store)->GetOperatorToken(id));
    if (!t) return NotFound("no operator token " + std::to_string(id));
    if (t->revoked_s) return FailedPrecondition("operator token " + std::to_string(id) + " is revoked already");
    const int64_t now = Now();
    FW_ASSIGN_OR_RETURN(bool revoked, (*store)->RevokeOperatorToken(id, now));
    if (!revoked) return FailedPrecondition("operator token " + std::to_string(id) + " is revoked already");
    after = *t;
    after.revoked_s = now;
    return Record(**store, now, CliActor(), "token.revoke", "token:" + std::to_string(id), ops::TokenJson(*t).dump(),
                  ops::TokenJson(after).dump())
        .status();
  });
  if (!s.ok()) return cli::Fail(inv, s);
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"token", ops::TokenJson(after)}});
  } else {
    std::cout << "operator token " << id << " '" << after.name << "' revoked\n";
  }
  return cli::kExitOk;
}

int AuditVerify(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  const std::string heads = HeadsPath(inv);
  std::error_code ec;
  const bool use_heads = inv.vm.count("heads") > 0 || std::filesystem::exists(heads, ec);
  auto v = use_heads ? VerifyAgainstHeads(**store, heads) : VerifyAuditChain(**store);
  if (!v.ok()) return cli::Fail(inv, v.status());
  const int code = v->ok ? cli::kExitOk : cli::kExitRejected;
  if (inv.json) {
    cli::PrintJson({{"ok", v->ok},
                    {"rows", v->rows},
                    {"heads_file", use_heads ? Json(heads) : Json(nullptr)},
                    {"heads_checked", v->heads_checked},
                    {"bad_seq", v->bad_seq},
                    {"problem", v->problem},
                    {"head", {{"seq", v->head.seq}, {"hash", v->head.hash_hex}}},
                    {"exit_code", code}});
  } else {
    std::cout << "audit log: " << v->rows << " row(s) checked, head " << v->head.seq
              << (v->head.seq ? " " + v->head.hash_hex : "") << "\n";
    if (use_heads) {
      std::cout << "heads file " << heads << ": " << v->heads_checked << " line(s) checked\n";
    } else {
      std::cout << "no heads file (" << heads << "): only the chain was checked\n";
    }
    std::cout << (v->ok ? "OK\n" : "AUDIT LOG TAMPERED: " + v->problem + "\n");
  }
  if (!v->ok) std::cerr << inv.command << ": error: the audit log is tampered with: " << v->problem << "\n";
  return code;
}

int AuditList(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  auto rows = (*store)->ListAudit(inv.vm["after"].as<int64_t>(), inv.vm["limit"].as<int64_t>());
  if (!rows.ok()) return cli::Fail(inv, rows.status());
  Json items = Json::array();
  for (const auto& e : *rows) {
    items.push_back(ops::AuditJson(e));
    if (!inv.json) {
      std::cout << e.seq << "  " << IsoTimeUtc(e.time_s) << "  " << e.actor << "  " << e.action << "  " << e.object
                << "\n";
    }
  }
  const bool full = static_cast<int64_t>(rows->size()) == inv.vm["limit"].as<int64_t>();
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"rows", items}, {"next_after", full ? Json(rows->back().seq) : Json(nullptr)}});
  }
  return cli::kExitOk;
}

int AuditExportHead(const cli::Invocation& inv) {
  auto store = OpenDataStore(inv);
  if (!store.ok()) return cli::Fail(inv, store.status());
  const std::string heads = HeadsPath(inv);
  auto wrote = ExportAuditHead(**store, heads, Now());
  if (!wrote.ok()) return cli::Fail(inv, wrote.status());
  auto head = (*store)->AuditHead();
  if (!head.ok()) return cli::Fail(inv, head.status());
  const int64_t seq = *head ? (*head)->seq : 0;
  const std::string hash = *head ? (*head)->hash_hex : "";
  if (inv.json) {
    cli::PrintJson(
        {{"ok", true}, {"written", *wrote}, {"heads_file", heads}, {"head", {{"seq", seq}, {"hash", hash}}}});
  } else if (*wrote) {
    std::cout << "head " << seq << " " << hash << " appended to " << heads << "\n";
  } else {
    std::cout << (seq ? "head " + std::to_string(seq) + " already exported" : "the audit log is empty") << "\n";
  }
  return cli::kExitOk;
}

}  // namespace

std::string CliActor() {
  const char* user = std::getenv("USER");
  std::string name = user ? user : "";
  const bool usable = !name.empty() && name.size() <= 64 &&
                      std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  return "cli:" + (usable ? name : "uid " + std::to_string(::getuid()));
}

// size: one table of subcommands and their options
void AddTokenAuditCommands(cli::Program& p) {
  namespace po = cli::po;
  p.commands.push_back(
      {"token create",
       "make an operator API token (printed once; only its hash is stored)",
       "--data DIR --name N --role viewer|operator|approver|admin [--journal-read] [--expires-days D]",
       [](po::options_description& o, po::positional_options_description&) {
         DataOption(o);
         o.add_options()("name", po::value<std::string>()->required(), "who holds it (1-64 printable characters)")(
             "role", po::value<std::string>()->required(), "viewer | operator | approver | admin")(
             "journal-read", "may read uploaded journal segments (cardholder data)")(
             "expires-days", cli::Int<int64_t>(1, 366)->default_value(90), "days until it expires (1-366)");
       },
       TokenCreate,
       {},
       CheckTokenOptions});
  p.commands.push_back({"token list", "list operator tokens (never the token itself)", "--data DIR",
                        [](po::options_description& o, po::positional_options_description&) { DataOption(o); },
                        TokenList});
  p.commands.push_back({"token revoke", "revoke an operator token", "--data DIR ID",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          DataOption(o);
                          o.add_options()("id", cli::Int<int64_t>(1)->required(), "the token's id");
                          pos.add("id", 1);
                        },
                        TokenRevoke});
  p.commands.push_back({"audit verify", "verify the audit log's hash chain and its exported heads",
                        "--data DIR [--heads FILE]",
                        [](po::options_description& o, po::positional_options_description&) {
                          DataOption(o);
                          HeadsOption(o);
                        },
                        AuditVerify});
  p.commands.push_back({"audit list", "list audit rows by seq", "--data DIR [--after SEQ] [--limit N]",
                        [](po::options_description& o, po::positional_options_description&) {
                          DataOption(o);
                          o.add_options()("after", cli::Int<int64_t>(0)->default_value(0), "rows after this seq")(
                              "limit", cli::Int<int64_t>(1, 10000)->default_value(100), "rows at most (1-10000)");
                        },
                        AuditList});
  p.commands.push_back({"audit export-head", "append the audit log's head to the heads file when it moved",
                        "--data DIR [--heads FILE]",
                        [](po::options_description& o, po::positional_options_description&) {
                          DataOption(o);
                          HeadsOption(o);
                        },
                        AuditExportHead});
}

}  // namespace fw::server
