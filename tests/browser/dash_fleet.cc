// The dashboard's browser-test fleet (dash_fleet.h).
#include "dash_fleet.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "fleet_loop.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/server/config.h"
#include "fw/server/fleet_server.h"
#include "fw/server/operator_auth.h"

namespace fw::dashfleet {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kHostileLabel = "<script>alert(1)</script>";

std::string SerialOf(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "T-%05d", i + 1);
  return buf;
}

std::string MakeTemp(const std::string& base) {
  std::string t = base + "/dash-fleet-XXXXXX";
  if (::mkdtemp(t.data()) == nullptr) return "";
  ::chmod(t.c_str(), 0755);
  return t;
}

// base64 of SHA-256 over the certificate's SubjectPublicKeyInfo (what Chromium's
// --ignore-certificate-errors-spki-list takes).
Result<std::string> SpkiSha256Base64(const std::string& cert_file) {
  FW_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(cert_file, 1 << 20));
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (cert == nullptr) return Corrupt("no certificate in " + cert_file);
  unsigned char* der = nullptr;
  const int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  X509_free(cert);
  if (n <= 0) return Internal("encoding the public key of " + cert_file);
  const Bytes spki(der, der + n);
  OPENSSL_free(der);
  const Digest d = Sha256::Of(spki);
  return Base64Encode(d);
}

// The first line `fwserver run --json` printed (its ports).
Result<Json> RunLine(const std::string& log) {
  FW_ASSIGN_OR_RETURN(std::string text, ReadFileToString(log, 1 << 20));
  Json j = Json::parse(text.substr(0, text.find('\n')), nullptr, false);
  if (!j.is_object() || !j.contains("operator_port")) return Corrupt("fwserver run printed: " + text);
  return j;
}

}  // namespace

Fleet::~Fleet() {
  Stop();
  api_.reset();
  store_.reset();
  instances_.reset();  // the server processes, before their database goes
  pg_.reset();
  std::error_code ec;
  if (!terminal_dir_.empty()) fs::remove_all(terminal_dir_, ec);
  if (!work_.empty() && !o_.keep) fs::remove_all(work_, ec);
}

void Fleet::Stop() {
  if (runner_) runner_->Stop();
}

Status Fleet::Expect(const ApiAnswer& a, int status, const std::string& what) {
  if (a.status == status) return Status::Ok();
  return Internal(what + ": HTTP " + std::to_string(a.status) + " " + a.body.dump());
}

Fleet::ApiAnswer Fleet::Api(const std::string& method, const std::string& target, const Json& body) {
  server::Request r;
  r.method = method;
  r.target = target;
  if (!body.is_null()) {
    r.body = body.dump();
    r.headers["content-type"] = "application/json";
  }
  r.peer.remote_address = "127.0.0.1:0";
  const server::Response res = api_->HandleAs(r, admin_id_);
  return {res.status, Json::parse(res.body, nullptr, false)};
}

Status Fleet::SetupServer() {
  work_ = MakeTemp("/tmp");
  terminal_dir_ = MakeTemp("/dev/shm");
  if (work_.empty() || terminal_dir_.empty()) return IoError("mkdtemp failed");
  FW_ASSIGN_OR_RETURN(vendor_, fleetsim::MakeVendor(work_ + "/vendor", o_.fwsign));
  database_uri_ = o_.database;
  if (o_.postgres) {
    pg_ = std::make_unique<testing::PgTestDatabase>();
    if (!pg_->error().empty()) return IoError("PostgreSQL test database: " + pg_->error());
    database_uri_ = pg_->uri();
  }
  instances_ = std::make_unique<fleetmulti::Instances>(o_.fwserver, work_, 1);
  FW_RETURN_IF_ERROR(instances_->Setup([&](Json& c) {
    if (!database_uri_.empty()) c["database"] = database_uri_;
    c["devices"]["poll_seconds"] = 10;
    c["devices"]["poll_jitter_seconds"] = 2;
    c["limits"]["retry_after_seconds"] = 1;
    c["limits"]["threads"] = 2;
  }));
  const std::string data = instances_->data();
  std::error_code ec;
  fs::remove_all(data + "/repo", ec);
  fs::copy(vendor_->repo, data + "/repo", fs::copy_options::recursive, ec);
  if (ec) return IoError("copying the repository into " + data + "/repo: " + ec.message());
  FW_ASSIGN_OR_RETURN(server::ServerConfig config, server::LoadConfig(data));
  FW_ASSIGN_OR_RETURN(store_, server::OpenStore(config.database).WithContext("the fixture's store"));
  FW_RETURN_IF_ERROR(instances_->Start(0));
  FW_ASSIGN_OR_RETURN(Json line, RunLine(work_ + "/inst-0/run1.log"));
  operator_port_ = line["operator_port"].get<int>();
  operator_url_ = "https://127.0.0.1:" + std::to_string(operator_port_);
  FW_ASSIGN_OR_RETURN(spki_b64_, SpkiSha256Base64(config.operator_port.tls_cert));
  server::OperatorApiConfig api;
  api.data_dir = config.data_dir;
  api.db_path = config.database;
  api.repository_dir = config.repository_dir;
  api.alerts = server::MakeAlertPolicy(config);
  FW_ASSIGN_OR_RETURN(api_, server::OpenOperatorApiHandler(api, metrics_, clock_).WithContext("operator API"));
  return Status::Ok();
}

