// The operator API of fwserver (server-stub/ops, lib fw_server_ops; docs/fleet-operator.md): JSON
// over HTTPS on the operator port (server certificate only; bearer tokens), for people and for the
// fleet CLI (fwfleet) and, later, the dashboard.
//
// Contract:
//  - OpenOperatorApi() opens its own store connection (one handler per transport thread, like the
//    device API) and returns a RequestHandler. Routes, roles and bodies: docs/fleet-operator.md.
//  - Every request but GET /healthz (= /livez) and /readyz needs a valid token with the route's minimum role;
//    401 {"error":"unauthenticated"} with WWW-Authenticate: Bearer, 403 {"error":"forbidden"}.
//  - Errors: {"error": CODE, "message": TEXT}, CODE from the table in docs/fleet-operator.md.
//  - Lists: ?limit=1..500 (default 100) & cursor=OPAQUE -> {"items": [...], "next_cursor": TEXT|null};
//    a cursor not made by this server -> 400 bad_request.
//  - Every state change is written in one store transaction with its audit row
//    (fw/server/audit.h) and, where one applies, its alert (fw/server/alerts.h).
//  - /metrics renders `metrics` and the running rollouts' members and counters (viewer); /readyz
//    answers 200 when Store::Ping() succeeds and the repository loads, else 503 not_ready with the
//    reason. A store kIoError or kTimeout is 503 (+ Retry-After), never 500.
// Thread safety: one handler per thread; metrics, vault, clock shared (they are thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fw/clock.h"
#include "fw/server/alerts.h"
#include "fw/server/http.h"
#include "fw/server/journal_vault.h"
#include "fw/server/metrics.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

struct OperatorApiConfig {
  std::string data_dir;        // DIR (for DIR/ca/*.pem)
  std::string db_path;         // DIR/server.db
  std::string repository_dir;  // DIR/repo
  int64_t cert_warn_seconds = 30 * 86400;
  int64_t enrol_token_seconds = 7 * 86400;    // default lifetime of an enrolment token made here
  int64_t max_token_seconds = 366 * 86400;    // longest operator token lifetime
  AlertPolicy alerts;                         // for alerts raised by operator decisions (quarantine)
  std::shared_ptr<const JournalVault> vault;  // opens stored segments
};

// The route table (for docs and tests): method, path pattern ("{serial}" etc. for a path piece),
// minimum role ("" = no token needed) and whether the token also needs journal_read.
struct OperatorRouteInfo {
  std::string method;
  std::string pattern;
  std::string min_role;
  bool journal_read = false;
};
std::vector<OperatorRouteInfo> OperatorRoutes();

// The operator API handler with the two entry points the dashboard (fw/server/dashboard.h) needs.
class OperatorApiHandler : public RequestHandler {
 public:
  // Serves `request` as the holder of the token with id `token_id` (a dashboard session made from it):
  // the Authorization header is ignored; the token is re-read from the store, so a revoked or expired
  // token is 401 unauthenticated, and its role decides exactly as for a bearer request.
  virtual Response HandleAs(const Request& request, int64_t token_id) = 0;
  // This handler's store connection (same thread only): the dashboard's sessions live there too.
  virtual Store& store() = 0;
};

// Opens the operator API over its own store connection (config.db_path).
Result<std::unique_ptr<OperatorApiHandler>> OpenOperatorApiHandler(const OperatorApiConfig& config, Metrics& metrics,
                                                                   Clock& clock);
Result<std::unique_ptr<OperatorApiHandler>> OpenOperatorApiHandler(const OperatorApiConfig& config,
                                                                   std::unique_ptr<Store> store, Metrics& metrics,
                                                                   Clock& clock);

Result<std::unique_ptr<RequestHandler>> OpenOperatorApi(const OperatorApiConfig& config, Metrics& metrics,
                                                        Clock& clock);
// The same over a store the caller opened (tests wrap one to make it fail; config.db_path unused).
Result<std::unique_ptr<RequestHandler>> OpenOperatorApi(const OperatorApiConfig& config, std::unique_ptr<Store> store,
                                                        Metrics& metrics, Clock& clock);

}  // namespace fw::server
