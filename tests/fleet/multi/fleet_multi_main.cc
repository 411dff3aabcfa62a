// fleet-multi (issue 19, "Proof"; docs/fleet-multi.md): N stateless `fwserver run` instances sharing one
// PostgreSQL database, simulated terminals spread over them, one rollout under kill -9 of random
// instances, then a second rollout across a database outage.
//
//   fleet-multi [--quick | --full] [--instances N] [--terminals M] [--kills K] [--outage-seconds S]
//               [--scenario kills|outage|both] [--seed S] [--threads T] [--json] [--work DIR] [--keep]
//               [--sqlite] [--fwserver PATH] [--fwsign PATH]
// Defaults: --quick (CI): 2 instances, 20 terminals, 4 kills, a 10 s outage; --full: 3 instances,
// 200 terminals, 50 kills, a 60 s outage. --sqlite (development only): the instances share one SQLite
// file instead (no outage scenario). Exit 0 only when every check holds, 1 when one does not (the
// report's problems say which), 2 usage, 70 when the run could not be set up.
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "fleet_loop.h"
#include "fw/clock.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/config.h"
#include "fw/server/fleet_server.h"
#include "fw/server/repository_targets.h"
#include "multi_checks.h"
#include "multi_cluster.h"
#include "multi_runner.h"
#include "sim_vendor.h"

namespace fw::fleetmulti {
namespace {

namespace fs = std::filesystem;
namespace ro = server::rollout;
using Json = nlohmann::json;
using Steady = std::chrono::steady_clock;

constexpr const char* kActor = "cli:fleet-multi";
std::atomic<bool> g_interrupted{false};

struct Options {
  bool full = false, json = false, keep = false, sqlite = false;
  int instances = 2, terminals = 20, kills = 4, outage_s = 10, threads = 2;
  uint64_t seed = 1;
  std::string scenario = "both", work, fwserver = FWSERVER_PATH, fwsign = FWSIGN_PATH;
  int64_t rollout_timeout_s = 300;
};

int Usage(const std::string& why) {
  if (!why.empty()) std::cerr << "fleet-multi: " << why << "\n";
  std::cerr << "usage: fleet-multi [--quick | --full] [--instances N] [--terminals M] [--kills K]\n"
               "                   [--outage-seconds S] [--scenario kills|outage|both] [--seed S] [--threads T]\n"
               "                   [--json] [--work DIR] [--keep] [--sqlite] [--fwserver PATH] [--fwsign PATH]\n";
  return why.empty() ? 0 : 2;
}

// size: one flag after another
bool Parse(int argc, char** argv, Options& o, int& exit_code) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a != "--full") continue;
    o.full = true;
    o.instances = 3;
    o.terminals = 200;
    o.kills = 50;
    o.outage_s = 60;
    o.rollout_timeout_s = 1800;
  }
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "--full" || a == "--quick") continue;
      if (a == "--help" || a == "-h") {
        exit_code = Usage("");
        return false;
      }
      if (a == "--json")
        o.json = true;
      else if (a == "--keep")
        o.keep = true;
      else if (a == "--sqlite")
        o.sqlite = true;
      else if (a == "--instances")
        o.instances = std::stoi(next());
      else if (a == "--terminals")
        o.terminals = std::stoi(next());
      else if (a == "--kills")
        o.kills = std::stoi(next());
      else if (a == "--outage-seconds")
        o.outage_s = std::stoi(next());
      else if (a == "--threads")
        o.threads = std::stoi(next());
      else if (a == "--seed")
        o.seed = std::stoull(next());
      else if (a == "--scenario")
        o.scenario = next();
      else if (a == "--work")
        o.work = next();
      else if (a == "--fwserver")
        o.fwserver = next();
      else if (a == "--fwsign")
        o.fwsign = next();
      else
        throw std::invalid_argument("unknown option " + a);
    }
  } catch (const std::exception& e) {
    exit_code = Usage(e.what());
    return false;
  }
  std::string bad;
  if (o.instances < 1 || o.instances > 8) bad = "--instances: 1..8";
  if (o.terminals < 2 || o.terminals > 5000) bad = "--terminals: 2..5000";
  if (o.kills < 0 || o.outage_s < 1 || o.threads < 1 || o.threads > 32) bad = "--kills, --outage-seconds, --threads";
  if (o.scenario != "kills" && o.scenario != "outage" && o.scenario != "both") bad = "--scenario kills|outage|both";
  if (o.sqlite && o.scenario == "outage") bad = "--sqlite has no outage scenario";
  if (!bad.empty()) {
    exit_code = Usage(bad);
    return false;
  }
  return true;
}

