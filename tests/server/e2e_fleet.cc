// FleetServer and E2eTerminal (e2e_fleet.h): real fwserver processes, curl as the client.
#include "e2e_fleet.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <thread>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/cert_issuer.h"

namespace fw::server::e2e {
namespace {

namespace fs = std::filesystem;
using fw::testing::ReadFile;
using fw::testing::RunCommand;
using fw::testing::WriteFile;

// Starts argv with stdout and stderr to files; the child's pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  return pid;
}

void Stop(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100; ++i) {  // 5 s, then SIGKILL
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  pid = -1;
}

bool Exited(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The last header block curl wrote with -D.
std::map<std::string, std::string> ParseHeaders(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
      out.clear();
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    out[Lower(line.substr(0, colon))] = value;
  }
  return out;
}

}  // namespace

std::string HttpReply::error() const {
  Json j = json();
  return j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
}

std::string HttpReply::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpReply::Describe() const {
  return "HTTP " + std::to_string(status) + " " + body.substr(0, 400) +
         (status == 0 ? " (curl exit " + std::to_string(curl_exit) + ": " + curl_error + ")" : "");
}

int64_t NowS() { return static_cast<int64_t>(std::time(nullptr)); }

std::string FileSha256Hex(const std::string& path) { return HexEncode(Sha256::Of(AsBytes(ReadFile(path)))); }

Json Manifest(const std::string& version, const std::string& state, Json other, Json journal) {
  Json m = {{"hardware_id", "POS-X1"},
            {"time_zone", "Europe/Berlin"},
            {"agent_version", "0.5.0"},
            {"running", {{"slot", "A"}, {"version", version}, {"state", state}}},
            {"security_counter", 3},
            {"root_version", 1},
            {"outbox", 0},
            {"free_bytes", 104857600}};
  if (!other.is_null()) m["other"] = other;
  if (!journal.is_null()) m["journal"] = journal;
  return m;
}

FleetServer::FleetServer(const std::string& dir, int64_t renew_grace_seconds) : dir_(dir), scratch_(dir + ".io") {
  fs::create_directories(scratch_);
  Start(renew_grace_seconds);
}

FleetServer::FleetServer(const std::string& dir, const std::function<void(Json&)>& edit)
    : dir_(dir), scratch_(dir + ".io") {
  fs::create_directories(scratch_);
  Start(120, edit);
}

