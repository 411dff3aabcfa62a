// JSON shapes of the operator API (operator_json.h).
#include "fw/server/operator_json.h"

namespace fw::server::ops {

JsonValue DeviceJson(const Device& d, const std::vector<std::string>& labels) {
  return JsonValue{{"serial", d.serial},         {"state", DeviceStateName(d.state)},
                   {"reason", d.state_reason},   {"hardware_id", d.hardware_id},
                   {"version", d.version},       {"created", d.created_s},
                   {"last_seen", d.last_seen_s}, {"labels", labels}};
}

JsonValue ActionJson(const Action& a) {
  return JsonValue{{"id", a.id},
                   {"device", a.device_serial},
                   {"kind", a.kind},
                   {"target", a.target_name},
                   {"version", a.target_version},
                   {"type", a.type},
                   {"window", a.window},
                   {"deadline", a.deadline_s},
                   {"backup_required", a.backup_required},
                   {"state", a.state},
                   {"attempt", a.attempt},
                   {"last_seq", a.last_seq},
                   {"cancel_requested", a.cancel_requested},
                   {"done", a.done},
                   {"failure_class", a.failure_class},
                   {"exit_code", a.exit_code},
                   {"detail", a.detail},
                   {"created", a.created_s},
                   {"updated", a.updated_s}};
}

JsonValue EventJson(const ActionEvent& e) {
  return JsonValue{{"attempt", e.attempt},
                   {"seq", e.seq},
                   {"state", e.state},
                   {"received", e.received_s},
                   {"body", ParsedOrNull(e.body_json)}};
}

JsonValue TokenJson(const OperatorToken& t) {
  return JsonValue{{"id", t.id},
                   {"name", t.name},
                   {"role", t.role},
                   {"journal_read", t.journal_read},
                   {"created", t.created_s},
                   {"expires", t.expires_s},
                   {"revoked", t.revoked_s ? JsonValue(*t.revoked_s) : JsonValue(nullptr)},
                   {"created_by", t.created_by}};
}

JsonValue EnrolTokenJson(const EnrolToken& t) {
  return JsonValue{{"hash_prefix", t.token_sha256_hex.substr(0, 12)},
                   {"serial", t.serial},
                   {"created", t.created_s},
                   {"expires", t.expires_s},
                   {"used", t.used_s ? JsonValue(*t.used_s) : JsonValue(nullptr)}};
}

JsonValue CertJson(const CertRecord& c, bool denied) {
  return JsonValue{{"cert_serial", c.cert_serial_hex},
                   {"spki_sha256", c.spki_sha256_hex},
                   {"issued", c.issued_s},
                   {"not_after", c.not_after_s},
                   {"denied", denied}};
}

JsonValue AuditJson(const AuditEntry& e) {
  return JsonValue{{"seq", e.seq},
                   {"time", e.time_s},
                   {"actor", e.actor},
                   {"action", e.action},
                   {"object", e.object},
                   {"before", ParsedOrNull(e.before_json)},
                   {"after", ParsedOrNull(e.after_json)},
                   {"prev", e.prev_hash_hex},
                   {"hash", e.hash_hex}};
}

JsonValue TargetsJson(const RepositoryTargets& t) {
  JsonValue items = JsonValue::array();
  for (const auto& target : t.targets) {
    JsonValue firmware = nullptr;
    if (target.has_firmware) {
      firmware = JsonValue{{"hardware_ids", target.firmware.hardware_ids},
                           {"version", target.firmware.version},
                           {"security_counter", target.firmware.security_counter}};
    }
    items.push_back(JsonValue{
        {"path", target.path}, {"length", target.length}, {"sha256", target.sha256_hex}, {"firmware", firmware}});
  }
  return JsonValue{{"root_version", t.root_version},
                   {"targets_version", t.targets_version},
                   {"targets_expires", t.targets_expires_s},
                   {"items", items}};
}

JsonValue CaJson(const CaStatus& ca) {
  JsonValue certs = JsonValue::array();
  for (const auto& c : ca.ca) {
    certs.push_back(JsonValue{{"name", c.name},
                              {"subject", c.subject},
                              {"serial", c.serial_hex},
                              {"not_before", c.not_before_s},
                              {"not_after", c.not_after_s}});
  }
  JsonValue expiring = JsonValue::array();
  for (const auto& c : ca.expiring) {
    expiring.push_back(JsonValue{{"device", c.device_serial},
                                 {"cert_serial", c.cert_serial_hex},
                                 {"issued", c.issued_s},
                                 {"not_after", c.not_after_s}});
  }
  return JsonValue{{"ca", certs}, {"expiring", expiring}, {"warn_seconds", ca.warn_seconds}};
}

JsonValue ParsedOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  JsonValue j = JsonValue::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? JsonValue(nullptr) : j;
}

std::string ListBody(JsonValue items, const std::optional<std::string>& next_cursor) {
  return JsonValue{{"items", std::move(items)},
                   {"next_cursor", next_cursor ? JsonValue(*next_cursor) : JsonValue(nullptr)}}
      .dump();
}

}  // namespace fw::server::ops
