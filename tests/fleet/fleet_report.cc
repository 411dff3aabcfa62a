// The fleet report (fleet_report.h).
#include "fleet_report.h"

#include <cstdio>
#include <set>
#include <sstream>

#include "fw/server/rollout.h"

namespace fw::fleetsim {
namespace {

using Json = nlohmann::json;

bool RevertClass(const std::string& c) { return c == "health_failed" || c == "journal_check" || c == "boot_failed"; }

std::map<std::string, int64_t> CounterMap(const std::vector<server::RolloutCounter>& counters) {
  std::map<std::string, int64_t> m;
  for (const auto& c : counters) {
    if (c.value != 0) m["group " + std::to_string(c.group_index) + " " + c.name] = c.value;
  }
  return m;
}

void CollectTerminals(Fleet& fleet, FleetReport& r) {
  auto& terminals = fleet.terminals();
  r.facts.assign(terminals.size(), TerminalFacts{});
  for (auto& t : terminals) r.facts[t->index()].offline = fleet.OfflineNow(*t);
  const SimVendor& vendor = fleet.vendor();
  fleet.loop().ForEach([&](SimTerminal& t) {
    TerminalFacts& f = r.facts[t.index()];
    f.boot = t.Boot(vendor);
    auto lost = t.LostRecords();
    f.lost = lost.ok() ? *lost : 1;
    if (!lost.ok()) f.error = lost.status().ToString();
    auto outbox = t.OutboxSize();
    f.outbox = outbox.ok() ? *outbox : 0;
  });
}

Status CollectMembers(Fleet& fleet, const std::vector<int64_t>& ids, FleetReport& r) {
  for (int64_t id : ids) {
    FW_ASSIGN_OR_RETURN(auto members, fleet.Members(id));
    for (const auto& m : members) {
      if (m.state == "failed") ++r.failed[m.failure_class];
      if (m.state == "no_response") ++r.no_response;
      r.last_member[m.serial] = m;
    }
  }
  return Status::Ok();
}

// Events the agents posted that the server does not hold (online terminals; final refusals excepted).
Result<int64_t> MissingEvents(Fleet& fleet, FleetReport& r) {
  int64_t missing = 0;
  for (auto& t : fleet.terminals()) {
    if (r.facts[t->index()].offline) continue;
    for (const PostedEvent& e : t->link.posted) {
      // Refused as final, or by design not stored (an older seq after a newer one; a proxy that lost it).
      if (e.answer == "action_closed" || e.answer == "unknown_action" || e.answer == "ignored_older" ||
          e.answer == "lost_by_proxy") {
        continue;
      }
      FW_ASSIGN_OR_RETURN(auto stored, fleet.server().store().GetEvent(e.action, e.attempt, e.seq));
      if (!stored && ++missing <= 5) {
        r.extra["events_missing_first"].push_back(t->serial() + " action " + std::to_string(e.action) + " attempt " +
                                                  std::to_string(e.attempt) + " seq " + std::to_string(e.seq) + " " +
                                                  e.state + " (last answer: " + e.answer + ")");
      }
    }
  }
  return missing;
}

}  // namespace

Result<std::vector<server::AuditEntry>> WholeAudit(server::Store& store) {
  std::vector<server::AuditEntry> out;
  int64_t after = 0;
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto page, store.ListAudit(after, 1000));
    if (page.empty()) break;
    after = page.back().seq;
    out.insert(out.end(), page.begin(), page.end());
  }
  return out;
}

Result<std::string> RecountDiff(server::Store& store, int64_t rollout) {
  FW_ASSIGN_OR_RETURN(auto stored, store.ListRolloutCounters(rollout));
  FW_ASSIGN_OR_RETURN(auto recount, server::rollout::Recount(store, rollout));
  const auto a = CounterMap(stored), b = CounterMap(recount);
  if (a == b) return std::string();
  std::string diff = "rollout " + std::to_string(rollout) + ":";
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  for (const auto& k : keys) {
    const int64_t x = a.count(k) ? a.at(k) : 0, y = b.count(k) ? b.at(k) : 0;
    if (x != y) diff += " " + k + " stored " + std::to_string(x) + " recount " + std::to_string(y) + ";";
  }
  return diff;
}

