// Scenarios journal (2) and restart (3) (scenarios.h).
#include "scenario_util.h"
#include "scenarios.h"

namespace fw::fleetsim {
namespace {

namespace ro = server::rollout;
using Json = nlohmann::json;

constexpr int64_t kDowntimeMs = 120'000;

Result<std::string> ViewJson(Fleet& fleet, int64_t rollout) {
  FW_ASSIGN_OR_RETURN(auto view, ro::Show(fleet.server().store(), rollout));
  if (!view) return NotFound("rollout " + std::to_string(rollout));
  return ro::RolloutViewJson(*view);
}

// Scenario 2: a canary of rollout A loses a snapshotted record after its update → every rollout pauses.
class JournalScenario final : public Scenario {
 public:
  Status Setup(Fleet& fleet) override {
    server::Store& store = fleet.server().store();
    const Status labelled = store.Atomically([&]() -> Status {
      for (auto& t : fleet.terminals()) FW_RETURN_IF_ERROR(store.AddLabel(t->serial(), Ring(t->index())));
      return Status::Ok();
    });
    FW_RETURN_IF_ERROR(labelled);
    const int64_t half = (fleet.options().terminals + 1) / 2;
    for (const char* ring : {"ring:a", "ring:b"}) {
      ro::RolloutSpec spec = BaseSpec(std::string(ring + 5) + " 1.1.0", 2, half);
      spec.labels = {ring};
      if (std::string(ring) == "ring:b") spec.ramp.start_per_minute = 2;  // still rolling out when A's canary fails
      FW_ASSIGN_OR_RETURN(int64_t id, CreateAndStart(fleet, spec));
      rollouts_.push_back(id);
    }
    FW_ASSIGN_OR_RETURN(auto canary, fleet.Members(rollouts_[0], 0));
    for (const auto& m : canary) {
      SimTerminal* t = fleet.Find(m.serial);
      if (t == nullptr || t->faults.offline_from_ms >= 0) continue;
      t->faults = TerminalFaults{};  // nothing else happens to it: the lost record is the finding
      t->faults.lose_record = true;
      victim_ = t;
      break;
    }
    if (victim_ == nullptr) return FailedPrecondition("no online canary member in rollout A");
    return Status::Ok();
  }

  Result<bool> Done(Fleet& fleet) override {
    for (int64_t id : rollouts_) {
      FW_ASSIGN_OR_RETURN(bool settled, PausedAndSettled(fleet, id));
      if (!settled) return false;
    }
    return true;
  }

  void Check(Fleet& fleet, FleetReport& r) override {
    CheckCommon(fleet, r);
    for (const PauseFacts& p : r.pauses) {
      const std::string which = "rollout " + std::to_string(p.rollout);
      r.Expect(p.state == "paused" && p.pause_kind == "fleet",
               which + " is " + p.state + " (" + p.pause_kind + "), not paused fleet-wide");
      r.Expect(p.pause_reason.find(victim_->serial()) != std::string::npos,
               which + "'s pause reason does not name " + victim_->serial() + ": " + p.pause_reason);
      r.Expect(p.assigned_after == 0, which + ": " + std::to_string(p.assigned_after) + " assignments after the pause");
      r.Expect(p.canceled_after_trial == 0, which + ": a canceled action had reached trial_set");
    }
    r.Expect(victim_->lost_seq > 0, "the record was never deleted (the terminal did not boot 1.1.0 as a trial)");
    Json loss = {{"serial", victim_->serial()}, {"lost_seq", victim_->lost_seq}};
    if (auto members = fleet.Members(rollouts_[0], 0); members.ok()) {
      for (const auto& row : *members) {
        if (row.serial != victim_->serial()) continue;
        loss["action"] = row.action_id;
        loss["failure_class"] = row.failure_class;
        loss["detail"] = row.detail;
        r.Expect(row.failure_class == "journal_check", "the terminal's member failed " + row.failure_class);
      }
    }
    loss["alert"] = FindAlert(fleet);
    r.Expect(!loss["alert"].is_null(), "no journal_check alert names " + victim_->serial());
    // Where: the server's copy of the journal (uploaded before the update) holds the lost seq.
    Json held = nullptr;
    if (auto segs = fleet.server().store().ListSegments(victim_->serial()); segs.ok()) {
      for (const auto& s : *segs) {
        if (s.first_seq <= victim_->lost_seq && victim_->lost_seq <= s.last_seq) {
          held = {{"first_seq", s.first_seq}, {"last_seq", s.last_seq}, {"sha256", s.sha256_hex}};
        }
      }
    }
    loss["server_segment_holding_it"] = held;
    r.Expect(!held.is_null(), "no uploaded journal segment holds the lost seq");
    if (auto d = fleet.server().store().GetDevice(victim_->serial()); d.ok() && *d) {
      loss["witness"] = Json::parse((*d)->witness_state, nullptr, false);
    }
    const TerminalFacts& f = r.facts[victim_->index()];
    loss["runs"] = f.boot.version + (f.boot.trial ? " trial" : " confirmed");
    loss["records_lost_now"] = f.lost;
    r.extra["journal_loss"] = loss;
  }

