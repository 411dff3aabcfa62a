#include "inprocess_fleet.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/fleet_ca.h"
#include "fw/signer.h"
#include "fw/sqlite.h"

namespace fw::agent::testing {

namespace fs = std::filesystem;
using Json = nlohmann::json;

InProcessFleet::InProcessFleet(Clock& clock, const std::string& repo_source) : clock_(clock) {
  std::error_code ec;
  fs::copy(repo_source, repo_dir(), fs::copy_options::recursive, ec);
  if (ec) {
    ADD_FAILURE() << "copying the repository " << repo_source << ": " << ec.message();
    return;
  }
  // The fleet CA (`fwserver ca init`): root and issuing P-256 keys, in memory.
  auto root = PrivateKey::Generate(KeyType::kEcdsaP256);
  auto issuing = PrivateKey::Generate(KeyType::kEcdsaP256);
  if (!root.ok() || !issuing.ok()) {
    ADD_FAILURE() << "key generation failed";
    return;
  }
  auto issuing_pem = issuing->ToPem();
  KeySigner root_signer(std::move(*root), "fleet root");
  KeySigner issuing_signer(std::move(*issuing), "fleet issuing");
  server::FleetCaOptions options;
  options.now_s = clock_.WallSeconds() - 300;  // as `fwserver ca init`: valid from 5 minutes earlier
  auto ca = server::MakeFleetCa(root_signer, issuing_signer, options);
  if (!ca.ok()) {
    ADD_FAILURE() << "fleet CA: " << ca.status().ToString();
    return;
  }
  chain_pem_ = ca->chain_pem;
  auto again = PrivateKey::FromPem(*issuing_pem);
  auto issuer = server::MakeSignerIssuer(std::make_unique<KeySigner>(std::move(*again), "fleet issuing"),
                                         ca->issuing_pem, ca->root_pem);
  auto verifier = server::DeviceCertVerifier::Create(ca->chain_pem);
  if (!issuer.ok() || !verifier.ok()) {
    ADD_FAILURE() << "issuer/verifier: " << (issuer.ok() ? verifier.status() : issuer.status()).ToString();
    return;
  }
  issuer_ = std::move(*issuer);
  verifier_ = std::move(*verifier);
  // `fwserver init`: the store, migrated; the device API over it.
  config_.db_path = server::StorePath(dir());
  config_.poll_seconds = 300;
  config_.poll_jitter_seconds = 0;
  config_.repository_url = "/repo/";
  auto store = server::OpenSqliteStore(config_.db_path);
  if (!store.ok()) {
    ADD_FAILURE() << "store: " << store.status().ToString();
    return;
  }
  store_ = std::move(*store);
  if (Status s = Restart(); !s.ok()) ADD_FAILURE() << "device API: " << s.ToString();
}

InProcessFleet::~InProcessFleet() = default;

Status InProcessFleet::Restart() {
  api_.reset();
  auto api = server::OpenDeviceApi(config_, *issuer_, clock_);
  if (!api.ok()) return api.status();
  api_ = std::move(*api);
  return Status::Ok();
}

Status InProcessFleet::Backup(const std::string& path) {
  FW_ASSIGN_OR_RETURN(auto db, sql::Database::Open(config_.db_path));
  return db.Exec("VACUUM INTO '" + path + "'");
}

Status InProcessFleet::RestoreBackup(const std::string& path) {
  api_.reset();
  store_.reset();
  std::error_code ec;
  for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(config_.db_path + ext, ec);
  std::filesystem::copy_file(path, config_.db_path, ec);
  if (ec) return IoError("restoring " + path + ": " + ec.message());
  FW_ASSIGN_OR_RETURN(store_, server::OpenSqliteStore(config_.db_path, /*create=*/false));
  return Restart();
}

Result<DeviceIdentity> InProcessFleet::Enrol(const std::string& serial) {
  auto random = RandomBytes(32);
  if (!random.ok()) return random.status();
  const std::string token = HexEncode(*random);
  const int64_t now = clock_.WallSeconds();
  if (Status s = store_->AddEnrolToken({HexEncode(Sha256::Of(AsBytes(token))), serial, now, now + 3600, std::nullopt});
      !s.ok()) {
    return s;
  }
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  if (!key.ok()) return key.status();
  auto csr = server::MakeCsrPem(*key, serial);
  if (!csr.ok()) return csr.status();
  server::Request r;
  r.method = "POST";
  r.target = "/v1/enrol";
  r.headers["content-type"] = "application/json";
  r.body = Json{{"token", token}, {"serial", serial}, {"csr", *csr}}.dump();
  r.peer.remote_address = "192.0.2.10:40000";
  server::Response response = api_->Handle(r);
  if (response.status != 200)
    return FailedPrecondition("enrol " + serial + ": HTTP " + std::to_string(response.status) + " " + response.body);
  const Json j = Json::parse(response.body, nullptr, false);
  if (!j.is_object() || !j.contains("certificate") || !j.contains("chain")) {
    return Corrupt("enrol reply: " + response.body);
  }
  auto key_pem = key->ToPem();
  if (!key_pem.ok()) return key_pem.status();
  DeviceIdentity id;
  id.serial = serial;
  id.key_pem = *key_pem;
  std::string cert = j["certificate"].get<std::string>();
  if (!cert.ends_with("\n")) cert += "\n";
  id.cert_pem = cert + j["chain"].get<std::string>();
  return id;
}

std::unique_ptr<InProcessTransport> InProcessFleet::MakeTransport(const DeviceIdentity& id) {
  InProcessConfig c;
  c.handler = api_.get();
  c.verifier = verifier_.get();
  c.clock = &clock_;
  c.repo_dir = repo_dir();
  c.cert_pem = id.cert_pem;
  c.key_pem = id.key_pem;
  return std::make_unique<InProcessTransport>(std::move(c));
}

Result<int64_t> InProcessFleet::CreateAction(const std::string& serial, const InstallActionSpec& spec) {
  server::Action a;
  a.device_serial = serial;
  a.kind = spec.kind;
  a.target_name = spec.kind == "journal_backup" ? "" : spec.target;
  a.target_version = spec.kind == "journal_backup" ? "" : spec.version;
  a.type = spec.type;
  a.window = spec.window;
  a.backup_required = spec.backup_required;
  a.created_s = a.updated_s = clock_.WallSeconds();
  return store_->CreateAction(a);
}

}  // namespace fw::agent::testing
