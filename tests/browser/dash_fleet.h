// dash-fleet (tests/browser, docs/dashboard-browser.md): the fleet the dashboard's browser tests and
// scripts/screenshots.sh look at — one REAL `fwserver run` (storm::FwServer through fleet-multi's
// Instances, 1 instance) on SQLite or PostgreSQL, and fleet-sim's simulated terminals (the real agent
// over a simulated device, mutual TLS) waking in real time (fleet-multi's Runner).
//
// Contract:
//  - Setup() makes everything and leaves the fleet in this state (serials T-00001 ... T-000NN):
//      * operator tokens viewer / operator / approver / admin (MakeOperatorToken into the store; clear
//        text in tokens());
//      * labels: `pilot` on the first half, `shop-7` on every third terminal (through the operator API,
//        audited), and the hostile label `<script>alert(1)</script>` on script_serial() (written into the
//        store directly: the API refuses such a label, the dashboard must still escape whatever the store
//        holds);
//      * rollout finished_rollout(): fw-1.1.0.img to the `pilot` terminals, created and started through
//        the API, waited for until `finished`;
//      * quarantined_serial() quarantined through the API (a `quarantine` alert);
//      * rollout(): fw-1.2.0.img to every active terminal below 1.2.0 (groups `canary` = two healthy
//        serials, `rest` = the others; abort rule health_failed > 20 % after 3 decided), CREATED, not
//        started: StartRollout() (the fixture's stdin command `start`, or the dashboard's start button)
//        starts it. unhealthy() terminals fail their health check on any new firmware from then on, so the
//        `rest` group trips the rule and the rollout pauses (kind `rule`) within about a minute.
//  - The terminals keep waking (every 0.3-1.5 s) until Stop() or the destructor.
//  - Api(): the operator API in-process (OpenOperatorApiHandler on the same database) as the admin token:
//    the same code, roles, audit rows and alerts as the operator port.
// Ownership: owns the server processes, the terminals, the store connections, the work directories
//   (removed by the destructor unless keep).
// Thread safety: one controlling thread; the runner's workers run the terminals.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fw/clock.h"
#include "fw/server/metrics.h"
#include "fw/server/operator_api.h"
#include "fw/server/store.h"
#include "fw/status.h"
#include "multi_cluster.h"
#include "multi_runner.h"
#include "pg_testing.h"
#include "sim_terminal.h"
#include "sim_vendor.h"

namespace fw::dashfleet {

struct Options {
  int terminals = 12;
  int threads = 2;
  std::string database;   // "" = SQLite in the data directory; else a postgresql:// URI used as is
  bool postgres = false;  // a fresh database on FW_TEST_PG_URI's cluster (fw::testing::PgTestDatabase)
  bool keep = false;
  std::string fwserver, fwsign;
};

class Fleet {
 public:
  explicit Fleet(Options o) : o_(std::move(o)) {}
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  Status Setup();
  Status StartRollout();
  void Stop();

  // What the browser tests need (the fixture's JSON line).
  nlohmann::json Describe() const;
  int64_t rollout() const { return rollout_; }

  struct ApiAnswer {
    int status = 0;
    nlohmann::json body;
  };
  ApiAnswer Api(const std::string& method, const std::string& target, const nlohmann::json& body = nullptr);

 private:
  Status SetupServer();
  Status SetupTokens();
  Status SetupTerminals();
  Status SetupLabelsAndPilot();
  Status CreateMainRollout();
  Status Expect(const ApiAnswer& a, int status, const std::string& what);
  Status WaitState(int64_t id, const std::string& state, int seconds);

  Options o_;
  Clock& clock_ = SystemClock();
  std::string work_, terminal_dir_, database_uri_, operator_url_, spki_b64_;
  int operator_port_ = 0;
  std::unique_ptr<testing::PgTestDatabase> pg_;
  std::unique_ptr<fleetsim::SimVendor> vendor_;
  std::unique_ptr<fleetmulti::Instances> instances_;
  std::unique_ptr<server::Store> store_;
  server::Metrics metrics_;
  std::unique_ptr<server::OperatorApiHandler> api_;
  int64_t admin_id_ = 0;
  std::map<std::string, std::string> tokens_;  // role -> clear token
  fleetsim::Telemetry telemetry_;
  std::vector<std::unique_ptr<fleetsim::SimTerminal>> terminals_;
  std::unique_ptr<fleetmulti::Runner> runner_;
  std::vector<std::string> unhealthy_;
  std::string script_serial_, quarantined_serial_;
  int64_t rollout_ = 0, finished_rollout_ = 0;
};

}  // namespace fw::dashfleet