Status Fleet::SetupTokens() {
  const int64_t now = clock_.WallSeconds();
  for (const char* role : {"viewer", "operator", "approver", "admin"}) {
    server::OperatorToken t;
    t.name = std::string("browser-") + role;
    t.role = role;
    t.created_s = now;
    t.expires_s = now + 86400;
    t.created_by = "cli:dash-fleet";
    FW_ASSIGN_OR_RETURN(server::NewToken made, server::MakeOperatorToken(t));
    FW_ASSIGN_OR_RETURN(int64_t id, store_->AddOperatorToken(made.record));
    tokens_[role] = made.clear;
    if (std::string(role) == "admin") admin_id_ = id;
  }
  return Status::Ok();
}

// Provisioned, enrolled and checked in twice (so that rollouts see them), then waking in real time.
Status Fleet::SetupTerminals() {
  for (int i = 0; i < o_.terminals; ++i) {
    terminals_.push_back(std::make_unique<fleetsim::SimTerminal>(i, SerialOf(i), terminal_dir_ + "/" + SerialOf(i),
                                                                 1'000'003 + static_cast<uint64_t>(i)));
  }
  std::vector<std::string> tokens;
  const int64_t now = clock_.WallSeconds();
  for (auto& t : terminals_) {
    FW_ASSIGN_OR_RETURN(Bytes random, RandomBytes(32));
    tokens.push_back(HexEncode(random));
    FW_RETURN_IF_ERROR(store_->AddEnrolToken(
        {HexEncode(Sha256::Of(AsBytes(tokens.back()))), t->serial(), now, now + 86400, std::nullopt}));
  }
  const std::string ca = instances_->data() + "/ca/chain.pem";
  fleetsim::WorkerPool pool(o_.threads);
  std::mutex mu;
  Status first = Status::Ok();
  pool.Run(terminals_.size(), [&](size_t i) {
    fleetsim::SimTerminal& t = *terminals_[i];
    Status s = t.Provision(*vendor_, 20, clock_.WallMs());
    if (s.ok()) s = t.Enrol(instances_->url(0), ca, tokens[i]);
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok() && first.ok()) first = s.WithContext(t.serial());
  });
  FW_RETURN_IF_ERROR(first);
  fleetsim::CycleEnv env;
  env.clock = &clock_;
  env.ca_file = ca;
  env.vendor = vendor_.get();
  env.telemetry = &telemetry_;
  env.fault_version = "";  // no lost record: a journal_check failure would pause every rollout (kind fleet)
  const int64_t period_ms = 1500;
  for (auto& t : terminals_) t->next_wake_ms = clock_.MonotonicMs() + (t->index() * 127) % period_ms;
  runner_ = std::make_unique<fleetmulti::Runner>(terminals_, *instances_, env, o_.threads, period_ms);
  runner_->Start();
  if (!runner_->WaitRounds(2, 180'000)) return Timeout("the first check-ins did not finish within 180 s");
  if (runner_->errors() > 0) return Internal("first check-ins: " + runner_->first_error());
  return Status::Ok();
}

Status Fleet::WaitState(int64_t id, const std::string& state, int seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::string now;
  while (std::chrono::steady_clock::now() < end) {
    const ApiAnswer a = Api("GET", "/v1/rollouts/" + std::to_string(id));
    if (a.status == 200 && (now = a.body.value("state", "")) == state) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return Timeout("rollout " + std::to_string(id) + " is " + now + ", not " + state + " after " +
                 std::to_string(seconds) + " s");
}

// size: the labels, the pilot rollout and the quarantine, one request after another
Status Fleet::SetupLabelsAndPilot() {
  const int n = o_.terminals;
  for (int i = 0; i < n; ++i) {
    const std::string base = "/v1/devices/" + SerialOf(i) + "/labels/";
    if (i < n / 2) FW_RETURN_IF_ERROR(Expect(Api("PUT", base + "pilot"), 200, "label pilot"));
    if (i % 3 == 0) FW_RETURN_IF_ERROR(Expect(Api("PUT", base + "shop-7"), 200, "label shop-7"));
  }
  script_serial_ = SerialOf(2);
  FW_RETURN_IF_ERROR(store_->AddLabel(script_serial_, kHostileLabel));
  const Json pilot = {{"name", "pilot 1.1.0"},
                      {"target", "fw-1.1.0.img"},
                      {"filter", {{"hardware_id", fleetsim::kHardwareId}, {"labels", {"pilot"}}}},
                      {"groups", {{{"name", "pilot"}, {"percent", 100}}}},
                      {"ramp", {{"start_per_minute", 1000}, {"max_per_minute", 1000}}},
                      {"action_timeout_seconds", 300},
                      {"retries", {{"download", 3}, {"timed_out", 3}}},
                      {"retry_backoff_seconds", 1}};
  const ApiAnswer created = Api("POST", "/v1/rollouts", pilot);
  FW_RETURN_IF_ERROR(Expect(created, 201, "creating the pilot rollout"));
  finished_rollout_ = created.body.value("id", int64_t{0});
  FW_RETURN_IF_ERROR(Expect(
      Api("POST", "/v1/rollouts/" + std::to_string(finished_rollout_) + "/start", {{"reason", "pilot shops first"}}),
      200, "starting the pilot rollout"));
  FW_RETURN_IF_ERROR(WaitState(finished_rollout_, "finished", 150));
  quarantined_serial_ = SerialOf(n - 2);
  FW_RETURN_IF_ERROR(Expect(
      Api("POST", "/v1/devices/" + quarantined_serial_ + "/quarantine", {{"reason", "cloned certificate suspected"}}),
      200, "quarantine"));
  return Status::Ok();
}

Status Fleet::CreateMainRollout() {
  // From now on every third terminal's payment service fails on any new firmware (reverted, health_failed).
  runner_->Stop();
  for (auto& t : terminals_) {
    if (t->index() % 3 == 1 && t->serial() != quarantined_serial_) {
      t->faults.health_fails = true;
      unhealthy_.push_back(t->serial());
    }
  }
  runner_->Start();
  const Json spec = {{"name", "POS-X1 1.2.0 (all shops)"},
                     {"target", "fw-1.2.0.img"},
                     {"filter", {{"hardware_id", fleetsim::kHardwareId}, {"version_below", "1.2.0"}}},
                     {"groups",
                      {{{"name", "canary"}, {"devices", {SerialOf(0), SerialOf(2)}}, {"success_threshold", 100}},
                       {{"name", "rest"}, {"percent", 100}, {"success_threshold", 90}}}},
                     {"ramp", {{"start_per_minute", 1000}, {"max_per_minute", 1000}}},
                     {"abort", {{{"class", "health_failed"}, {"max_percent", 20}, {"min_sample", 3}}}},
                     {"action_timeout_seconds", 300},
                     {"retries", {{"download", 3}, {"timed_out", 3}}},
                     {"retry_backoff_seconds", 1}};
  const ApiAnswer created = Api("POST", "/v1/rollouts", spec);
  FW_RETURN_IF_ERROR(Expect(created, 201, "creating the main rollout"));
  rollout_ = created.body.value("id", int64_t{0});
  return Status::Ok();
}

Status Fleet::Setup() {
  FW_RETURN_IF_ERROR(SetupServer().WithContext("server"));
  FW_RETURN_IF_ERROR(SetupTokens().WithContext("tokens"));
  FW_RETURN_IF_ERROR(SetupTerminals().WithContext("terminals"));
  FW_RETURN_IF_ERROR(SetupLabelsAndPilot().WithContext("labels and the pilot rollout"));
  FW_RETURN_IF_ERROR(CreateMainRollout().WithContext("the main rollout"));
  return Status::Ok();
}

Status Fleet::StartRollout() {
  return Expect(Api("POST", "/v1/rollouts/" + std::to_string(rollout_) + "/start", {{"reason", "all shops"}}), 200,
                "starting rollout " + std::to_string(rollout_));
}

Json Fleet::Describe() const {
  Json tokens = Json::object();
  for (const auto& [role, clear] : tokens_) tokens[role] = clear;
  return {{"url", operator_url_},
          {"operator_port", operator_port_},
          {"device_url", instances_->url(0)},
          {"spki_sha256_b64", spki_b64_},
          {"tokens", tokens},
          {"rollout", rollout_},
          {"finished_rollout", finished_rollout_},
          {"script_serial", script_serial_},
          {"script_label", kHostileLabel},
          {"quarantined_serial", quarantined_serial_},
          {"unhealthy", unhealthy_},
          {"terminals", o_.terminals},
          {"serials",
           [&] {
             Json s = Json::array();
             for (const auto& t : terminals_) s.push_back(t->serial());
             return s;
           }()},
          {"database", database_uri_.empty() ? "sqlite" : "postgresql"},
          {"work", work_}};
}

}  // namespace fw::dashfleet
