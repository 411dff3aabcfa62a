// Test fixture of the operator API (fw/server/operator_api.h), driven at handler level: a data
// directory with a fleet CA (DIR/ca/*.pem), a real TUF repository made once per suite with fwsign,
// the store, the operator API and the device API (for enrolment and re-enrolment).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fw/clock.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/device_api.h"
#include "fw/server/metrics.h"
#include "fw/server/operator_api.h"
#include "fw/server/operator_auth.h"
#include "fw/server/store.h"
#include "testing.h"

namespace fw::server::test {

using Json = nlohmann::json;

// A terminal's manifest: POS-X1 running 1.2.0 confirmed, 1.1.0 bootable in the other slot.
std::string PosManifest(const std::string& running = "1.2.0");

class OpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  // A stored operator token; returns its clear text.
  std::string Token(const std::string& role, bool journal_read = false, const std::string& name = "",
                    int64_t lifetime_s = 3600);
  Response Call(const std::string& method, const std::string& target, const std::string& token,
                const std::string& body = "");
  static Json Body(const Response& r);
  // A device as a check-in leaves it (with a manifest unless `checked_in` is false).
  void AddDevice(const std::string& serial, DeviceState state = DeviceState::kActive, bool checked_in = true);
  // The audit rows with `action`, in order.
  std::vector<AuditEntry> AuditRows(const std::string& action);

  static fw::testing::TempDir* keys_;
  static std::string repo_;  // a TUF repository with one release (1.3.0, counter 2, POS-X1)

  FakeClock clock_{SystemClock().WallMs()};
  fw::testing::TempDir dir_;
  Metrics metrics_;
  OperatorApiConfig config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RequestHandler> api_;
  std::unique_ptr<CertIssuer> issuer_;
  DeviceApiConfig device_config_;
  std::unique_ptr<RequestHandler> device_api_;
};

}  // namespace fw::server::test
