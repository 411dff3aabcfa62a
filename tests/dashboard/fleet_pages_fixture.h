// Test fixture of the dashboard's terminal pages (pages_fleet.cc, pages_device.cc): the real operator API
// (OpenOperatorApiHandler) over an SQLite store in a temp dir — wrapped in a FaultyStore so a test can take
// the database away — a fake clock, tokens of each role, and helpers to seed terminals, actions, alerts,
// segments and certificates straight into the store. Pages get a UiApi from MakeUiApi (the dashboard's own).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "faulty_store.h"
#include "fw/clock.h"
#include "fw/server/metrics.h"
#include "fw/server/operator_api.h"
#include "fw/server/operator_auth.h"
#include "fw/server/store.h"
#include "pages.h"
#include "testing.h"
#include "ui_api.h"

namespace fw::server::dash::test {

// A UiApi that forwards to another and records every target (bounded-work checks); answers `status`
// with {"error","message"} for targets containing `refuse` (a 403/503 the real API would not give here)
// and `canned` replies for targets starting with a key (a reply of the contract's shape).
class RecordingApi final : public UiApi {
 public:
  explicit RecordingApi(UiApi& inner) : inner_(inner) {}
  ApiReply Get(const std::string& target) override;
  ApiReply Post(const std::string& target, const nlohmann::json& body) override;
  std::vector<std::string> targets;
  std::string refuse;  // "" = none
  int status = 403;
  std::map<std::string, ApiReply> canned;

 private:
  UiApi& inner_;
};

class FleetPagesTest : public ::testing::Test {
 protected:
  void SetUp() override;

  Store& store() { return api_->store(); }
  int64_t Now() const { return clock_.WallSeconds(); }
  // A stored token of `role`; returns its id.
  int64_t TokenId(Role role);
  // The UiApi as a token of `role` (kept alive by the fixture).
  UiApi& Api(Role role);
  PageContext Ctx(Role role, const std::string& path = "/ui/") const;

  // A terminal with a POS-X1 manifest running `version` (none when version is ""), last seen `last_seen`
  // (0: now), in `state` with `reason`.
  void AddDevice(const std::string& serial, const std::string& version = "1.2.0",
                 DeviceState state = DeviceState::kActive, int64_t last_seen = 0, const std::string& reason = "test");
  // An action for `serial` with `events` events (seq 1..n, states downloading..), returns its id.
  int64_t AddAction(const std::string& serial, int events, bool done = false, int64_t rollout = 0);
  // An alert of `kind` about device `serial` with `details` (canonical body like the alerts code writes).
  void AddAlert(const std::string& kind, const std::string& serial, const nlohmann::json& details);

  FakeClock clock_{1'800'000'000'000};
  fw::testing::TempDir dir_;
  Metrics metrics_;
  OperatorApiConfig config_;
  std::shared_ptr<fw::server::testing::FaultSwitch> faults_ = std::make_shared<fw::server::testing::FaultSwitch>();
  std::unique_ptr<OperatorApiHandler> api_;
  std::vector<std::unique_ptr<UiApi>> apis_;
};

// The text of the element with id="ID" from its opening tag to the matching close of `tag`
// (sections and lists do not nest in these pages); "" when absent.
std::string Section(const std::string& html, const std::string& id, const std::string& tag = "section");
// How many times `needle` occurs in `text`.
size_t Count(const std::string& text, const std::string& needle);

}  // namespace fw::server::dash::test
