// The operator API: routing, tokens and roles, errors, health and metrics (fw/server/operator_api.h).
// The routes themselves are in operator_devices.cc, operator_actions.cc, operator_admin.cc and
// operator_rollouts.cc.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "fw/server/audit.h"
#include "fw/server/operator_json.h"
#include "operator_impl.h"

namespace fw::server {
namespace ops {
namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// Matches `path` against a pattern; fills the {pieces}.
bool Match(const std::vector<std::string>& path, const char* pattern, std::vector<std::string>* pieces) {
  const auto want = Split(pattern);
  if (want.size() != path.size()) return false;
  pieces->clear();
  for (size_t i = 0; i < want.size(); ++i) {
    if (path[i].empty()) return false;
    if (want[i].starts_with('{')) {
      pieces->push_back(path[i]);
    } else if (want[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

Response Json(int status, const std::string& body) {
  Response r;
  r.status = status;
  r.body = body;
  r.Header("Content-Type", "application/json").Header("Cache-Control", "no-store");
  return r;
}

Response Error(int status, std::string_view code, std::string_view message) {
  return Json(status, nlohmann::json{{"error", code}, {"message", message}}.dump());
}

Response FromStatus(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kCorrupt:
      return Error(400, "bad_request", status.message());
    case ErrorCode::kNotFound:
      return Error(404, "not_found", status.message());
    case ErrorCode::kFailedPrecondition:
      return Error(409, "invalid_state", status.message());
    case ErrorCode::kTimeout:
      return Error(503, "busy", "the store is busy: " + status.message())
          .Header("Retry-After", "1")
          .Header(kStoreErrorMark, "timeout");
    case ErrorCode::kIoError:
      // The database is unreachable (PostgreSQL down, a lost connection, an I/O error): try again later.
      return Error(503, "store_unavailable", "the store is unavailable: " + status.message())
          .Header("Retry-After", "5")
          .Header(kStoreErrorMark, "io_error");
    case ErrorCode::kResourceExhausted:
      return Error(500, "internal", status.message()).Header(kStoreErrorMark, "resource_exhausted");
    case ErrorCode::kInternal:
      return Error(500, "internal", status.message()).Header(kStoreErrorMark, "internal");
    default:
      return Error(500, "internal", status.message()).Header(kStoreErrorMark, "other");
  }
}

namespace {
// Removes the store-error mark FromStatus set; its value ("" when absent).
std::string TakeStoreErrorMark(Response& response) {
  std::string code;
  auto& h = response.headers;
  for (auto it = h.begin(); it != h.end();) {
    if (it->first == kStoreErrorMark) {
      code = it->second;
      it = h.erase(it);
    } else {
      ++it;
    }
  }
  return code;
}
}  // namespace

// size: the route table is one list, one line per route
const std::vector<OperatorApi::Route>& OperatorApi::Routes() {
  using A = OperatorApi;
  constexpr auto kV = Role::kViewer, kO = Role::kOperator, kP = Role::kApprover, kA = Role::kAdmin;
  static const std::vector<Route> routes = {
      {"GET", "/healthz", std::nullopt, false, &A::Healthz},
      {"GET", "/livez", std::nullopt, false, &A::Healthz},
      {"GET", "/readyz", std::nullopt, false, &A::Readyz},
      {"GET", "/metrics", kV, false, &A::MetricsText},
      {"GET", "/v1/whoami", kV, false, &A::Whoami},
      {"GET", "/v1/devices", kV, false, &A::ListDevices},
      {"GET", "/v1/devices/{serial}", kV, false, &A::GetDevice},
      {"GET", "/v1/devices/{serial}/actions", kV, false, &A::DeviceActions},
      {"POST", "/v1/devices/{serial}/actions", kO, false, &A::CreateAction},
      {"GET", "/v1/devices/{serial}/journal", kV, false, &A::DeviceJournal},
      {"GET", "/v1/devices/{serial}/journal/segments/{range}", kV, true, &A::JournalSegment},
      {"PUT", "/v1/devices/{serial}/labels/{label}", kO, false, &A::PutLabel},
      {"DELETE", "/v1/devices/{serial}/labels/{label}", kO, false, &A::DeleteLabel},
      {"POST", "/v1/devices/{serial}/quarantine", kO, false, &A::Quarantine},
      {"POST", "/v1/devices/{serial}/release", kP, false, &A::Release},
      {"POST", "/v1/devices/{serial}/revoke", kA, false, &A::Revoke},
      {"POST", "/v1/devices/{serial}/re-enrol", kA, false, &A::ReEnrol},
      {"GET", "/v1/labels", kV, false, &A::ListLabels},
      {"GET", "/v1/actions", kV, false, &A::ListActions},
      {"GET", "/v1/actions/{id}", kV, false, &A::GetAction},
      {"POST", "/v1/actions/{id}/cancel", kO, false, &A::CancelAction},
      {"GET", "/v1/enrol-tokens", kA, false, &A::ListEnrolTokens},
      {"POST", "/v1/enrol-tokens", kA, false, &A::CreateEnrolToken},
      {"GET", "/v1/targets", kV, false, &A::Targets},
      {"GET", "/v1/ca", kV, false, &A::Ca},
      {"GET", "/v1/tokens", kA, false, &A::ListTokens},
      {"POST", "/v1/tokens", kA, false, &A::CreateToken},
      {"DELETE", "/v1/tokens/{id}", kA, false, &A::RevokeToken},
      {"GET", "/v1/audit", kP, false, &A::Audit},
      {"GET", "/v1/audit/verify", kP, false, &A::AuditVerify},
      {"GET", "/v1/alerts", kV, false, &A::Alerts},
      {"GET", "/v1/fleet/summary", kV, false, &A::FleetSummary},
      {"POST", "/v1/rollouts", kO, false, &A::CreateRollout},
      {"GET", "/v1/rollouts", kV, false, &A::ListRollouts},
      {"GET", "/v1/rollouts/{id}", kV, false, &A::GetRollout},
      {"GET", "/v1/rollouts/{id}/members", kV, false, &A::RolloutMembers},
      {"POST", "/v1/rollouts/{id}/start", kO, false, &A::StartRollout},
      {"POST", "/v1/rollouts/{id}/pause", kO, false, &A::PauseRollout},
      {"POST", "/v1/rollouts/{id}/resume", kO, false, &A::ResumeRollout},  // approver unless an operator paused it
      {"POST", "/v1/rollouts/{id}/stop", kO, false, &A::StopRollout},
      {"POST", "/v1/rollouts/{id}/approve", kP, false, &A::ApproveRollout},
  };
  return routes;
}

OperatorApi::OperatorApi(const OperatorApiConfig& config, std::unique_ptr<Store> store, Metrics& metrics, Clock& clock)
    : config_(config), store_(std::move(store)), metrics_(metrics), clock_(clock), repository_(config.repository_dir) {}

namespace {
// A rollout's spec may be larger than the other bodies (fw/server/rollout.h: at most 64 KiB).
size_t MaxBodyFor(std::string_view method, std::string_view path) {
  return method == "POST" && path == "/v1/rollouts" ? kMaxRolloutSpecBytes : kMaxOperatorBodyBytes;
}
}  // namespace

uint64_t OperatorApi::MaxBodyBytes(const std::string& method, const std::string& target) const {
  return MaxBodyFor(method, SplitTarget(target).first);
}

Response OperatorApi::Handle(const Request& request) { return Observe(request, std::nullopt); }

Response OperatorApi::HandleAs(const Request& request, int64_t token_id) { return Observe(request, token_id); }

Response OperatorApi::Observe(const Request& request, std::optional<int64_t> as_token) {
  const int64_t start = clock_.MonotonicMs();
  Response r;
  try {
    r = Dispatch(request, as_token);
  } catch (const std::exception& e) {  // a bug (e.g. bad_alloc): never let it reach the transport
    r = Error(500, "internal", e.what());
  }
  const std::string store_error = TakeStoreErrorMark(r);
  if (!store_error.empty()) metrics_.ObserveStoreError("operator", store_error);
  std::string code;
  if (r.status >= 400) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) code = j["error"].get<std::string>();
  }
  metrics_.ObserveRequest("operator", "operator", r.status, code, clock_.MonotonicMs() - start);
  return r;
}

Response OperatorApi::Dispatch(const Request& request, std::optional<int64_t> as_token) {
  auto [path, raw_query] = SplitTarget(request.target);
  if (path.empty() || path[0] != '/') return Error(404, "not_found", "no route " + path);
  const auto parts = Split(path);
  const Route* route = nullptr;
  std::vector<std::string> pieces;
  std::string allow;
  for (const auto& r : Routes()) {
    std::vector<std::string> p;
    if (!Match(parts, r.pattern, &p)) continue;
    allow += (allow.empty() ? "" : ", ") + std::string(r.method);
    if (request.method == r.method) route = &r, pieces = std::move(p);
  }
  if (allow.empty()) return Error(404, "not_found", "no route " + path);
  if (route == nullptr) {
    return Error(405, "method_not_allowed", path + " takes " + allow).Header("Allow", allow);
  }
  if (const size_t max = MaxBodyFor(request.method, path); request.body.size() > max) {
    return Error(413, "too_large", "the body exceeds " + std::to_string(max) + " bytes");
  }
  Call call{request, path, {}, raw_query, std::move(pieces), std::nullopt, Role::kViewer, ""};
  if (route->min_role) {
    auto auth = as_token ? AuthenticateId(*store_, *as_token, Now())
                         : Authenticate(*store_, request.Header("authorization"), Now());
    if (!auth.ok()) return FromStatus(auth.status());
    if (!auth->token) {
      return Error(401, "unauthenticated", auth->reason)
          .Header("WWW-Authenticate", "Bearer realm=\"fwserver\", error=\"invalid_token\"");
    }
    call.token = std::move(auth->token);
    call.role = *ParseRole(call.token->role);
    call.actor = TokenActor(*call.token);
    if (call.role < *route->min_role) {
      return Error(403, "forbidden",
                   std::string(route->method) + " " + route->pattern + " needs role " +
                       std::string(RoleName(*route->min_role)) + "; this token is " + call.token->role);
    }
    if (route->journal_read && !call.token->journal_read) {
      return Error(403, "forbidden", "reading a journal segment needs a token with journal_read");
    }
  }
  return (this->*route->fn)(call);
}

bool OperatorApi::Query(Call& call, std::initializer_list<QueryParamSpec> allowed, Response* error) {
  auto q = ParseQuery(call.raw_query, std::span<const QueryParamSpec>(allowed.begin(), allowed.size()));
  if (!q.ok()) {
    *error = Error(400, "bad_request", q.status().message());
    return false;
  }
  call.query = std::move(*q);
  return true;
}

Response OperatorApi::Write(const std::function<Status(std::optional<Response>&)>& fn,
                            const std::function<Response()>& ok) {
  std::optional<Response> refusal;
  Status s = store_->Atomically([&]() -> Status { return fn(refusal); });
  if (refusal) return std::move(*refusal);
  if (!s.ok()) return FromStatus(s);
  return ok();
}

Response OperatorApi::Healthz(Call& /*call*/) { return Json(200, R"({"ok":true})"); }

Response OperatorApi::Readyz(Call& /*call*/) {
  const Status ping = store_->Ping();  // one round trip, bounded by the store's own timeouts
  if (!ping.ok()) {
    return Error(503, "not_ready", "store: " + ping.message())
        .Header("Retry-After", "5")
        .Header(kStoreErrorMark, ping.code() == ErrorCode::kTimeout ? "timeout" : "io_error");
  }
  auto repo = repository_.Get(Now());
  if (!repo.ok()) return Error(503, "not_ready", "repository: " + repo.status().message());
  return Json(200, R"({"ready":true})");
}

// The rollout part of /metrics, read from the store at each scrape (bounded: fw/server/metrics.h).
Result<std::string> OperatorApi::RolloutMetricsText() {
  FW_ASSIGN_OR_RETURN(auto running, store_->ListRolloutsInState("running"));
  FW_ASSIGN_OR_RETURN(auto paused, store_->ListRolloutsInState("paused"));
  std::vector<std::pair<int64_t, bool>> active;  // (id, paused), newest first
  for (const auto& r : running) active.emplace_back(r.id, false);
  for (const auto& r : paused) active.emplace_back(r.id, true);
  std::sort(active.begin(), active.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const int64_t omitted = std::max<int64_t>(0, static_cast<int64_t>(active.size()) - kMaxRolloutsInMetrics);
  if (active.size() > kMaxRolloutsInMetrics) active.resize(kMaxRolloutsInMetrics);
  std::sort(active.begin(), active.end());
  std::vector<RolloutGroupMetrics> groups;
  for (const auto& [id, is_paused] : active) {
    FW_ASSIGN_OR_RETURN(auto members, store_->CountRolloutMembers(id));
    FW_ASSIGN_OR_RETURN(auto counters, store_->ListRolloutCounters(id));
    std::map<int64_t, RolloutGroupMetrics> by_group;
    auto group = [&](int64_t index) -> RolloutGroupMetrics& {
      auto& g = by_group[index];
      g.rollout_id = id, g.paused = is_paused, g.group_index = index;
      return g;
    };
    for (const auto& [key, n] : members) group(key.first).members.emplace_back(key.second, n);
    for (const auto& c : counters) group(c.group_index).counters.emplace_back(c.name, c.value);
    for (auto& [index, g] : by_group) groups.push_back(std::move(g));
  }
  return RenderRolloutMetrics(groups, static_cast<int64_t>(running.size()), static_cast<int64_t>(paused.size()),
                              omitted);
}

Response OperatorApi::MetricsText(Call& /*call*/) {
  Response r;
  r.status = 200;
  r.body = metrics_.Render();
  // The process's own metrics are served even when the store is not: the rollout part is then left out
  // and the failure counted in fwserver_store_errors_total.
  auto rollouts = RolloutMetricsText();
  if (rollouts.ok()) {
    r.body += *rollouts;
  } else {
    metrics_.ObserveStoreError("operator", rollouts.status().code() == ErrorCode::kTimeout ? "timeout" : "io_error");
    r.body += "# rollout metrics unavailable: the store did not answer\n";
  }
  r.Header("Content-Type", "text/plain; version=0.0.4").Header("Cache-Control", "no-store");
  return r;
}

Response OperatorApi::Whoami(Call& call) {
  const auto& t = *call.token;
  return Json(
      200,
      nlohmann::json{
          {"id", t.id}, {"name", t.name}, {"role", t.role}, {"journal_read", t.journal_read}, {"expires", t.expires_s}}
          .dump());
}

}  // namespace ops

std::vector<OperatorRouteInfo> OperatorRoutes() {
  std::vector<OperatorRouteInfo> out;
  for (const auto& r : ops::OperatorApi::Routes()) {
    out.push_back({r.method, r.pattern, r.min_role ? std::string(RoleName(*r.min_role)) : "", r.journal_read});
  }
  return out;
}

Result<std::unique_ptr<OperatorApiHandler>> OpenOperatorApiHandler(const OperatorApiConfig& config, Metrics& metrics,
                                                                   Clock& clock) {
  FW_ASSIGN_OR_RETURN(auto store, OpenStore(config.db_path, /*create=*/true));
  return OpenOperatorApiHandler(config, std::move(store), metrics, clock);
}

Result<std::unique_ptr<OperatorApiHandler>> OpenOperatorApiHandler(const OperatorApiConfig& config,
                                                                   std::unique_ptr<Store> store, Metrics& metrics,
                                                                   Clock& clock) {
  if (store == nullptr) return InvalidArgument("operator API: no store");
  OperatorApiConfig c = config;
  if (!c.vault) {
    FW_ASSIGN_OR_RETURN(c.vault, MakeVault(""));  // no key configured: segments stored as sent
  }
  return std::unique_ptr<OperatorApiHandler>(new ops::OperatorApi(c, std::move(store), metrics, clock));
}

Result<std::unique_ptr<RequestHandler>> OpenOperatorApi(const OperatorApiConfig& config, Metrics& metrics,
                                                        Clock& clock) {
  FW_ASSIGN_OR_RETURN(auto api, OpenOperatorApiHandler(config, metrics, clock));
  return std::unique_ptr<RequestHandler>(std::move(api));
}

Result<std::unique_ptr<RequestHandler>> OpenOperatorApi(const OperatorApiConfig& config, std::unique_ptr<Store> store,
                                                        Metrics& metrics, Clock& clock) {
  FW_ASSIGN_OR_RETURN(auto api, OpenOperatorApiHandler(config, std::move(store), metrics, clock));
  return std::unique_ptr<RequestHandler>(std::move(api));
}

}  // namespace fw::server
