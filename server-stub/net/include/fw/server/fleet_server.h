// fwserver's two ports and its scheduler, composed (server-stub/net): what `fwserver run` starts.
//
// StartFleetServer() reads the TLS files and the client CA named by the configuration, makes the
// DeviceCertVerifier (fleet CA chain), the certificate issuer (ConnectIssuer on the issuer socket,
// or MakeSignerIssuer with a pkcs11: key and DIR/ca/issuing.pem + root.pem), the journal vault
// (MakeVault(journal.encryption_key_file)), one Metrics shared by both ports and the alert policy
// (MakeAlertPolicy). Then:
//  - the device port: one device API handler per I/O thread (OpenDeviceApi: its own store
//    connection each, with the alerts, vault and metrics); requests for /repo/... are answered by
//    ServeRepositoryFile from the repository directory (body cap 0); everything else goes to the
//    device API, whose body caps are bounded by limits.max_body_bytes;
//  - the operator port (operator.*): its own certificate and key (default: the device port's), no
//    client certificate requested, operator.threads I/O threads each with an OpenOperatorApi
//    handler (own store connection); the same limits as the device port;
//  - the scheduler (fw/server/scheduler.h) on its own thread with its own store connections,
//    unless options.scheduler is false.
// Gauges registered on `metrics` per port (label port="device"|"operator"), from HttpsServer::stats():
// fwserver_open_connections, fwserver_connections_accepted, fwserver_tls_handshake_failures,
// fwserver_deadline_closes, fwserver_tls_resumptions; and fwserver_scheduler_errors.
// Ownership: the FleetServer owns everything it made; Stop() (and the destructor) stops the
// scheduler, then the operator port, then the device port.
// Thread safety: Stop() and the accessors from the controlling thread.
// Failure model: any missing or unreadable file, a bad certificate, a store that cannot be opened
// or a port in use is an error naming it; nothing is left running.
#pragma once

#include <cstdint>
#include <memory>

#include "fw/clock.h"
#include "fw/server/alerts.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/config.h"
#include "fw/server/device_cert.h"
#include "fw/server/https_server.h"
#include "fw/server/journal_vault.h"
#include "fw/server/metrics.h"
#include "fw/server/scheduler.h"
#include "fw/status.h"

namespace fw::server {

struct FleetServer {
  FleetServer() = default;
  ~FleetServer() { Stop(); }
  FleetServer(const FleetServer&) = delete;
  FleetServer& operator=(const FleetServer&) = delete;
  // The scheduler, then the operator port, then the device port (each lets its work in flight finish).
  void Stop();

  // Declared in dependency order: the scheduler and the transports (last) are destroyed first.
  std::unique_ptr<CertIssuer> issuer;
  std::unique_ptr<DeviceCertVerifier> verifier;
  std::unique_ptr<Metrics> metrics;
  std::shared_ptr<const JournalVault> vault;
  std::unique_ptr<HttpsServer> https;           // the device port
  std::unique_ptr<HttpsServer> operator_https;  // the operator port
  std::unique_ptr<Scheduler> scheduler;         // null when not started
};

struct FleetServerOptions {
  bool scheduler = true;
  int64_t scheduler_tick_ms = 1000;
};

Result<std::unique_ptr<FleetServer>> StartFleetServer(const ServerConfig& config, Clock& clock,
                                                      const FleetServerOptions& options = {});

// The alert policy of a configuration: its webhooks (secrets loaded by LoadConfig), retries, and
// alerts.ca_file for the receivers' certificates (per-attempt deadlines: AlertPolicy's defaults).
AlertPolicy MakeAlertPolicy(const ServerConfig& config);
// The scheduler's settings of a configuration (intervals: export as configured, certificates hourly,
// retention daily).
SchedulerConfig MakeSchedulerConfig(const ServerConfig& config);

// The I/O thread count a configuration asks for (limits.threads, or the number of CPUs when 0).
int EffectiveThreads(const ServerConfig& config);

}  // namespace fw::server
