// The device API's check-in, action events and journal segments (docs/fleet-protocol.md).
#include <nlohmann/json.hpp>

#include "device_api_impl.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/alerts.h"
#include "fw/server/audit.h"
#include "fw/server/device_messages.h"
#include "fw/server/journal_vault.h"
#include "fw/server/journal_witness.h"
#include "fw/server/rollout.h"
#include "restored_backup.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;

Json ActionJson(const Action& a) {
  Json j = {{"id", a.id},
            {"kind", a.kind},
            {"type", a.type},
            {"window", a.window.empty() ? Json(nullptr) : Json(a.window)},
            {"deadline", a.deadline_s == 0 ? Json(nullptr) : Json(a.deadline_s)},
            {"backup_required", a.backup_required},
            {"state", a.state},
            {"attempt", a.attempt},
            {"last_seq", a.last_seq}};
  j["target"] =
      a.kind == "journal_backup" ? Json(nullptr) : Json{{"name", a.target_name}, {"version", a.target_version}};
  return j;
}

bool CancelPending(const Action& a) {
  return a.cancel_requested && a.state != "trial_set" && a.state != "rebooting" && a.state != "confirmed";
}

Result<witness::State> LoadWitness(const Device& d) {
  if (d.witness_state.empty()) return witness::State{};
  return witness::ParseState(d.witness_state);
}

Json FindingsJson(const std::vector<witness::Finding>& findings) {
  Json out = Json::array();
  for (const auto& f : findings) {
    out.push_back({{"kind", witness::FindingKindName(f.kind)}, {"seq", f.seq}, {"detail", f.detail}});
  }
  return out;
}

const witness::Finding* ForkIn(const std::vector<witness::Finding>& findings) {
  for (const auto& f : findings) {
    if (f.kind == witness::FindingKind::kFork) return &f;
  }
  return nullptr;
}

// Truncations and forks are anomalies; a gap is the routine "upload these records" request.
bool HasAnomaly(const std::vector<witness::Finding>& findings) {
  for (const auto& f : findings) {
    if (f.kind != witness::FindingKind::kGap) return true;
  }
  return false;
}

// The system decisions a journal observation leads to, written inside the caller's transaction
// (docs/fleet-alerts.md): every truncation or fork is audited as journal.anomaly and alerted as
// journal_anomaly while the device is active (a quarantined device was reported already); the fork
// that quarantines is audited as device.quarantine and alerted as clone and quarantine.
Status RecordJournalDecisions(Store& store, const AlertPolicy& alerts, int64_t now, const Device& d,
                              const std::vector<witness::Finding>& findings, const char* source,
                              const witness::Finding* quarantining_fork) {
  const std::string object = "device:" + d.serial;
  for (const auto& f : findings) {
    if (f.kind == witness::FindingKind::kGap) continue;
    const Json finding = {{"serial", d.serial},
                          {"finding", witness::FindingKindName(f.kind)},
                          {"seq", f.seq},
                          {"detail", f.detail},
                          {"source", source}};
    FW_RETURN_IF_ERROR(Record(store, now, "system", "journal.anomaly", object, "null", finding.dump()).status());
    if (d.state == DeviceState::kActive) {
      FW_RETURN_IF_ERROR(RaiseAlert(store, alerts, now, "journal_anomaly", object, finding.dump()).status());
    }
  }
  if (quarantining_fork == nullptr) return Status::Ok();
  const std::string reason = "journal fork: " + quarantining_fork->detail;
  FW_RETURN_IF_ERROR(Record(store, now, "system", "device.quarantine", object,
                            Json{{"state", "active"}, {"reason", d.state_reason}}.dump(),
                            Json{{"state", "quarantined"}, {"reason", reason}}.dump())
                         .status());
  const Json clone = {
      {"serial", d.serial}, {"seq", quarantining_fork->seq}, {"detail", quarantining_fork->detail}, {"source", source}};
  FW_RETURN_IF_ERROR(RaiseAlert(store, alerts, now, "clone", object, clone.dump()).status());
  const Json quarantine = {{"serial", d.serial}, {"reason", reason}, {"actor", "system"}};
  return RaiseAlert(store, alerts, now, "quarantine", object, quarantine.dump()).status();
}

