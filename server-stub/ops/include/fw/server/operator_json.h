// JSON shapes of the operator API (docs/fleet-operator.md, "Objects"); also what the offline
// `fwserver` commands print, so both show one shape.
// Times are Unix seconds. Thread safety: stateless.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fw/server/ca_status.h"
#include "fw/server/repository_targets.h"
#include "fw/server/store.h"

namespace fw::server::ops {

using JsonValue = nlohmann::json;

JsonValue DeviceJson(const Device& d, const std::vector<std::string>& labels);
JsonValue ActionJson(const Action& a);
JsonValue EventJson(const ActionEvent& e);
JsonValue TokenJson(const OperatorToken& t);    // never the hash
JsonValue EnrolTokenJson(const EnrolToken& t);  // hash prefix only
JsonValue CertJson(const CertRecord& c, bool denied);
JsonValue AuditJson(const AuditEntry& e);
JsonValue TargetsJson(const RepositoryTargets& t);
JsonValue CaJson(const CaStatus& ca);
// A stored JSON text as a value (null when empty or unparsable).
JsonValue ParsedOrNull(const std::string& text);
// {"items": items, "next_cursor": cursor or null}
std::string ListBody(JsonValue items, const std::optional<std::string>& next_cursor);

}  // namespace fw::server::ops
