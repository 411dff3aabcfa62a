// The simulated fleet: bootstrap and fault policy (fleet.h).
#include "fleet.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fw::fleetsim {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

std::string SerialOf(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "T-%05d", i + 1);
  return buf;
}

}  // namespace

Fleet::Fleet(SimOptions options)
    : options_(std::move(options)), clock_(SystemClock().WallMs(), 0), rng_(options_.seed) {}

Fleet::~Fleet() {
  loop_.reset();  // workers first: they use the terminals and the server
}

SimTerminal* Fleet::Find(const std::string& serial) {
  auto it = by_serial_.find(serial);
  return it == by_serial_.end() ? nullptr : it->second;
}

bool Fleet::OfflineNow(const SimTerminal& t) const {
  const int64_t now = clock_.MonotonicMs();
  return t.faults.offline_from_ms >= 0 && now >= t.faults.offline_from_ms && now < t.faults.offline_until_ms;
}

Status Fleet::Bootstrap(const std::string& work) {
  FW_ASSIGN_OR_RETURN(vendor_, MakeVendor(work + "/vendor", options_.fwsign_path));
  ServerOptions so;
  so.poll_seconds = options_.poll_seconds;
  so.poll_jitter_seconds = options_.poll_jitter_seconds;
  FW_ASSIGN_OR_RETURN(server_, SimServer::Create(work + "/server", options_.fwserver_path, vendor_->repo, clock_, so));
  const std::string terminal_dir = options_.terminal_dir.empty() ? work + "/terminals" : options_.terminal_dir;
  for (int i = 0; i < options_.terminals; ++i) {
    const std::string serial = SerialOf(i);
    terminals_.push_back(std::make_unique<SimTerminal>(i, serial, terminal_dir + "/" + serial,
                                                       options_.seed * 1'000'003 + static_cast<uint64_t>(i)));
    by_serial_[serial] = terminals_.back().get();
  }
  CycleEnv env;
  env.clock = &clock_;
  env.server_url = server_->url();
  env.ca_file = server_->ca_file();
  env.vendor = vendor_.get();
  env.telemetry = &telemetry_;
  LoopOptions lo;
  lo.threads = options_.threads;
  lo.max_sim_ms = options_.max_sim_s * 1000;
  loop_ = std::make_unique<FleetLoop>(clock_, terminals_, env, lo);

  std::mutex mu;
  Status first = Status::Ok();
  loop_->ForEach([&](SimTerminal& t) {
    Status s = t.Provision(*vendor_, options_.records, clock_.WallMs());
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok() && first.ok()) first = s.WithContext("provisioning " + t.serial());
  });
  FW_RETURN_IF_ERROR(first);
  FW_RETURN_IF_ERROR(Enrol());
  return FirstCheckins();
}

Status Fleet::Enrol() {
  std::vector<std::string> serials;
  for (auto& t : terminals_) serials.push_back(t->serial());
  FW_ASSIGN_OR_RETURN(std::vector<std::string> tokens, server_->EnrolTokens(serials));
  std::mutex mu;
  Status first = Status::Ok();
  loop_->pool().Run(terminals_.size(), [&](size_t i) {
    Status s = terminals_[i]->Enrol(server_->url(), server_->ca_file(), tokens[i]);
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok() && first.ok()) first = s;
  });
  return first;
}

// Every terminal checks in once (wakes spread over one poll interval), then the loop runs a little longer
// so the server's batched last-seen times are written.
Status Fleet::FirstCheckins() {
  const int64_t now = clock_.MonotonicMs();
  const int64_t spread = options_.poll_seconds * 1000;
  for (auto& t : terminals_) t->next_wake_ms = now + static_cast<int64_t>(rng_() % static_cast<uint64_t>(spread));
  int64_t all_seen_at = -1;
  Status s = loop_->Run([] { return Status::Ok(); },
                        [&] {
                          for (auto& t : terminals_) {
                            if (t->cycles == 0) return false;
                          }
                          if (all_seen_at < 0) all_seen_at = clock_.MonotonicMs();
                          return clock_.MonotonicMs() >= all_seen_at + kMinute;
                        });
  FW_RETURN_IF_ERROR(s.WithContext("first check-ins"));
  if (loop_->stats().errors > 0) return Internal("first check-ins: " + loop_->stats().first_error);
  return Status::Ok();
}