// Quarantines the device for a fork when it is still active inside the transaction (another thread may
// have quarantined it since it was read): true when this call did, so the decision is recorded once.
Result<bool> QuarantineIfActive(Store& store, const std::string& serial, const witness::Finding& fork) {
  FW_ASSIGN_OR_RETURN(auto current, store.GetDevice(serial));
  if (!current || current->state != DeviceState::kActive) return false;
  FW_RETURN_IF_ERROR(store.SetDeviceState(serial, DeviceState::kQuarantined, "journal fork: " + fork.detail));
  return true;
}

// action.close: the verdict the server reached from a check-in (docs/fleet-audit.md).
Status RecordActionClose(Store& store, int64_t now, const Action& a, const std::string& state_before) {
  Json after = {{"state", a.state}};
  if (a.state == "failed") {
    after["failure_class"] = a.failure_class;
    after["detail"] = a.detail;
  }
  return Record(store, now, "system", "action.close", "action:" + std::to_string(a.id),
                Json{{"state", state_before}}.dump(), after.dump())
      .status();
}

// A closed action of a rollout moves its member and may pause the rollout, in the caller's transaction
// (fw/server/rollout.h OnActionClosed). Needs no repository: it never assigns.
Status CloseInRollout(Store& store, const AlertPolicy& alerts, const Action& a, int64_t now) {
  if (a.rollout_id == 0 || !a.done) return Status::Ok();
  rollout::Context ctx;
  ctx.alerts = &alerts;
  return rollout::OnActionClosed(store, ctx, a, now);
}

}  // namespace

