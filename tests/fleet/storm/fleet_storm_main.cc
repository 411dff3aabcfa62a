// fleet-storm: the reconnect storm (scenario 5 of issue 18) against the REAL `fwserver run`.
//   fleet-storm [--quick] [--terminals N] [--max-connections M] [--retry-after S]
//               [--arrival-seconds A] [--deadline-seconds D] [--rss-bound-mib B] [--threads T]
//               [--seed S] [--work DIR] [--fwserver PATH] [--json]
// Steps: a fleet data directory (init, ca init, the issuer, fwserver.json with
// limits.max_connections = M and limits.retry_after_seconds = S), `fwserver run`; N terminals with
// their own P-256 keys and certificates issued by the fleet's issuing CA (bench/server_bench_certs.cc)
// check in once (first contact: the server creates each device and stores its manifest); then
// `run` is killed with SIGKILL and started again on the same port, and all N terminals reconnect
// within A seconds (storm_client.h: a new TLS connection each, 503 → Retry-After + jitter).
// The server's RSS and open descriptors are sampled from /proc every 50 ms.
// Gate (exit 1 when one fails; each failure is printed):
//  - every terminal served (200/304) after the restart; all N devices in the store, each with a
//    manifest; only 200, 304 and 503 answered;
//  - at least one 503 (the overload happened), every 503 with a decimal Retry-After;
//  - no attempt timed out (an attempt without an HTTP answer because the server closed or reset
//    it is counted and printed per kind, not failed: that is the documented drop path);
//  - peak open descriptors <= M + (M / 4 + 16) + 64 (admitted + 503 answers + the process's own);
//  - peak RSS <= B MiB;
//  - full mode only (not --quick, which CI runs on shared machines): all served within D seconds
//    of the restart.
// Defaults: full 10,000 terminals, M 256, S 5, A 10, D 60, B 512; --quick 300, 16, 1, 0.3, -, 256
// (the quick run keeps the full run's arrival rate, 1,000 terminals per second).
// Exit codes: 0 gate passed, 1 gate failed, 2 usage, 4 setup (a process or file) failed.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fw/server/store.h"
#include "server_bench.h"
#include "storm_client.h"
#include "storm_server.h"

namespace storm {
namespace {

using Json = nlohmann::json;

struct Options {
  bool quick = false, json = false;
  size_t terminals = 10000;
  int max_connections = 256;  // 1024 is never reached on 2 cores: see bench/README.md
  int retry_after = 5;
  double arrival_seconds = 10, deadline_seconds = 60, rss_bound_mib = 512;
  unsigned threads = 0;
  uint64_t seed = 1;
  std::string work, fwserver = FWSERVER_PATH;
};

constexpr int kHelp = -1;  // --help: the usage on stdout, exit 0

int Usage(const std::string& why) {
  (why.empty() ? std::cout : std::cerr)
      << (why.empty() ? "" : "fleet-storm: " + why + "\n")
      << "usage: fleet-storm [--quick] [--terminals N] [--max-connections M] [--retry-after S]\n"
         "  [--arrival-seconds A] [--deadline-seconds D] [--rss-bound-mib B] [--threads T] [--seed S]\n"
         "  [--work DIR] [--fwserver PATH] [--json]\n";
  return why.empty() ? kHelp : 2;
}

// size: one flag per line, quick defaults first so that explicit flags override them
int ParseOptions(int argc, char** argv, Options& o) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args)
    if (a == "--quick") {
      o.quick = true;
      o.terminals = 300;
      o.max_connections = 16;
      o.retry_after = 1;
      o.arrival_seconds = 0.3;  // the full run's arrival rate: 1,000 terminals per second
      o.rss_bound_mib = 256;
    }
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "--quick") continue;
      if (a == "--help" || a == "-h") return Usage("");
      if (a == "--json") {
        o.json = true;
      } else if (a == "--terminals") {
        o.terminals = std::stoul(value());
      } else if (a == "--max-connections") {
        o.max_connections = std::stoi(value());
      } else if (a == "--retry-after") {
        o.retry_after = std::stoi(value());
      } else if (a == "--arrival-seconds") {
        o.arrival_seconds = std::stod(value());
      } else if (a == "--deadline-seconds") {
        o.deadline_seconds = std::stod(value());
      } else if (a == "--rss-bound-mib") {
        o.rss_bound_mib = std::stod(value());
      } else if (a == "--threads") {
        o.threads = static_cast<unsigned>(std::stoul(value()));
      } else if (a == "--seed") {
        o.seed = std::stoull(value());
      } else if (a == "--work") {
        o.work = value();
      } else if (a == "--fwserver") {
        o.fwserver = value();
      } else {
        return Usage("unknown option " + a);
      }
    }
  } catch (const std::exception& e) {
    return Usage(e.what());
  }
  if (o.terminals == 0 || o.max_connections < 1 || o.retry_after < 1 || o.arrival_seconds < 0)
    return Usage("out of range");
  if (o.threads == 0) o.threads = std::max(2u, std::thread::hardware_concurrency());
  return 0;
}

