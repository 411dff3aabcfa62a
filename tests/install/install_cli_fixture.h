// Test support for the fwupdate CLI tests (install_test, install_concurrency_test): a
// file-backed simulated terminal driven through the real CLIs, vendor material made
// once per test binary, and background processes. Not thread-safe.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/sqlite.h"
#include "testing.h"

namespace fw {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;

constexpr uint64_t kBankSize = 1 << 20;

// With --json, progress events precede the result: one JSON document per line, the result last.
inline nlohmann::json LastJsonLine(const std::string& out) {
  std::string text = out;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return nlohmann::json::parse(text.substr(text.rfind('\n') + 1));
}

// A project CLI running in the background (a real concurrent process), its output in files.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
             const std::string& out_dir) {
    static int n = 0;
    out_ = out_dir + "/bg" + std::to_string(++n) + ".out";
    err_ = out_ + ".err";
    std::vector<std::string> args = argv;
    args[0] = testing::BinaryPath(args[0]);
    pid_ = ::fork();
    if (pid_ == 0) {
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> c;
      for (auto& a : args) c.push_back(a.data());
      c.push_back(nullptr);
      ::execv(c[0], c.data());
      _exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0) Kill();
  }
  pid_t pid() const { return pid_; }
  bool Running() {
    int st = 0;
    if (pid_ <= 0) return false;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      pid_ = -1;
      return false;
    }
    return true;
  }
  CommandResult Wait() {
    if (pid_ > 0) {
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
    CommandResult r;
    r.exit_code = WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
    r.out = testing::ReadFile(out_);
    r.err = testing::ReadFile(err_);
    return r;
  }
  void Kill() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string out_, err_;
};

// Vendor material made once for the whole suite: keys, images, a TUF repo, bundles.
class Vendor {
 public:
  static Vendor& Get() {
    static Vendor v;
    return v;
  }
  std::string Path(const std::string& name) const { return dir_ / name; }
  std::string Bundle(const std::string& name) const { return dir_ / ("bundle-" + name + ".tar"); }