double Since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

// Everything one run holds, torn down in reverse order.
struct Run {
  Options o;
  std::mt19937_64 rng;
  std::string work, terminal_dir;
  std::unique_ptr<fleetsim::SimVendor> vendor;
  std::unique_ptr<PgCluster> pg;
  std::string database;
  std::unique_ptr<Instances> instances;
  std::unique_ptr<server::Store> store;
  server::AlertPolicy alerts;
  std::unique_ptr<server::RepositoryCache> repository;
  ro::Context context;
  Clock& clock = SystemClock();  // what the agents and the rollout calls see: real time
  fleetsim::Telemetry telemetry;
  std::vector<std::unique_ptr<fleetsim::SimTerminal>> terminals;
  std::unique_ptr<Runner> runner;
  Monitor monitor;
  Problems problems;
  Json report = Json::object();

  int64_t now_s() const { return clock.WallSeconds(); }
  // Sleeps `ms`, sampling the monitor every 250 ms on `rollout` (0: none).
  void Wait(int64_t ms, int64_t rollout) {
    const auto end = Steady::now() + std::chrono::milliseconds(ms);
    while (Steady::now() < end && !g_interrupted) {
      if (rollout > 0) monitor.Sample(*store, rollout);
      std::this_thread::sleep_for(std::min<Steady::duration>(end - Steady::now(), std::chrono::milliseconds(250)));
    }
  }
};

std::string SerialOf(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "T-%05d", i + 1);
  return buf;
}

Status SetupServers(Run& r) {
  if (r.o.sqlite) {
    r.database = "server.db";
  } else {
    r.pg = std::make_unique<PgCluster>(PG_CLUSTER_SCRIPT, r.work + "/pg");
    FW_ASSIGN_OR_RETURN(r.database, r.pg->Start());
  }
  r.instances = std::make_unique<Instances>(r.o.fwserver, r.work, r.o.instances);
  FW_RETURN_IF_ERROR(r.instances->Setup([&](Json& c) {
    if (!r.o.sqlite) c["database"] = r.database;
    c["devices"]["poll_seconds"] = 10;
    c["devices"]["poll_jitter_seconds"] = 2;
    c["limits"]["retry_after_seconds"] = 1;
    c["limits"]["threads"] = 2;
  }));
  const std::string data = r.instances->data();
  std::error_code ec;
  fs::remove_all(data + "/repo", ec);
  fs::copy(r.vendor->repo, data + "/repo", fs::copy_options::recursive, ec);
  if (ec) return IoError("copying the repository into " + data + "/repo: " + ec.message());
  FW_ASSIGN_OR_RETURN(server::ServerConfig config, server::LoadConfig(data));
  r.alerts = server::MakeAlertPolicy(config);
  r.repository = std::make_unique<server::RepositoryCache>(config.repository_dir);
  r.context.alerts = &r.alerts;
  r.context.repository = [&r]() { return r.repository->Get(r.now_s()); };
  FW_ASSIGN_OR_RETURN(r.store, server::OpenStore(config.database).WithContext("fleet-multi's store"));
  for (int k = 0; k < r.o.instances; ++k) FW_RETURN_IF_ERROR(r.instances->Start(k));
  return Status::Ok();
}