// size: one pass over the check-in's decisions (manifest, witness, verdicts) and its one write
Response DeviceApi::Checkin(const Request& request) {
  auto auth = Authenticate(request.peer, /*allow_expired=*/false);
  if (auto* r = std::get_if<Response>(&auth)) return std::move(*r);
  Device& d = std::get<Device>(auth);
  auto manifest = ParseManifest(request.body);
  if (!manifest.ok()) return ErrorResponse(400, "bad_request", manifest.status().message());
  const int64_t now = NowS();

  // Decide everything first; write only what changed, in one transaction.
  const std::string manifest_json = ManifestJson(*manifest);
  auto wstate = LoadWitness(d);
  if (!wstate.ok()) return ErrorResponse(500, "internal", "stored witness state: " + wstate.status().message());
  // A receipt for more than the witness holds: the database was restored; start over, no false alarm.
  std::optional<witness::State> restored_from;
  if (manifest->journal_receipt) {
    auto key = ReceiptKey();
    if (!key.ok()) return StoreErrorResponse(key.status());
    if (restore::ReceiptAhead(*key, d.serial, *wstate, *manifest->journal_receipt)) {
      restored_from = *wstate;
      restore::StartEpochAfterRestore(*wstate, *manifest->journal_receipt);
    }
  }
  auto floor_due = ActionIdFloorDue(manifest->max_action_id);
  if (!floor_due.ok()) return StoreErrorResponse(floor_due.status());
  auto observed = witness::ObserveCheckin(*wstate, manifest->journal_last_seq, manifest->journal_head_hex);
  if (!observed.ok()) return ErrorResponse(400, "bad_request", "journal: " + observed.status().message());
  const witness::Finding* fork = ForkIn(observed->findings);
  auto actions = store_->ListActions(d.serial, /*open_only=*/true);
  if (!actions.ok()) return StoreErrorResponse(actions.status());
  std::vector<std::pair<Action*, std::string>> decided;  // with the state before the verdict
  for (Action& a : *actions) {
    const std::string verdict = CheckinVerdict(a, *manifest);
    if (verdict.empty()) continue;
    decided.emplace_back(&a, a.state);
    a.done = true;
    a.updated_s = now;
    if (verdict == "succeeded") {
      a.state = "succeeded";
    } else {
      a.detail = "after " + a.state + " the terminal checked in running " + manifest->running.version + ", not " +
                 a.target_version;
      a.state = "failed";
      a.failure_class = "boot_failed";
    }
  }
  const bool quarantine = fork != nullptr && d.state == DeviceState::kActive;
  const bool anomaly = HasAnomaly(observed->findings);
  if (manifest_json != d.manifest_json || observed->changed || quarantine || anomaly || !decided.empty() ||
      *floor_due) {
    Status s = store_->Atomically([&]() -> Status {
      if (*floor_due) {
        FW_ASSIGN_OR_RETURN(bool raised, restore::RaiseActionIdFloor(*store_, manifest->max_action_id, d.serial, now));
        if (raised) next_action_id_known_ = manifest->max_action_id + 1;
      }
      if (restored_from) {
        const Json before = {{"epoch", restored_from->epoch},
                             {"verified_seq", restored_from->verified_seq},
                             {"witnessed_seq", restored_from->witnessed_seq}};
        const Json after = {
            {"epoch", wstate->epoch},
            {"reason", "restored"},
            {"receipt", {{"epoch", manifest->journal_receipt->epoch}, {"seq", manifest->journal_receipt->seq}}},
            {"detail",
             "the terminal holds a receipt for more than this database witnessed "
             "(restored from an older backup?): a new witness epoch, no truncation alarm"}};
        FW_RETURN_IF_ERROR(
            Record(*store_, now, "system", "journal.new_epoch", "device:" + d.serial, before.dump(), after.dump())
                .status());
      }
      if (manifest_json != d.manifest_json)
        FW_RETURN_IF_ERROR(
            store_->SetDeviceManifest(d.serial, manifest_json, manifest->hardware_id, manifest->running.version));
      if (observed->changed) FW_RETURN_IF_ERROR(store_->SetWitnessState(d.serial, witness::Serialize(*wstate)));
      bool quarantined = false;  // by this request (another one may have been first)
      if (quarantine) {
        FW_ASSIGN_OR_RETURN(quarantined, QuarantineIfActive(*store_, d.serial, *fork));
      }
      FW_RETURN_IF_ERROR(RecordJournalDecisions(*store_, config_.alerts, now, d, observed->findings, "checkin",
                                                quarantined ? fork : nullptr));
      for (auto& [a, before] : decided) {
        FW_RETURN_IF_ERROR(store_->UpdateAction(*a));
        FW_RETURN_IF_ERROR(RecordActionClose(*store_, now, *a, before));
        FW_RETURN_IF_ERROR(CloseInRollout(*store_, config_.alerts, *a, now));
      }
      return Status::Ok();
    });
    if (!s.ok()) return StoreErrorResponse(s);
    if (quarantine) d.state = DeviceState::kQuarantined;
  }
  NoteSeen(d.serial, /*checkin=*/true);  // counted in the check-in bucket too

  // The reply: what the terminal must know. Its ETag covers everything but the time and the poll interval.
  Json pending = Json::array(), cancels = Json::array();
  for (const Action& a : *actions) {
    if (a.done) continue;
    if (CancelPending(a)) {
      cancels.push_back(a.id);
    } else if (d.state == DeviceState::kActive) {
      pending.push_back(ActionJson(a));
    }
  }
  Json core = {{"device_state", DeviceStateName(d.state)},
               {"actions", pending},
               {"cancels", cancels},
               {"journal_upload", observed->upload_from_seq
                                      ? Json{{"from_seq", *observed->upload_from_seq}, {"epoch", wstate->epoch}}
                                      : Json(nullptr)},
               {"repository", config_.repository_url}};
  const std::string etag = "\"" + HexEncode(Sha256::Of(AsBytes(core.dump()))).substr(0, 32) + "\"";
  const int64_t j = config_.poll_jitter_seconds;
  const int64_t poll =
      std::max<int64_t>(1, config_.poll_seconds + (j > 0 ? static_cast<int64_t>(rng_() % (2 * j + 1)) - j : 0));
  Response r;
  if (request.Header("if-none-match") == etag) {
    r.status = 304;
    r.Header("Cache-Control", "no-store");
  } else {
    core["server_time"] = now;
    core["poll_seconds"] = poll;
    r = JsonResponse(200, core.dump());
  }
  r.Header("ETag", etag).Header("Fw-Server-Time", std::to_string(now)).Header("Fw-Poll-Seconds", std::to_string(poll));
  return r;
}

