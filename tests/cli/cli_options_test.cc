// Every CLI, run as a real process: a bad option is a usage error (exit 2) found before anything is
// opened or written (issue 11, item 6), and a closed progress consumer never kills a flash (item 15).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;

constexpr uint64_t kBankSize = 1 << 20;

std::string Shown(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += a + " ";
  return s;
}

// ------------------------------------------------ the table: every numeric option of every CLI

struct NumericOption {
  std::vector<std::string> command;  // a command whose files do not exist
  std::string option;
  std::string good;              // in range: parsing passes, the command then fails on the missing file
  std::vector<std::string> bad;  // out of range for this option (the common ones are added below)
};

std::vector<NumericOption> AllNumericOptions(const std::string& m) {  // m: a missing directory
  const std::vector<std::string> install = {"fwupdate",         "install", "--device",
                                            m + "/layout.json", "--quiet", m + "/bundle.tar"};
  const std::vector<std::string> confirm = {"fwupdate", "confirm", "--device", m + "/layout.json", "--quiet"};
  const std::vector<std::string> history = {"fwupdate", "history", "--device", m + "/layout.json"};
  const std::vector<std::string> status = {"fwupdate", "status", "--device", m + "/layout.json"};
  const std::vector<std::string> append = {"fwupdate", "journal", "append", m + "/j.db", "--pan", "411111******1111"};
  std::vector<std::string> append_amount = append;
  append_amount.insert(append_amount.end(), {"--amount", "100"});
  const std::vector<std::string> simulate = {"fwupdate", "journal", "simulate", m + "/j.db"};
  const std::vector<std::string> snapshot = {"fwupdate", "journal", "snapshot", m + "/j.db", "--store", m + "/s"};
  const std::vector<std::string> exporter = {"fwupdate", "journal", "export", m + "/j.db"};
  const std::vector<std::string> migrate = {"fwupdate", "journal", "migrate", m + "/j.db"};
  const std::vector<std::string> tuf_download = {"fwupdate",
                                                 "tuf",
                                                 "download",
                                                 "--metadata-dir",
                                                 m + "/md",
                                                 "--metadata-url",
                                                 "http://127.0.0.1:9/",
                                                 "--target-base-url",
                                                 "http://127.0.0.1:9/",
                                                 "--target",
                                                 "fw.img",
                                                 "--hardware-id",
                                                 "POS-X1",
                                                 "--target-dir",
                                                 m + "/out"};
  const std::vector<std::string> bundle_verify = {"fwupdate", "bundle",        "verify", "--metadata-dir",
                                                  m + "/md",  "--hardware-id", "POS-X1", m + "/b.tar"};
  const std::vector<std::string> sign = {"fwsign", "image",         "sign",   "--key",        m + "/k.pem", "--version",
                                         "1.0.0",  "--hardware-id", "POS-X1", m + "/payload", "-o",         m + "/img"};
  const std::vector<std::string> verify = {"fwsign", "image", "verify", "--pubkey", m + "/k.pub.pem", m + "/img"};
  const std::vector<std::string> repo_init = {
      "fwsign",        "repo",       "init",           m + "/repo",  "--root-key",      m + "/r.pem",
      "--targets-key", m + "/t.pem", "--snapshot-key", m + "/s.pem", "--timestamp-key", m + "/ts.pem"};
  const std::vector<std::string> add_target = {"fwsign", "repo", "add-target", m + "/repo", "--image", m + "/img"};
  const std::vector<std::string> rotate = {"fwsign",  "repo",      "rotate",     m + "/repo", "--role",
                                           "targets", "--new-key", m + "/n.pem", "--key",     m + "/r.pem"};
  const std::vector<std::string> resign = {"fwsign", "repo", "resign-expiring", m + "/repo", "--key", m + "/r.pem"};
  const std::vector<std::string> bundle = {"fwsign",   "bundle", "create", m + "/repo",
                                           "--target", "fw.img", "-o",     m + "/b.tar"};
  const std::vector<std::string> set_trial = {"fwboot", "set-trial", "--device", m + "/layout.json", "B"};

  const std::vector<std::string> u32 = {"4294967296", "-4294967295"};
  std::vector<NumericOption> t = {
      {install, "--tries", "3", {"0", "16", "255", "256", "4294967299", "99999999999"}},
      {install, "--lock-timeout-ms", "0", {"3600001", "2147483648"}},
      {confirm, "--health-timeout", "120", {"0", "3601", "2147483648", "-5"}},
      {confirm, "--lock-timeout-ms", "5000", {"3600001"}},
      {history, "--limit", "0", {"1000001", "4294967295"}},
      {status, "--lock-timeout-ms", "10", {"3600001"}},
      {append, "--amount", "100", {"9223372036854775808"}},
      {append_amount, "--time-ms", "0", {"9223372036854775808"}},
      {append_amount, "--schema-version", "1", {"0", "65536"}},
      {append_amount, "--lock-timeout-ms", "0", {"3600001"}},
      {simulate, "--count", "10", {"1000000001"}},
      {simulate, "--rate", "2.5", {"1000000.5", "nan", "inf", "1e9", "0x10"}},
      {simulate, "--seed", "4294967295", u32},
      {simulate, "--schema-version", "2", {"0", "65536"}},
      {snapshot, "--keep", "5", {"0", "10001"}},
      {exporter, "--from-seq", "0", {"9223372036854775808"}},
      {migrate, "--to", "1", {"0", "65536"}},
      {tuf_download, "--installed-security-counter", "7", u32},
      {bundle_verify, "--installed-security-counter", "7", u32},
      {sign, "--security-counter", "4294967295", u32},
      {verify, "--min-security-counter", "4294967295", u32},
      {add_target, "--chunk-size", "65536", {"0", "4095", "4194305", "4294967296"}},
      {add_target, "--journal-schema-min", "1", {"0", "65536"}},
      {add_target, "--journal-schema-max", "2", {"0", "65536"}},
      {rotate, "--threshold", "1", {"0", "257", "4294967296"}},
      {resign, "--within-days", "0", {"36501", "4294967296"}},
      {bundle, "--root-from", "1", {"0", "4294967296", "18446744073709551616"}},
      {set_trial, "--tries", "3", {"0", "16", "4294967299"}},
  };
  for (const char* role : {"root", "targets", "snapshot", "timestamp"}) {
    t.push_back({repo_init, std::string("--") + role + "-threshold", "1", {"0", "257", "4294967297"}});
    t.push_back({repo_init, std::string("--") + role + "-expires-days", "30", {"0", "36501", "4294967297"}});
  }
  for (auto& o : t) {
    // Negative, overflow of every integer type, junk: refused for every option.
    for (const char* v : {"-1", "99999999999999999999999", "x", "", "1 ", "+1", "1x"}) o.bad.push_back(v);
  }
  return t;
}

