// fleet-multi: the rollouts it runs and what it checks, read from the shared database (its own store
// connection) and from the simulated terminals — never from what the instances or agents reported.
//
// Contract:
//  - MultiSpec(): target `target` (fw-1.1.0.img / fw-1.2.0.img) for POS-X1 below its version; a canary
//    of 10 % by count then the rest; a flat ramp of `per_minute`; forced actions with backup; action
//    timeout 300 s; download, verify, timed_out and internal retried 3 times after 1 s.
//  - Monitor::Sample(): one look at the rollout's open actions; a device with two open actions of it is
//    a duplicate assignment (counted, the first few named). Errors (the database down) are counted apart.
//  - CheckRollout(): the rollout's end state into `out` and the report's problems: finished; every
//    member decided (succeeded or failed); at most one open action per device and as many actions per
//    member as its assignments; the stored counters equal rollout::Recount.
//  - CheckTerminals(): every terminal's flash boots (no brick), its journal holds every record the
//    payment application saw acknowledged, its agent's outbox is empty, every event an agent posted
//    and got an answer for other than a final refusal is in the database (action_events); and that
//    each member that succeeded boots the target version, confirmed.
// Thread safety: the controlling thread (the terminal checks run while the runner is stopped).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fw/server/rollout.h"
#include "fw/server/store.h"
#include "sim_terminal.h"

namespace fw::fleetmulti {

struct Problems {
  std::vector<std::string> list;
  void Expect(bool cond, const std::string& problem) {
    if (!cond) list.push_back(problem);
  }
};

server::rollout::RolloutSpec MultiSpec(const std::string& name, const std::string& target,
                                       const std::string& version_below, int64_t members, int64_t per_minute);

Result<std::vector<server::RolloutMemberRow>> AllMembers(server::Store& store, int64_t rollout);
// Members that are succeeded or failed.
Result<int64_t> Decided(server::Store& store, int64_t rollout);

class Monitor {
 public:
  void Sample(server::Store& store, int64_t rollout);
  nlohmann::json Json() const;
  int64_t duplicates() const { return duplicates_; }

 private:
  int64_t samples_ = 0, errors_ = 0, duplicates_ = 0;
  std::vector<std::string> first_;
};

Status CheckRollout(server::Store& store, int64_t rollout, nlohmann::json& out, Problems& problems);
Status CheckTerminals(server::Store& store, const fleetsim::SimVendor& vendor,
                      std::vector<std::unique_ptr<fleetsim::SimTerminal>>& terminals, int64_t rollout,
                      const std::string& version, nlohmann::json& out, Problems& problems);

}  // namespace fw::fleetmulti