// size: the whole start-up sequence of a data directory, in the order an operator runs it
void FleetServer::Start(int64_t renew_grace_seconds, const std::function<void(Json&)>& edit) {
  auto r = Fw({"init"});
  if (r.exit_code != 0) return ADD_FAILURE() << "fwserver init: " << r.err;
  ca_made_s_ = NowS();
  r = Fw({"ca", "init"});
  if (r.exit_code != 0) return ADD_FAILURE() << "fwserver ca init: " << r.err;
  Json config = Json::parse(ReadFile(dir_ + "/fwserver.json"));
  config["device_port"]["address"] = "127.0.0.1";
  config["devices"]["renew_grace_seconds"] = renew_grace_seconds;
  config["limits"]["threads"] = 2;
  if (config.contains("operator")) config["operator"]["port"] = 0;  // tests run in parallel: ephemeral
  if (edit) edit(config);
  WriteFile(dir_ + "/fwserver.json", config.dump(2));

  if (!StartIssuer()) return;
  run_pid_ = Spawn({FWSERVER_PATH, "run", "--data", dir_, "--port", "0", "--json"}, scratch_ + "/run.out",
                   scratch_ + "/run.err");
  for (int i = 0; i < 400; ++i) {  // 20 s
    const std::string out = fs::exists(scratch_ + "/run.out") ? ReadFile(scratch_ + "/run.out") : "";
    if (out.find('\n') != std::string::npos) {
      Json j = Json::parse(out.substr(0, out.find('\n')), nullptr, false);
      if (!j.is_object() || !j.contains("port")) return ADD_FAILURE() << "fwserver run printed: " << out;
      port_ = j["port"].get<uint16_t>();
      if (j.contains("operator_port")) operator_port_ = j["operator_port"].get<uint16_t>();
      return;
    }
    if (Exited(run_pid_)) {
      run_pid_ = -1;
      return ADD_FAILURE() << "fwserver run exited: " << ReadFile(scratch_ + "/run.err");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "fwserver run printed no port within 20 s";
}

bool FleetServer::StartIssuer() {
  issuer_pid_ = Spawn({FWSERVER_PATH, "issuer", "--data", dir_}, scratch_ + "/issuer.out", scratch_ + "/issuer.err");
  for (int i = 0; i < 200 && !fs::exists(dir_ + "/issuer.sock"); ++i) {
    if (Exited(issuer_pid_)) {
      issuer_pid_ = -1;
      ADD_FAILURE() << "fwserver issuer exited: " << ReadFile(scratch_ + "/issuer.err");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return true;
}

void FleetServer::StopIssuer() {
  Stop(issuer_pid_);
  EXPECT_FALSE(fs::exists(dir_ + "/issuer.sock")) << "the issuer leaves its socket behind on SIGTERM";
}

int FleetServer::StopRun() {
  if (run_pid_ <= 0) return -1;
  ::kill(run_pid_, SIGTERM);
  int status = 0;
  ::waitpid(run_pid_, &status, 0);
  run_pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

FleetServer::~FleetServer() {
  Stop(run_pid_);
  Stop(issuer_pid_);
}

fw::testing::CommandResult FleetServer::Fw(std::vector<std::string> args) const {
  args.insert(args.begin(), FWSERVER_PATH);
  args.push_back("--data");
  args.push_back(dir_);
  return RunCommand(args);
}

Json FleetServer::FwJson(std::vector<std::string> args) const {
  args.push_back("--json");
  auto r = Fw(args);
  std::string line;
  for (const auto& a : args) line += a + " ";
  EXPECT_EQ(r.exit_code, 0) << "fwserver " << line << ": " << r.err << r.out;
  if (r.exit_code != 0) return nullptr;
  return Json::parse(r.out, nullptr, false);
}

std::string FleetServer::Token(const std::string& serial) const {
  Json j = FwJson({"enrol-token", "create", "--serial", serial});
  return j.is_object() && j.contains("token") ? j["token"].get<std::string>() : "";
}

Json FleetServer::DeviceShow(const std::string& serial) const {
  Json j = FwJson({"device", "show", "--serial", serial});
  return j.is_object() && j.contains("device") ? j["device"] : Json(nullptr);
}

Json FleetServer::ActionList(const std::string& serial) const {
  Json j = FwJson({"action", "list", "--device", serial});
  return j.is_object() && j.contains("actions") ? j["actions"] : Json::array();
}

Json FleetServer::Action(const std::string& serial, int64_t id) const {
  for (const auto& a : ActionList(serial)) {
    if (a["id"] == id) return a;
  }
  return nullptr;
}

int64_t FleetServer::CreateAction(const std::string& serial, std::vector<std::string> args) const {
  args.insert(args.begin(), {"action", "create", "--device", serial});
  Json j = FwJson(args);
  return j.is_object() && j.contains("action") ? j["action"]["id"].get<int64_t>() : 0;
}

HttpReply FleetServer::Request(const std::string& path, const RequestOptions& o) const {
  const std::string base = scratch_ + "/" + std::to_string(++counter_);
  std::vector<std::string> argv = {"curl",         "-sS", "--http1.1",    "--max-time", "30",        "--cacert",
                                   chain_pem(),    "-o",  base + ".body", "-D",         base + ".h", "-w",
                                   "%{http_code}", "-X",  o.method,       "-H",         "Expect:"};
  if (o.cert != nullptr && !o.cert->cert.empty()) {
    argv.insert(argv.end(), {"--cert", o.cert->cert, "--key", o.cert->key});
  }
  if (o.method == "POST") {
    WriteFile(base + ".req", o.body);
    argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", "@" + base + ".req"});
  }
  for (const auto& h : o.headers) argv.insert(argv.end(), {"-H", h});
  argv.push_back("https://127.0.0.1:" + std::to_string(port_) + path);
  auto r = RunCommand(argv);
  HttpReply reply;
  reply.curl_exit = r.exit_code;
  reply.curl_error = r.err;
  reply.status = r.exit_code == 0 ? std::atoi(r.out.c_str()) : 0;
  if (fs::exists(base + ".h")) reply.headers = ParseHeaders(ReadFile(base + ".h"));
  if (fs::exists(base + ".body")) reply.body = ReadFile(base + ".body");
  return reply;
}

HttpReply FleetServer::Get(const std::string& path, std::vector<std::string> headers) const {
  RequestOptions o;
  o.method = "GET";
  o.headers = std::move(headers);
  return Request(path, o);
}

E2eTerminal::E2eTerminal(const FleetServer& server, std::string serial, const std::string& dir)
    : server_(server), serial_(std::move(serial)), dir_(dir) {
  fs::create_directories(dir_);
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  if (!key.ok()) return;
  key_pem_ = *key->ToPem();
  static int terminals = 0;  // several terminals may claim one serial (clones, impostors)
  prefix_ = dir_ + "/" + serial_ + "." + std::to_string(++terminals);
  cert_.key = prefix_ + ".key.pem";
  WriteFile(cert_.key, key_pem_);
}

std::string E2eTerminal::CsrPem() const {
  auto key = PrivateKey::FromPem(key_pem_);
  if (!key.ok()) return "";
  auto csr = MakeCsrPem(*key, "ignored-" + serial_);
  EXPECT_TRUE(csr.ok()) << csr.status().ToString();
  return csr.ok() ? *csr : "";
}

void E2eTerminal::UseCertificate(const std::string& pem) {
  static int n = 0;
  cert_.cert = prefix_ + ".cert" + std::to_string(++n) + ".pem";
  WriteFile(cert_.cert, pem);
}

HttpReply E2eTerminal::Enrol(const std::string& token, const std::string& serial_in_body) {
  RequestOptions o;
  o.body =
      Json{{"token", token}, {"serial", serial_in_body.empty() ? serial_ : serial_in_body}, {"csr", CsrPem()}}.dump();
  HttpReply r = server_.Request("/v1/enrol", o);
  if (r.status == 200) UseCertificate(r.json()["certificate"].get<std::string>());
  return r;
}

bool E2eTerminal::MustEnrol() {
  HttpReply r = Enrol(server_.Token(serial_));
  EXPECT_EQ(r.status, 200) << serial_ << ": " << r.Describe();
  return r.status == 200;
}

HttpReply E2eTerminal::Post(const std::string& path, const std::string& body, std::vector<std::string> headers) const {
  RequestOptions o;
  o.body = body;
  o.cert = &cert_;
  o.headers = std::move(headers);
  return server_.Request(path, o);
}

HttpReply E2eTerminal::Checkin(const Json& manifest, std::vector<std::string> headers) const {
  return Post("/v1/checkin", manifest.dump(), std::move(headers));
}

HttpReply E2eTerminal::Event(int64_t action, const Json& event) const {
  return Post("/v1/actions/" + std::to_string(action) + "/events", event.dump());
}

HttpReply E2eTerminal::Segment(const std::string& body) const { return Post("/v1/journal/segments", body); }

HttpReply E2eTerminal::Renew(const std::string& csr) {
  HttpReply r = Post("/v1/renew", Json{{"csr", csr.empty() ? CsrPem() : csr}}.dump());
  if (r.status == 200 && csr.empty()) UseCertificate(r.json()["certificate"].get<std::string>());
  return r;
}

void CliJournal::Simulate(int count, int seed) {
  auto r = RunCommand({"fwupdate", "journal", "simulate", path_, "--count", std::to_string(count), "--seed",
                       std::to_string(seed), "--terminal-id", terminal_, "--create"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

void CliJournal::CopyTo(const std::string& path) const { fs::copy_file(path_, path); }

std::vector<std::string> CliJournal::Lines(int64_t from, int64_t to) const {
  auto r =
      RunCommand({"fwupdate", "journal", "export", path_, "--format", "jsonl", "--from-seq", std::to_string(from)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (Json::parse(line)["seq"].get<int64_t>() <= to) out.push_back(line);
  }
  return out;
}

int64_t CliJournal::last_seq() const {
  auto lines = Lines(0, INT64_MAX);
  return lines.empty() ? 0 : Json::parse(lines.back())["seq"].get<int64_t>();
}

std::string CliJournal::HeadAt(int64_t seq) const {
  auto lines = Lines(seq, seq);
  return lines.empty() ? "" : Json::parse(lines.back())["hash"].get<std::string>();
}

std::string CliJournal::Segment(int64_t from, int64_t to, int64_t epoch) const {
  auto lines = Lines(from, to);
  std::string body = Json{{"format", "ptfw-journal-segment-v1"},
                          {"epoch", epoch},
                          {"from_seq", from},
                          {"count", static_cast<int64_t>(lines.size())}}
                         .dump();
  for (const auto& l : lines) body += "\n" + l;
  return body + "\n";
}

}  // namespace fw::server::e2e