TEST(CliOptionTable, EveryNumericOptionRefusesBadValuesBeforeOpeningAnything) {
  TempDir dir;
  const std::string missing = dir / "missing";
  int checked = 0;
  for (const auto& o : AllNumericOptions(missing)) {
    std::vector<std::string> argv = o.command;
    // Other required numbers get a valid value, so each row tests only its option.
    if (o.command[1] == "image" && o.command[2] == "sign" && o.option != "--security-counter") {
      argv.insert(argv.end(), {"--security-counter", "1"});
    }
    if (o.command[2] == "resign-expiring" && o.option != "--within-days")
      argv.insert(argv.end(), {"--within-days", "1"});
    // The good value passes parsing: the command goes on and fails on the missing file, not with exit 2.
    // (A row that names a misspelt option would fail here, not pass silently.)
    auto with = [&](const std::string& value) {
      auto a = argv;
      a.push_back(o.option + "=" + value);
      return a;
    };
    auto good = RunCommand(with(o.good));
    EXPECT_NE(good.exit_code, 2) << Shown(with(o.good)) << "\n" << good.err;
    EXPECT_NE(good.exit_code, 0) << Shown(with(o.good));
    for (const auto& bad : o.bad) {
      auto r = RunCommand(with(bad));
      EXPECT_EQ(r.exit_code, 2) << Shown(with(bad)) << "\n" << r.err;
      EXPECT_NE(r.err.find(o.option), std::string::npos) << "the message names the option: " << r.err;
      ++checked;
    }
    // The same value as a separate word ("--tries -5") is refused the same way.
    auto r = RunCommand([&] {
      auto a = argv;
      a.insert(a.end(), {o.option, "-5"});
      return a;
    }());
    EXPECT_EQ(r.exit_code, 2) << Shown(argv) << o.option << " -5\n" << r.err;
  }
  EXPECT_GT(checked, 300);
  EXPECT_FALSE(fs::exists(missing)) << "a refused command created files";
}

