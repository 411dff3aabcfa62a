// The operator API handler (fw/server/operator_api.h), split over operator_api.cc (routing, tokens,
// errors, health), operator_devices.cc, operator_actions.cc, operator_admin.cc, operator_rollouts.cc and
// operator_fleet.cc. Internal to fw_server_ops. Thread safety: one instance per thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fw/server/operator_api.h"
#include "fw/server/operator_auth.h"
#include "fw/server/operator_json.h"
#include "fw/server/operator_messages.h"
#include "fw/server/repository_targets.h"
#include "fw/server/rollout.h"
#include "fw/server/store.h"

namespace fw::server::ops {

// {"error": code, "message": message}.
Response Error(int status, std::string_view code, std::string_view message);
Response Json(int status, const std::string& body);
// A Status from a parser or the store, by its code: invalid argument/corrupt 400 bad_request,
// not found 404, failed precondition 409 invalid_state, timeout 503 busy (+ Retry-After), else 500.
Response FromStatus(const Status& status);
// A header FromStatus puts on its 5xx answers (the store error's code for fwserver_store_errors_total);
// OperatorApi::Handle takes it off before the response leaves.
inline constexpr const char* kStoreErrorMark = "x-fw-store-error";

// One alert as a row of GET /v1/alerts (with its deliveries and attempts; operator_admin.cc).
Result<JsonValue> AlertRowJson(Store& store, const Alert& alert);

// One request after routing and authentication.
struct Call {
  const Request& request;
  std::string path;
  QueryValues query;  // parsed by the route itself (each route has its own list)
  std::string raw_query;
  std::vector<std::string> parts;  // the pattern's {pieces}, in order
  std::optional<OperatorToken> token;
  Role role = Role::kViewer;
  std::string actor;  // TokenActor
};

class OperatorApi final : public OperatorApiHandler {
 public:
  OperatorApi(const OperatorApiConfig& config, std::unique_ptr<Store> store, Metrics& metrics, Clock& clock);

  Response Handle(const Request& request) override;
  Response HandleAs(const Request& request, int64_t token_id) override;
  Store& store() override { return *store_; }
  uint64_t MaxBodyBytes(const std::string& method, const std::string& target) const override;

  using Fn = Response (OperatorApi::*)(Call&);
  struct Route {
    const char* method;
    const char* pattern;
    std::optional<Role> min_role;  // nullopt: no token
    bool journal_read;
    Fn fn;
  };
  static const std::vector<Route>& Routes();

 private:
  // as_token: the id of an already-authenticated token (HandleAs), else the Authorization header decides.
  Response Dispatch(const Request& request, std::optional<int64_t> as_token);
  Response Observe(const Request& request, std::optional<int64_t> as_token);
  int64_t Now() const { return clock_.WallSeconds(); }
  // Parses the call's query against `allowed`; false (and *error set) when refused.
  bool Query(Call& call, std::initializer_list<QueryParamSpec> allowed, Response* error);
  // Runs fn in one transaction; a Response set by fn (refusal) wins over the status.
  Response Write(const std::function<Status(std::optional<Response>&)>& fn, const std::function<Response()>& ok);

  // operator_api.cc
  Response Healthz(Call& call);
  Response Readyz(Call& call);
  Response MetricsText(Call& call);
  Result<std::string> RolloutMetricsText();
  Response Whoami(Call& call);
  // operator_devices.cc
  Response ListDevices(Call& call);
  Response GetDevice(Call& call);
  Response DeviceActions(Call& call);
  Response DeviceJournal(Call& call);
  Response JournalSegment(Call& call);
  Response PutLabel(Call& call);
  Response DeleteLabel(Call& call);
  Response ListLabels(Call& call);
  Response LabelChange(Call& call, bool add);
  // operator_actions.cc
  Response CreateAction(Call& call);
  Response ListActions(Call& call);
  Response GetAction(Call& call);
  Response CancelAction(Call& call);
  Response Quarantine(Call& call);
  Response Release(Call& call);
  Response Revoke(Call& call);
  Response ReEnrol(Call& call);
  Response StateChange(Call& call, DeviceState from_required, DeviceState to, const char* audit_action);
  // operator_admin.cc
  Response ListEnrolTokens(Call& call);
  Response CreateEnrolToken(Call& call);
  Response Targets(Call& call);
  Response Ca(Call& call);
  Response ListTokens(Call& call);
  Response CreateToken(Call& call);
  Response RevokeToken(Call& call);
  Response Audit(Call& call);
  Response AuditVerify(Call& call);
  Response Alerts(Call& call);
  // operator_fleet.cc (issue 20)
  Response FleetSummary(Call& call);
  // operator_rollouts.cc
  Response CreateRollout(Call& call);
  Response ListRollouts(Call& call);
  Response GetRollout(Call& call);
  Response RolloutMembers(Call& call);
  Response StartRollout(Call& call);
  Response PauseRollout(Call& call);
  Response ResumeRollout(Call& call);
  Response StopRollout(Call& call);
  Response ApproveRollout(Call& call);
  Response RolloutOp(Call& call, std::string_view op);
  // The engine's context: this handler's alert policy and repository cache (*repository_failed set
  // when the engine asked for the repository and it could not be read).
  rollout::Context RolloutContext(bool* repository_failed);
  // GET /v1/rollouts/{id}'s body with `status`, or 404 unknown_rollout.
  Response RolloutViewResponse(int status, int64_t id);
  // Makes an enrolment token for `serial` (audited as enrol_token.create) -> 201 {"token","serial","expires"}.
  Response IssueEnrolToken(Call& call, const std::string& serial, int64_t expires_in, bool re_enrol);

  OperatorApiConfig config_;
  std::unique_ptr<Store> store_;
  Metrics& metrics_;
  Clock& clock_;
  RepositoryCache repository_;
};

}  // namespace fw::server::ops
