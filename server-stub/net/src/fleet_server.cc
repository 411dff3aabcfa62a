// StartFleetServer (fw/server/fleet_server.h): the device port of `fwserver run`.
#include "fw/server/fleet_server.h"

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "fw/file_io.h"
#include "fw/open_signer.h"
#include "fw/server/device_api.h"
#include "fw/server/static_files.h"

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

}  // namespace

int EffectiveThreads(const ServerConfig& config) {
  if (config.limits.threads > 0) return config.limits.threads;
  return static_cast<int>(std::max(1u, std::min(64u, std::thread::hardware_concurrency())));
}

Result<std::unique_ptr<FleetServer>> StartFleetServer(const ServerConfig& config, Clock& clock) {
  auto fleet = std::make_unique<FleetServer>();
  HttpsServerOptions o;
  FW_ASSIGN_OR_RETURN(o.cert_chain_pem, ReadFileToString(config.tls_cert, kMaxPemBytes).WithContext("TLS certificate"));
  FW_ASSIGN_OR_RETURN(o.key_pem, ReadFileToString(config.tls_key, kMaxPemBytes).WithContext("TLS key"));
  FW_ASSIGN_OR_RETURN(o.client_ca_pem, ReadFileToString(config.client_ca, kMaxPemBytes).WithContext("client CA"));
  FW_ASSIGN_OR_RETURN(fleet->verifier, DeviceCertVerifier::Create(o.client_ca_pem).WithContext(config.client_ca));
  FW_ASSIGN_OR_RETURN(fleet->issuer, OpenIssuer(config));

  DeviceApiConfig api;
  api.db_path = config.database;
  api.poll_seconds = config.poll_seconds;
  api.poll_jitter_seconds = config.poll_jitter_seconds;
  api.cert_validity_seconds = config.cert_validity_seconds;
  api.renew_grace_seconds = config.renew_grace_seconds;
  api.repository_url = config.repository_url;
  const int threads = EffectiveThreads(config);
  // One handler (one store connection) per I/O thread, opened here so that a failure is reported.
  std::vector<std::unique_ptr<RequestHandler>> handlers;
  for (int i = 0; i < threads; ++i) {
    FW_ASSIGN_OR_RETURN(auto handler, OpenDeviceApi(api, *fleet->issuer, clock).WithContext("device API"));
    handlers.push_back(
        std::make_unique<DevicePortHandler>(config.repository_dir, std::move(handler), config.limits.max_body_bytes));
  }
  auto mu = std::make_shared<std::mutex>();
  HandlerFactory factory = [&handlers, mu]() -> std::unique_ptr<RequestHandler> {
    std::lock_guard<std::mutex> lock(*mu);
    if (handlers.empty()) return nullptr;
    auto h = std::move(handlers.back());
    handlers.pop_back();
    return h;
  };

  o.address = config.listen_address;
  o.port = config.port;
  o.threads = threads;
  o.max_header_bytes = config.limits.header_bytes;
  o.handshake_timeout_ms = config.limits.handshake_timeout_ms;
  o.header_timeout_ms = config.limits.header_timeout_ms;
  o.body_timeout_ms = config.limits.body_timeout_ms;
  o.write_timeout_ms = config.limits.write_timeout_ms;
  o.idle_timeout_ms = config.limits.idle_timeout_ms;
  o.max_connections = config.limits.max_connections;
  o.retry_after_seconds = config.limits.retry_after_seconds;
  o.ticket_lifetime_seconds = 2 * config.ticket_key_rotation_seconds;
  o.ticket_keys = LocalTicketKeys(clock, config.ticket_key_rotation_seconds);
  FW_ASSIGN_OR_RETURN(fleet->https, HttpsServer::Start(o, factory, *fleet->verifier, clock));
  return fleet;
}

}  // namespace fw::server
