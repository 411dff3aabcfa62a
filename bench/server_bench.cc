// server_bench: simulated terminals checking in with an HTTPS update server; see
// bench/server_bench.sh, which starts nginx and fwserver and calls this.
//   server_bench ca DIR                         fleet CA in the fwserver data-directory layout
//   server_bench port                           prints a free TCP port on 127.0.0.1
//   server_bench pem --issuing-cert F --issuing-key F --count N --out DIR
//                                               N terminal key+cert PEM files (for curl)
//   server_bench probe --target NAME=IP:PORT COMMON [--out FILE]
//                                               one check-in; the reply body to FILE or stdout
//   server_bench run --target NAME=IP:PORT[,PORT...]... COMMON [--modes first,resume-once,resume,full,keepalive]
//        [--seconds S] [--concurrency C] [--keepalive-concurrency C] [--threads T]
//        [--rounds R] [--gate full|quick|none]
//        [--pids NAME=PID,PID...]   the server's processes: its CPU time per request is printed
//        [--db-pids NAME=PID...]    its database's main process (postmaster): CPU of it and its children
//   COMMON: --chain F (trusted for the server certificate) --issuing-cert F --issuing-key F
//           [--terminals N] [--serial-prefix BENCH-] [--body FILE (@SERIAL@ is replaced)] [--path /v1/checkin]
//   A target with several ports is several instances of one server (sharing one database): each new
//   connection goes to one of its ports at random, as an L4 balancer without stickiness spreads them.
//   A server binds each serial to the first key it sees: a second process must use other serials.
// `run` measures every target in each mode, alternating the order per round, and prints
// req/s, p50/p99 latency, errors, session reuse and the ratio of each target to the first
// (the baseline). Gate (exit 1 when it fails): `full` — every target 0 errors, the second
// target (fwserver) >= 0.5 x the baseline's req/s and p99 <= 2 x the baseline's in the
// resume mode, and every terminal used; `quick` — 0 errors only.
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_bench.h"

