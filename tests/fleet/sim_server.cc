// The in-process fleet server of the simulator (sim_server.h).
#include "sim_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "testing.h"

namespace fw::fleetsim {
namespace {

namespace fs = std::filesystem;

Status Fwserver(const std::string& fwserver, const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), fwserver);
  args.push_back("--data");
  args.push_back(dir);
  const auto r = fw::testing::RunCommand(args);
  if (r.exit_code == 0) return Status::Ok();
  return Internal("fwserver " + args[1] + " exited " + std::to_string(r.exit_code) + ": " + r.err);
}

}  // namespace

Result<std::unique_ptr<SimServer>> SimServer::Create(const std::string& dir, const std::string& fwserver_path,
                                                     const std::string& repo_source, Clock& clock,
                                                     const ServerOptions& options) {
  std::unique_ptr<SimServer> s(new SimServer(dir, clock));
  FW_RETURN_IF_ERROR(Fwserver(fwserver_path, dir, {"init"}));
  FW_RETURN_IF_ERROR(Fwserver(fwserver_path, dir, {"ca", "init"}));
  std::error_code ec;
  fs::remove_all(dir + "/repo", ec);
  fs::copy(repo_source, dir + "/repo", fs::copy_options::recursive, ec);
  if (ec) return IoError("copying the repository into " + dir + "/repo: " + ec.message());
  FW_ASSIGN_OR_RETURN(s->config_, server::LoadConfig(dir));
  s->config_.listen_address = "127.0.0.1";
  s->config_.port = 0;
  s->config_.poll_seconds = options.poll_seconds;
  s->config_.poll_jitter_seconds = options.poll_jitter_seconds;
  s->config_.limits.threads = options.threads;
  s->config_.operator_port.listen_address = "127.0.0.1";
  s->config_.operator_port.port = 0;
  s->alerts_ = server::MakeAlertPolicy(s->config_);
  s->repository_ = std::make_unique<server::RepositoryCache>(s->config_.repository_dir);
  s->context_.alerts = &s->alerts_;
  SimServer* self = s.get();
  s->context_.repository = [self]() { return self->repository_->Get(self->now_s()); };
  FW_RETURN_IF_ERROR(s->StartIssuer(fwserver_path));
  FW_ASSIGN_OR_RETURN(s->store_, server::OpenSqliteStore(s->config_.database).WithContext("the simulator's store"));
  FW_RETURN_IF_ERROR(s->Start());
  return s;
}

SimServer::~SimServer() {
  Stop();
  store_.reset();
  if (issuer_pid_ > 0) {
    ::kill(issuer_pid_, SIGTERM);
    int status = 0;
    ::waitpid(issuer_pid_, &status, 0);
  }
}

Status SimServer::StartIssuer(const std::string& fwserver_path) {
  const std::string out = dir_ + "/issuer.log";
  const std::vector<std::string> argv = {fwserver_path, "issuer", "--data", dir_};
  pid_t pid = ::fork();
  if (pid < 0) return IoError("fork for fwserver issuer failed");
  if (pid == 0) {
    // The issuer dies with the simulator (a killed or interrupted run leaves no process behind).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    sigset_t none;  // fleet-sim blocks SIGINT/SIGTERM for its sigwait thread; exec keeps the mask
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  issuer_pid_ = pid;
  for (int i = 0; i < 400; ++i) {  // 20 s
    if (fs::exists(dir_ + "/issuer.sock")) return Status::Ok();
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      issuer_pid_ = -1;
      return Internal("fwserver issuer exited: " + fw::testing::ReadFile(out));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Timeout("fwserver issuer made no socket within 20 s");
}

Status SimServer::Start() {
  if (fleet_) return Status::Ok();
  server::ServerConfig c = config_;
  c.port = port_;  // 0 the first time; the same port after a restart
  server::FleetServerOptions o;
  o.scheduler = false;
  Result<std::unique_ptr<server::FleetServer>> fleet = server::StartFleetServer(c, clock_, o);
  for (int i = 0; i < 50 && !fleet.ok() && port_ != 0; ++i) {  // the old port may linger a moment
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fleet = server::StartFleetServer(c, clock_, o);
  }
  if (!fleet.ok()) return fleet.status().WithContext("StartFleetServer");
  fleet_ = std::move(*fleet);
  port_ = fleet_->https->port();
  return Status::Ok();
}

void SimServer::Stop() {
  if (!fleet_) return;
  fleet_->Stop();
  fleet_.reset();
}

Result<std::vector<std::string>> SimServer::EnrolTokens(const std::vector<std::string>& serials) {
  std::vector<std::string> tokens;
  const int64_t now = now_s();
  const Status s = store_->Atomically([&]() -> Status {
    for (const std::string& serial : serials) {
      FW_ASSIGN_OR_RETURN(Bytes random, RandomBytes(32));
      tokens.push_back(HexEncode(random));
      FW_RETURN_IF_ERROR(store_->AddEnrolToken(
          {HexEncode(Sha256::Of(AsBytes(tokens.back()))), serial, now, now + 86400, std::nullopt}));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return tokens;
}

Result<server::rollout::TickStats> SimServer::Tick() { return server::rollout::Tick(*store_, context_, now_s()); }

}  // namespace fw::fleetsim