// Provisioned, enrolled (each through its home instance) and checked in twice, so that membership sees them.
Status SetupTerminals(Run& r) {
  for (int i = 0; i < r.o.terminals; ++i) {
    r.terminals.push_back(std::make_unique<fleetsim::SimTerminal>(i, SerialOf(i), r.terminal_dir + "/" + SerialOf(i),
                                                                  r.o.seed * 1'000'003 + static_cast<uint64_t>(i)));
  }
  std::vector<std::string> tokens;
  const int64_t now = r.now_s();
  const Status made = r.store->Atomically([&]() -> Status {
    for (auto& t : r.terminals) {
      FW_ASSIGN_OR_RETURN(Bytes random, RandomBytes(32));
      tokens.push_back(HexEncode(random));
      FW_RETURN_IF_ERROR(r.store->AddEnrolToken(
          {HexEncode(Sha256::Of(AsBytes(tokens.back()))), t->serial(), now, now + 86400, std::nullopt}));
    }
    return Status::Ok();
  });
  FW_RETURN_IF_ERROR(made.WithContext("enrolment tokens"));
  const std::string ca = r.instances->data() + "/ca/chain.pem";
  fleetsim::WorkerPool pool(r.o.threads);
  std::mutex mu;
  Status first = Status::Ok();
  pool.Run(r.terminals.size(), [&](size_t i) {
    fleetsim::SimTerminal& t = *r.terminals[i];
    Status s = t.Provision(*r.vendor, 20, r.clock.WallMs());
    if (s.ok()) s = t.Enrol(r.instances->url(static_cast<int>(i) % r.o.instances), ca, tokens[i]);
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok() && first.ok()) first = s.WithContext(t.serial());
  });
  FW_RETURN_IF_ERROR(first);
  fleetsim::CycleEnv env;
  env.clock = &r.clock;
  env.ca_file = ca;
  env.vendor = r.vendor.get();
  env.telemetry = &r.telemetry;
  const int64_t period_ms = 1500;
  for (auto& t : r.terminals) t->next_wake_ms = r.clock.MonotonicMs() + static_cast<int64_t>(r.rng() % period_ms);
  r.runner = std::make_unique<Runner>(r.terminals, *r.instances, env, r.o.threads, period_ms);
  r.runner->Start();
  if (!r.runner->WaitRounds(2, 300'000)) return Timeout("the first check-ins did not finish within 300 s");
  if (r.runner->errors() > 0) return Internal("first check-ins: " + r.runner->first_error());
  return Status::Ok();
}

Result<int64_t> CreateAndStart(Run& r, const std::string& target, const std::string& below, int64_t per_minute) {
  const ro::RolloutSpec spec = MultiSpec("fleet-multi " + target, target, below, r.o.terminals, per_minute);
  FW_ASSIGN_OR_RETURN(auto row, ro::Create(*r.store, r.context, spec, kActor, r.now_s()).WithContext("Create"));
  FW_ASSIGN_OR_RETURN(auto started, ro::Start(*r.store, r.context, row.id, kActor, r.now_s()).WithContext("Start"));
  return started.id;
}

// Waits for the rollout to finish (sampling the monitor), then drains: every terminal wakes twice more.
Status Finish(Run& r, int64_t rollout, Steady::time_point began, Json& out) {
  const auto deadline = began + std::chrono::seconds(r.o.rollout_timeout_s);
  std::string state;
  while (Steady::now() < deadline && !g_interrupted) {
    auto row = r.store->GetRollout(rollout);
    if (row.ok() && *row && (*row)->state != "running") {
      state = (*row)->state;
      break;
    }
    r.Wait(500, rollout);
  }
  out["seconds_to_finish"] = Since(began);
  r.problems.Expect(state == "finished", "rollout " + std::to_string(rollout) + " did not finish within " +
                                             std::to_string(r.o.rollout_timeout_s) + " s (state " + state + ")");
  r.problems.Expect(r.runner->WaitRounds(2, 120'000), "the drain (two wakes of every terminal) took over 120 s");
  return Status::Ok();
}

Status CheckAfter(Run& r, int64_t rollout, const std::string& version, Json& out) {
  r.runner->Stop();  // the terminals' files are read now
  Json rollout_json, terminals_json;
  FW_RETURN_IF_ERROR(CheckRollout(*r.store, rollout, rollout_json, r.problems));
  FW_RETURN_IF_ERROR(CheckTerminals(*r.store, *r.vendor, r.terminals, rollout, version, terminals_json, r.problems));
  out["rollout"] = rollout_json;
  out["terminals"] = terminals_json;
  r.runner->Start();
  return Status::Ok();
}

// Kill -9 of a random up instance at random points of the rollout, each restarted after a random pause.
// size: the kill loop with its accounting
Status ScenarioKills(Run& r) {
  Json out;
  const auto began = Steady::now();
  // The canary, then the rest at a flat ramp over W + 1 ramp windows (a window is a minute; W = 1 per 24
  // planned kills, at least 1): the rollout cannot finish before its last window opens, so the kills, at
  // uniform random times within the first W minutes, all fall while it runs.
  const int64_t canary = std::max(1, r.o.terminals / 10), rest = r.o.terminals - canary;
  const int64_t windows = 1 + std::max<int64_t>(1, (r.o.kills + 23) / 24);
  const int64_t per_minute = std::max<int64_t>(1, (rest + windows - 1) / windows);
  const double span_s = 60.0 * static_cast<double>(windows - 1);
  std::vector<double> at;
  std::uniform_real_distribution<double> when(2.0, span_s);
  for (int i = 0; i < r.o.kills; ++i) at.push_back(when(r.rng));
  std::sort(at.begin(), at.end());
  FW_ASSIGN_OR_RETURN(int64_t rollout, CreateAndStart(r, "fw-1.1.0.img", "1.1.0", per_minute));
  int kills = 0, restart_failures = 0;
  std::vector<int> per_instance(static_cast<size_t>(r.o.instances), 0);
  std::uniform_int_distribution<int64_t> down(200, 1500);
  while (kills < r.o.kills && !g_interrupted) {
    r.Wait(static_cast<int64_t>((at[static_cast<size_t>(kills)] - Since(began)) * 1000), rollout);
    auto row = r.store->GetRollout(rollout);
    if (row.ok() && *row && (*row)->state != "running") break;
    std::vector<int> up;  // a random one of the up instances killed least so far (every one gets its turn)
    for (int k = 0; k < r.o.instances; ++k) {
      if (!r.instances->up(k)) continue;
      if (!up.empty() && per_instance[static_cast<size_t>(k)] < per_instance[static_cast<size_t>(up[0])]) up.clear();
      if (up.empty() || per_instance[static_cast<size_t>(k)] == per_instance[static_cast<size_t>(up[0])])
        up.push_back(k);
    }
    if (up.empty()) break;
    const int k = up[r.rng() % up.size()];
    FW_RETURN_IF_ERROR(r.instances->Kill(k));
    ++kills;
    ++per_instance[static_cast<size_t>(k)];
    r.Wait(down(r.rng), rollout);
    if (Status s = r.instances->Start(k); !s.ok()) {
      ++restart_failures;
      r.problems.list.push_back("restart after kill " + std::to_string(kills) + ": " + s.ToString());
    }
  }
  out["kills"] = {{"planned", r.o.kills},           {"done_mid_rollout", kills},
                  {"per_instance", per_instance},   {"restart_failures", restart_failures},
                  {"planned_span_seconds", span_s}, {"ramp_per_minute", per_minute},
                  {"seconds", Since(began)}};
  r.problems.Expect(kills == r.o.kills, "only " + std::to_string(kills) + " of " + std::to_string(r.o.kills) +
                                            " kills happened before the rollout finished (more terminals?)");
  FW_RETURN_IF_ERROR(Finish(r, rollout, began, out));
  FW_RETURN_IF_ERROR(CheckAfter(r, rollout, "1.1.0", out));
  r.report["kills"] = out;
  return Status::Ok();
}

// HTTP 5xx answers so far ("refused_http_5NN" counters, not their "_retry_after" companions).
int64_t ServerErrors(const fleetsim::Telemetry& t) {
  int64_t n = 0;
  for (const auto& [name, v] : t.Counters()) {
    if (name.size() == 16 && name.rfind("refused_http_5", 0) == 0) n += v;
  }
  return n;
}

// The database stopped for outage_s in the middle of a rollout, then started again: the instances
// answer 503 + Retry-After meanwhile and stay up; nothing decided before the stop is lost; the rollout
// carries on and finishes; the agents lose nothing (their outboxes drain, every event is stored).
// size: the outage's timeline with its accounting
Status ScenarioOutage(Run& r) {
  Json out;
  const auto began = Steady::now();
  FW_ASSIGN_OR_RETURN(int64_t rollout, CreateAndStart(r, "fw-1.2.0.img", "1.2.0", std::max(1, r.o.terminals / 2)));
  // Mid-rollout: about a third of the members decided.
  const int64_t third = std::max(1, r.o.terminals / 3);
  int64_t decided = 0;
  while (Since(began) < static_cast<double>(r.o.rollout_timeout_s) && !g_interrupted) {
    auto d = Decided(*r.store, rollout);
    if (d.ok() && (decided = *d) >= third) break;
    r.Wait(200, rollout);
  }
  FW_ASSIGN_OR_RETURN(auto before, AllMembers(*r.store, rollout));
  const int64_t refused_503_before = r.telemetry.Counter("refused_http_503"),
                retry_after_before = r.telemetry.Counter("refused_http_503_retry_after"),
                other_before = ServerErrors(r.telemetry) - refused_503_before;
  const int64_t cycles_before = r.runner->cycles();
  FW_RETURN_IF_ERROR(r.pg->Stop());
  const auto stopped = Steady::now();
  int instances_died = 0;
  while (Since(stopped) < r.o.outage_s && !g_interrupted) r.Wait(250, 0);
  for (int k = 0; k < r.o.instances; ++k) instances_died += r.instances->Alive(k) ? 0 : 1;
  const int64_t cycles_during = r.runner->cycles() - cycles_before;
  FW_RETURN_IF_ERROR(r.pg->Start().status());
  const double outage_s = Since(stopped);
  const int64_t http_503 = r.telemetry.Counter("refused_http_503") - refused_503_before,
                retry_after = r.telemetry.Counter("refused_http_503_retry_after") - retry_after_before,
                other_5xx = ServerErrors(r.telemetry) - http_503 - refused_503_before - other_before;
  // The store reconnects on its next call; nothing decided before the stop changed.
  Result<std::vector<server::RolloutMemberRow>> after = IoError("not read yet");
  for (int i = 0; i < 60 && !after.ok(); ++i) {
    after = AllMembers(*r.store, rollout);
    if (!after.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  FW_RETURN_IF_ERROR(after.status().WithContext("reading the members after the database came back"));
  std::map<std::string, std::string> now;
  for (const auto& m : *after) now[m.serial] = m.state + "/" + m.failure_class;
  int64_t changed = 0;
  for (const auto& m : before) {
    if ((m.state == "succeeded" || m.state == "failed") && now[m.serial] != m.state + "/" + m.failure_class) ++changed;
  }
  FW_ASSIGN_OR_RETURN(auto row, r.store->GetRollout(rollout));
  out["outage"] = {{"seconds", outage_s},
                   {"decided_before", decided},
                   {"members", before.size()},
                   {"terminal_cycles_during", cycles_during},
                   {"http_503", http_503},
                   {"http_503_with_retry_after", retry_after},
                   {"other_5xx", other_5xx},
                   {"instances_died", instances_died},
                   {"decided_members_changed", changed},
                   {"state_after", row ? row->state : std::string("missing")}};
  r.problems.Expect(instances_died == 0, std::to_string(instances_died) + " instances died during the outage");
  r.problems.Expect(http_503 > 0, "no 503 answer during the database outage");
  r.problems.Expect(retry_after == http_503, std::to_string(http_503 - retry_after) + " of " +
                                                 std::to_string(http_503) + " 503 answers had no Retry-After");
  r.problems.Expect(other_5xx == 0, std::to_string(other_5xx) + " 5xx answers other than 503 during the outage");
  r.problems.Expect(changed == 0, std::to_string(changed) + " members decided before the outage changed");
  r.problems.Expect(row && (row->state == "running" || row->state == "finished"),
                    "the rollout is not running after the outage");
  FW_RETURN_IF_ERROR(Finish(r, rollout, began, out));
  FW_RETURN_IF_ERROR(CheckAfter(r, rollout, "1.2.0", out));
  r.report["outage"] = out;
  return Status::Ok();
}

void OnSignal(int) { g_interrupted = true; }

std::string MakeTemp(const std::string& base) {
  std::string t = base + "/fleet-multi-XXXXXX";
  if (::mkdtemp(t.data()) == nullptr) return "";
  ::chmod(t.c_str(), 0755);  // the PostgreSQL cluster runs as `postgres` below it (pg-cluster.sh)
  return t;
}

// size: the run's whole sequence and its report
int Main(int argc, char** argv) {
  Run r;
  int exit_code = 0;
  if (!Parse(argc, argv, r.o, exit_code)) return exit_code;
  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);
  r.rng.seed(r.o.seed);
  const auto began = Steady::now();
  const bool own_work = r.o.work.empty();
  r.work = own_work ? MakeTemp("/tmp") : r.o.work;
  r.terminal_dir = MakeTemp("/dev/shm");
  if (r.work.empty() || r.terminal_dir.empty()) return std::cerr << "fleet-multi: mkdtemp failed\n", 70;
  fs::create_directories(r.work);
  Status s = Status::Ok();
  {
    auto v = fleetsim::MakeVendor(r.work + "/vendor", r.o.fwsign);
    s = v.status();
    if (v.ok()) r.vendor = std::move(*v);
  }
  if (s.ok()) s = SetupServers(r);
  if (s.ok()) s = SetupTerminals(r);
  const double setup_s = Since(began);
  if (s.ok() && r.o.scenario != "outage") s = ScenarioKills(r);
  if (s.ok() && r.o.scenario != "kills" && !r.o.sqlite) s = ScenarioOutage(r);
  if (r.runner) r.runner->Stop();
  if (g_interrupted) r.problems.list.push_back("interrupted");
  if (!s.ok()) r.problems.list.push_back("the run could not go on: " + s.ToString());
  const Json telemetry = r.telemetry.Counters();
  r.report["ok"] = r.problems.list.empty();
  r.report["mode"] = r.o.full ? "full" : "quick";
  r.report["database"] = r.o.sqlite ? "sqlite" : "postgresql";
  r.report["instances"] = r.o.instances;
  r.report["terminals"] = r.o.terminals;
  r.report["seed"] = r.o.seed;
  r.report["setup_seconds"] = setup_s;
  r.report["wall_seconds"] = Since(began);
  r.report["monitor"] = r.monitor.Json();
  r.report["agents"] = {
      {"cycles", r.runner ? r.runner->cycles() : 0},
      {"cycles_on_another_instance", r.runner ? r.runner->moved() : 0},
      {"local_errors", r.runner ? r.runner->errors() : 0},
      {"max_seconds_between_wakes", r.runner ? static_cast<double>(r.runner->max_gap_ms()) / 1000 : 0.0},
      {"first_local_error", r.runner ? r.runner->first_error() : ""},
      {"counters", telemetry}};
  r.problems.Expect(r.monitor.duplicates() == 0, "a device held two open actions of a rollout (monitor)");
  if (r.runner) {
    r.problems.Expect(
        r.runner->errors() == 0,
        std::to_string(r.runner->errors()) + " agent cycles ended with a local error: " + r.runner->first_error());
  }
  r.report["ok"] = r.problems.list.empty();
  r.report["problems"] = r.problems.list;
  std::cout << (r.o.json ? r.report.dump() : r.report.dump(2)) << std::endl;
  r.runner.reset();
  r.store.reset();
  r.instances.reset();
  r.pg.reset();
  std::error_code ec;
  fs::remove_all(r.terminal_dir, ec);
  if (own_work && !r.o.keep) fs::remove_all(r.work, ec);
  if (!s.ok() && !g_interrupted && r.problems.list.size() == 1) return 70;
  return r.problems.list.empty() ? 0 : 1;
}

}  // namespace
}  // namespace fw::fleetmulti

int main(int argc, char** argv) { return fw::fleetmulti::Main(argc, argv); }