Result<PauseFacts> CollectPause(Fleet& fleet, int64_t rollout, const std::vector<server::AuditEntry>& audit) {
  PauseFacts p;
  p.rollout = rollout;
  FW_ASSIGN_OR_RETURN(auto row, fleet.server().store().GetRollout(rollout));
  if (!row) return NotFound("rollout " + std::to_string(rollout));
  p.state = row->state;
  p.pause_kind = row->pause_kind;
  p.pause_reason = row->pause_reason;
  const std::string object = "rollout:" + std::to_string(rollout);
  std::set<int64_t> created_before;
  for (const auto& e : audit) {
    if (e.action == "rollout.pause" && e.object == object) {
      p.pause_seq = e.seq;
      break;
    }
    if (e.action == "action.create" && e.object.rfind("action:", 0) == 0) {
      created_before.insert(std::stoll(e.object.substr(7)));
    }
  }
  if (p.pause_seq == 0) return p;
  FW_ASSIGN_OR_RETURN(auto actions, fleet.RolloutActions(rollout));
  for (const auto& a : actions) {
    if (!created_before.count(a.id)) {
      ++p.assigned_after;
      continue;
    }
    if (!a.done) {
      ++p.before_open;
      SimTerminal* t = fleet.Find(a.device_serial);
      if (t == nullptr || !fleet.OfflineNow(*t)) ++p.before_open_online;
    } else if (a.state == "canceled") {
      ++p.before_canceled;
      FW_ASSIGN_OR_RETURN(auto events, fleet.server().store().ListEvents(a.id));
      for (const auto& e : events) {
        if (e.state == "trial_set") {
          ++p.canceled_after_trial;
          break;
        }
      }
    } else {
      ++p.before_finished;
    }
  }
  return p;
}

// size: one pass over every source of the report, in the order the contract lists the fields
Status CollectReport(Fleet& fleet, const std::vector<int64_t>& ids, FleetReport& r) {
  r.terminals = static_cast<int64_t>(fleet.terminals().size());
  CollectTerminals(fleet, r);
  FW_RETURN_IF_ERROR(CollectMembers(fleet, ids, r));
  for (auto& t : fleet.terminals()) {
    const TerminalFacts& f = r.facts[t->index()];
    if (f.boot.bricked) ++r.bricked;
    r.records_lost += f.lost;
    if (f.offline) {
      ++r.offline_at_end;
    } else {
      r.outbox_left += f.outbox;
    }
    if (!f.boot.bricked && f.boot.version == "1.1.0" && !f.boot.trial) ++r.updated;
    auto m = r.last_member.find(t->serial());
    if (m != r.last_member.end() && m->second.state == "failed" && RevertClass(m->second.failure_class) &&
        !f.boot.bricked && f.boot.version != "1.1.0") {
      ++r.reverted;
    }
  }
  FW_ASSIGN_OR_RETURN(r.events_missing, MissingEvents(fleet, r));
  FW_ASSIGN_OR_RETURN(auto audit, WholeAudit(fleet.server().store()));
  for (int64_t id : ids) {
    FW_ASSIGN_OR_RETURN(std::string diff, RecountDiff(fleet.server().store(), id));
    if (!diff.empty()) {
      r.counters_match_recount = false;
      r.recount_diffs.push_back(diff);
    }
    FW_ASSIGN_OR_RETURN(PauseFacts p, CollectPause(fleet, id, audit));
    r.pauses.push_back(p);
    FW_ASSIGN_OR_RETURN(auto view, server::rollout::Show(fleet.server().store(), id));
    if (view) r.rollouts.push_back(Json::parse(server::rollout::RolloutViewJson(*view), nullptr, false));
  }
  r.checkins = fleet.telemetry().Checkins();
  return Status::Ok();
}

