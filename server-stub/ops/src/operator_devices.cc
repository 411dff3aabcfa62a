// Operator API: devices, their labels and journals (docs/fleet-operator.md, "Devices").
#include "fw/server/audit.h"
#include "fw/server/journal_vault.h"
#include "fw/server/journal_witness.h"
#include "fw/server/operator_json.h"
#include "operator_impl.h"

namespace fw::server::ops {
namespace {

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 500;
constexpr size_t kMaxFindings = 100;

std::string DeviceObject(const std::string& serial) { return "device:" + serial; }

Result<int64_t> Limit(const QueryValues& q) {
  auto it = q.find("limit");
  if (it == q.end()) return kDefaultLimit;
  return ParseDecimal("limit", it->second, 1, kMaxLimit);
}

std::string Get(const QueryValues& q, std::string_view name) {
  auto it = q.find(name);
  return it == q.end() ? std::string() : it->second;
}

JsonValue WitnessJson(const std::string& text) {
  if (text.empty()) return nullptr;
  auto state = witness::ParseState(text);
  if (!state.ok()) return JsonValue{{"error", state.status().message()}};
  return JsonValue{{"epoch", state->epoch},
                   {"verified_seq", state->verified_seq},
                   {"witnessed_seq", state->witnessed_seq},
                   {"has_witness", state->has_witness},
                   {"truncations", state->truncations},
                   {"previous_epoch_seq", state->previous_epoch_seq}};
}

// The journal findings raised for a device (alerts journal_anomaly and clone), newest kMaxFindings.
Result<JsonValue> FindingsOf(Store& store, const std::string& serial) {
  JsonValue out = JsonValue::array();
  int64_t after = 0;
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto page, store.ListAlerts(after, 1000));
    for (const auto& a : page) {
      after = a.id;
      if (a.object != DeviceObject(serial) || (a.kind != "journal_anomaly" && a.kind != "clone")) continue;
      JsonValue body = ParsedOrNull(a.body_json);
      JsonValue details = body.is_object() && body.contains("details") ? body["details"] : JsonValue(nullptr);
      out.push_back(JsonValue{{"alert", a.id}, {"kind", a.kind}, {"time", a.created_s}, {"details", details}});
      if (out.size() > kMaxFindings) out.erase(out.begin());
    }
    if (page.size() < 1000) break;
  }
  return out;
}

}  // namespace

Response OperatorApi::ListDevices(Call& call) {
  Response error;
  if (!Query(call,
             {{"label", 64},
              {"hardware", 128},
              {"version", 64},
              {"state", 16},
              {"seen_after", 20},
              {"seen_before", 20},
              {"limit", 4},
              {"cursor", 512}},
             &error)) {
    return error;
  }
  DeviceQuery q;
  q.label = Get(call.query, "label");
  q.hardware_id = Get(call.query, "hardware");
  q.version = Get(call.query, "version");
  const std::string state = Get(call.query, "state");
  if (state == "active") q.state = DeviceState::kActive;
  if (state == "quarantined") q.state = DeviceState::kQuarantined;
  if (state == "revoked") q.state = DeviceState::kRevoked;
  if (!state.empty() && !q.state) return Error(400, "bad_request", "\"state\" must be active, quarantined or revoked");
  for (const char* name : {"seen_after", "seen_before"}) {
    if (!call.query.contains(name)) continue;
    auto v = ParseDecimal(name, Get(call.query, name), 0, INT64_MAX / 2);
    if (!v.ok()) return FromStatus(v.status());
    (std::string_view(name) == "seen_after" ? q.seen_after_s : q.seen_before_s) = *v;
  }
  auto limit = Limit(call.query);
  if (!limit.ok()) return FromStatus(limit.status());
  // A cursor is only good for the filters it was made with (limit may change between pages).
  const std::string filters = q.label + "\n" + q.hardware_id + "\n" + q.version + "\n" + state + "\n" +
                              Get(call.query, "seen_after") + "\n" + Get(call.query, "seen_before");
  if (call.query.contains("cursor")) {
    auto key = DecodeCursor(Get(call.query, "cursor"), "devices", filters);
    if (!key.ok()) return FromStatus(key.status());
    q.after_serial = *key;
  }
  q.limit = *limit + 1;
  auto rows = store_->QueryDevices(q);
  if (!rows.ok()) return FromStatus(rows.status());
  std::optional<std::string> next;
  if (static_cast<int64_t>(rows->size()) > *limit) {
    rows->resize(*limit);
    next = EncodeCursor("devices", filters, rows->back().serial);
  }
  JsonValue items = JsonValue::array();
  for (const auto& d : *rows) {
    auto labels = store_->ListLabels(d.serial);
    if (!labels.ok()) return FromStatus(labels.status());
    items.push_back(DeviceJson(d, *labels));
  }
  return Json(200, ListBody(std::move(items), next));
}

