// fwupdate agent run | agent enrol — the terminal's update agent as a long-lived process (one driver of
// fw::agent::Agent, docs/agent.md "Running the agent") and its enrolment with the fleet server.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <regex>

#include "commands.h"
#include "fw/agent/agent.h"
#include "fw/agent/https_transport.h"
#include "fw/agent/identity.h"
#include "fw/install/installer.h"
#include "fw/progress.h"
#include "sd_notify.h"
#include "shell_commands.h"
#include "slow_transport.h"

#ifndef FW_BUILD_TIME_S
#define FW_BUILD_TIME_S 0
#endif

namespace fw::updater {
namespace {

using cli::Invocation;
namespace po = cli::po;
namespace fs = std::filesystem;

// ---- Signals: SIGTERM/SIGINT ask the current step to stop at its next safe point.
std::atomic<agent::Agent*> g_agent{nullptr};
volatile std::sig_atomic_t g_stop = 0;

extern "C" void OnStopSignal(int) {
  g_stop = 1;
  if (agent::Agent* a = g_agent.load()) a->RequestStop();
}

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a sleep is cut short
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
}

// ---- Options.
void ServerOptions(po::options_description& o) {
  o.add_options()("server", po::value<std::string>()->required(), "fleet server, https://HOST:PORT (device port)")(
      "cert", po::value<std::string>()->required(), "the terminal's certificate (PEM; written by 'agent enrol')")(
      "key", po::value<std::string>()->required(), "its private key (PEM, 0600)")(
      "ca", po::value<std::string>()->required(), "the fleet CA chain the server's certificate must chain to (PEM)");
}

void NetworkOptions(po::options_description& o) {
  // Read as text and parsed by net::ParseHttpOption (exact ranges, no wrap-around).
  o.add_options()("deadline", po::value<std::string>()->default_value("600"),
                  "per-request deadline, seconds (1..86400)")(
      "connect-timeout", po::value<std::string>()->default_value("30"),
      "connect timeout, seconds (1..86400; never longer than the deadline)")(
      "min-speed", po::value<std::string>()->default_value("1024"),
      "minimum bytes/second over the window (1..1073741824)")("min-speed-window",
                                                              po::value<std::string>()->default_value("30"),
                                                              "window of the minimum speed, seconds (1..3600)");
}

Result<net::HttpOptions> HttpFrom(const po::variables_map& vm) {
  net::HttpOptions h;
  h.ca_file = vm["ca"].as<std::string>();
  for (const char* name : {"deadline", "connect-timeout", "min-speed", "min-speed-window"}) {
    FW_RETURN_IF_ERROR(net::ParseHttpOption(h, std::string("--") + name, vm[name].as<std::string>()));
  }
  FW_RETURN_IF_ERROR(h.Validate());
  return h;
}

Status CheckServerUrl(const std::string& url) {
  static const std::regex kUrl(R"(https://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/?)");
  if (!std::regex_match(url, kUrl)) {
    return InvalidArgument("--server must be https://HOST[:PORT] (no path), not '" + url + "'");
  }
  return Status::Ok();
}

Status CheckTimeZone(const std::string& tz) {
  static const std::regex kZone(R"([A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*)");
  if (tz.empty() || tz.size() > 128 || !std::regex_match(tz, kZone)) {
    return InvalidArgument("--time-zone must be an IANA name such as Europe/Berlin, not '" + tz + "'");
  }
  return Status::Ok();
}

Status CheckRun(const po::variables_map& vm) {
  FW_RETURN_IF_ERROR(CheckServerUrl(vm["server"].as<std::string>()));
  FW_RETURN_IF_ERROR(CheckTimeZone(vm["time-zone"].as<std::string>()));
  for (const char* name : {"idle-cmd", "reboot-cmd", "health-cmd"}) {
    if (vm.count(name) && vm[name].as<std::string>().empty()) {
      return InvalidArgument(std::string("--") + name + " must not be empty");
    }
  }
  return HttpFrom(vm).status();
}

void RunOptions(po::options_description& o) {
  o.add_options()("device,d", po::value<std::string>()->required(), "layout file of the terminal (JSON)")(
      "journal", po::value<std::string>(), "the payment application's journal (default: DATA_DIR/journal.db)");
  ServerOptions(o);
  o.add_options()("once", "one cycle (check-in and every step that can run now), then exit")(
      "reboot-cmd", po::value<std::string>()->required(),
      "shell command that resets the terminal (exit 0: the reset happened and we run again, e.g. "
      "'fwboot boot --device LAYOUT' on a simulator; on a terminal it does not return)")(
      "idle-cmd", po::value<std::string>(),
      "shell command: exit 0 = no payment open, an install may start (absent: "
      "always idle)")("health-cmd", po::value<std::string>(),
                      "shell command run on the new firmware before it is confirmed: exit 0 = "
                      "healthy (absent: healthy)")("health-timeout", cli::Int<int>(1, 3600)->default_value(120),
                                                   "seconds the health check may take (1-3600)")(
      "state-dir", po::value<std::string>(), "the agent's durable state (default: DATA_DIR/agent)")(
      "time-zone", po::value<std::string>()->default_value("UTC"),
      "the terminal's IANA time zone; action windows are in it")(
      "tries", cli::Int<int>(1, boot::kMaxTries)->default_value(3), "boots a trial gets to be confirmed (1-15)")(
      "operator", po::value<std::string>()->default_value("agent"), "who the flash history names")(
      "lock-timeout", cli::Int<int>(0, 86400)->default_value(10),
      "seconds an install waits while a technician's fwupdate writes (0-86400); then retried later")(
      "lock-timeout-ms", cli::Int<int>(0, 3600000)->default_value(5000),
      "bound on waiting for the journal's lock, ms (0-3600000)")("quiet,q", "no progress output");
  NetworkOptions(o);
}

// ---- Output: --json prints one JSON line per note, progress event and cycle; otherwise notes go to
// stdout and progress to stderr (plain lines: this is a service, not a terminal session).
void PrintLine(const nlohmann::json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

void PrintNote(const Invocation& inv, const std::string& text) {
  if (inv.json) {
    PrintLine({{"event", "note"}, {"text", text}});
  } else {
    std::cout << "agent: " << text << std::endl;
  }
}

// Forwards progress to the chosen sink and keeps the systemd watchdog fed while an install streams.
// The agent's notes (it sends each one here as it happens, and lists them in its CycleReport) are
// printed as they come, whatever the progress style: they are the service's log.
class DriverProgress final : public Progress {
 public:
  DriverProgress(const Invocation& inv, std::unique_ptr<Progress> inner, agent::Notifier& notifier)
      : inv_(inv), inner_(std::move(inner)), notifier_(notifier) {}
  void BeginStage(std::string_view stage, std::string_view description, uint64_t total) override {
    notifier_.Ping();
    inner_->BeginStage(stage, description, total);
  }
  void Update(uint64_t done) override {
    notifier_.Ping();
    inner_->Update(done);
  }
  void EndStage() override { inner_->EndStage(); }
  void Note(std::string_view text) override {
    notifier_.Ping();
    PrintNote(inv_, std::string(text));
  }

 private:
  const Invocation& inv_;
  std::unique_ptr<Progress> inner_;
  agent::Notifier& notifier_;
};

std::unique_ptr<Progress> MakeSink(const Invocation& inv) {
  if (inv.json) return MakeProgress(ProgressStyle::kJson, stdout);
  if (inv.vm.count("quiet")) return MakeProgress(ProgressStyle::kQuiet, stderr);
  return MakeProgress(ProgressStyle::kPlain, stderr);
}

// ---- The run.
struct Session {
  std::unique_ptr<install::OpenedTerminal> terminal;
  std::unique_ptr<agent::Transport> transport;
  std::unique_ptr<agent::Transport> slow;  // tests: FWUPDATE_TEST_WRITE_DELAY_MS
  std::unique_ptr<agent::Agent> agent;
  ~Session() {
    g_agent.store(nullptr);  // before the agent goes: a signal must not reach a dead one
    agent.reset();
  }
};

Status CheckEnrolled(const po::variables_map& vm) {
  for (const char* name : {"cert", "key"}) {
    const std::string path = vm[name].as<std::string>();
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      return FailedPrecondition("the terminal is not enrolled: --" + std::string(name) + " " + path +
                                " does not exist (run 'fwupdate agent enrol' first)");
    }
  }
  const std::string ca = vm["ca"].as<std::string>();
  std::error_code ec;
  if (!fs::exists(ca, ec)) return NotFound("--ca " + ca + " does not exist");
  return Status::Ok();
}

// Opens the terminal, the transport and the agent as a freshly started process would, then recovers.
Status OpenSession(const Invocation& inv, agent::Commands& commands, Progress& progress, Session& s) {
  const auto& vm = inv.vm;
  FW_ASSIGN_OR_RETURN(
      s.terminal, install::OpenedTerminal::Open(vm["device"].as<std::string>(), cli::OptionalString(vm, "journal")));
  install::Terminal& t = s.terminal->terminal();
  t.lock_timeout_ms = vm["lock-timeout-ms"].as<int>();
  t.terminal_lock_timeout_ms = vm["lock-timeout"].as<int>() * 1000;
  std::error_code ec;
  if (!fs::exists(t.TufDir() + "/root.json", ec)) {
    return FailedPrecondition("the terminal is not initialised: no trusted TUF root in " + t.TufDir() +
                              " (run 'fwupdate init --device LAYOUT --tuf-root ROOT.json' first)");
  }
  agent::HttpsTransportConfig tc;
  tc.server_url = vm["server"].as<std::string>();
  if (tc.server_url.back() == '/') tc.server_url.pop_back();
  tc.cert_file = vm["cert"].as<std::string>();
  tc.key_file = vm["key"].as<std::string>();
  tc.ca_file = vm["ca"].as<std::string>();
  FW_ASSIGN_OR_RETURN(tc.stream.http, HttpFrom(vm));
  tc.stream.http.client_cert_file = tc.cert_file;
  tc.stream.http.client_key_file = tc.key_file;
  FW_ASSIGN_OR_RETURN(s.transport, agent::OpenHttpsTransport(tc));
  agent::Transport* transport = s.transport.get();
  if (const char* delay = std::getenv("FWUPDATE_TEST_WRITE_DELAY_MS")) {  // tests: a slow install
    s.slow = agent::MakeSlowTransport(*s.transport, std::clamp(std::atoi(delay), 0, 10000), SystemClock());
    transport = s.slow.get();
  }

  agent::AgentConfig c;
  c.state_dir = vm.count("state-dir") ? vm["state-dir"].as<std::string>() : t.data_dir + "/agent";
  c.time_zone = vm["time-zone"].as<std::string>();
  c.build_time_s = FW_BUILD_TIME_S;
  c.health_timeout_s = vm["health-timeout"].as<int>();
  c.tries = static_cast<uint8_t>(vm["tries"].as<int>());
  c.confirm_template.operator_name = vm["operator"].as<std::string>();
  c.progress = &progress;
  FW_ASSIGN_OR_RETURN(s.agent, agent::Agent::Open(t, *transport, commands, SystemClock(), c));
  g_agent.store(s.agent.get());
  if (g_stop) s.agent->RequestStop();
  return s.agent->Recover().WithContext("start-up recovery");
}

// Sleeps until the monotonic time `wake_ms`, feeding the watchdog; a stop signal cuts it short.
void SleepUntil(int64_t wake_ms, agent::Notifier& notifier) {
  Clock& clock = SystemClock();
  const int64_t slice = notifier.watchdog_ms() > 0 ? std::max<int64_t>(notifier.watchdog_ms() / 4, 1) : 1000;
  while (!g_stop) {
    const int64_t left = wake_ms - clock.MonotonicMs();
    if (left <= 0) return;
    notifier.Ping();
    const int64_t ms = std::min(left, slice);
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
    ::nanosleep(&ts, nullptr);  // EINTR on a signal: the loop looks at g_stop
  }
}

constexpr int64_t kMinCycleGapMs = 50;          // never a busy loop, whatever next_wake_ms says
constexpr int64_t kRecoverRetryMs = 30 * 1000;  // start-up recovery found the terminal busy

// size: the whole life of the process — sessions (a simulated reset starts a new one), cycles, sleeps
int RunCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  if (Status s = CheckEnrolled(vm); !s.ok()) return cli::Fail(inv, s);
  InstallStopHandlers();
  agent::Notifier notifier = agent::Notifier::FromEnvironment(SystemClock());
  DriverProgress progress(inv, MakeSink(inv), notifier);
  agent::ShellCommandsConfig sc;
  sc.idle_cmd = cli::OptionalString(vm, "idle-cmd");
  sc.reboot_cmd = cli::OptionalString(vm, "reboot-cmd");
  sc.health_cmd = cli::OptionalString(vm, "health-cmd");
  sc.health_timeout_s = vm["health-timeout"].as<int>();
  agent::ShellCommands commands(sc);
  const bool once = vm.count("once") > 0;
  int64_t cycles = 0;
  bool ready_sent = false;
  std::string ended = "stopped";
  while (!g_stop) {
    Session session;
    Status opened = OpenSession(inv, commands, progress, session);
    if (!opened.ok()) {
      // A technician's fwupdate holding the terminal: wait for it (a service must not die of that).
      if (opened.code() != ErrorCode::kTimeout || once) return cli::Fail(inv, opened);
      PrintNote(inv, opened.message() + "; retrying in 30 s");
      SleepUntil(SystemClock().MonotonicMs() + kRecoverRetryMs, notifier);
      continue;
    }
    if (!ready_sent) {
      notifier.Send("READY=1\nSTATUS=running");
      ready_sent = true;
    }
    bool restart = false;
    while (!g_stop && !restart) {
      auto report = session.agent->RunOnce();
      if (!report.ok()) return cli::Fail(inv, report.status());
      ++cycles;
      notifier.Ping();
      if (inv.json) {
        PrintLine({{"event", "cycle"},
                   {"cycle", cycles},
                   {"rebooted", report->rebooted},
                   {"next_wake_in_ms", std::max<int64_t>(report->next_wake_ms - SystemClock().MonotonicMs(), 0)}});
      }
      if (once) {
        ended = g_stop ? "stopped" : "once";
        break;
      }
      if (report->rebooted) {
        restart = true;  // a simulated reset: continue as a freshly started agent
      } else if (!report->stop_requested) {
        SleepUntil(std::max(report->next_wake_ms, SystemClock().MonotonicMs() + kMinCycleGapMs), notifier);
      }
    }
    if (once) break;
  }
  notifier.Send("STOPPING=1");
  if (inv.json) {
    PrintLine({{"ok", true}, {"cycles", cycles}, {"ended", ended}});
  } else {
    std::cout << "agent: " << (ended == "once" ? "one cycle done" : "stopped") << " after " << cycles << " cycle(s)"
              << std::endl;
  }
  return cli::kExitOk;
}

