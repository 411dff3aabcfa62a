// fwfleet summary (fleet_cmds.h): GET /v1/fleet/summary (docs/fleet-operator.md, "Fleet summary")
// as a few lines and tables, or the server's JSON with --json.
#include <string>

#include "fleet_client.h"
#include "fleet_cmds.h"
#include "fleet_table.h"

namespace fw::fleet {
namespace {

namespace po = cli::po;

int64_t IntOf(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
}

// The check-ins line: the total over the window and the busiest bucket.
std::string CheckinsLine(const Json& checkins, const std::string& hours) {
  const Json buckets = checkins.is_object() ? checkins.value("buckets", Json::array()) : Json::array();
  int64_t total = 0, peak = 0, peak_start = 0;
  for (const Json& b : buckets) {
    const int64_t n = IntOf(b, "checkins");
    total += n;
    if (n > peak) {
      peak = n;
      peak_start = IntOf(b, "start");
    }
  }
  std::string line = "check-ins    " + std::to_string(total) + " in the last " + hours + " h (" +
                     std::to_string(IntOf(checkins, "bucket_seconds")) + " s buckets)";
  if (peak > 0) line += ", peak " + std::to_string(peak) + " at " + TimeText(peak_start);
  return line + "\n";
}

std::string AlertsTable(const std::string& title, const Json& alerts) {
  return "\n" + title + "\n" +
         Render(ColumnsTable(alerts.is_array() ? alerts : Json::array(),
                             {{"ID", "id"}, {"CREATED", "created"}, {"KIND", "kind"}, {"OBJECT", "object"}}));
}

std::string Human(const Json& j, const std::string& hours) {
  const Json states = j.value("states", Json::object());
  const Json not_seen = j.value("not_seen", Json::object());
  std::string out = "devices      " + std::to_string(IntOf(j, "devices")) + " (active " +
                    std::to_string(IntOf(states, "active")) + ", quarantined " +
                    std::to_string(IntOf(states, "quarantined")) + ", revoked " +
                    std::to_string(IntOf(states, "revoked")) + ")\n";
  out += "not seen     " + std::to_string(IntOf(not_seen, "devices")) + " for " +
         std::to_string(IntOf(not_seen, "seconds")) + " s or more\n";
  out += CheckinsLine(j.value("checkins", Json::object()), hours);
  out += "\nby version\n" + Render(ColumnsTable(j.value("by_version", Json::array()),
                                                {{"VERSION", "version"}, {"STATE", "state"}, {"DEVICES", "devices"}}));
  out += AlertsTable("journal alerts (newest first)", j.value("journal_alerts", Json::array()));
  out += AlertsTable("clone alerts (newest first)", j.value("clone_alerts", Json::array()));
  return out;
}

int Summary(const cli::Invocation& inv) {
  return WithSession(inv, [&](Session& s) -> int {
    const auto stale = Number(inv.vm, "stale-after");
    const auto hours = Number(inv.vm, "hours");
    auto j = s.client().Get("/v1/fleet/summary" + Query({{"stale_after", stale}, {"hours", hours}}));
    if (!j.ok()) return s.Fail(j.status());
    if (!j->is_object() || !j->contains("devices")) {
      return s.Fail(Corrupt("GET /v1/fleet/summary: no \"devices\" in the answer"));
    }
    return s.Emit(*j, Human(*j, hours.value_or("24")));
  });
}

}  // namespace

void AddSummaryCommand(cli::Program& p) {
  p.commands.push_back(Command(
      "summary", "the fleet at a glance: devices by state and version, not seen, check-ins, journal and clone alerts",
      "[options]",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()("stale-after", cli::Int<int64_t>(1, 31536000), "not seen for this many seconds (86400)")(
            "hours", cli::Int<int64_t>(1, 168), "check-ins over the last this many hours (24)");
      },
      Summary));
}

}  // namespace fw::fleet
