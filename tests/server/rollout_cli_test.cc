// `fwserver rollout ...` against a REAL `fwserver run` (its operator port over TLS on loopback, its
// scheduler ticking the rollout): exit codes and --json shapes of create/list/start/pause/resume/
// stop/approve/show/members, usage errors before anything is sent, and a started rollout reaching a
// terminal's check-in through the scheduler's tick.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "e2e_fleet.h"

namespace fw::server::e2e {
namespace {

namespace fs = std::filesystem;
using fw::testing::CommandResult;
using fw::testing::RunCommand;
using fw::testing::WriteFile;

struct PtyRun {
  int exit_code = -1;
  std::string out;
};

// `argv` with a pseudo-terminal as its stdin/stdout/stderr (what an operator's terminal gives it).
// Once its output holds `marker` `times` times, SIGINT (Ctrl-C) is sent to it; it must end within
// 60 s of real time (else SIGKILL and exit_code -1).
PtyRun RunOnPty(const std::vector<std::string>& argv, const std::string& marker, int times) {
  PtyRun run;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return run;
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  bool interrupted = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t n = read(master, buf, sizeof(buf));
      if (n <= 0) break;  // EIO: the child closed the terminal
      run.out.append(buf, static_cast<size_t>(n));
    }
    size_t seen = 0;
    for (size_t at = run.out.find(marker); at != std::string::npos; at = run.out.find(marker, at + 1)) ++seen;
    if (!interrupted && static_cast<int>(seen) >= times) {
      kill(pid, SIGINT);
      interrupted = true;
    }
  }
  close(master);
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (done != pid) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return run;
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

class RolloutCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FleetServer>(tmp_ / "srv");
    ASSERT_TRUE(server_->started());
    ASSERT_NE(server_->operator_port(), 0);
    admin_ = BootstrapToken("root-admin", "admin");
    operator_ = BootstrapToken("ops", "operator");
    ASSERT_FALSE(admin_.empty());
    ASSERT_FALSE(operator_.empty());
  }

  std::string BootstrapToken(const std::string& name, const std::string& role) {
    Json j = server_->FwJson({"token", "create", "--name", name, "--role", role});
    if (!j.is_object() || !j.contains("token")) return "";
    const std::string path = tmp_ / (name + ".token");
    WriteFile(path, j["token"].get<std::string>() + "\n");
    ::chmod(path.c_str(), 0600);
    return path;
  }
  std::vector<std::string> Connection(const std::string& token_file) const {
    return {"--server",     "https://127.0.0.1:" + std::to_string(server_->operator_port()),
            "--ca",         server_->chain_pem(),
            "--token-file", token_file};
  }
  // fwserver rollout ARGS with the connection options.
  CommandResult Rollout(const std::string& token_file, std::vector<std::string> args) const {
    std::vector<std::string> argv = {FWSERVER_PATH, "rollout"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& a : Connection(token_file)) argv.push_back(a);
    return RunCommand(argv);
  }
  // ... --json, expecting `exit_code`; the parsed stdout.
  Json RolloutJson(const std::string& token_file, std::vector<std::string> args, int exit_code = 0) const {
    std::string line;
    for (const auto& a : args) line += a + " ";
    args.push_back("--json");
    auto r = Rollout(token_file, args);
    EXPECT_EQ(r.exit_code, exit_code) << "fwserver rollout " << line << "\n" << r.err << r.out;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "fwserver rollout " << line << " printed no JSON: " << r.out;
    return j.is_discarded() ? Json(nullptr) : j;
  }
  // A signed release in DIR/repo (fwsign); its target path.
  std::string PublishRelease(const std::string& version, uint32_t counter) {
    auto k = [&](const std::string& n) { return tmp_ / (n + ".pem"); };
    const std::string repo = server_->dir() + "/repo";
    for (const char* name : {"root", "targets", "snapshot", "timestamp", "image"}) {
      EXPECT_EQ(RunCommand({"fwsign", "key", "generate", "--out", k(name)}).exit_code, 0);
    }
    auto r = RunCommand({"fwsign", "repo", "init", repo, "--root-key", k("root"), "--targets-key", k("targets"),
                         "--snapshot-key", k("snapshot"), "--timestamp-key", k("timestamp")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(fw::testing::SignAndPublishRelease(
                  {repo, k("image"), tmp_ / ("fw-" + version + ".img"), version, counter, 30000, 5},
                  {k("targets"), k("snapshot"), k("timestamp")}),
              "");
    // The target's path, as the signed targets metadata names it.
    const Json targets = Json::parse(fw::testing::ReadFile(repo + "/metadata/targets.json"), nullptr, false);
    if (!targets.is_object() || !targets["signed"]["targets"].is_object() || targets["signed"]["targets"].size() != 1) {
      ADD_FAILURE() << "no single target in " << repo;
      return "";
    }
    return targets["signed"]["targets"].begin().key();
  }
  std::string SpecFile(const std::string& name, const Json& spec) {
    const std::string path = tmp_ / (name + ".json");
    WriteFile(path, spec.dump(2));
    return path;
  }
  Json Spec(const std::string& name, const std::string& target) const {
    return Json{
        {"name", name},
        {"target", target},
        {"filter", {{"hardware_id", "POS-X1"}, {"labels", Json::array()}, {"version_below", "1.3.0"}}},
        {"groups", Json::array({{{"name", "canary"}, {"count", 1}, {"approve_after", true}},
                                {{"name", "rest"}, {"percent", 100}}})},
        {"ramp",
         {{"start_per_minute", 10}, {"growth_percent", 100}, {"every_successes", 10}, {"max_per_minute", 1000}}},
        {"abort", Json::array({{{"class", "any"}, {"max_percent", 10}, {"min_sample", 20}}})},
        {"action", {{"type", "forced"}, {"window", nullptr}, {"deadline", nullptr}, {"backup_required", true}}},
        {"action_timeout_seconds", 86400},
        {"retries", {{"download", 3}}},
        {"retry_backoff_seconds", 600},
        {"late_joiners", "ignore"},
        {"revert_on_abort", false},
        {"two_person", false}};
  }

  fw::testing::TempDir tmp_;
  std::unique_ptr<FleetServer> server_;
  std::string admin_, operator_;
};

TEST_F(RolloutCliTest, CreateStartReachesATerminalPauseStopWithExitCodesAndJson) {
  const std::string target = PublishRelease("1.3.0", 4);
  auto terminal = std::make_unique<E2eTerminal>(*server_, "T-1", tmp_ / "terminals");
  ASSERT_TRUE(terminal->MustEnrol());
  ASSERT_EQ(terminal->Checkin(Manifest("1.2.0")).status, 200);

  Json v = RolloutJson(operator_, {"create", "--spec", SpecFile("spec", Spec("pos 1.3.0", target))});
  ASSERT_TRUE(v.is_object());
  const std::string id = std::to_string(v["id"].get<int64_t>());
  EXPECT_EQ(v["state"], "created");
  EXPECT_EQ(v["target"]["version"], "1.3.0");
  ASSERT_EQ(v["groups"].size(), 2u);

  Json list = RolloutJson(operator_, {"list"});
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["name"], "pos 1.3.0");
  EXPECT_TRUE(list["next_cursor"].is_null());

  v = RolloutJson(operator_, {"start", id});
  EXPECT_EQ(v["state"], "running");
  EXPECT_EQ(v["groups"][0]["members"], 1);

  // The scheduler of `fwserver run` ticks: the canary's action reaches the terminal's check-in.
  Json actions;
  for (int i = 0; i < 300 && (actions.is_null() || actions.empty()); ++i) {
    HttpReply r = terminal->Checkin(Manifest("1.2.0"));
    ASSERT_EQ(r.status, 200) << r.Describe();
    actions = r.json()["actions"];
    if (actions.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(actions.size(), 1u) << "the scheduler assigned nothing";
  EXPECT_EQ(actions[0]["target"]["name"], target);
  Json members = RolloutJson(operator_, {"members", id, "--state", "assigned"});
  ASSERT_EQ(members["items"].size(), 1u);
  EXPECT_EQ(members["items"][0]["serial"], "T-1");
  EXPECT_EQ(members["items"][0]["action"], actions[0]["id"]);
  // `fwserver action cancel` (offline, on the running server's store) closes the never-reported action
  // at once, and its rollout member moves in the same transaction (counted canceled).
  Json cancel = server_->FwJson({"action", "cancel", "--id", std::to_string(actions[0]["id"].get<int64_t>())});
  EXPECT_EQ(cancel["action"]["state"], "canceled") << cancel.dump();
  EXPECT_EQ(RolloutJson(operator_, {"show", id})["groups"][0]["counters"]["canceled"], 1);

  // Usage errors are found before anything is sent.
  CommandResult r = Rollout(operator_, {"pause", id});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--reason"), std::string::npos) << r.err;
  EXPECT_EQ(Rollout(operator_, {"pause", id, "--reason", "x", "--revert"}).exit_code, 2);  // stop's alone
  EXPECT_EQ(Rollout(operator_, {"list", "--all", "--cursor", "abc"}).exit_code, 2);

  v = RolloutJson(operator_, {"pause", id, "--reason", "lunch rush"});
  EXPECT_EQ(v["state"], "paused");
  EXPECT_EQ(v["pause_kind"], "operator");
  EXPECT_EQ(v["pause_reason"], "lunch rush");
  Json fail = RolloutJson(operator_, {"pause", id, "--reason", "again"}, 5);  // 409
  EXPECT_EQ(fail["ok"], false);
  EXPECT_EQ(fail["exit_code"], 5);
  EXPECT_EQ(fail["error"]["http_status"], 409);
  EXPECT_EQ(fail["error"]["code"], "rollout_state");
  fail = RolloutJson(operator_, {"approve", id, "--reason", "x"}, 5);  // 403: approver only
  EXPECT_EQ(fail["error"]["http_status"], 403);
  fail = RolloutJson(operator_, {"show", "99"}, 4);  // 404
  EXPECT_EQ(fail["error"]["code"], "unknown_rollout");

  v = RolloutJson(operator_, {"stop", id, "--reason", "test over"});
  EXPECT_EQ(v["state"], "stopped");
  EXPECT_EQ(RolloutJson(operator_, {"resume", id, "--reason", "x"}, 5)["error"]["code"], "rollout_state");
}

TEST_F(RolloutCliTest, ShowDrawsGroupsByClassesAndWatchFollowsTheRollout) {
  const std::string target = PublishRelease("1.3.0", 4);
  auto terminal = std::make_unique<E2eTerminal>(*server_, "T-1", tmp_ / "terminals");
  ASSERT_TRUE(terminal->MustEnrol());
  ASSERT_EQ(terminal->Checkin(Manifest("1.2.0")).status, 200);
  Json v = RolloutJson(operator_, {"create", "--spec", SpecFile("spec", Spec("pos 1.3.0", target))});
  ASSERT_TRUE(v.is_object());
  const std::string id = std::to_string(v["id"].get<int64_t>());
  ASSERT_EQ(RolloutJson(operator_, {"start", id})["state"], "running");
  ASSERT_EQ(RolloutJson(operator_, {"pause", id, "--reason", "lunch rush"})["state"], "paused");

  // The human view: state, pause reason and the groups x classes table.
  CommandResult r = Rollout(operator_, {"show", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("state paused (operator): lunch rush"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("health_failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0:canary"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1:rest"), std::string::npos) << r.out;

  v = RolloutJson(operator_, {"resume", id, "--reason", "rush over"});
  EXPECT_EQ(v["state"], "running");
  // On a terminal --watch redraws (clear screen, the table) until Ctrl-C, which ends it with 0.
  std::vector<std::string> watch = {FWSERVER_PATH, "rollout", "show", id, "--watch", "--interval", "1"};
  for (const auto& a : Connection(operator_)) watch.push_back(a);
  const PtyRun live = RunOnPty(watch, "Ctrl-C to quit", 2);
  EXPECT_EQ(live.exit_code, 0) << live.out;
  size_t redraws = 0;
  for (size_t at = live.out.find("\033[2J"); at != std::string::npos; at = live.out.find("\033[2J", at + 1)) ++redraws;
  EXPECT_GE(redraws, 2u) << live.out;
  EXPECT_NE(live.out.find("state running"), std::string::npos) << live.out;
  EXPECT_NE(live.out.find("SUCCEEDED"), std::string::npos) << live.out;
  v = RolloutJson(operator_, {"stop", id, "--reason", "test over"});
  EXPECT_EQ(v["state"], "stopped");
  // --watch on a stopped rollout: one JSON line, then done (it never waits for a final state twice).
  r = Rollout(operator_, {"show", id, "--watch", "--interval", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_EQ(Json::parse(r.out, nullptr, false)["state"], "stopped");
  // Not a terminal: --watch prints one snapshot.
  r = Rollout(operator_, {"show", id, "--watch"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("state stopped"), std::string::npos) << r.out;
}

TEST_F(RolloutCliTest, BadSpecsAreUsageErrorsOrTheServersRefusal) {
  const std::string target = PublishRelease("1.3.0", 4);
  const std::string not_json = tmp_ / "bad.json";
  WriteFile(not_json, "{\"name\":");
  EXPECT_EQ(Rollout(operator_, {"create", "--spec", not_json}).exit_code, 3);
  const std::string twice = tmp_ / "twice.json";
  WriteFile(twice, R"({"name":"a","name":"b"})");
  CommandResult r = Rollout(operator_, {"create", "--spec", twice});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("\"name\" given twice"), std::string::npos) << r.err;
  EXPECT_EQ(Rollout(operator_, {"create", "--spec", tmp_ / "missing.json"}).exit_code, 4);
  Json spec = Spec("x", target);
  spec["groups"] = Json::array();
  Json fail = RolloutJson(operator_, {"create", "--spec", SpecFile("nogroups", spec)}, 3);  // 400
  EXPECT_EQ(fail["error"]["code"], "bad_request");
  spec = Spec("x", "not-signed.img");
  fail = RolloutJson(operator_, {"create", "--spec", SpecFile("unsigned", spec)}, 5);  // 409 plan_refused
  EXPECT_EQ(fail["error"]["code"], "plan_refused");
  Json viewer_fail =
      RolloutJson(BootstrapToken("looker", "viewer"), {"create", "--spec", SpecFile("ok", Spec("x", target))}, 5);
  EXPECT_EQ(viewer_fail["error"]["http_status"], 403);
  EXPECT_EQ(RolloutJson(admin_, {"list"})["items"].size(), 0u);  // nothing was created
  r = Rollout(operator_, {"show", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--watch"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fw::server::e2e
