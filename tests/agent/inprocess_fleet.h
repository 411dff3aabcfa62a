// Test support (library fw_agent_testing): a fleet server without sockets, what `fwserver init` +
// `fwserver ca init` make, done in code in a temporary directory:
//   DIR/server.db   the real store (OpenSqliteStore, migrated),
//   DIR/repo/       a copy of a repository written by the real `fwsign repo` (TUF metadata, targets,
//                   chunk-index files), served under /repo/ by InProcessTransport,
//   a fleet CA      (root + issuing, P-256, in memory) with the library issuer and the device port's
//                   certificate verifier,
//   the device API  (OpenDeviceApi over DIR/server.db, the same handler `fwserver run` serves).
// Devices enrol through the handler's /v1/enrol with a single-use token, as a terminal would; the
// identity they get (key, certificate + chain) feeds InProcessTransport.
// Ownership: the fleet owns its directory (removed with it), the handler, the issuer, the verifier and
// a store connection for the test's own reads and writes (actions, events). `clock` is borrowed.
// Thread safety: one thread. Failure model: construction problems are gtest failures (ok() false).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fw/clock.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/device_api.h"
#include "fw/server/device_cert.h"
#include "fw/server/store.h"
#include "inprocess_transport.h"
#include "testing.h"

namespace fw::agent::testing {

struct DeviceIdentity {
  std::string serial;
  std::string key_pem;
  std::string cert_pem;  // certificate then chain
};

struct InstallActionSpec {
  std::string target;   // TUF target path, e.g. "fw-1.1.0.img"
  std::string version;  // e.g. "1.1.0"
  std::string kind = "install";
  std::string type = "forced";
  std::string window;  // "" = any time
  bool backup_required = true;
};

class InProcessFleet {
 public:
  // `repo_source`: a repository directory (fwsign repo init/add-target/publish), copied to DIR/repo.
  InProcessFleet(Clock& clock, const std::string& repo_source);
  ~InProcessFleet();

  bool ok() const { return api_ != nullptr; }
  const std::string& dir() const { return dir_.path(); }
  std::string repo_dir() const { return dir_ / "repo"; }
  server::Store& store() { return *store_; }
  server::RequestHandler& api() { return *api_; }
  const server::DeviceCertVerifier& verifier() const { return *verifier_; }
  const std::string& chain_pem() const { return chain_pem_; }

  // A token made in the store, then POST /v1/enrol through the handler with a fresh P-256 key.
  Result<DeviceIdentity> Enrol(const std::string& serial);
  // A transport for `id` (the handler is shared: one thread drives the fleet).
  std::unique_ptr<InProcessTransport> MakeTransport(const DeviceIdentity& id);
  // An action as `fwserver action create` stores it (no plan: the tests choose what the server asks).
  Result<int64_t> CreateAction(const std::string& serial, const InstallActionSpec& spec);
  // Re-opens the device API (a server restart: a new connection to DIR/server.db).
  Status Restart();
  // A consistent copy of DIR/server.db at `path` (VACUUM INTO: what a backup tool takes), and the
  // operator's restore of such a copy (the server restarted on it: API and store connection re-opened).
  Status Backup(const std::string& path);
  Status RestoreBackup(const std::string& path);

 private:
  Clock& clock_;
  fw::testing::TempDir dir_;
  std::string chain_pem_;
  std::unique_ptr<server::CertIssuer> issuer_;
  std::unique_ptr<server::DeviceCertVerifier> verifier_;
  server::DeviceApiConfig config_;
  std::unique_ptr<server::RequestHandler> api_;
  std::unique_ptr<server::Store> store_;
};

}  // namespace fw::agent::testing
