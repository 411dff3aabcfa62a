// Test fixture of the rollout engine (fw/server/rollout.h) without any transport: a real SQLite store in a
// temporary directory, a real TUF repository made once per suite with fwsign (one release: 1.3.0,
// security counter 2, POS-X1), devices as check-ins leave them, and assignments made by hand (an action
// with rollout_id, its member assigned), so the event hook is tested apart from Tick.
// Thread safety: one test thread.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fw/server/alerts.h"
#include "fw/server/rollout.h"
#include "fw/server/store.h"
#include "testing.h"

namespace fw::server::rollout::test {

// A POS-X1 terminal's manifest: running `version` confirmed, 1.1.0 bootable in the other slot.
std::string Manifest(const std::string& version);

class RolloutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  // An active device; with a manifest (checked in) unless `checked_in` is false.
  void AddDevice(const std::string& serial, const std::string& version = "1.2.0",
                 const std::vector<std::string>& labels = {}, const std::string& hardware_id = "POS-X1",
                 bool checked_in = true);
  // Devices <prefix>-0001 .. <prefix>-<n>.
  std::vector<std::string> AddDevices(const std::string& prefix, int n);
  // A spec text over the repository's target with these groups (JSON array text) and extra top-level
  // members ("" or `"key": value, ...`).
  std::string SpecText(const std::string& groups, const std::string& extra = "") const;
  // Create + Start by `actor`; fails the test on any error.
  RolloutRow Started(const std::string& spec_text, const std::string& actor = "token:1:alice");
  // An install action of rollout `id` for `serial`, the member assigned to it (counter assigned).
  int64_t Assign(int64_t id, const std::string& serial);
  // Writes `state` (attempt 1 unless `attempt` given) and, when closing, runs OnActionClosed in the same
  // transaction. Returns the status of the transaction.
  Status Report(int64_t action_id, const std::string& state, const std::string& failure_class = "",
                const std::string& detail = "", int64_t attempt = 1);

  RolloutRow Row(int64_t id);
  RolloutMemberRow Member(int64_t id, const std::string& serial);
  Action GetAction(int64_t id);
  int64_t Counter(int64_t id, int64_t group, const std::string& name);
  std::vector<Alert> Alerts(const std::string& kind);
  std::vector<AuditEntry> AuditRows(const std::string& action);

  static fw::testing::TempDir* keys_;
  static std::string repo_;
  static std::string target_;  // the release's TUF path

  int64_t now_ = 0;
  fw::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  AlertPolicy alerts_;
  Context ctx_;
};

}  // namespace fw::server::rollout::test
