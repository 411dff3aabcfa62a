// fwserver's device port, composed (server-stub/net): what `fwserver run` starts.
//
// StartFleetServer() reads the TLS files and the client CA named by the configuration, makes the
// DeviceCertVerifier (fleet CA chain), the certificate issuer (ConnectIssuer on the issuer socket,
// or MakeSignerIssuer with a pkcs11: key and DIR/ca/issuing.pem + root.pem), opens one device API
// handler per I/O thread (OpenDeviceApi: its own store connection each) and starts the HTTPS
// transport with the configured limits. Requests for /repo/... are answered by
// ServeRepositoryFile from the repository directory (body cap 0); everything else goes to the
// device API, whose body caps are bounded by limits.max_body_bytes.
// Ownership: the FleetServer owns everything it made; destroying it stops the transport first.
// Thread safety: Stop() and the accessors from the controlling thread.
// Failure model: any missing or unreadable file, a bad certificate, a store that cannot be opened
// or a port in use is an error naming it; nothing is left running.
#pragma once

#include <cstdint>
#include <memory>

#include "fw/clock.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/config.h"
#include "fw/server/device_cert.h"
#include "fw/server/https_server.h"
#include "fw/status.h"

namespace fw::server {

struct FleetServer {
  // Declared in dependency order: the transport (last) is destroyed first.
  std::unique_ptr<CertIssuer> issuer;
  std::unique_ptr<DeviceCertVerifier> verifier;
  std::unique_ptr<HttpsServer> https;
};

Result<std::unique_ptr<FleetServer>> StartFleetServer(const ServerConfig& config, Clock& clock);

// The I/O thread count a configuration asks for (limits.threads, or the number of CPUs when 0).
int EffectiveThreads(const ServerConfig& config);

}  // namespace fw::server
