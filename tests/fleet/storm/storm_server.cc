// fwserver as child processes, and /proc sampling; see storm_server.h.
#include "storm_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

namespace storm {
namespace {

using Json = nlohmann::json;

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

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs argv to completion; "" when it exited 0, else what it printed.
std::string RunToEnd(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = Spawn(argv, log, log + ".err");
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return argv[1] + " failed: " + Slurp(log + ".err");
}

bool Exited(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
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

}  // namespace

FwServer::~FwServer() {
  Stop(run_pid_);
  Stop(issuer_pid_);
}

std::string FwServer::Setup(const std::function<void(Json&)>& edit) {
  ::mkdir(dir_.c_str(), 0700);
  if (auto e = RunToEnd({bin_, "init", "--data", data()}, dir_ + "/init.log"); !e.empty()) return e;
  Json config = Json::parse(Slurp(data() + "/fwserver.json"), nullptr, false);
  if (!config.is_object()) return "fwserver.json does not parse";
  config["device_port"]["address"] = "127.0.0.1";
  config["operator"]["port"] = 0;  // two runs in parallel must not both want 9443
  edit(config);
  std::ofstream(data() + "/fwserver.json") << config.dump(2) << "\n";
  if (auto e = RunToEnd({bin_, "ca", "init", "--data", data()}, dir_ + "/ca.log"); !e.empty()) return e;
  issuer_pid_ = Spawn({bin_, "issuer", "--data", data()}, dir_ + "/issuer.log", dir_ + "/issuer.err");
  for (int i = 0; i < 200 && ::access((data() + "/issuer.sock").c_str(), F_OK) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (::access((data() + "/issuer.sock").c_str(), F_OK) != 0)
    return "the issuer made no socket: " + Slurp(dir_ + "/issuer.err");
  return "";
}

std::string FwServer::Start(double* seconds_to_listen) {
  auto begin = std::chrono::steady_clock::now();
  std::string n = std::to_string(++starts_);
  std::string out = dir_ + "/run" + n + ".log", err = dir_ + "/run" + n + ".err";
  run_pid_ = Spawn({bin_, "run", "--data", data(), "--port", std::to_string(port_), "--json"}, out, err);
  for (int i = 0; i < 1200; ++i) {  // 60 s
    std::string text = Slurp(out);
    if (text.find('\n') != std::string::npos) {
      Json j = Json::parse(text.substr(0, text.find('\n')), nullptr, false);
      if (!j.is_object() || !j.contains("port")) return "fwserver run printed: " + text;
      port_ = j["port"].get<uint16_t>();
      if (seconds_to_listen != nullptr)
        *seconds_to_listen = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
      return "";
    }
    if (Exited(run_pid_)) {
      run_pid_ = -1;
      return "fwserver run exited: " + Slurp(err);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "fwserver run printed no port within 60 s";
}

std::string FwServer::Kill() {
  if (run_pid_ <= 0) return "fwserver run is not running";
  ::kill(run_pid_, SIGKILL);
  int status = 0;
  ::waitpid(run_pid_, &status, 0);
  run_pid_ = -1;
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) return "fwserver run ended before SIGKILL";
  return "";
}

ProcSample ReadProc(pid_t pid) {
  ProcSample s;
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stoull(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_kib = std::stoull(line.substr(6));
  }
  if (DIR* d = ::opendir((base + "/fd").c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') s.fds++;
    ::closedir(d);
  }
  return s;
}

Sampler::Sampler(pid_t pid, int period_ms) : pid_(pid), period_ms_(period_ms) {
  thread_ = std::thread([this] {
    while (!stop_) {
      ProcSample s = ReadProc(pid_);
      if (s.hwm_kib > peak_rss_kib_) peak_rss_kib_ = s.hwm_kib;
      if (s.rss_kib > peak_rss_kib_) peak_rss_kib_ = s.rss_kib;
      if (s.fds > peak_fds_) peak_fds_ = s.fds;
      samples_++;
      std::this_thread::sleep_for(std::chrono::milliseconds(period_ms_));
    }
  });
}

void Sampler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace storm