Response DeviceApi::Events(const Request& request, const std::string& id_text) {
  auto auth = Authenticate(request.peer, /*allow_expired=*/false);
  if (auto* r = std::get_if<Response>(&auth)) return std::move(*r);
  Device& d = std::get<Device>(auth);
  int64_t id = 0;
  const bool digits =
      !id_text.empty() && id_text.size() <= 18 && id_text.find_first_not_of("0123456789") == std::string::npos;
  if (digits) id = std::stoll(id_text);
  auto event = ParseEvent(request.body);
  if (!event.ok()) return ErrorResponse(400, "bad_request", event.status().message());
  const std::string event_json = EventJson(*event);
  Response reply;
  Status s = store_->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto action, store_->GetAction(id));
    // Another device's action is answered exactly like a missing one. 409, not 404: the route exists
    // and the event is well formed, the server's state refuses it for good (e.g. its database was
    // restored from a backup older than the action); the agent stops reporting the action.
    if (!digits || !action || action->device_serial != d.serial) {
      reply = ErrorResponse(409, "unknown_action",
                            "the server does not know action " + id_text +
                                " for this device (was its database restored from an older backup?); "
                                "stop reporting it");
      return Status::Ok();
    }
    auto result = [&](const char* what) {
      reply = JsonResponse(200, Json{{"action", id},
                                     {"result", what},
                                     {"state", action->state},
                                     {"attempt", action->attempt},
                                     {"last_seq", action->last_seq}}
                                    .dump());
    };
    FW_ASSIGN_OR_RETURN(auto stored, store_->GetEvent(id, event->attempt, event->seq));
    if (stored) {
      if (stored->body_json == event_json) return result("duplicate"), Status::Ok();
      reply = ErrorResponse(409, "event_conflict", "event (attempt, seq) was stored with other content");
      return Status::Ok();
    }
    const bool was_open = !action->done;
    const EventDecision decision = ApplyEvent(*action, *event, NowS());
    switch (decision.outcome) {
      case EventOutcome::kOlder:
        return result("ignored_older"), Status::Ok();
      case EventOutcome::kInvalid:
        reply = ErrorResponse(409, "invalid_transition", decision.reason);
        return Status::Ok();
      case EventOutcome::kClosed:
        reply = ErrorResponse(409, "action_closed", decision.reason);
        return Status::Ok();
      case EventOutcome::kApplied:
        break;
    }
    FW_RETURN_IF_ERROR(store_->AddEvent({id, event->attempt, event->seq, event->state, event_json, NowS()}));
    FW_RETURN_IF_ERROR(store_->UpdateAction(*action));
    if (was_open) FW_RETURN_IF_ERROR(CloseInRollout(*store_, config_.alerts, *action, NowS()));
    return result("applied"), Status::Ok();
  });
  if (!s.ok()) return StoreErrorResponse(s);
  NoteSeen(d.serial);
  return reply;
}