namespace bench {
namespace {

using Args = std::multimap<std::string, std::string>;

std::string Get(const Args& a, const std::string& k, const std::string& def = "") {
  auto it = a.find(k);
  return it == a.end() ? def : it->second;
}

constexpr const char* kDefaultBody =
    R"({"serial":"@SERIAL@","running":{"version":"1.0.0","slot":"A","state":"confirmed"},)"
    R"("other":{"version":"0.9.0","slot":"B","state":"bootable"},"security_counter":1,"root_version":1,)"
    R"("journal":{"last_seq":0,"head":"0000000000000000000000000000000000000000000000000000000000000000"},)"
    R"("outbox":0,"hardware_id":"POS-X1","free_bytes":268435456,"time_zone":"Europe/Berlin"})";

bool ParseTarget(const std::string& spec, Target& t) {
  size_t eq = spec.find('='), colon = spec.rfind(':');
  if (eq == std::string::npos || colon == std::string::npos || colon < eq) return false;
  t.name = spec.substr(0, eq);
  t.host = spec.substr(eq + 1, colon - eq - 1);
  std::stringstream ports(spec.substr(colon + 1));  // PORT[,PORT...]: one per instance
  for (std::string port; std::getline(ports, port, ',');) {
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) return false;
    const auto number = static_cast<uint16_t>(std::stoi(port));
    if (t.port == 0) {
      t.port = number;
    } else {
      t.more_ports.push_back(number);
    }
  }
  return t.port != 0;
}

struct Common {
  LoadOptions options;
  std::vector<std::unique_ptr<Terminal>> terminals;
  std::vector<Target> targets;
};

int LoadCommon(const Args& a, Common& c) {
  c.options.chain_pem_file = Get(a, "--chain");
  c.options.path = Get(a, "--path", "/v1/checkin");
  c.options.body_template = kDefaultBody;
  if (a.count("--body") != 0 && !ReadFile(Get(a, "--body"), c.options.body_template)) {
    std::cerr << "server_bench: cannot read " << Get(a, "--body") << "\n";
    return 4;
  }
  for (auto [it, end] = a.equal_range("--target"); it != end; ++it) {
    Target t;
    if (!ParseTarget(it->second, t)) {
      std::cerr << "server_bench: --target wants NAME=IP:PORT[,PORT...], got " << it->second << "\n";
      return 2;
    }
    c.targets.push_back(std::move(t));
  }
  for (const char* option : {"--pids", "--db-pids"}) {
    for (auto [it, end] = a.equal_range(option); it != end; ++it) {  // NAME=PID,PID...
      std::string name = it->second.substr(0, it->second.find('='));
      std::stringstream pids(it->second.substr(name.size() + 1));
      for (auto& t : c.targets)
        if (t.name == name)
          for (std::string pid; std::getline(pids, pid, ',');)
            (option == std::string("--pids") ? t.pids : t.db_pids).push_back(std::stoi(pid));
    }
  }
  if (c.options.chain_pem_file.empty() || c.targets.empty()) {
    std::cerr << "server_bench: --chain and --target are required\n";
    return 2;
  }
  size_t n = std::stoul(Get(a, "--terminals", "1"));
  auto start = std::chrono::steady_clock::now();
  std::string error;
  if (!IssueTerminals(Get(a, "--issuing-cert"), Get(a, "--issuing-key"), n, Get(a, "--serial-prefix", "BENCH-"),
                      c.terminals, error)) {
    std::cerr << "server_bench: " << error << "\n";
    return 4;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "issued " << n << " terminal certificates (P-256, CN=serial, clientAuth) in " << s << " s\n";
  return 0;
}

void PrintRow(const std::string& name, Mode mode, const LoadResult& r) {
  std::ostringstream codes;
  for (auto& [k, v] : r.statuses) codes << k << ":" << v << " ";
  for (auto& [k, v] : r.error_kinds) codes << k << ":" << v << " ";
  double reuse = r.connections ? 100.0 * static_cast<double>(r.reused) / static_cast<double>(r.connections) : 0;
  auto per_req = [&](double cpu) { return r.ok ? cpu * 1e6 / static_cast<double>(r.ok) : 0; };
  std::printf("%-9s %-25s %9.0f %8.2f %8.2f %7llu %6.1f%% %7zu %8.0f %8.0f %8.0f  %s\n", name.c_str(), ModeName(mode),
              r.Rps(), r.PercentileMs(50), r.PercentileMs(99), static_cast<unsigned long long>(r.errors),
              mode == Mode::kKeepAlive ? 0.0 : reuse, r.distinct_terminals, per_req(r.server_cpu_s),
              per_req(r.db_cpu_s), per_req(r.client_cpu_s), codes.str().c_str());
  std::printf(
      "RESULT target=%s mode=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%llu reuse=%.3f terminals=%zu srv_us=%.0f "
      "db_us=%.0f cli_us=%.0f seconds=%.2f\n",
      name.c_str(), static_cast<int>(mode), r.Rps(), r.PercentileMs(50), r.PercentileMs(99),
      static_cast<unsigned long long>(r.errors), reuse, r.distinct_terminals, per_req(r.server_cpu_s),
      per_req(r.db_cpu_s), per_req(r.client_cpu_s), r.seconds);
  std::fflush(stdout);
}

std::vector<Mode> ParseModes(const std::string& list) {
  std::vector<Mode> out;
  std::stringstream ss(list);
  for (std::string m; std::getline(ss, m, ',');) {
    if (m == "first") out.push_back(Mode::kFirst);
    if (m == "resume-once") out.push_back(Mode::kResumeOnce);
    if (m == "resume") out.push_back(Mode::kResume);
    if (m == "full") out.push_back(Mode::kFull);
    if (m == "keepalive") out.push_back(Mode::kKeepAlive);
  }
  return out;
}

int Run(const Args& a) {
  Common c;
  if (int rc = LoadCommon(a, c); rc != 0) return rc;
  c.options.seconds = std::stod(Get(a, "--seconds", "10"));
  c.options.threads = static_cast<unsigned>(std::stoul(Get(a, "--threads", "2")));
  size_t conc = std::stoul(Get(a, "--concurrency", "50"));
  size_t ka_conc = std::stoul(Get(a, "--keepalive-concurrency", std::to_string(conc)));
  int rounds = std::stoi(Get(a, "--rounds", "1"));
  std::string gate = Get(a, "--gate", "none");
  std::vector<Mode> modes = ParseModes(Get(a, "--modes", "first,resume-once,resume,full,keepalive"));
  // results[mode][target]
  std::map<Mode, std::vector<LoadResult>> results;
  std::printf("%-9s %-25s %9s %8s %8s %7s %7s %7s %8s %8s %8s  %s\n", "target", "mode", "req/s", "p50 ms", "p99 ms",
              "errors", "reuse", "terms", "srv µs", "db µs", "cli µs", "statuses");
  for (Mode mode : modes) {
    results[mode].resize(c.targets.size());
    int mode_rounds = OnePass(mode) ? 1 : rounds;
    for (int round = 0; round < mode_rounds; ++round) {
      for (size_t k = 0; k < c.targets.size(); ++k) {
        size_t i = round % 2 == 0 ? k : c.targets.size() - 1 - k;  // alternate the order per round
        LoadOptions o = c.options;
        o.mode = mode;
        o.concurrency = mode == Mode::kKeepAlive ? ka_conc : conc;
        LoadResult r = RunLoad(c.targets[i], c.terminals, o);
        results[mode][i].seconds += r.seconds;
        size_t distinct = std::max(results[mode][i].distinct_terminals, r.distinct_terminals);
        results[mode][i].Merge(std::move(r));
        results[mode][i].distinct_terminals = distinct;
      }
    }
    for (size_t i = 0; i < c.targets.size(); ++i) PrintRow(c.targets[i].name, mode, results[mode][i]);
    for (size_t i = 1; i < c.targets.size(); ++i) {
      const LoadResult &b = results[mode][0], &t = results[mode][i];
      auto ratio = [](double x, double y) { return y > 0 ? x / y : 0; };
      auto cpu = [](const LoadResult& r) { return r.server_cpu_s / static_cast<double>(r.ok ? r.ok : 1); };
      std::printf("  %s / %s: req/s %.2f x, p99 %.2f x, server CPU per request %.2f x\n", c.targets[i].name.c_str(),
                  c.targets[0].name.c_str(), ratio(t.Rps(), b.Rps()), ratio(t.PercentileMs(99), b.PercentileMs(99)),
                  ratio(cpu(t), cpu(b)));
    }
  }
  if (gate == "none") return 0;
  bool pass = true;
  for (auto& [mode, rs] : results)
    for (size_t i = 0; i < rs.size(); ++i)
      if (rs[i].errors != 0) {
        std::printf("GATE FAIL: %s had %llu errors in %s\n", c.targets[i].name.c_str(),
                    static_cast<unsigned long long>(rs[i].errors), ModeName(mode));
        pass = false;
      }
  if (gate == "full") {
    if (c.targets.size() < 2 || results.count(Mode::kResume) == 0) {
      std::printf("GATE FAIL: the full gate needs a baseline and fwserver, and the resume mode\n");
      return 1;
    }
    const LoadResult &b = results[Mode::kResume][0], &f = results[Mode::kResume][1];
    if (f.Rps() < 0.5 * b.Rps()) {
      std::printf("GATE FAIL: %s %.0f req/s < 0.5 x %.0f\n", c.targets[1].name.c_str(), f.Rps(), b.Rps());
      pass = false;
    }
    if (f.PercentileMs(99) > 2 * b.PercentileMs(99)) {
      std::printf("GATE FAIL: %s p99 %.2f ms > 2 x %.2f ms\n", c.targets[1].name.c_str(), f.PercentileMs(99),
                  b.PercentileMs(99));
      pass = false;
    }
    size_t used = results.count(Mode::kFirst) ? results[Mode::kFirst][1].distinct_terminals : f.distinct_terminals;
    if (used != c.terminals.size()) {
      std::printf("GATE FAIL: %zu of %zu terminals checked in with %s\n", used, c.terminals.size(),
                  c.targets[1].name.c_str());
      pass = false;
    }
  }
  std::printf("gate (%s): %s\n", gate.c_str(), pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

int ProbeCmd(const Args& a) {
  Common c;
  if (int rc = LoadCommon(a, c); rc != 0) return rc;
  int status = 0;
  std::string body, error;
  if (!Probe(c.targets[0], *c.terminals[0], c.options, status, body, error)) {
    std::cerr << "server_bench probe: " << error << "\n";
    return 1;
  }
  std::cerr << "probe: HTTP " << status << ", " << body.size() << " bytes\n";
  if (a.count("--out") != 0) {
    std::ofstream(Get(a, "--out"), std::ios::binary) << body;
  } else {
    std::cout << body;
  }
  return status >= 200 && status < 300 ? 0 : 1;
}

int PortCmd() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("server_bench port");
    return 4;
  }
  std::printf("%d\n", ntohs(a.sin_port));
  close(fd);
  return 0;
}

int PemCmd(const Args& a) {
  std::vector<std::unique_ptr<Terminal>> terms;
  std::string error;
  if (!IssueTerminals(Get(a, "--issuing-cert"), Get(a, "--issuing-key"), std::stoul(Get(a, "--count", "1")),
                      Get(a, "--serial-prefix", "BENCH-"), terms, error)) {
    std::cerr << "server_bench: " << error << "\n";
    return 4;
  }
  for (auto& t : terms) std::ofstream(Get(a, "--out", ".") + "/" + t->serial + ".pem") << TerminalPem(*t);
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  if (argc < 2) {
    std::cerr << "usage: server_bench ca DIR | pem ... | probe ... | run ... (see bench/server_bench.cc)\n";
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "port") return PortCmd();
  if (cmd == "ca" && argc == 3) {
    std::string error;
    if (!WriteFleetCa(argv[2], error)) {
      std::cerr << "server_bench ca: " << error << "\n";
      return 4;
    }
    return 0;
  }
  Args args;
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) {
      std::cerr << "server_bench: expected --option VALUE, got " << k << "\n";
      return 2;
    }
    args.emplace(k, argv[++i]);
  }
  try {
    if (cmd == "run") return Run(args);
    if (cmd == "probe") return ProbeCmd(args);
    if (cmd == "pem") return PemCmd(args);
  } catch (const std::exception& e) {  // std::stoul on a bad number
    std::cerr << "server_bench: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "server_bench: unknown command " << cmd << "\n";
  return 2;
}