// Every terminal's check-in body: the manifest of a terminal running 1.0.0 (docs/fleet-protocol.md).
constexpr const char* kBody =
    R"({"hardware_id":"POS-X1","time_zone":"Europe/Berlin","agent_version":"0.1.0",)"
    R"("running":{"slot":"A","version":"1.0.0","state":"confirmed"},)"
    R"("other":{"slot":"B","version":"0.9.0","state":"bootable"},"security_counter":1,"root_version":1,)"
    R"("journal":{"last_seq":4711,"head":"9f2c4e1b7a06d35c8e14f0b2a9d7c6e53b1f08a4d2c96e7f5a3b0c1d4e8f2a69"},)"
    R"("outbox":0,"free_bytes":268435456})";

std::string Machine() {
  std::ifstream cpu("/proc/cpuinfo");
  std::string model;
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  std::ifstream load("/proc/loadavg");
  std::string l1, l5, l15;
  load >> l1 >> l5 >> l15;
  return std::to_string(std::thread::hardware_concurrency()) + " CPUs, " + model + ", load average " + l1 + " " + l5 +
         " " + l15;
}

// The devices the store holds with this prefix, and how many of them have a manifest.
std::string CountDevices(const std::string& db, const std::string& prefix, size_t& devices, size_t& manifests) {
  auto store = fw::server::OpenSqliteStore(db, /*create=*/false);
  if (!store.ok()) return store.status().message();
  auto list = (*store)->ListDevices();
  if (!list.ok()) return list.status().message();
  devices = manifests = 0;
  for (const auto& d : *list) {
    if (d.serial.rfind(prefix, 0) != 0) continue;
    devices++;
    if (!d.manifest_json.empty() && d.version == "1.0.0") manifests++;
  }
  return "";
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

struct Report {
  Json j;
  std::vector<std::string> failures;
  void Check(bool ok, const std::string& what) {
    if (!ok) failures.push_back(what);
  }
};

Json StormJson(const StormResult& r) {
  Json statuses = Json::object(), no_answer = Json::object(), retry_after = Json::object();
  for (const auto& [k, v] : r.statuses) statuses[std::to_string(k)] = v;
  for (const auto& [k, v] : r.no_answer) no_answer[k] = v;
  for (const auto& [k, v] : r.retry_after) retry_after[k] = v;
  Json samples = Json::object();
  for (const auto& [k, v] : r.sample_bodies) samples[std::to_string(k)] = v;
  return {{"served", r.served},
          {"attempts", r.attempts},
          {"max_attempts", r.max_attempts},
          {"all_served_seconds", r.all_served_s},
          {"served_ms", {{"p50", r.PercentileMs(50)}, {"p99", r.PercentileMs(99)}, {"max", r.PercentileMs(100)}}},
          {"statuses", statuses},
          {"busy_503", r.busy},
          {"busy_503_without_retry_after", r.busy_without_retry_after},
          {"retry_after", retry_after},
          {"unexpected_replies", samples},
          {"no_answer", no_answer},
          {"no_answer_total", r.NoAnswerTotal()},
          {"timeouts", r.timeouts}};
}

// size: the gate, one line per promise of the issue (scenario 5) and docs/fleet-server.md
void Gate(const Options& o, const StormResult& r, size_t devices, size_t manifests, const Sampler& sampler,
          Report& rep) {
  const uint64_t fd_bound = static_cast<uint64_t>(o.max_connections) + o.max_connections / 4 + 16 + 64;
  const double rss_mib = static_cast<double>(sampler.peak_rss_kib()) / 1024.0;
  rep.j["server"] = {{"peak_rss_mib", rss_mib},           {"rss_bound_mib", o.rss_bound_mib},
                     {"peak_fds", sampler.peak_fds()},    {"fd_bound", fd_bound},
                     {"samples", sampler.samples()},      {"devices", devices},
                     {"devices_with_manifest", manifests}};
  rep.Check(r.served == o.terminals,
            std::to_string(o.terminals - r.served) + " of " + std::to_string(o.terminals) + " terminals not served");
  rep.Check(devices == o.terminals && manifests == o.terminals,
            "the store holds " + std::to_string(devices) + " devices, " + std::to_string(manifests) +
                " with the 1.0.0 manifest (want " + std::to_string(o.terminals) + ")");
  for (const auto& [status, n] : r.statuses)
    rep.Check(status == 200 || status == 304 || status == 503,
              std::to_string(n) + " answers with status " + std::to_string(status));
  rep.Check(r.busy > 0, "no 503 at all: the storm never overloaded the server (lower --max-connections)");
  rep.Check(r.busy_without_retry_after == 0,
            std::to_string(r.busy_without_retry_after) + " answers 503 without a usable Retry-After");
  rep.Check(r.timeouts == 0, std::to_string(r.timeouts) + " attempts timed out without an HTTP answer");
  rep.Check(sampler.peak_fds() <= fd_bound,
            "peak open descriptors " + std::to_string(sampler.peak_fds()) + " > " + std::to_string(fd_bound));
  rep.Check(rss_mib <= o.rss_bound_mib,
            "peak RSS " + std::to_string(rss_mib) + " MiB > " + std::to_string(o.rss_bound_mib) + " MiB");
  if (!o.quick)
    rep.Check(r.all_served_s <= o.deadline_seconds, "all served after " + std::to_string(r.all_served_s) + " s > " +
                                                        std::to_string(o.deadline_seconds) + " s");
}

void PrintText(const Options& o, const Report& rep) {
  const Json& j = rep.j;
  const Json& s = j["storm"];
  const Json& e = j["enrol"];
  std::cout << std::fixed << std::setprecision(1);
  std::cout << "fleet-storm: " << o.terminals << " terminals, limits.max_connections " << o.max_connections
            << ", Retry-After " << o.retry_after << " s, reconnect within " << o.arrival_seconds << " s\n"
            << "machine: " << j["machine"].get<std::string>() << "\n"
            << "enrol (first contact): " << e["served"] << " served in " << e["all_served_seconds"].get<double>()
            << " s, " << e["busy_503"] << " × 503\n"
            << "restart after SIGKILL: listening again after " << j["restart_seconds"].get<double>() << " s\n"
            << "storm: all " << s["served"] << " served after " << s["all_served_seconds"].get<double>()
            << " s; per terminal p50 " << s["served_ms"]["p50"] << " ms, p99 " << s["served_ms"]["p99"] << " ms, max "
            << s["served_ms"]["max"] << " ms\n"
            << "  attempts " << s["attempts"] << " (most by one terminal: " << s["max_attempts"] << "), statuses "
            << s["statuses"].dump() << "\n"
            << "  503 answers " << s["busy_503"] << " (without Retry-After: " << s["busy_503_without_retry_after"]
            << "; Retry-After seen " << s["retry_after"].dump() << ")\n"
            << "  no HTTP answer " << s["no_answer_total"] << " " << s["no_answer"].dump() << ", of them timeouts "
            << s["timeouts"] << "\n"
            << "  CPU during the storm: server " << s["server_cpu_seconds"].get<double>()
            << " s, terminals (this process) " << s["client_cpu_seconds"].get<double>() << " s\n"
            << "server: peak RSS " << j["server"]["peak_rss_mib"].get<double>() << " MiB (bound " << o.rss_bound_mib
            << "), peak open fds " << j["server"]["peak_fds"] << " (bound " << j["server"]["fd_bound"] << "), "
            << j["server"]["samples"] << " samples; devices in the store " << j["server"]["devices"]
            << ", with manifest " << j["server"]["devices_with_manifest"] << "\n";
  for (const auto& f : rep.failures) std::cout << "FAIL: " << f << "\n";
  std::cout << (rep.failures.empty() ? "PASS" : "FAIL") << "\n";
}

// size: the scenario in order — setup, enrol, kill, restart, storm, store check, gate
int Run(const Options& o) {
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);  // N client sockets here, M + M/4 in the server (inherited)
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  std::string work = o.work;
  if (work.empty()) {
    std::string tmpl = std::filesystem::temp_directory_path() / "fleet-storm.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return 4;
    work = tmpl;
  }
  Report rep;
  rep.j = {{"scenario", "storm"},
           {"terminals", o.terminals},
           {"max_connections", o.max_connections},
           {"retry_after", o.retry_after},
           {"arrival_seconds", o.arrival_seconds},
           {"machine", Machine()}};
  FwServer server(o.fwserver, work + "/srv");
  auto fail = [&](const std::string& e) {
    std::cerr << "fleet-storm: " << e << " (work directory " << work << ")\n";
    return 4;
  };
  std::string e = server.Setup([&](Json& c) {
    c["limits"]["max_connections"] = o.max_connections;
    c["limits"]["retry_after_seconds"] = o.retry_after;
  });
  if (!e.empty() || !(e = server.Start()).empty()) return fail(e);
  std::vector<std::unique_ptr<bench::Terminal>> terminals;
  if (!bench::IssueTerminals(server.data() + "/ca/issuing.pem", server.data() + "/issuer/issuing.key", o.terminals,
                             "STORM-", terminals, e))
    return fail(e);
  bench::Target target{"fwserver", "127.0.0.1", server.port(), {}, {}};
  bench::LoadOptions load;
  load.body_template = kBody;
  load.chain_pem_file = server.data() + "/ca/chain.pem";
  StormOptions first{
      std::max(1.0, static_cast<double>(o.terminals) / 400.0), o.quick ? 120.0 : 600.0, 30, 1, o.threads, o.seed};
  StormResult enrol = RunStorm(target, terminals, load, first);
  rep.j["enrol"] = StormJson(enrol);
  if (enrol.served != o.terminals)
    return fail("enrolment: only " + std::to_string(enrol.served) + " served: " + rep.j["enrol"].dump());
  double restart_s = 0;
  if (!(e = server.Kill()).empty() || !(e = server.Start(&restart_s)).empty()) return fail(e);
  rep.j["restart_seconds"] = restart_s;
  Sampler sampler(server.run_pid(), 50);
  StormOptions storm{o.arrival_seconds, o.quick ? 120.0 : 300.0, 30, 1, o.threads, o.seed + 1};
  const double server_cpu = bench::ProcessCpuSeconds({server.run_pid()}), client_cpu = SelfCpuSeconds();
  StormResult r = RunStorm(target, terminals, load, storm);
  sampler.Stop();
  rep.j["storm"] = StormJson(r);
  rep.j["storm"]["server_cpu_seconds"] = bench::ProcessCpuSeconds({server.run_pid()}) - server_cpu;
  rep.j["storm"]["client_cpu_seconds"] = SelfCpuSeconds() - client_cpu;
  size_t devices = 0, manifests = 0;
  if (!(e = CountDevices(server.data() + "/server.db", "STORM-", devices, manifests)).empty()) return fail(e);
  Gate(o, r, devices, manifests, sampler, rep);
  rep.j["failures"] = rep.failures;
  rep.j["ok"] = rep.failures.empty();
  if (o.json) {
    std::cout << rep.j.dump() << "\n";
  } else {
    PrintText(o, rep);
  }
  if (o.work.empty()) std::filesystem::remove_all(work);
  return rep.failures.empty() ? 0 : 1;
}

}  // namespace
}  // namespace storm

int main(int argc, char** argv) {
  storm::Options o;
  if (int rc = storm::ParseOptions(argc, argv, o); rc != 0) return rc == storm::kHelp ? 0 : rc;
  return storm::Run(o);
}