 private:
  Vendor() {
    for (const char* k : {"image", "root", "targets", "snapshot", "timestamp"}) {
      Must({"fwsign", "key", "generate", "--out", dir_ / (std::string(k) + ".pem")});
    }
    // name, version, security counter, hardware id
    const std::vector<std::array<std::string, 4>> images = {
        {"1.0.0", "1.0.0", "0", "POS-X1"}, {"1.1.0", "1.1.0", "1", "POS-X1"},     {"1.2.0", "1.2.0", "2", "POS-X1"},
        {"1.0.5", "1.0.5", "1", "POS-X1"}, {"1.3.0-low", "1.3.0", "0", "POS-X1"}, {"other-hw", "1.1.0", "1", "POS-Y9"}};
    Must({"fwsign", "repo", "init", "--repo", dir_ / "repo", "--root-key", dir_ / "root.pem", "--targets-key",
          dir_ / "targets.pem", "--snapshot-key", dir_ / "snapshot.pem", "--timestamp-key", dir_ / "timestamp.pem"});
    for (const auto& [name, version, counter, hw] : images) {
      testing::WriteBytes(dir_ / (name + ".bin"),
                          testing::PseudoRandomBytes(200000, static_cast<uint32_t>(name.size())));
      Must({"fwsign", "image", "sign", "--key", dir_ / "image.pem", "--version", version, "--security-counter", counter,
            "--hardware-id", hw, dir_ / (name + ".bin"), "-o", dir_ / ("fw-" + name + ".img")});
      if (name != "1.0.0")
        Must({"fwsign", "repo", "add-target", "--repo", dir_ / "repo", "--image", dir_ / ("fw-" + name + ".img")});
    }
    Must({"fwsign", "repo", "publish", "--repo", dir_ / "repo", "--key", dir_ / "targets.pem", "--key",
          dir_ / "snapshot.pem", "--key", dir_ / "timestamp.pem"});
    for (const auto& [name, version, counter, hw] : images) {
      if (name == "1.0.0") continue;
      Must({"fwsign", "bundle", "create", "--repo", dir_ / "repo", "--target", "fw-" + name + ".img", "-o",
            Bundle(name)});
    }
  }
  static void Must(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    if (r.exit_code != 0) throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + r.err);
  }
  TempDir dir_;
};

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Vendor& v = Vendor::Get();
    testing::WriteFile(dev_ / "layout.json", testing::FileTerminalLayout(kBankSize));
    Ok({"fwboot", "provision", "--device", Layout(), "--image", v.Path("fw-1.0.0.img"), "--pubkey",
        v.Path("image.pub.pem"), "--hardware-id", "POS-X1"});
    Ok({"fwupdate", "init", "--device", Layout(), "--tuf-root", v.Path("repo/metadata/1.root.json")});
    Ok({"fwupdate", "journal", "simulate", "--journal", Journal(), "--create", "--count", "300"});
  }

  std::string Layout() const { return dev_ / "layout.json"; }
  std::string Journal() const { return dev_ / "data/journal.db"; }

  CommandResult Run(std::vector<std::string> argv) {
    if (argv[0] == "install" || argv[0] == "confirm" || argv[0] == "status" || argv[0] == "rollback" ||
        argv[0] == "history") {
      argv.insert(argv.begin() + 1, {"--device", Layout()});
    }
    argv.insert(argv.begin(), "fwupdate");
    return RunCommand(argv);
  }
  void Ok(const std::vector<std::string>& argv) {
    auto r = argv[0] == "fwupdate" || argv[0] == "fwboot" ? RunCommand(argv) : Run(argv);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  CommandResult Install(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"install", "--quiet", Vendor::Get().Bundle(name)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Run(argv);
  }
  void Boot() { Ok({"fwboot", "boot", "--device", Layout()}); }

  nlohmann::json Status() {
    auto r = Run({"status", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  nlohmann::json History() {
    auto r = Run({"history", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out)["history"];
  }
  // SHA-256 of a bank's bytes in banks.bin.
  std::string BankHash(int slot) {
    auto bytes = testing::ReadBytes(dev_ / "banks.bin");
    return HexEncode(Sha256::Of(ByteSpan(bytes.data() + slot * kBankSize, kBankSize)));
  }
  int64_t JournalCount() {
    auto r = RunCommand({"fwupdate", "journal", "verify", Journal(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return nlohmann::json::parse(r.out)["record_count"];
  }
  size_t SnapshotCount() {
    std::error_code ec;
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dev_ / "data/snapshots", ec)) n += e.path().extension() == ".json";
    return n;
  }
  // Everything a refused install must leave untouched.
  struct Fingerprint {
    std::string bank_a, bank_b, control;
    size_t snapshots;
    size_t history;
    bool operator==(const Fingerprint&) const = default;
  };
  std::string HistoryHash() { return HexEncode(Sha256::Of(testing::ReadBytes(dev_ / "data/history.db"))); }
  // Every file of the data directory (names and bytes) except SQLite's shared-memory
  // wal-index files (-shm), which are a mapping of shared memory that readers update.
  std::map<std::string, std::string> DataDirHashes() {
    std::map<std::string, std::string> m;
    for (const auto& e : fs::recursive_directory_iterator(dev_ / "data")) {
      const std::string rel = fs::relative(e.path(), dev_ / "data").string();
      if (e.is_directory()) {
        m[rel + "/"] = "dir";
      } else if (rel.size() < 4 || rel.substr(rel.size() - 4) != "-shm") {
        m[rel] = HexEncode(Sha256::Of(testing::ReadBytes(e.path())));
      }
    }
    return m;
  }
  Fingerprint Take() {
    return {BankHash(0), BankHash(1), HexEncode(Sha256::Of(testing::ReadBytes(dev_ / "control.bin"))), SnapshotCount(),
            History().size()};
  }

  TempDir dev_;
};

}  // namespace fw