// size: one object built from five store reads, each with its error path
Response OperatorApi::GetDevice(Call& call) {
  const std::string& serial = call.parts[0];
  auto d = store_->GetDevice(serial);
  if (!d.ok()) return FromStatus(d.status());
  if (!*d) return Error(404, "not_found", "no device " + serial);
  auto labels = store_->ListLabels(serial);
  if (!labels.ok()) return FromStatus(labels.status());
  JsonValue j = DeviceJson(**d, *labels);
  j["spki_sha256"] = (*d)->spki_sha256_hex;
  j["manifest"] = ParsedOrNull((*d)->manifest_json);
  auto findings = FindingsOf(*store_, serial);
  if (!findings.ok()) return FromStatus(findings.status());
  JsonValue witness = WitnessJson((*d)->witness_state);
  if (witness.is_null()) witness = JsonValue::object();
  witness["findings"] = findings->size();
  witness["last_finding"] = findings->empty() ? JsonValue(nullptr) : findings->back();
  j["witness"] = witness;
  auto certs = store_->ListCerts(serial);
  if (!certs.ok()) return FromStatus(certs.status());
  JsonValue cj = JsonValue::array();
  for (const auto& c : *certs) {
    auto denied = store_->IsCertDenied(c.cert_serial_hex);
    if (!denied.ok()) return FromStatus(denied.status());
    cj.push_back(CertJson(c, *denied));
  }
  j["certificates"] = cj;
  return Json(200, j.dump());
}

Response OperatorApi::DeviceActions(Call& call) {
  Response error;
  if (!Query(call, {}, &error)) return error;
  const std::string& serial = call.parts[0];
  auto d = store_->GetDevice(serial);
  if (!d.ok()) return FromStatus(d.status());
  if (!*d) return Error(404, "not_found", "no device " + serial);
  auto actions = store_->ListActions(serial, /*open_only=*/false);
  if (!actions.ok()) return FromStatus(actions.status());
  JsonValue items = JsonValue::array();
  for (const auto& a : *actions) {
    auto events = store_->ListEvents(a.id);
    if (!events.ok()) return FromStatus(events.status());
    JsonValue j = ActionJson(a);
    j["rollout"] = a.rollout_id > 0 ? JsonValue(a.rollout_id) : JsonValue(nullptr);  // the dashboard's timeline
    j["events"] = JsonValue::array();
    for (const auto& e : *events) j["events"].push_back(EventJson(e));
    items.push_back(std::move(j));
  }
  return Json(200, ListBody(std::move(items), std::nullopt));
}

