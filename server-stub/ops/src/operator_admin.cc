// Operator API: enrolment tokens, operator tokens, the audit log, alerts, repository targets and the
// CA status (docs/fleet-operator.md).
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/ca_status.h"
#include "fw/server/operator_json.h"
#include "operator_impl.h"

namespace fw::server::ops {
namespace {

std::string Param(const QueryValues& q, std::string_view name) {
  auto it = q.find(name);
  return it == q.end() ? std::string() : it->second;
}

// ?after=N&limit=M&cursor=C for the seq/id keyset lists (audit, alerts).
struct Page {
  int64_t after = 0;
  int64_t limit = 100;
};
Result<Page> KeysetPage(const QueryValues& q, std::string_view list) {
  Page p;
  if (q.contains("after") && q.contains("cursor")) return InvalidArgument("give \"after\" or \"cursor\", not both");
  if (q.contains("after")) {
    FW_ASSIGN_OR_RETURN(p.after, ParseDecimal("after", Param(q, "after"), 0, INT64_MAX - 1));
  }
  if (q.contains("cursor")) {
    FW_ASSIGN_OR_RETURN(std::string key, DecodeCursor(Param(q, "cursor"), list, ""));
    auto after = ParseDecimal("cursor", key, 0, INT64_MAX - 1);
    if (!after.ok()) return InvalidArgument("cursor was not made by this server");
    p.after = *after;
  }
  if (q.contains("limit")) {
    FW_ASSIGN_OR_RETURN(p.limit, ParseDecimal("limit", Param(q, "limit"), 1, 500));
  }
  return p;
}

}  // namespace

Response OperatorApi::IssueEnrolToken(Call& call, const std::string& serial, int64_t expires_in, bool re_enrol) {
  if (expires_in > config_.max_token_seconds) {
    return Error(400, "bad_request", "expires_in exceeds " + std::to_string(config_.max_token_seconds) + " seconds");
  }
  auto random = RandomBytes(32);
  if (!random.ok()) return FromStatus(random.status());
  const std::string token = HexEncode(*random);
  const std::string hash = HexEncode(Sha256::Of(AsBytes(token)));
  const int64_t now = Now(), expires = now + expires_in;
  return Write(
      [&](std::optional<Response>&) -> Status {
        FW_RETURN_IF_ERROR(store_->AddEnrolToken({hash, serial, now, expires, std::nullopt}));
        const JsonValue after{
            {"serial", serial}, {"expires", expires}, {"hash_prefix", hash.substr(0, 12)}, {"re_enrol", re_enrol}};
        return Record(*store_, now, call.actor, "enrol_token.create", "enrol_token:" + hash.substr(0, 12), "null",
                      after.dump())
            .status();
      },
      [&] {
        return Json(201, JsonValue{{"token", token}, {"serial", serial}, {"expires", expires}}.dump());
      });
}

Response OperatorApi::ListEnrolTokens(Call& call) {
  Response error;
  if (!Query(call, {}, &error)) return error;
  auto tokens = store_->ListEnrolTokens();
  if (!tokens.ok()) return FromStatus(tokens.status());
  JsonValue items = JsonValue::array();
  for (const auto& t : *tokens) items.push_back(EnrolTokenJson(t));
  return Json(200, ListBody(std::move(items), std::nullopt));
}

Response OperatorApi::CreateEnrolToken(Call& call) {
  auto body = ParseEnrolTokenBody(call.request.body);
  if (!body.ok()) return FromStatus(body.status());
  auto d = store_->GetDevice(body->serial);
  if (!d.ok()) return FromStatus(d.status());
  if (*d && (*d)->state == DeviceState::kRevoked) {
    return Error(409, "invalid_state", "device " + body->serial + " is revoked");
  }
  // A token for a serial that exists already re-enrols it (its key binding is replaced).
  return IssueEnrolToken(call, body->serial, body->expires_in.value_or(config_.enrol_token_seconds), d->has_value());
}

Response OperatorApi::Targets(Call& call) {
  Response error;
  if (!Query(call, {}, &error)) return error;
  auto repo = repository_.Get(Now());
  if (!repo.ok()) return Error(503, "not_ready", "the repository cannot be read: " + repo.status().message());
  return Json(200, TargetsJson(*repo).dump());
}

Response OperatorApi::Ca(Call& call) {
  Response error;
  if (!Query(call, {{"within_days", 5}}, &error)) return error;
  int64_t warn = config_.cert_warn_seconds;
  if (call.query.contains("within_days")) {
    auto days = ParseDecimal("within_days", Param(call.query, "within_days"), 0, 3660);
    if (!days.ok()) return FromStatus(days.status());
    warn = *days * 86400;
  }
  auto status = ReadCaStatus(config_.data_dir, *store_, Now(), warn);
  if (!status.ok()) return FromStatus(status.status());
  return Json(200, CaJson(*status).dump());
}

Response OperatorApi::ListTokens(Call& call) {
  Response error;
  if (!Query(call, {}, &error)) return error;
  auto tokens = store_->ListOperatorTokens();
  if (!tokens.ok()) return FromStatus(tokens.status());
  JsonValue items = JsonValue::array();
  for (const auto& t : *tokens) items.push_back(TokenJson(t));
  return Json(200, ListBody(std::move(items), std::nullopt));
}

Response OperatorApi::CreateToken(Call& call) {
  auto body = ParseTokenBody(call.request.body);
  if (!body.ok()) return FromStatus(body.status());
  const Role role = *ParseRole(body->role);
  if (role > call.role) {
    return Error(403, "forbidden",
                 "a token cannot create a token with a higher role than its own (" + call.token->role + ")");
  }
  if (body->journal_read && !call.token->journal_read) {
    return Error(403, "forbidden", "only a token with journal_read can grant journal_read");
  }
  const int64_t now = Now();
  const int64_t expires_in = body->expires_in.value_or(config_.max_token_seconds);
  if (expires_in > config_.max_token_seconds) {
    return Error(
        400, "bad_request",
        "expires_in exceeds the longest token lifetime of " + std::to_string(config_.max_token_seconds) + " s");
  }
  OperatorToken record;
  record.name = body->name;
  record.role = body->role;
  record.journal_read = body->journal_read;
  record.created_s = now;
  record.expires_s = now + expires_in;
  record.created_by = call.actor;
  auto made = MakeOperatorToken(record);
  if (!made.ok()) return FromStatus(made.status());
  return Write(
      [&](std::optional<Response>&) -> Status {
        FW_ASSIGN_OR_RETURN(made->record.id, store_->AddOperatorToken(made->record));
        return Record(*store_, now, call.actor, "token.create", "token:" + std::to_string(made->record.id), "null",
                      TokenJson(made->record).dump())
            .status();
      },
      [&] {
        JsonValue j = TokenJson(made->record);
        j["token"] = made->clear;
        return Json(201, j.dump());
      });
}

Response OperatorApi::RevokeToken(Call& call) {
  auto id = ParseDecimal("id", call.parts[0], 1, INT64_MAX);
  if (!id.ok()) return FromStatus(id.status());
  OperatorToken after;
  return Write(
      [&](std::optional<Response>& refusal) -> Status {
        FW_ASSIGN_OR_RETURN(auto t, store_->GetOperatorToken(*id));
        if (!t) return refusal = Error(404, "not_found", "no token " + call.parts[0]), NotFound("token");
        if (t->revoked_s) {
          refusal = Error(409, "invalid_state", "token " + call.parts[0] + " is revoked already");
          return FailedPrecondition("revoked");
        }
        FW_ASSIGN_OR_RETURN(bool revoked, store_->RevokeOperatorToken(*id, Now()));
        if (!revoked) return FailedPrecondition("token " + call.parts[0] + " is revoked already");
        FW_ASSIGN_OR_RETURN(auto now_t, store_->GetOperatorToken(*id));
        after = now_t.value_or(*t);
        return Record(*store_, Now(), call.actor, "token.revoke", "token:" + call.parts[0], TokenJson(*t).dump(),
                      TokenJson(after).dump())
            .status();
      },
      [&] { return Json(200, TokenJson(after).dump()); });
}

Response OperatorApi::Audit(Call& call) {
  Response error;
  if (!Query(call, {{"after", 20}, {"limit", 4}, {"cursor", 512}}, &error)) return error;
  auto page = KeysetPage(call.query, "audit");
  if (!page.ok()) return FromStatus(page.status());
  auto rows = store_->ListAudit(page->after, page->limit + 1);
  if (!rows.ok()) return FromStatus(rows.status());
  std::optional<std::string> next;
  if (static_cast<int64_t>(rows->size()) > page->limit) {
    rows->resize(page->limit);
    next = EncodeCursor("audit", "", std::to_string(rows->back().seq));
  }
  JsonValue items = JsonValue::array();
  for (const auto& e : *rows) items.push_back(AuditJson(e));
  return Json(200, ListBody(std::move(items), next));
}

Response OperatorApi::AuditVerify(Call& call) {
  Response error;
  if (!Query(call, {}, &error)) return error;
  auto v = VerifyAuditChain(*store_);
  if (!v.ok()) return FromStatus(v.status());
  return Json(200, JsonValue{{"ok", v->ok},
                             {"rows", v->rows},
                             {"bad_seq", v->bad_seq},
                             {"problem", v->problem},
                             {"head", {{"seq", v->head.seq}, {"hash", v->head.hash_hex}}}}
                       .dump());
}

Response OperatorApi::Alerts(Call& call) {
  Response error;
  if (!Query(call, {{"after", 20}, {"limit", 4}, {"cursor", 512}}, &error)) return error;
  auto page = KeysetPage(call.query, "alerts");
  if (!page.ok()) return FromStatus(page.status());
  auto rows = store_->ListAlerts(page->after, page->limit + 1);
  if (!rows.ok()) return FromStatus(rows.status());
  std::optional<std::string> next;
  if (static_cast<int64_t>(rows->size()) > page->limit) {
    rows->resize(page->limit);
    next = EncodeCursor("alerts", "", std::to_string(rows->back().id));
  }
  JsonValue items = JsonValue::array();
  for (const auto& a : *rows) {
    auto row = AlertRowJson(*store_, a);
    if (!row.ok()) return FromStatus(row.status());
    items.push_back(std::move(*row));
  }
  return Json(200, ListBody(std::move(items), next));
}

Result<JsonValue> AlertRowJson(Store& store, const Alert& a) {
  FW_ASSIGN_OR_RETURN(auto deliveries, store.ListDeliveries(a.id));
  FW_ASSIGN_OR_RETURN(auto attempts, store.ListDeliveryAttempts(a.id));
  JsonValue d = JsonValue::array(), t = JsonValue::array();
  for (const auto& x : deliveries) {
    d.push_back(JsonValue{{"webhook", x.webhook},
                          {"state", x.state},
                          {"attempts", x.attempts},
                          {"next_attempt", x.next_attempt_s},
                          {"last_status", x.last_status},
                          {"last_error", x.last_error},
                          {"updated", x.updated_s}});
  }
  for (const auto& x : attempts) {
    t.push_back(JsonValue{{"webhook", x.webhook},
                          {"attempt", x.attempt},
                          {"time", x.time_s},
                          {"http_status", x.http_status},
                          {"error", x.error}});
  }
  return JsonValue{{"id", a.id},
                   {"kind", a.kind},
                   {"object", a.object},
                   {"created", a.created_s},
                   {"body", ParsedOrNull(a.body_json)},
                   {"deliveries", d},
                   {"attempts", t}};
}

}  // namespace fw::server::ops
