// Operator API: rollouts (docs/fleet-operator.md "Rollouts"; the engine is fw/server/rollout.h and
// docs/fleet-rollouts.md). Each operation is one engine call, which runs its own store transaction
// with its audit row; this file checks the request, the role rules and maps the engine's refusals:
// kNotFound -> 404 unknown_rollout, kFailedPrecondition -> 409 rollout_state (409 plan_refused for
// create), kInvalidArgument -> 400 bad_request, an unreadable repository -> 503 not_ready.
#include <algorithm>
#include <iterator>

#include "fw/server/operator_json.h"
#include "fw/server/rollout.h"
#include "operator_impl.h"

namespace fw::server::ops {
namespace {

constexpr const char* kMemberStates[] = {"waiting", "assigned",    "retry_wait", "succeeded",
                                         "failed",  "no_response", "skipped"};

std::string Param(const QueryValues& q, std::string_view name) {
  auto it = q.find(name);
  return it == q.end() ? std::string() : it->second;
}

JsonValue MemberJson(const RolloutMemberRow& m) {
  return JsonValue{{"serial", m.serial},
                   {"group", m.group_index},
                   {"state", m.state},
                   {"action", m.action_id == 0 ? JsonValue(nullptr) : JsonValue(m.action_id)},
                   {"assignments", m.assignments},
                   {"failure_class", m.failure_class},
                   {"detail", m.detail},
                   {"from_version", m.from_version},
                   {"next_assign", m.next_assign_s},
                   {"updated", m.updated_s}};
}

// The engine's refusal as the API's error (see the file comment).
Response EngineError(const Status& s, bool repository_failed, bool create) {
  if (repository_failed) return Error(503, "not_ready", "the repository cannot be read: " + s.message());
  switch (s.code()) {
    case ErrorCode::kNotFound:
      return create ? Error(409, "plan_refused", s.message()) : Error(404, "unknown_rollout", s.message());
    case ErrorCode::kFailedPrecondition:
      return Error(409, create ? "plan_refused" : "rollout_state", s.message());
    default:
      return FromStatus(s);
  }
}

}  // namespace

rollout::Context OperatorApi::RolloutContext(bool* repository_failed) {
  rollout::Context ctx;
  ctx.alerts = &config_.alerts;
  ctx.repository = [this, repository_failed]() -> Result<RepositoryTargets> {
    auto repo = repository_.Get(Now());
    if (!repo.ok() && repository_failed != nullptr) *repository_failed = true;
    return repo;
  };
  return ctx;
}

Response OperatorApi::RolloutViewResponse(int status, int64_t id) {
  auto view = rollout::Show(*store_, id);
  if (!view.ok()) return FromStatus(view.status());
  if (!*view) return Error(404, "unknown_rollout", "no rollout " + std::to_string(id));
  return Json(status, rollout::RolloutViewJson(**view));
}

Response OperatorApi::CreateRollout(Call& call) {
  auto spec = rollout::ParseRolloutSpec(call.request.body);
  if (!spec.ok()) return Error(400, "bad_request", spec.status().message());
  bool repository_failed = false;
  const rollout::Context ctx = RolloutContext(&repository_failed);
  auto created = rollout::Create(*store_, ctx, *spec, call.actor, Now());
  if (!created.ok()) return EngineError(created.status(), repository_failed, /*create=*/true);
  return RolloutViewResponse(201, created->id);
}

Response OperatorApi::ListRollouts(Call& call) {
  Response error;
  if (!Query(call, {{"limit", 4}, {"cursor", 512}}, &error)) return error;
  int64_t limit = 100;
  if (call.query.contains("limit")) {
    auto l = ParseDecimal("limit", Param(call.query, "limit"), 1, 500);
    if (!l.ok()) return FromStatus(l.status());
    limit = *l;
  }
  int64_t after = 0;
  if (call.query.contains("cursor")) {
    auto key = DecodeCursor(Param(call.query, "cursor"), "rollouts", "");
    if (!key.ok()) return FromStatus(key.status());
    auto a = ParseDecimal("cursor", *key, 0, INT64_MAX);
    if (!a.ok()) return Error(400, "bad_request", "cursor was not made by this server");
    after = *a;
  }
  auto rows = store_->ListRollouts(after, limit + 1);
  if (!rows.ok()) return FromStatus(rows.status());
  std::optional<std::string> next;
  if (static_cast<int64_t>(rows->size()) > limit) {
    rows->resize(limit);
    next = EncodeCursor("rollouts", "", std::to_string(rows->back().id));
  }
  JsonValue items = JsonValue::array();
  for (const auto& r : *rows) items.push_back(JsonValue::parse(rollout::RolloutSummaryJson(r)));
  return Json(200, ListBody(std::move(items), next));
}

Response OperatorApi::GetRollout(Call& call) {
  auto id = ParseDecimal("id", call.parts[0], 1, INT64_MAX);
  if (!id.ok()) return FromStatus(id.status());
  return RolloutViewResponse(200, *id);
}

// size: the query's four parameters, each checked, then one keyset page
Response OperatorApi::RolloutMembers(Call& call) {
  auto id = ParseDecimal("id", call.parts[0], 1, INT64_MAX);
  if (!id.ok()) return FromStatus(id.status());
  Response error;
  if (!Query(call, {{"group", 64}, {"state", 16}, {"limit", 4}, {"cursor", 512}}, &error)) return error;
  auto r = store_->GetRollout(*id);
  if (!r.ok()) return FromStatus(r.status());
  if (!*r) return Error(404, "unknown_rollout", "no rollout " + call.parts[0]);
  MemberQuery q;
  q.rollout_id = *id;
  const std::string group = Param(call.query, "group");
  if (!group.empty()) {  // an index or a group's name
    auto groups = store_->ListRolloutGroups(*id);
    if (!groups.ok()) return FromStatus(groups.status());
    for (const auto& g : *groups) {
      if (g.name == group || std::to_string(g.index) == group) q.group_index = g.index;
    }
    if (q.group_index < 0) return Error(400, "bad_request", "rollout " + call.parts[0] + " has no group " + group);
  }
  q.state = Param(call.query, "state");
  if (!q.state.empty() &&
      std::find(std::begin(kMemberStates), std::end(kMemberStates), q.state) == std::end(kMemberStates)) {
    return Error(400, "bad_request",
                 "state must be waiting, assigned, retry_wait, succeeded, failed, no_response or skipped");
  }
  int64_t limit = 100;
  if (call.query.contains("limit")) {
    auto l = ParseDecimal("limit", Param(call.query, "limit"), 1, 500);
    if (!l.ok()) return FromStatus(l.status());
    limit = *l;
  }
  const std::string filters = call.parts[0] + "\n" + std::to_string(q.group_index) + "\n" + q.state;
  if (call.query.contains("cursor")) {
    auto key = DecodeCursor(Param(call.query, "cursor"), "rollout_members", filters);
    if (!key.ok()) return FromStatus(key.status());
    q.after_serial = *key;
  }
  q.limit = limit + 1;
  auto rows = store_->QueryRolloutMembers(q);
  if (!rows.ok()) return FromStatus(rows.status());
  std::optional<std::string> next;
  if (static_cast<int64_t>(rows->size()) > limit) {
    rows->resize(limit);
    next = EncodeCursor("rollout_members", filters, rows->back().serial);
  }
  JsonValue items = JsonValue::array();
  for (const auto& m : *rows) items.push_back(MemberJson(m));
  return Json(200, ListBody(std::move(items), next));
}

Response OperatorApi::StartRollout(Call& call) { return RolloutOp(call, "start"); }
Response OperatorApi::PauseRollout(Call& call) { return RolloutOp(call, "pause"); }
Response OperatorApi::ResumeRollout(Call& call) { return RolloutOp(call, "resume"); }
Response OperatorApi::StopRollout(Call& call) { return RolloutOp(call, "stop"); }
Response OperatorApi::ApproveRollout(Call& call) { return RolloutOp(call, "approve"); }

// size: one engine call per operation, the resume role rule, and the error mapping
Response OperatorApi::RolloutOp(Call& call, std::string_view op) {
  auto id = ParseDecimal("id", call.parts[0], 1, INT64_MAX);
  if (!id.ok()) return FromStatus(id.status());
  auto body = ParseRolloutOpBody(call.request.body, /*reason_required=*/op != "start",
                                 /*revert_allowed=*/op == "stop");
  if (!body.ok()) return FromStatus(body.status());
  if (op == "resume") {  // an operator's pause is the operator's; the others (rule, approval, fleet) need approver
    auto r = store_->GetRollout(*id);
    if (!r.ok()) return FromStatus(r.status());
    if (!*r) return Error(404, "unknown_rollout", "no rollout " + call.parts[0]);
    if ((*r)->state == "paused" && (*r)->pause_kind != "operator" && call.role < Role::kApprover) {
      return Error(403, "forbidden",
                   "rollout " + call.parts[0] + " was paused by " + (*r)->pause_kind +
                       ": resuming it needs role approver; this token is " + call.token->role);
    }
  }
  bool repository_failed = false;
  const rollout::Context ctx = RolloutContext(&repository_failed);
  const int64_t now = Now();
  Result<RolloutRow> result = InvalidArgument("unknown operation");
  if (op == "start") {
    result = rollout::Start(*store_, ctx, *id, call.actor, now);
  } else if (op == "pause") {
    result = rollout::Pause(*store_, ctx, *id, body->reason, call.actor, now);
  } else if (op == "resume") {
    result = rollout::Resume(*store_, ctx, *id, body->reason, call.actor, now);
  } else if (op == "stop") {
    result = rollout::Stop(*store_, ctx, *id, body->reason, body->revert, call.actor, now);
  } else if (op == "approve") {
    result = rollout::Approve(*store_, ctx, *id, body->reason, call.actor, now);
  }
  if (!result.ok()) return EngineError(result.status(), repository_failed, /*create=*/false);
  return RolloutViewResponse(200, *id);
}

}  // namespace fw::server::ops
