// StartFleetServer (fw/server/fleet_server.h): the device port, the operator port and the
// scheduler of `fwserver run`.
#include "fw/server/fleet_server.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "fw/file_io.h"
#include "fw/open_signer.h"
#include "fw/server/dashboard.h"
#include "fw/server/device_api.h"
#include "fw/server/operator_api.h"
#include "fw/server/shared_ticket_keys.h"
#include "fw/server/static_files.h"
#include "fw/server/store.h"

namespace fw::server {
namespace {

constexpr uint64_t kMaxPemBytes = 1 << 20;

// /repo/... from the repository directory; everything else to the device API.
class DevicePortHandler final : public RequestHandler {
 public:
  DevicePortHandler(std::string repo_dir, std::unique_ptr<RequestHandler> api, uint64_t max_body)
      : repo_dir_(std::move(repo_dir)), api_(std::move(api)), max_body_(max_body) {}

  Response Handle(const Request& request) override {
    if (IsRepository(request.target)) return ServeRepositoryFile(repo_dir_, request);
    return api_->Handle(request);
  }
  uint64_t MaxBodyBytes(const std::string& method, const std::string& target) const override {
    if (IsRepository(target)) return 0;
    return std::min(api_->MaxBodyBytes(method, target), max_body_);
  }

 private:
  static bool IsRepository(const std::string& target) { return target.rfind("/repo/", 0) == 0; }
  std::string repo_dir_;
  std::unique_ptr<RequestHandler> api_;
  uint64_t max_body_;
};

Result<std::unique_ptr<CertIssuer>> OpenIssuer(const ServerConfig& config) {
  if (!config.issuer_socket.empty()) return ConnectIssuer(config.issuer_socket);
  auto signer = OpenSigner(config.issuer_key, {});
  if (!signer.ok()) return signer.status().WithContext("issuer.key");
  FW_ASSIGN_OR_RETURN(std::string issuing, ReadFileToString(config.data_dir + "/ca/issuing.pem", kMaxPemBytes));
  FW_ASSIGN_OR_RETURN(std::string root, ReadFileToString(config.data_dir + "/ca/root.pem", kMaxPemBytes));
  return MakeSignerIssuer(std::move(signer).value(), issuing, root);
}

// The transport settings both ports share (limits.*).
HttpsServerOptions TransportOptions(const ServerConfig& config, Clock& clock) {
  HttpsServerOptions o;
  o.max_header_bytes = config.limits.header_bytes;
  o.handshake_timeout_ms = config.limits.handshake_timeout_ms;
  o.header_timeout_ms = config.limits.header_timeout_ms;
  o.body_timeout_ms = config.limits.body_timeout_ms;
  o.write_timeout_ms = config.limits.write_timeout_ms;
  o.idle_timeout_ms = config.limits.idle_timeout_ms;
  o.max_connections = config.limits.max_connections;
  o.retry_after_seconds = config.limits.retry_after_seconds;
  o.ticket_lifetime_seconds = 2 * config.ticket_key_rotation_seconds;
  o.ticket_keys = LocalTicketKeys(clock, config.ticket_key_rotation_seconds);  // the device port shares its keys
  return o;
}

// Hands out handlers opened beforehand (so that opening failures are reported by Start).
HandlerFactory FactoryOf(std::vector<std::unique_ptr<RequestHandler>>& handlers) {
  auto mu = std::make_shared<std::mutex>();
  return [&handlers, mu]() -> std::unique_ptr<RequestHandler> {
    std::lock_guard<std::mutex> lock(*mu);
    if (handlers.empty()) return nullptr;
    auto h = std::move(handlers.back());
    handlers.pop_back();
    return h;
  };
}

// The port a gauge reads, published once it has started (a render may run on another thread).
using PortRef = std::shared_ptr<std::atomic<const HttpsServer*>>;

// Per-port transport gauges (0 before the port started).
PortRef AddPortGauges(Metrics& metrics, const std::string& port) {
  auto ref = std::make_shared<std::atomic<const HttpsServer*>>(nullptr);
  const std::string labels = "port=\"" + port + "\"";
  const auto gauge = [&](const char* name, const char* help, uint64_t HttpsServerStats::*field) {
    metrics.AddGauge(name, help, labels, [ref, field]() -> double {
      const HttpsServer* server = ref->load();
      return server != nullptr ? static_cast<double>(server->stats().*field) : 0.0;
    });
  };
  gauge("fwserver_open_connections", "TLS connections open now", &HttpsServerStats::open);
  gauge("fwserver_connections_accepted", "TCP connections accepted since start", &HttpsServerStats::accepted);
  gauge("fwserver_tls_handshake_failures", "TLS handshakes that failed since start",
        &HttpsServerStats::handshake_failed);
  gauge("fwserver_deadline_closes", "connections closed because a deadline passed, since start",
        &HttpsServerStats::deadline_closed);
  gauge("fwserver_tls_resumptions", "TLS handshakes that resumed a session, since start", &HttpsServerStats::resumed);
  return ref;
}

Status StartDevicePort(FleetServer& fleet, const ServerConfig& config, const AlertPolicy& policy, Clock& clock) {
  HttpsServerOptions o = TransportOptions(config, clock);
  FW_ASSIGN_OR_RETURN(o.cert_chain_pem, ReadFileToString(config.tls_cert, kMaxPemBytes).WithContext("TLS certificate"));
  FW_ASSIGN_OR_RETURN(o.key_pem, ReadFileToString(config.tls_key, kMaxPemBytes).WithContext("TLS key"));
  FW_ASSIGN_OR_RETURN(o.client_ca_pem, ReadFileToString(config.client_ca, kMaxPemBytes).WithContext("client CA"));
  FW_ASSIGN_OR_RETURN(fleet.verifier, DeviceCertVerifier::Create(o.client_ca_pem).WithContext(config.client_ca));
  FW_ASSIGN_OR_RETURN(fleet.issuer, OpenIssuer(config));
  // Ticket keys shared by every instance on this database (one code path on SQLite too). Asked once
  // now: the first handshake does not wait for the database, and a problem with it is logged at start.
  const std::string database = config.database;
  o.ticket_keys = DatabaseTicketKeys([database]() { return OpenStore(database); }, clock,
                                     {.rotation_seconds = config.ticket_key_rotation_seconds});
  (void)o.ticket_keys();

  DeviceApiConfig api;
  api.db_path = config.database;
  api.poll_seconds = config.poll_seconds;
  api.poll_jitter_seconds = config.poll_jitter_seconds;
  api.cert_validity_seconds = config.cert_validity_seconds;
  api.renew_grace_seconds = config.renew_grace_seconds;
  api.repository_url = config.repository_url;
  api.alerts = policy;
  api.vault = fleet.vault;
  api.metrics = fleet.metrics.get();
  const int threads = EffectiveThreads(config);
  // One handler (one store connection) per I/O thread, opened here so that a failure is reported.
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  for (int i = 0; i < threads; ++i) {
    FW_ASSIGN_OR_RETURN(auto handler, OpenDeviceApi(api, *fleet.issuer, clock).WithContext("device API"));
    handlers.push_back(
        std::make_unique<DevicePortHandler>(config.repository_dir, std::move(handler), config.limits.max_body_bytes));
  }
  o.address = config.listen_address;
  o.port = config.port;
  o.threads = threads;
  FW_ASSIGN_OR_RETURN(fleet.https, HttpsServer::Start(o, FactoryOf(handlers), *fleet.verifier, clock));
  return Status::Ok();
}

Status StartOperatorPort(FleetServer& fleet, const ServerConfig& config, const AlertPolicy& policy, Clock& clock) {
  const OperatorPortConfig& op = config.operator_port;
  HttpsServerOptions o = TransportOptions(config, clock);
  FW_ASSIGN_OR_RETURN(o.cert_chain_pem,
                      ReadFileToString(op.tls_cert, kMaxPemBytes).WithContext("operator.tls_cert " + op.tls_cert));
  FW_ASSIGN_OR_RETURN(o.key_pem,
                      ReadFileToString(op.tls_key, kMaxPemBytes).WithContext("operator.tls_key " + op.tls_key));
  o.request_client_cert = false;  // bearer tokens, never client certificates
  OperatorApiConfig api;
  api.data_dir = config.data_dir;
  api.db_path = config.database;
  api.repository_dir = config.repository_dir;
  api.cert_warn_seconds = config.cert_warn_days * 86400;
  api.alerts = policy;
  api.vault = fleet.vault;
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  for (int i = 0; i < op.threads; ++i) {
    FW_ASSIGN_OR_RETURN(auto handler, OpenOperatorApiHandler(api, *fleet.metrics, clock).WithContext("operator API"));
    handlers.push_back(MakeOperatorPort(std::move(handler), DashboardConfig{}, clock));
  }
  o.address = op.listen_address;
  o.port = op.port;
  o.threads = op.threads;
  FW_ASSIGN_OR_RETURN(fleet.operator_https,
                      HttpsServer::Start(o, FactoryOf(handlers), *fleet.verifier, clock).WithContext("operator port"));
  return Status::Ok();
}

}  // namespace

void FleetServer::Stop() {
  if (scheduler) scheduler->Stop();
  if (operator_https) operator_https->Stop();
  if (https) https->Stop();
}

AlertPolicy MakeAlertPolicy(const ServerConfig& config) {
  AlertPolicy p;
  for (const WebhookConfig& w : config.alerts.webhooks) p.webhooks.push_back({w.name, w.url, w.secret, w.kinds});
  p.max_attempts = config.alerts.max_attempts;
  p.backoff_seconds = config.alerts.backoff_seconds;
  p.max_backoff_seconds = config.alerts.max_backoff_seconds;
  p.allow_plain_http = config.alerts.allow_plain_http;
  p.http.ca_file = config.alerts.ca_file;  // deadlines: fw/server/alerts.h's (10 s per attempt)
  return p;
}

SchedulerConfig MakeSchedulerConfig(const ServerConfig& config) {
  SchedulerConfig s;
  s.data_dir = config.data_dir;
  s.heads_file = config.audit.heads_file;
  s.repository_dir = config.repository_dir;
  s.export_interval_seconds = config.audit.export_interval_seconds;
  s.cert_warn_seconds = config.cert_warn_days * 86400;
  s.retention_seconds = config.journal.retention_days * 86400;
  s.alerts = MakeAlertPolicy(config);
  return s;
}

int EffectiveThreads(const ServerConfig& config) {
  if (config.limits.threads > 0) return config.limits.threads;
  return static_cast<int>(std::max(1u, std::min(64u, std::thread::hardware_concurrency())));
}

Result<std::unique_ptr<FleetServer>> StartFleetServer(const ServerConfig& config, Clock& clock,
                                                      const FleetServerOptions& options) {
  auto fleet = std::make_unique<FleetServer>();
  const AlertPolicy policy = MakeAlertPolicy(config);
  FW_ASSIGN_OR_RETURN(fleet->vault,
                      MakeVault(config.journal.encryption_key_file).WithContext("journal.encryption_key_file"));
  fleet->metrics = std::make_unique<Metrics>();
  const PortRef device_ref = AddPortGauges(*fleet->metrics, "device");
  const PortRef operator_ref = AddPortGauges(*fleet->metrics, "operator");
  if (options.scheduler) {  // first: it serves nobody, and the gauge below reads it from other threads
    FW_ASSIGN_OR_RETURN(auto store, OpenStore(config.database).WithContext("scheduler store"));
    FW_ASSIGN_OR_RETURN(auto delivery_store, OpenStore(config.database).WithContext("scheduler store"));
    SchedulerConfig sc = MakeSchedulerConfig(config);
    sc.tick_ms = options.scheduler_tick_ms;
    fleet->scheduler = std::make_unique<Scheduler>(std::move(sc), std::move(store), std::move(delivery_store), clock);
  }
  const Scheduler* scheduler = fleet->scheduler.get();
  fleet->metrics->AddGauge(
      "fwserver_scheduler_errors", "scheduler task failures since start (stderr names them)", "",
      [scheduler]() -> double { return scheduler != nullptr ? static_cast<double>(scheduler->stats().errors) : 0.0; });
  fleet->metrics->AddGauge(
      "fwserver_scheduler_leader", "1 when this instance holds the scheduler lease (runs ticks, deliveries, exports)",
      "", [scheduler]() -> double { return scheduler != nullptr && scheduler->stats().leader ? 1 : 0; });
  fleet->metrics->AddGauge("fwserver_scheduler_passes_skipped",
                           "scheduler passes that did nothing: another instance held the lease, since start", "",
                           [scheduler]() -> double {
                             return scheduler != nullptr ? static_cast<double>(scheduler->stats().passes_skipped) : 0.0;
                           });
  if (fleet->scheduler) fleet->scheduler->Start();
  FW_RETURN_IF_ERROR(StartDevicePort(*fleet, config, policy, clock));
  device_ref->store(fleet->https.get());
  FW_RETURN_IF_ERROR(StartOperatorPort(*fleet, config, policy, clock));
  operator_ref->store(fleet->operator_https.get());
  return fleet;
}

}  // namespace fw::server
