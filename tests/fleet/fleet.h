// fleet-sim: the whole simulated fleet — the vendor's material, the in-process fleet server, thousands of
// simulated terminals and simulated time — and the options and fault policy of a run.
//
// Contract:
//   - Bootstrap(): vendor material (fwsign), the server (fwserver init / ca init / issuer, then
//     StartFleetServer in-process), N terminals provisioned (factory flash + their own journal records),
//     each enrolled through the real /v1/enrol over TLS with a token made in the store and its own P-256
//     key, and each checked in once (so rollout membership, frozen at Start, sees them), with wakes spread
//     over one poll interval. No fault is active during the bootstrap.
//   - ApplyFaults(): the seeded policy (FaultPolicy) chooses exactly ceil(fraction × N) terminals (at
//     least one when the fraction is not 0) that lose power, that have a skewed clock, that go offline (a window of
//     offline_s starting within the first 20 simulated minutes), and sets every terminal's link faults. Health failures
//     and the lost record are chosen by the scenario (they depend on rollout membership).
//   - Members(), RolloutActions(): the store's rows, paged; for scenarios and the report.
// Ownership: Fleet owns everything; terminals live in work/terminals/<serial>.
// Thread safety: main thread; the loop hands terminals to its workers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "fleet_loop.h"
#include "sim_server.h"
#include "sim_terminal.h"
#include "sim_transport.h"
#include "sim_vendor.h"

namespace fw::fleetsim {

struct FaultPolicy {
  double cut_fraction = 0;      // terminals that lose power once, at a random step
  double drop_rate = 0;         // each network call fails with this probability
  double skew_fraction = 0;     // terminals whose RTC is off (±2 h; a fifth of them reset to 2020)
  double offline_fraction = 0;  // terminals that go offline for offline_s
  int64_t offline_s = 2 * 86400;
  double duplicate_rate = 0;       // scenario 4
  double replay_older_rate = 0;    // scenario 4
  double hold_rate = 0;            // scenario 4: reordered (held) progress events
  double health_fail_percent = 3;  // scenario 1: of group 2's members
};

struct SimOptions {
  std::string scenario = "plain";
  int terminals = 200;
  int groups = 5;
  uint64_t seed = 1;
  int threads = 2;
  std::string work;  // "" = a temporary directory, removed at the end
  // Where the terminals' files live ("" = WORK/terminals). By default a fresh directory in /dev/shm: the
  // simulated terminals' flash and data areas are memory, so that 10,000 of them are not bound by the
  // host disk's fsync latency; the server's data directory stays under WORK (a real disk).
  std::string terminal_dir;
  bool json = false;
  bool quick = false;
  bool direct = false;  // plain only: one single-device action per terminal (Store::CreateAction), no rollout
  int records = 20;     // journal records each terminal starts with
  int64_t poll_seconds = 300;
  int64_t poll_jitter_seconds = 60;
  int64_t max_sim_s = 3 * 86400;
  std::string fwsign_path, fwserver_path;
  FaultPolicy faults;
};

class Fleet {
 public:
  explicit Fleet(SimOptions options);
  ~Fleet();

  Status Bootstrap(const std::string& work_dir);
  void ApplyFaults();
  // What the policy chose (for the report).
  nlohmann::json FaultCounts() const;

  const SimOptions& options() const { return options_; }
  FakeClock& clock() { return clock_; }
  const SimVendor& vendor() const { return *vendor_; }
  SimServer& server() { return *server_; }
  FleetLoop& loop() { return *loop_; }
  Telemetry& telemetry() { return telemetry_; }
  std::vector<std::unique_ptr<SimTerminal>>& terminals() { return terminals_; }
  SimTerminal* Find(const std::string& serial);
  std::mt19937_64& rng() { return rng_; }
  int64_t start_ms() const { return start_ms_; }  // shared monotonic time when the scenario began
  void MarkStart() { start_ms_ = clock_.MonotonicMs(); }
  // True when the terminal is inside its offline window now.
  bool OfflineNow(const SimTerminal& t) const;

  Result<std::vector<server::RolloutMemberRow>> Members(int64_t rollout, int64_t group = -1);
  Result<std::vector<server::Action>> RolloutActions(int64_t rollout);

 private:
  Status Enrol();
  Status FirstCheckins();
  std::vector<SimTerminal*> Pick(double fraction);

  SimOptions options_;
  FakeClock clock_;
  std::mt19937_64 rng_;
  std::unique_ptr<SimVendor> vendor_;
  std::unique_ptr<SimServer> server_;
  std::vector<std::unique_ptr<SimTerminal>> terminals_;
  std::map<std::string, SimTerminal*> by_serial_;
  Telemetry telemetry_;
  std::unique_ptr<FleetLoop> loop_;
  int64_t start_ms_ = 0;
};

}  // namespace fw::fleetsim