Response DeviceApi::Segments(const Request& request) {
  auto auth = Authenticate(request.peer, /*allow_expired=*/false);
  if (auto* r = std::get_if<Response>(&auth)) return std::move(*r);
  Device& d = std::get<Device>(auth);
  auto wstate = LoadWitness(d);
  if (!wstate.ok()) return ErrorResponse(500, "internal", "stored witness state: " + wstate.status().message());
  auto accepted = witness::AcceptSegment(*wstate, request.body);
  if (!accepted.ok()) {
    const Status& e = accepted.status();
    if (e.code() == ErrorCode::kVerificationFailed) return ErrorResponse(422, "card_data", e.message());
    // Fork, gap, already held, other epoch: the message says which; the next check-in says what to upload.
    if (e.code() == ErrorCode::kFailedPrecondition) return ErrorResponse(409, "journal_conflict", e.message());
    if (e.code() == ErrorCode::kResourceExhausted) return ErrorResponse(413, "too_large", e.message());
    return ErrorResponse(400, "bad_segment", e.message());
  }
  const witness::Finding* fork = ForkIn(accepted->findings);
  const bool quarantine = fork != nullptr && d.state == DeviceState::kActive;
  const int64_t now = NowS();
  // Cardholder data at rest: sealed under the journal key when one is configured (journal_vault.h).
  std::string stored = request.body;
  if (config_.vault != nullptr && !accepted->duplicate) {
    auto sealed =
        config_.vault->Seal(SegmentAssociatedData(d.serial, accepted->first_seq, accepted->last_seq), request.body);
    if (!sealed.ok()) return ErrorResponse(500, "internal", "sealing the segment: " + sealed.status().message());
    stored = std::move(*sealed);
  }
  Status s = store_->Atomically([&]() -> Status {
    if (accepted->changed) FW_RETURN_IF_ERROR(store_->SetWitnessState(d.serial, witness::Serialize(*wstate)));
    if (!accepted->duplicate) {
      FW_RETURN_IF_ERROR(store_->AddSegment({d.serial, accepted->first_seq, accepted->last_seq, accepted->records,
                                             HexEncode(Sha256::Of(AsBytes(request.body))), now, stored}));
    }
    bool quarantined = false;  // by this request (another one may have been first)
    if (quarantine) {
      FW_ASSIGN_OR_RETURN(quarantined, QuarantineIfActive(*store_, d.serial, *fork));
    }
    return RecordJournalDecisions(*store_, config_.alerts, now, d, accepted->findings, "segment",
                                  quarantined ? fork : nullptr);
  });
  if (!s.ok()) return StoreErrorResponse(s);
  NoteSeen(d.serial);
  auto key = ReceiptKey();
  if (!key.ok()) return StoreErrorResponse(key.status());
  const Json receipt = {{"epoch", wstate->epoch},
                        {"seq", wstate->verified_seq},
                        {"mac", restore::ReceiptMac(*key, d.serial, wstate->epoch, wstate->verified_seq)}};
  return JsonResponse(200, Json{{"first_seq", accepted->first_seq},
                                {"last_seq", accepted->last_seq},
                                {"records", accepted->records},
                                {"verified_seq", wstate->verified_seq},
                                {"duplicate", accepted->duplicate},
                                {"findings", FindingsJson(accepted->findings)},
                                {"receipt", receipt}}
                               .dump());
}

Result<std::string> DeviceApi::ReceiptKey() {
  if (receipt_key_.empty()) {
    FW_ASSIGN_OR_RETURN(receipt_key_, restore::ReceiptKey(*store_));
  }
  return receipt_key_;
}

// A reported max_action_id at or above the next id the store would assign: the floor must rise. The
// next id is remembered for a minute (ids only grow), so a steady fleet costs no extra query per check-in.
Result<bool> DeviceApi::ActionIdFloorDue(int64_t max_action_id) {
  if (max_action_id <= 0) return false;
  const int64_t now_ms = clock_.MonotonicMs();
  if (max_action_id < next_action_id_known_ && now_ms - next_action_id_checked_ms_ < 60000) return false;
  FW_ASSIGN_OR_RETURN(next_action_id_known_, store_->NextActionId());
  next_action_id_checked_ms_ = now_ms;
  return max_action_id >= next_action_id_known_;
}

}  // namespace fw::server