TEST(CliOptionTable, ConflictingFormatsAreUsageErrors) {
  TempDir dir;
  const std::string m = dir / "missing";
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"fwupdate", "history", "--device", m + "/layout.json", "--json", "--csv"},
           {"fwupdate", "history", "--device", m + "/layout.json", "--csv", "--json"},
           {"fwupdate", "journal", "export", m + "/j.db", "--json", "--format", "csv"},
           {"fwsign", "repo", "add-target", m + "/repo", "--image", m + "/img", "--journal-schema-min", "3",
            "--journal-schema-max", "2"},
       }) {
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << Shown(argv) << "\n" << r.err;
  }
  // Not conflicts: the same flags one at a time, and --json with a CSV file written by -o.
  EXPECT_EQ(RunCommand({"fwupdate", "history", "--device", m + "/layout.json", "--csv"}).exit_code, 4);
  EXPECT_EQ(RunCommand({"fwupdate", "journal", "export", m + "/j.db", "--json", "--format", "csv", "-o", m + "/x.csv"})
                .exit_code,
            4);
}

TEST(CliOptionTable, FwtufClientBoundsItsRootRotationsBeforeNarrowing) {
  // The conformance protocol's exit status is 0 or 1; the message names the flag.
  TempDir dir;
  for (const char* v : {"0", "1025", "4294967297", "99999999999"}) {
    auto r = RunCommand({"fwtuf-client", "--metadata-dir", dir / "md", "--metadata-url", "http://127.0.0.1:9/",
                         "--max-root-rotations", v, "refresh"});
    EXPECT_EQ(r.exit_code, 1) << v;
    EXPECT_NE(r.err.find("--max-root-rotations " + std::string(v) + " is out of range"), std::string::npos)
        << v << ": " << r.err;
  }
}

// ------------------------------------------------ a terminal with a trial pending

class Vendor {
 public:
  static Vendor& Get() {
    static Vendor v;
    return v;
  }
  std::string Path(const std::string& name) const { return dir_ / name; }
  std::string Bundle() const { return dir_ / "bundle-1.1.0.tar"; }

 private:
  Vendor() {
    for (const char* k : {"image", "root", "targets", "snapshot", "timestamp"}) {
      Must({"fwsign", "key", "generate", "--out", dir_ / (std::string(k) + ".pem")});
    }
    Must({"fwsign", "repo", "init", "--repo", dir_ / "repo", "--root-key", dir_ / "root.pem", "--targets-key",
          dir_ / "targets.pem", "--snapshot-key", dir_ / "snapshot.pem", "--timestamp-key", dir_ / "timestamp.pem"});
    for (const auto& [version, counter] : std::vector<std::array<std::string, 2>>{{"1.0.0", "0"}, {"1.1.0", "1"}}) {
      // Large enough that the install takes many progress events.
      testing::WriteBytes(dir_ / (version + ".bin"), testing::PseudoRandomBytes(900000, counter[0]));
      Must({"fwsign", "image", "sign", "--key", dir_ / "image.pem", "--version", version, "--security-counter", counter,
            "--hardware-id", "POS-X1", dir_ / (version + ".bin"), "-o", dir_ / ("fw-" + version + ".img")});
    }
    Must({"fwsign", "repo", "add-target", "--repo", dir_ / "repo", "--image", dir_ / "fw-1.1.0.img", "--chunk-size",
          "4096"});
    Must({"fwsign", "repo", "publish", "--repo", dir_ / "repo", "--key", dir_ / "targets.pem", "--key",
          dir_ / "snapshot.pem", "--key", dir_ / "timestamp.pem"});
    Must({"fwsign", "bundle", "create", "--repo", dir_ / "repo", "--target", "fw-1.1.0.img", "-o", Bundle()});
  }
  static void Must(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    if (r.exit_code != 0) throw std::runtime_error(Shown(argv) + "failed: " + r.err);
  }
  TempDir dir_;
};

