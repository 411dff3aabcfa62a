// Shared fixture of the rollout engine's tick and revert tests (rollout_tick_test.cc,
// rollout_revert_test.cc): a real SQLite store in a temporary directory, a real TUF repository made by
// the fwsign CLI (once per suite) with releases 1.0.0 and 1.1.0 of POS-X1 (both security counter 1) and 1.2.0 (counter
// 2), terminals with check-in manifests, and a running rollout written row by row (so the tick is tested without the
// operations that normally start it). Time is a number the test moves (kT0 onwards).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fw/server/alerts.h"
#include "fw/server/device_messages.h"
#include "fw/server/rollout.h"
#include "fw/server/store.h"
#include "testing.h"

namespace fw::server::rollout {

inline constexpr int64_t kT0 = 1'800'000'000;

class TickFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite();  // the repository, once per suite
  static void TearDownTestSuite();
  void SetUp() override;

  // A terminal that checked in at `seen_s` running `version` confirmed, other slot `other_version`
  // (state `other_state`), security counter `counter`; hardware POS-X1 unless told.
  struct Terminal {
    std::string serial;
    std::string version = "1.0.0";
    std::string other_version = "0.9.0";
    std::string other_state = "bootable";
    int64_t counter = 1;
    std::string hardware = "POS-X1";
    int64_t seen_s = kT0;
  };
  void AddTerminal(const Terminal& t);
  void AddTerminals(const std::string& prefix, int n);  // prefix-000 .. with the defaults

  // The spec every test starts from: target 1.1.0, one group "all", ramp 1000/min, no abort rules.
  RolloutSpec BaseSpec() const;
  // A running rollout of `spec` with the given members per group (group names from the spec), started
  // at `now_s`: rows written directly (rollout running, group 0 running, members waiting).
  int64_t StartRollout(const RolloutSpec& spec, const std::vector<std::vector<std::string>>& groups, int64_t now_s);

  TickStats Tick(int64_t now_s);
  // Closes `action_id` as the device API would (action row written done, then OnActionClosed in the
  // same transaction): state succeeded | failed (with failure_class) | canceled | rolled_back | rejected.
  void Close(int64_t action_id, const std::string& state, const std::string& failure_class, int64_t now_s);
  // An event from the terminal (attempt 1): the action moves to `state`, still open.
  void Report(int64_t action_id, const std::string& state, int64_t now_s);

  RolloutRow Rollout(int64_t id);
  RolloutMemberRow Member(int64_t id, const std::string& serial);
  std::vector<Action> Actions(int64_t id);  // of the rollout, by id
  // Stored counters (non-zero) as name -> value for one group (-1: summed over groups).
  std::map<std::string, int64_t> Counters(int64_t id, int64_t group = -1);
  std::vector<AuditEntry> Audit(const std::string& action);
  // The repository's target path of a version.
  std::string TargetOf(const std::string& version) const;

  static std::unique_ptr<fw::testing::TempDir> repo_dir_;
  static RepositoryTargets repo_;
  fw::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  AlertPolicy alerts_;
  Context ctx_;
};

}  // namespace fw::server::rollout