Json ReportJson(const FleetReport& r) {
  int64_t after = 0, finished = 0, canceled = 0, open = 0;
  Json pauses = Json::array();
  for (const auto& p : r.pauses) {
    after += p.assigned_after;
    finished += p.before_finished;
    canceled += p.before_canceled;
    open += p.before_open;
    pauses.push_back({{"rollout", p.rollout},
                      {"state", p.state},
                      {"pause_kind", p.pause_kind},
                      {"pause_reason", p.pause_reason},
                      {"pause_audit_seq", p.pause_seq},
                      {"assigned_after_pause", p.assigned_after},
                      {"assigned_before_pause_finished", p.before_finished},
                      {"assigned_before_pause_canceled", p.before_canceled},
                      {"assigned_before_pause_open", p.before_open},
                      {"canceled_after_trial_set", p.canceled_after_trial}});
  }
  Json failed = Json::object();
  for (const auto& [k, v] : r.failed) failed[k] = v;
  return {{"scenario", r.scenario},
          {"terminals", r.terminals},
          {"sim_seconds", r.sim_seconds},
          {"wall_seconds", r.wall_seconds},
          {"updated", r.updated},
          {"reverted", r.reverted},
          {"failed", failed},
          {"no_response", r.no_response},
          {"bricked", r.bricked},
          {"records_lost", r.records_lost},
          {"assigned_after_pause", after},
          {"assigned_before_pause_finished", finished},
          {"assigned_before_pause_canceled", canceled},
          {"assigned_before_pause_open", open},
          {"pauses", pauses},
          {"counters_match_recount", r.counters_match_recount},
          {"recount_diffs", r.recount_diffs},
          {"outbox_left", r.outbox_left},
          {"events_missing", r.events_missing},
          {"offline_at_end", r.offline_at_end},
          {"checkin_ms", {{"count", r.checkins.count}, {"p50", r.checkins.p50}, {"p99", r.checkins.p99}}},
          {"rollouts", r.rollouts},
          {"details", r.extra},
          {"problems", r.problems},
          {"ok", r.ok()}};
}

std::string ReportText(const FleetReport& r) {
  const Json j = ReportJson(r);
  std::ostringstream o;
  char buf[160];
  std::snprintf(buf, sizeof buf, "fleet-sim %s: %lld terminals, %.0f simulated s in %.1f wall s\n", r.scenario.c_str(),
                static_cast<long long>(r.terminals), r.sim_seconds, r.wall_seconds);
  o << buf;
  o << "  updated " << r.updated << ", reverted " << r.reverted << ", no_response " << r.no_response << ", bricked "
    << r.bricked << ", records lost " << r.records_lost << "\n";
  o << "  failed by class: " << j["failed"].dump() << "\n";
  for (const auto& p : j["pauses"]) {
    o << "  rollout " << p["rollout"] << " " << p["state"].get<std::string>() << " ("
      << p["pause_kind"].get<std::string>() << "): " << p["pause_reason"].get<std::string>() << "\n";
    if (p["pause_audit_seq"].get<int64_t>() > 0) {
      o << "    assigned after the pause " << p["assigned_after_pause"] << "; assigned before it: finished "
        << p["assigned_before_pause_finished"] << ", canceled " << p["assigned_before_pause_canceled"] << ", open "
        << p["assigned_before_pause_open"] << "\n";
    }
  }
  o << "  counters match a recount: " << (r.counters_match_recount ? "yes" : "NO") << "; events missing "
    << r.events_missing << ", outbox left " << r.outbox_left << ", offline at the end " << r.offline_at_end << "\n";
  std::snprintf(buf, sizeof buf, "  check-in wall ms: n=%lld p50 %.1f p99 %.1f\n",
                static_cast<long long>(r.checkins.count), r.checkins.p50, r.checkins.p99);
  o << buf;
  if (!r.extra.empty()) o << "  details: " << r.extra.dump() << "\n";
  for (const auto& p : r.problems) o << "  PROBLEM: " << p << "\n";
  o << (r.ok() ? "  OK: the scenario's expectations hold\n" : "  FAILED\n");
  return o.str();
}

}  // namespace fw::fleetsim