// Exactly ceil(fraction × N) terminals of each kind (at least one when the fraction is not 0), drawn from
// the seeded RNG, so that a small quick run still has each fault.
std::vector<SimTerminal*> Fleet::Pick(double fraction) {
  std::vector<SimTerminal*> all;
  if (fraction <= 0) return all;
  for (auto& t : terminals_) all.push_back(t.get());
  std::shuffle(all.begin(), all.end(), rng_);
  all.resize(std::min(all.size(), static_cast<size_t>(std::ceil(fraction * static_cast<double>(all.size())))));
  return all;
}

void Fleet::ApplyFaults() {
  const FaultPolicy& p = options_.faults;
  const int64_t now = clock_.MonotonicMs();
  for (auto& t : terminals_) {
    TerminalFaults& f = t->faults;
    f.drop_rate = p.drop_rate;
    f.duplicate_rate = p.duplicate_rate;
    f.replay_older_rate = p.replay_older_rate;
    f.hold_rate = p.hold_rate;
  }
  for (SimTerminal* t : Pick(p.cut_fraction)) t->faults.power_cuts = 1;
  for (SimTerminal* t : Pick(p.skew_fraction)) {
    // A fifth: an RTC reset to 2020-01-01 (dead battery); the rest: up to two hours off either way.
    t->faults.skew_ms =
        rng_() % 5 == 0 ? 1'577'836'800'000 - clock_.WallMs() : static_cast<int64_t>(rng_() % (4 * kHour)) - 2 * kHour;
  }
  for (SimTerminal* t : Pick(p.offline_fraction)) {
    t->faults.offline_from_ms = now + static_cast<int64_t>(rng_() % static_cast<uint64_t>(20 * kMinute));
    t->faults.offline_until_ms = t->faults.offline_from_ms + p.offline_s * 1000;
  }
}

nlohmann::json Fleet::FaultCounts() const {
  int64_t cuts = 0, skewed = 0, dead_battery = 0, offline = 0, unhealthy = 0, lose = 0;
  for (const auto& t : terminals_) {
    cuts += t->faults.power_cuts + t->cuts;
    skewed += t->faults.skew_ms != 0 ? 1 : 0;
    dead_battery += t->faults.skew_ms < -86'400'000 ? 1 : 0;
    offline += t->faults.offline_from_ms >= 0 ? 1 : 0;
    unhealthy += t->faults.health_fails ? 1 : 0;
    lose += t->lost_seq > 0 || t->faults.lose_record ? 1 : 0;
  }
  return {{"power_cuts_planned", cuts},        {"clock_skewed", skewed},
          {"rtc_reset_to_2020", dead_battery}, {"offline_for_s", offline > 0 ? options_.faults.offline_s : 0},
          {"offline_terminals", offline},      {"unhealthy_terminals", unhealthy},
          {"losing_a_record", lose},           {"network_drop_rate", options_.faults.drop_rate}};
}

Result<std::vector<server::RolloutMemberRow>> Fleet::Members(int64_t rollout, int64_t group) {
  std::vector<server::RolloutMemberRow> out;
  server::MemberQuery q;
  q.rollout_id = rollout;
  q.group_index = group;
  q.limit = 1000;
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto page, server_->store().QueryRolloutMembers(q));
    if (page.empty()) break;
    q.after_serial = page.back().serial;
    out.insert(out.end(), page.begin(), page.end());
    if (static_cast<int64_t>(page.size()) < q.limit) break;
  }
  return out;
}

Result<std::vector<server::Action>> Fleet::RolloutActions(int64_t rollout) {
  return server_->store().ListRolloutActions(rollout, /*open_only=*/false);
}

}  // namespace fw::fleetsim