// ---- Enrolment.
Status CheckEnrol(const po::variables_map& vm) {
  FW_RETURN_IF_ERROR(CheckServerUrl(vm["server"].as<std::string>()));
  static const std::regex kSerial(R"([A-Za-z0-9._\-]{1,64})");
  const std::string serial = vm["serial"].as<std::string>();
  if (!std::regex_match(serial, kSerial)) {
    return InvalidArgument("--serial must be 1-64 of [A-Za-z0-9._-], not '" + serial + "'");
  }
  if ((vm.count("token") > 0) == (vm.count("token-file") > 0)) {
    return InvalidArgument("give the enrolment token with exactly one of --token and --token-file");
  }
  return HttpFrom(vm).status();
}

int EnrolCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  agent::EnrolRequest r;
  r.server_url = vm["server"].as<std::string>();
  if (r.server_url.back() == '/') r.server_url.pop_back();
  r.serial = vm["serial"].as<std::string>();
  if (vm.count("token")) {
    r.token = vm["token"].as<std::string>();
  } else {
    auto token = cli::ReadPassphraseFile(vm["token-file"].as<std::string>());
    if (!token.ok()) return cli::Fail(inv, token.status().WithContext("--token-file"));
    r.token = *token;
  }
  r.cert_file = vm["cert"].as<std::string>();
  r.key_file = vm["key"].as<std::string>();
  std::error_code ec;
  if (!vm.count("force") && (fs::exists(r.key_file, ec) || fs::exists(r.cert_file, ec))) {
    return cli::Fail(inv, FailedPrecondition("already enrolled: " + r.key_file + " or " + r.cert_file +
                                             " exists (--force replaces the terminal's identity)"));
  }
  auto http = HttpFrom(vm);
  if (!http.ok()) return cli::Fail(inv, http.status());
  r.http = *http;
  auto cert = agent::Enrol(r);
  if (!cert.ok()) return cli::Fail(inv, cert.status().WithContext("enrolment of " + r.serial));
  if (inv.json) {
    PrintLine({{"ok", true},
               {"serial", cert->serial},
               {"cert_serial", cert->cert_serial},
               {"not_after", cert->not_after},
               {"cert", r.cert_file},
               {"key", r.key_file}});
  } else {
    std::cout << "Enrolled " << cert->serial << ": certificate " << r.cert_file << " (serial " << cert->cert_serial
              << ", valid until " << cert->not_after << " Unix time), key " << r.key_file << ".\n";
  }
  return cli::kExitOk;
}

}  // namespace

std::vector<cli::Subcommand> AgentCommands() {
  std::vector<cli::Subcommand> c;
  c.push_back({"agent run",
               "the update agent: check in, download, back up the journal, install, reboot, confirm (a service)",
               "--device LAYOUT --server URL --cert FILE --key FILE --ca FILE --reboot-cmd CMD [options]",
               [](po::options_description& o, po::positional_options_description&) { RunOptions(o); },
               RunCmd,
               {},
               CheckRun});
  c.push_back({"agent enrol",
               "enrol the terminal with the fleet server: a new key and its first certificate",
               "--server URL --serial S (--token T | --token-file F) --cert FILE --key FILE --ca FILE",
               [](po::options_description& o, po::positional_options_description&) {
                 ServerOptions(o);
                 o.add_options()("serial", po::value<std::string>()->required(), "the terminal's serial number")(
                     "token", po::value<std::string>(), "the operator's single-use enrolment token")(
                     "token-file", po::value<std::string>(), "a file holding the token (first line)")(
                     "force", "replace an existing key and certificate");
                 NetworkOptions(o);
               },
               EnrolCmd,
               {},
               CheckEnrol});
  return c;
}

}  // namespace fw::updater
