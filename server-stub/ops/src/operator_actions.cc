// Operator API: actions on one device with the plan checks, and device state changes
// (docs/fleet-operator.md, "Actions" and "Device state").
#include "fw/server/action_plan.h"
#include "fw/server/alerts.h"
#include "fw/server/audit.h"
#include "fw/server/operator_json.h"
#include "fw/server/rollout.h"
#include "operator_impl.h"

namespace fw::server::ops {
namespace {

std::string DeviceObject(const std::string& serial) { return "device:" + serial; }
std::string ActionObject(int64_t id) { return "action:" + std::to_string(id); }

JsonValue StateJson(const Device& d) {
  return JsonValue{{"state", DeviceStateName(d.state)}, {"reason", d.state_reason}};
}

std::string Param(const QueryValues& q, std::string_view name) {
  auto it = q.find(name);
  return it == q.end() ? std::string() : it->second;
}

}  // namespace

// size: parse, role rule, repository, plan and write with their error paths
Response OperatorApi::CreateAction(Call& call) {
  const std::string& serial = call.parts[0];
  auto body = ParseActionBody(call.request.body);
  if (!body.ok()) return FromStatus(body.status());
  if (!body->backup_required && call.role < Role::kApprover) {
    return Error(403, "forbidden", "an action without a journal backup (backup_required:false) needs role approver");
  }
  const int64_t now = Now();
  RepositoryTargets targets;
  auto repo = repository_.Get(now);
  if (repo.ok()) {
    targets = std::move(*repo);
  } else if (body->kind != "journal_backup") {
    return Error(503, "not_ready", "the repository cannot be read: " + repo.status().message());
  }
  ActionRequest request{body->kind, body->target, body->type, body->window, body->deadline_s, body->backup_required};
  Action created;
  return Write(
      [&](std::optional<Response>& refusal) -> Status {
        FW_ASSIGN_OR_RETURN(auto d, store_->GetDevice(serial));
        if (!d) return refusal = Error(404, "not_found", "no device " + serial), NotFound(serial);
        FW_ASSIGN_OR_RETURN(auto open, store_->ListActions(serial, /*open_only=*/true));
        auto planned = PlanAction(*d, open, targets, request, now);
        if (!planned.ok()) {
          if (planned.status().code() == ErrorCode::kFailedPrecondition) {
            refusal = Error(409, "plan_refused", planned.status().message());
          } else {
            refusal = FromStatus(planned.status());
          }
          return planned.status();
        }
        created = std::move(*planned);
        created.device_serial = serial;
        if (created.created_s == 0) created.created_s = now;
        if (created.updated_s == 0) created.updated_s = now;
        FW_ASSIGN_OR_RETURN(created.id, store_->CreateAction(created));
        return Record(*store_, now, call.actor, "action.create", ActionObject(created.id), "null",
                      ActionJson(created).dump())
            .status();
      },
      [&] { return Json(201, ActionJson(created).dump()); });
}

Response OperatorApi::ListActions(Call& call) {
  Response error;
  if (!Query(call, {{"device", 64}, {"state", 32}, {"open", 5}, {"limit", 4}, {"cursor", 512}}, &error)) return error;
  ActionQuery q;
  q.device_serial = Param(call.query, "device");
  q.state = Param(call.query, "state");
  if (call.query.contains("open")) {
    auto open = ParseBoolText("open", Param(call.query, "open"));
    if (!open.ok()) return FromStatus(open.status());
    q.open_only = *open;
  }
  int64_t limit = 100;
  if (call.query.contains("limit")) {
    auto l = ParseDecimal("limit", Param(call.query, "limit"), 1, 500);
    if (!l.ok()) return FromStatus(l.status());
    limit = *l;
  }
  const std::string filters = q.device_serial + "\n" + q.state + "\n" + (q.open_only ? "open" : "");
  if (call.query.contains("cursor")) {
    auto key = DecodeCursor(Param(call.query, "cursor"), "actions", filters);
    if (!key.ok()) return FromStatus(key.status());
    auto after = ParseDecimal("cursor", *key, 0, INT64_MAX);
    if (!after.ok()) return Error(400, "bad_request", "cursor was not made by this server");
    q.after_id = *after;
  }
  q.limit = limit + 1;
  auto rows = store_->QueryActions(q);
  if (!rows.ok()) return FromStatus(rows.status());
  std::optional<std::string> next;
  if (static_cast<int64_t>(rows->size()) > limit) {
    rows->resize(limit);
    next = EncodeCursor("actions", filters, std::to_string(rows->back().id));
  }
  JsonValue items = JsonValue::array();
  for (const auto& a : *rows) items.push_back(ActionJson(a));
  return Json(200, ListBody(std::move(items), next));
}

Response OperatorApi::GetAction(Call& call) {
  auto id = ParseDecimal("id", call.parts[0], 1, INT64_MAX);
  if (!id.ok()) return FromStatus(id.status());
  auto a = store_->GetAction(*id);
  if (!a.ok()) return FromStatus(a.status());
  if (!*a) return Error(404, "not_found", "no action " + call.parts[0]);
  auto events = store_->ListEvents(*id);
  if (!events.ok()) return FromStatus(events.status());
  JsonValue j = ActionJson(**a);
  j["events"] = JsonValue::array();
  for (const auto& e : *events) j["events"].push_back(EventJson(e));
  return Json(200, j.dump());
}

Response OperatorApi::CancelAction(Call& call) {
  auto id = ParseDecimal("id", call.parts[0], 1, INT64_MAX);
  if (!id.ok()) return FromStatus(id.status());
  auto body = ParseReasonBody(call.request.body);
  if (!body.ok()) return FromStatus(body.status());
  Action result;
  return Write(
      [&](std::optional<Response>& refusal) -> Status {
        FW_ASSIGN_OR_RETURN(auto a, store_->GetAction(*id));
        if (!a) return refusal = Error(404, "not_found", "no action " + call.parts[0]), NotFound("action");
        const std::string name = "action " + call.parts[0];
        if (a->done)
          return refusal = Error(409, "invalid_state", name + " is closed (" + a->state + ")"),
                 FailedPrecondition("refused");
        if (a->state == "trial_set" || a->state == "rebooting" || a->state == "confirmed") {
          refusal =
              Error(409, "invalid_state",
                    name + " is past the trial (" + a->state + "): cancels are honoured only until the trial is set");
          return FailedPrecondition("refused");
        }
        const JsonValue before = ActionJson(*a);
        if (a->attempt == 0) {
          a->state = "canceled";  // never reported on: nothing to tell the terminal beyond dropping it
          a->done = true;
        }
        a->cancel_requested = true;
        a->updated_s = Now();
        result = *a;
        FW_RETURN_IF_ERROR(store_->UpdateAction(*a));
        JsonValue after = ActionJson(*a);
        after["cancel_reason"] = body->reason;
        FW_RETURN_IF_ERROR(
            Record(*store_, Now(), call.actor, "action.cancel", ActionObject(a->id), before.dump(), after.dump())
                .status());
        if (!a->done || a->rollout_id == 0) return Status::Ok();
        rollout::Context ctx;  // closed at once: its rollout member moves in this transaction
        ctx.alerts = &config_.alerts;
        return rollout::OnActionClosed(*store_, ctx, *a, Now());
      },
      [&] { return Json(200, ActionJson(result).dump()); });
}

Response OperatorApi::Quarantine(Call& call) {
  return StateChange(call, DeviceState::kActive, DeviceState::kQuarantined, "device.quarantine");
}
Response OperatorApi::Release(Call& call) {
  return StateChange(call, DeviceState::kQuarantined, DeviceState::kActive, "device.release");
}
Response OperatorApi::Revoke(Call& call) {
  return StateChange(call, DeviceState::kActive, DeviceState::kRevoked, "device.revoke");
}

// size: one transaction for three decisions (quarantine + alert, release, revoke + deny list)
Response OperatorApi::StateChange(Call& call, DeviceState from_required, DeviceState to, const char* audit_action) {
  const std::string& serial = call.parts[0];
  auto body = ParseReasonBody(call.request.body);
  if (!body.ok()) return FromStatus(body.status());
  const bool revoke = to == DeviceState::kRevoked;
  Device after;
  return Write(
      [&](std::optional<Response>& refusal) -> Status {
        const int64_t now = Now();
        FW_ASSIGN_OR_RETURN(auto d, store_->GetDevice(serial));
        if (!d) return refusal = Error(404, "not_found", "no device " + serial), NotFound(serial);
        const bool allowed = revoke ? d->state != DeviceState::kRevoked : d->state == from_required;
        if (!allowed) {
          refusal = Error(
              409, "invalid_state",
              "device " + serial + " is " + std::string(DeviceStateName(d->state)) + ": " + audit_action + " needs a " +
                  (revoke ? "device not yet revoked" : std::string(DeviceStateName(from_required)) + " device"));
          return FailedPrecondition("refused");
        }
        after = *d;
        after.state = to;
        after.state_reason = to == DeviceState::kActive ? "" : body->reason;
        JsonValue after_json = StateJson(after);
        after_json["why"] = body->reason;
        if (revoke) {
          FW_ASSIGN_OR_RETURN(auto certs, store_->ListCerts(serial));
          JsonValue denied = JsonValue::array();
          for (const auto& c : certs) {
            FW_ASSIGN_OR_RETURN(bool already, store_->IsCertDenied(c.cert_serial_hex));
            if (already) continue;
            FW_RETURN_IF_ERROR(store_->DenyCert(c.cert_serial_hex, serial, "device revoked: " + body->reason, now));
            denied.push_back(c.cert_serial_hex);
          }
          after_json["denied_certificates"] = denied;
        }
        FW_RETURN_IF_ERROR(store_->SetDeviceState(serial, to, after.state_reason));
        FW_RETURN_IF_ERROR(Record(*store_, now, call.actor, audit_action, DeviceObject(serial), StateJson(*d).dump(),
                                  after_json.dump())
                               .status());
        if (to != DeviceState::kQuarantined) return Status::Ok();
        const JsonValue details{{"serial", serial}, {"reason", body->reason}, {"by", call.actor}};
        return RaiseAlert(*store_, config_.alerts, now, "quarantine", DeviceObject(serial), details.dump()).status();
      },
      [&] {
        auto labels = store_->ListLabels(serial);
        return Json(200, DeviceJson(after, labels.ok() ? *labels : std::vector<std::string>{}).dump());
      });
}

Response OperatorApi::ReEnrol(Call& call) {
  const std::string& serial = call.parts[0];
  auto body = ParseExpiresBody(call.request.body);
  if (!body.ok()) return FromStatus(body.status());
  auto d = store_->GetDevice(serial);
  if (!d.ok()) return FromStatus(d.status());
  if (!*d) return Error(404, "not_found", "no device " + serial + ": enrol it with an enrolment token instead");
  if ((*d)->state == DeviceState::kRevoked) {
    return Error(409, "invalid_state", "device " + serial + " is revoked: a revoked device cannot enrol again");
  }
  return IssueEnrolToken(call, serial, body->expires_in.value_or(config_.enrol_token_seconds), /*re_enrol=*/true);
}

}  // namespace fw::server::ops