Response OperatorApi::DeviceJournal(Call& call) {
  const std::string& serial = call.parts[0];
  auto d = store_->GetDevice(serial);
  if (!d.ok()) return FromStatus(d.status());
  if (!*d) return Error(404, "not_found", "no device " + serial);
  auto findings = FindingsOf(*store_, serial);
  if (!findings.ok()) return FromStatus(findings.status());
  auto segments = store_->ListSegments(serial);
  if (!segments.ok()) return FromStatus(segments.status());
  JsonValue list = JsonValue::array();
  for (const auto& s : *segments) {
    list.push_back(JsonValue{{"first", s.first_seq},
                             {"last", s.last_seq},
                             {"records", s.records},
                             {"sha256", s.sha256_hex},
                             {"received", s.received_s}});
  }
  return Json(200, JsonValue{{"serial", serial},
                             {"state", DeviceStateName((*d)->state)},
                             {"reason", (*d)->state_reason},
                             {"witness", WitnessJson((*d)->witness_state)},
                             {"findings", *findings},
                             {"segments", list}}
                       .dump());
}

Response OperatorApi::JournalSegment(Call& call) {
  const std::string& serial = call.parts[0];
  auto range = ParseSegmentRange(call.parts[1]);
  if (!range.ok()) return FromStatus(range.status());
  auto segment = store_->GetSegment(serial, range->first, range->second);
  if (!segment.ok()) return FromStatus(segment.status());
  if (!*segment) return Error(404, "not_found", "no segment " + call.parts[1] + " of device " + serial);
  auto body = config_.vault->Open(SegmentAssociatedData(serial, range->first, range->second), (*segment)->body);
  if (!body.ok()) {
    if (body.status().code() == ErrorCode::kFailedPrecondition) return FromStatus(body.status());
    return Error(500, "internal", "segment " + call.parts[1] + " of " + serial + ": " + body.status().message());
  }
  const JsonValue after{
      {"segment", call.parts[1]}, {"records", (*segment)->records}, {"sha256", (*segment)->sha256_hex}};
  auto audited = Record(*store_, Now(), call.actor, "journal.read", DeviceObject(serial), "null", after.dump());
  if (!audited.ok()) return FromStatus(audited.status());
  Response r;
  r.status = 200;
  r.body = std::move(*body);
  r.Header("Content-Type", "application/x-ndjson").Header("Cache-Control", "no-store");
  return r;
}

Response OperatorApi::PutLabel(Call& call) { return LabelChange(call, /*add=*/true); }
Response OperatorApi::DeleteLabel(Call& call) { return LabelChange(call, /*add=*/false); }

Response OperatorApi::LabelChange(Call& call, bool add) {
  const std::string& serial = call.parts[0];
  const std::string& label = call.parts[1];
  if (!IsValidLabel(label)) return Error(400, "bad_request", "a label is 1-64 of [A-Za-z0-9._:-]");
  std::vector<std::string> after;
  return Write(
      [&](std::optional<Response>& refusal) -> Status {
        FW_ASSIGN_OR_RETURN(auto d, store_->GetDevice(serial));
        if (!d) return refusal = Error(404, "not_found", "no device " + serial), NotFound(serial);
        FW_ASSIGN_OR_RETURN(auto before, store_->ListLabels(serial));
        FW_RETURN_IF_ERROR(add ? store_->AddLabel(serial, label) : store_->RemoveLabel(serial, label));
        FW_ASSIGN_OR_RETURN(after, store_->ListLabels(serial));
        if (after == before) return Status::Ok();  // nothing changed: nothing to audit
        return Record(*store_, Now(), call.actor, add ? "device.label_add" : "device.label_remove",
                      DeviceObject(serial), JsonValue{{"labels", before}}.dump(), JsonValue{{"labels", after}}.dump())
            .status();
      },
      [&] {
        return Json(200, JsonValue{{"serial", serial}, {"labels", after}}.dump());
      });
}

Response OperatorApi::ListLabels(Call& call) {
  Response error;
  if (!Query(call, {}, &error)) return error;
  auto counts = store_->LabelCounts();
  if (!counts.ok()) return FromStatus(counts.status());
  JsonValue items = JsonValue::array();
  for (const auto& [label, devices] : *counts) items.push_back(JsonValue{{"label", label}, {"devices", devices}});
  return Json(200, ListBody(std::move(items), std::nullopt));
}

}  // namespace fw::server::ops