class Terminal : public ::testing::Test {
 protected:
  void SetUp() override {
    const Vendor& v = Vendor::Get();
    testing::WriteFile(dev_ / "layout.json", testing::FileTerminalLayout(kBankSize));
    Ok({"fwboot", "provision", "--device", Layout(), "--image", v.Path("fw-1.0.0.img"), "--pubkey",
        v.Path("image.pub.pem"), "--hardware-id", "POS-X1"});
    Ok({"fwupdate", "init", "--device", Layout(), "--tuf-root", v.Path("repo/metadata/1.root.json")});
    Ok({"fwupdate", "journal", "simulate", "--journal", dev_ / "data/journal.db", "--create", "--count", "50"});
  }
  std::string Layout() const { return dev_ / "layout.json"; }
  static void Ok(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << Shown(argv) << r.out << r.err;
  }
  nlohmann::json Status() {
    auto r = RunCommand({"fwupdate", "status", "--device", Layout(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  std::string ControlHash() { return HexEncode(Sha256::Of(testing::ReadBytes(dev_ / "control.bin"))); }
  size_t HistoryCount() {
    auto r = RunCommand({"fwupdate", "history", "--device", Layout(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out)["history"].size();
  }

  TempDir dev_;
};

TEST_F(Terminal, ABadHealthTimeoutLeavesAHealthyTrialPending) {
  Ok({"fwupdate", "install", "--device", Layout(), "--quiet", Vendor::Get().Bundle()});
  Ok({"fwboot", "boot", "--device", Layout()});
  ASSERT_EQ(Status()["slots"][1]["state"], "trial");
  const std::string control = ControlHash();
  const size_t history = HistoryCount();
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--health-timeout=-5"},
           {"--health-timeout", "-5"},
           {"--health-timeout=0"},
           {"--health-timeout", "0"},
           {"--health-timeout=4294967297"},
           {"--lock-timeout-ms=-1"},
       }) {
    std::vector<std::string> argv = {"fwupdate", "confirm", "--device", Layout(), "--health-cmd", "true"};
    argv.insert(argv.end(), bad.begin(), bad.end());
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << Shown(argv) << r.out << r.err;
    EXPECT_EQ(ControlHash(), control) << Shown(argv) << ": boot control was written";
  }
  EXPECT_EQ(HistoryCount(), history) << "a refused confirm recorded an operation";
  auto s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "trial") << s.dump();
  EXPECT_EQ(s["min_security_counter"], 0);
  // The healthy trial is still confirmable.
  Ok({"fwupdate", "confirm", "--device", Layout(), "--quiet", "--health-cmd", "true", "--health-timeout", "30"});
  EXPECT_EQ(Status()["slots"][1]["state"], "confirmed");
}

// The last `{"event":"stage"}` before the error object, and the error object (the last line).
std::pair<std::string, nlohmann::json> StageAndError(const std::string& out) {
  std::string stage;
  nlohmann::json last;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    last = nlohmann::json::parse(line);  // every document is one line, the error object too
    if (last.value("event", "") == "stage") stage = last["stage"];
  }
  return {stage, last};
}

TEST_F(Terminal, FailuresCarryTheCodeStageAndKindOfTheRetryTable) {
  // docs/exit-codes.md, "Retry or give up": the agent decides from exit code, stage and kind.
  // 4 at plan, disk full: resource exhausted (not retried until space is freed).
  const std::string host = dev_ / "host";
  fs::create_directories(host);
  if (::mount("tmpfs", host.c_str(), "tmpfs", 0, "size=8k") == 0) {
    auto r = RunCommand(
        {"fwupdate", "install", "--device", Layout(), "--json", "--host-snapshots", host, Vendor::Get().Bundle()});
    ::umount2(host.c_str(), MNT_DETACH);
    EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
    auto [stage, error] = StageAndError(r.out);
    EXPECT_EQ(stage, "plan");
    EXPECT_EQ(error["error"]["kind"], "resource exhausted") << error.dump();
    EXPECT_EQ(error["exit_code"], 4);
  }
  // 4 at plan, the bundle is missing: not found (fix the path).
  auto missing = RunCommand({"fwupdate", "install", "--device", Layout(), "--json", dev_ / "nope.tar"});
  EXPECT_EQ(missing.exit_code, 4);
  const std::string kind = StageAndError(missing.out).second["error"]["kind"];
  EXPECT_TRUE(kind == "not found" || kind == "I/O error") << missing.out;
  // 5 at confirm with no trial: what the agent sees after the bootloader reverted a trial (boot_failed).
  auto none = RunCommand({"fwupdate", "confirm", "--device", Layout(), "--json", "--health-cmd", "true"});
  EXPECT_EQ(none.exit_code, 5);
  EXPECT_EQ(StageAndError(none.out).second["error"]["kind"], "failed precondition");
  // 5 at plan: a trial is pending (plan_refused).
  Ok({"fwupdate", "install", "--device", Layout(), "--quiet", Vendor::Get().Bundle()});
  auto pending = RunCommand({"fwupdate", "install", "--device", Layout(), "--json", Vendor::Get().Bundle()});
  EXPECT_EQ(pending.exit_code, 5) << pending.out << pending.err;
  auto [stage, error] = StageAndError(pending.out);
  EXPECT_EQ(stage, "plan");
  EXPECT_EQ(error["error"]["kind"], "failed precondition");
  // 1 at confirm: the health check failed, the trial was reverted (health_failed).
  Ok({"fwboot", "boot", "--device", Layout()});
  auto unhealthy = RunCommand({"fwupdate", "confirm", "--device", Layout(), "--json", "--health-cmd", "false"});
  EXPECT_EQ(unhealthy.exit_code, 1) << unhealthy.out << unhealthy.err;
  EXPECT_EQ(StageAndError(unhealthy.out).second["confirmed"], false);
}

// Runs `fwupdate install ... ARGS` with the stream `fd_to_break` (1 or 2) into a pipe whose reader
// reads `read_first` bytes and then closes it (`| head -c N`); the other stream goes to a file.
struct PipeRun {
  int exit_code = -1;
  bool killed = false;
  std::string head;
};

PipeRun InstallIntoClosedPipe(const std::vector<std::string>& argv_in, int fd_to_break, size_t read_first,
                              const std::string& other_file) {
  std::vector<std::string> argv = argv_in;
  argv[0] = testing::BinaryPath(argv[0]);
  int p[2];
  if (::pipe(p) != 0) throw std::runtime_error("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    int other = ::open(other_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(p[1], fd_to_break);
    ::dup2(other, fd_to_break == 1 ? 2 : 1);
    ::close(p[0]);
    ::close(p[1]);
    ::close(other);
    std::signal(SIGPIPE, SIG_DFL);  // as from a shell
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  ::close(p[1]);
  PipeRun r;
  while (r.head.size() < read_first) {
    char buf[64];
    ssize_t n = ::read(p[0], buf, std::min(sizeof buf, read_first - r.head.size()));
    if (n <= 0) break;
    r.head.append(buf, static_cast<size_t>(n));
  }
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.killed = WIFSIGNALED(status);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

class ClosedPipe : public Terminal, public ::testing::WithParamInterface<size_t> {};

TEST_P(ClosedPipe, InstallJsonCompletes) {
  // `fwupdate install --json BUNDLE | head -c 10`, and a consumer that is gone before the first event.
  const size_t read_first = GetParam();
  auto r = InstallIntoClosedPipe({"fwupdate", "install", "--device", Layout(), "--json", Vendor::Get().Bundle()}, 1,
                                 read_first, dev_ / "stderr.txt");
  EXPECT_FALSE(r.killed) << "killed by signal " << r.exit_code - 128;
  EXPECT_EQ(r.exit_code, 0) << testing::ReadFile(dev_ / "stderr.txt");
  EXPECT_EQ(r.head.size(), read_first);
  auto s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "trial") << s.dump();
  EXPECT_EQ(s["slots"][1]["version"], "1.1.0");
  Ok({"fwboot", "boot", "--device", Layout()});
  Ok({"fwupdate", "confirm", "--device", Layout(), "--quiet", "--health-cmd", "true"});
  EXPECT_EQ(Status()["slots"][1]["state"], "confirmed");
}

INSTANTIATE_TEST_SUITE_P(HeadBytes, ClosedPipe, ::testing::Values(size_t{10}, size_t{0}));

TEST_F(Terminal, InstallWithItsProgressLinesIntoAClosedPipeCompletes) {
  // Plain progress lines go to stderr: `fwupdate install BUNDLE 2>&1 >log | head -c 10`.
  auto r = InstallIntoClosedPipe({"fwupdate", "install", "--device", Layout(), Vendor::Get().Bundle()}, 2, 10,
                                 dev_ / "stdout.txt");
  EXPECT_FALSE(r.killed) << "killed by signal " << r.exit_code - 128;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(testing::ReadFile(dev_ / "stdout.txt").find("Installed 1.1.0"), std::string::npos);
  EXPECT_EQ(Status()["slots"][1]["state"], "trial");
}

}  // namespace
}  // namespace fw
