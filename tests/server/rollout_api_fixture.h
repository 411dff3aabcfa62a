// Test fixture of the operator API's rollout routes (docs/fleet-operator.md "Rollouts") at handler
// level, on top of OpsTest (tokens, the signed repository, the store, the device API): specs, a
// rollout driven through create/start by the API, the engine's tick as the scheduler runs it, and
// terminals talking to the device API with the Peer the transport would hand over.
#pragma once

#include <string>
#include <vector>

#include "fw/server/repository_targets.h"
#include "fw/server/rollout.h"
#include "ops_fixture.h"

namespace fw::server::test {

class RolloutApiTest : public OpsTest {
 protected:
  void SetUp() override;

  // The repository's one target (1.3.0 for POS-X1).
  const std::string& Target() const { return target_; }
  // A spec (docs/fleet-rollouts.md "Spec") for Target() over devices labelled `label`, with `groups`
  // and `abort` rules (JSON arrays) and the ramp starting at `per_minute`.
  Json Spec(const std::string& name, const std::string& label, Json groups, Json abort = Json::array(),
            int64_t per_minute = 10);
  // Devices active, checked in (POS-X1 running 1.2.0) and labelled `label`.
  void AddLabelled(const std::vector<std::string>& serials, const std::string& label);
  // POST /v1/rollouts with `token` -> its id (the test fails on another answer).
  int64_t CreateRollout(const std::string& token, const Json& spec);
  Json Show(int64_t id);
  // The scheduler's pass: rollout::Tick with this suite's repository.
  rollout::TickStats Tick();
  // The device API as terminal `serial` (its key as AddDevice binds it).
  Response DevicePost(const std::string& serial, const std::string& target, const std::string& body);
  // The members of rollout `id` in `state`.
  std::vector<RolloutMemberRow> Members(int64_t id, const std::string& state);

  // A rollout over fresh devices labelled `tag` (created by an admin token through the API), left in
  // `state`: created | running | paused (by an operator) | approval (paused for approval: its canary
  // already runs the target, so the tick skips it and the group completes with nothing decided).
  int64_t MakeRollout(const std::string& tag, const std::string& state);

  std::string target_;
  std::string maker_;                  // the admin token MakeRollout uses
  RepositoryCache repository_{repo_};  // made after SetUpTestSuite wrote repo_
};

}  // namespace fw::server::test