 private:
  static std::string Ring(int index) { return index % 2 == 0 ? "ring:a" : "ring:b"; }

  Json FindAlert(Fleet& fleet) {
    int64_t after = 0;
    for (;;) {
      auto page = fleet.server().store().ListAlerts(after, 500);
      if (!page.ok() || page->empty()) return nullptr;
      for (const auto& a : *page) {
        if (a.kind == "journal_check" && a.body_json.find(victim_->serial()) != std::string::npos) {
          return Json::parse(a.body_json, nullptr, false);
        }
      }
      after = page->back().id;
    }
  }

  SimTerminal* victim_ = nullptr;
};

// Scenario 3: the server stops mid-step (requests in flight) and starts again on the same data directory.
class RestartScenario final : public Scenario {
 public:
  Status Setup(Fleet& fleet) override {
    FW_ASSIGN_OR_RETURN(
        int64_t id, CreateAndStart(fleet, BaseSpec("pos-x1 1.1.0", fleet.options().groups, fleet.options().terminals)));
    rollouts_.push_back(id);
    FW_ASSIGN_OR_RETURN(auto members, fleet.Members(id));
    members_ = static_cast<int64_t>(members.size());
    return Status::Ok();
  }

  Status AfterTick(Fleet& fleet) override {
    const int64_t now = fleet.clock().MonotonicMs();
    if (phase_ == Phase::kBefore) {
      FW_ASSIGN_OR_RETURN(auto counters, fleet.server().store().ListRolloutCounters(rollouts_[0]));
      int64_t decided = 0;
      for (const auto& c : counters) {
        if (c.name == "succeeded" || c.name.rfind("failed:", 0) == 0) decided += c.value;
      }
      if (decided * 100 >= 40 * members_) {
        phase_ = Phase::kArmed;
        fleet.loop().mid_batch = [this, &fleet] { StopServer(fleet); };
      }
    } else if (phase_ == Phase::kDown && now >= down_at_ + kDowntimeMs) {
      FW_RETURN_IF_ERROR(fleet.server().Start().WithContext("restarting the server"));
      phase_ = Phase::kAfter;
      auto after = ViewJson(fleet, rollouts_[0]);
      same_state_ = after.ok() && *after == view_at_stop_;
      FW_RETURN_IF_ERROR(CheckAssignments(fleet, rollouts_[0], at_restart_, nullptr));
      FW_ASSIGN_OR_RETURN(recount_at_restart_, RecountDiff(fleet.server().store(), rollouts_[0]));
    }
    return Status::Ok();
  }

  Result<bool> Done(Fleet& fleet) override {
    if (phase_ != Phase::kAfter) return false;
    FW_ASSIGN_OR_RETURN(auto row, Row(fleet, rollouts_[0]));
    return row.state == "finished";
  }

  void Check(Fleet& fleet, FleetReport& r) override {
    CheckCommon(fleet, r);
    r.Expect(phase_ == Phase::kAfter, "the server was never restarted");
    r.Expect(same_state_, "the rollout's view after the restart differs from the one when it stopped");
    r.Expect(recount_at_restart_.empty(), "counters differ from a recount after the restart: " + recount_at_restart_);
    r.Expect(at_restart_.value("members_with_two_open_actions", 0) == 0, "duplicate open actions after the restart");
    Json at_end;
    if (Status s = CheckAssignments(fleet, rollouts_[0], at_end, &r); !s.ok()) r.problems.push_back(s.ToString());
    r.Expect(!r.pauses.empty() && r.pauses[0].state == "finished", "the rollout did not finish");
    r.extra["restart"] = {{"stopped_at_sim_s", (down_at_ - fleet.start_ms()) / 1000},
                          {"downtime_s", kDowntimeMs / 1000},
                          {"requests_in_flight_at_stop", in_flight_},
                          {"same_state", same_state_},
                          {"at_restart", at_restart_},
                          {"at_end", at_end},
                          {"checkins_failed_while_down", fleet.telemetry().Counter("checkin_failed")}};
  }

 private:
  enum class Phase { kBefore, kArmed, kDown, kAfter };

  void StopServer(Fleet& fleet) {
    in_flight_ = "half of a step's terminals done, the rest in flight";
    fleet.server().Stop();
    down_at_ = fleet.clock().MonotonicMs();
    auto view = ViewJson(fleet, rollouts_[0]);
    view_at_stop_ = view.ok() ? *view : "";
    phase_ = Phase::kDown;
  }

  Phase phase_ = Phase::kBefore;
  int64_t members_ = 0;
  int64_t down_at_ = 0;
  std::string view_at_stop_;
  std::string in_flight_;
  bool same_state_ = false;
  Json at_restart_ = Json::object();
  std::string recount_at_restart_;
};

}  // namespace

std::unique_ptr<Scenario> MakeJournalScenario() { return std::make_unique<JournalScenario>(); }
std::unique_ptr<Scenario> MakeRestartScenario() { return std::make_unique<RestartScenario>(); }

}  // namespace fw::fleetsim
