// fwupdate install/confirm/rollback/status/history on a file-backed simulated
// terminal, driven through the real CLIs: every operator error refused clearly
// with nothing written, and the installer's invariants (DESIGN.md 1, 2, 4, 6-10).
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
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;

constexpr uint64_t kBankSize = 1 << 20;

// With --json, progress events precede the result: one JSON document per line, the result last.
nlohmann::json LastJsonLine(const std::string& out) {
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

// ------------------------------------------------------------ the happy path and the invariants

TEST_F(InstallTest, InstallBootConfirmKeepsEveryRecordAndAdvancesTheCounterOnlyAtConfirm) {
  const int64_t records = JournalCount();
  auto r = Install("1.1.0", {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto result = LastJsonLine(r.out);
  EXPECT_EQ(result["slot"], "B");
  EXPECT_EQ(result["snapshot_records"], records);  // invariant 4: a verified snapshot of every record
  EXPECT_EQ(r.out.find("\"event\":\"stage\"") != std::string::npos, true) << "JSON progress events expected";

  auto s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "trial");
  EXPECT_EQ(s["min_security_counter"], 0) << "invariant 9: the counter must not move before confirmation";

  Boot();
  Ok({"fwupdate", "journal", "simulate", "--journal", Journal(), "--count", "7", "--seed", "5"});
  auto c = Run({"confirm", "--health-cmd", "true", "--json"});
  ASSERT_EQ(c.exit_code, 0) << c.out << c.err;
  auto cj = LastJsonLine(c.out);
  EXPECT_EQ(cj["confirmed"], true);
  EXPECT_EQ(cj["journal"]["records_after"], 7);
  s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "confirmed");
  EXPECT_EQ(s["active_slot"], "B");
  EXPECT_EQ(s["min_security_counter"], 1);
  EXPECT_EQ(JournalCount(), records + 7);

  // Invariant 10: intent and outcome of both operations.
  auto h = History();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1]["operation"], "install");
  EXPECT_EQ(h[1]["outcome"], "succeeded");
  EXPECT_EQ(h[1]["to_version"], "1.1.0");
  EXPECT_FALSE(h[1]["snapshot"].is_null());
  EXPECT_EQ(h[0]["operation"], "confirm");
  EXPECT_EQ(h[0]["outcome"], "succeeded");
}

TEST_F(InstallTest, TheBankHoldingTheConfirmedFirmwareIsNeverWritten) {
  const std::string a = BankHash(0);
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  EXPECT_EQ(BankHash(0), a) << "invariant 1: bank A holds the confirmed 1.0.0";
  Boot();
  ASSERT_EQ(Run({"confirm"}).exit_code, 0);
  const std::string b = BankHash(1);
  ASSERT_EQ(Install("1.2.0").exit_code, 0);
  EXPECT_EQ(BankHash(1), b) << "invariant 1: bank B now holds the confirmed 1.1.0";
  EXPECT_NE(BankHash(0), a) << "1.2.0 went to bank A";
}

TEST_F(InstallTest, AFailedHealthCheckRevertsAndKeepsTheTrialsRecords) {
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  Boot();
  Ok({"fwupdate", "journal", "simulate", "--journal", Journal(), "--count", "25", "--seed", "9"});
  const int64_t records = JournalCount();
  auto c = Run({"confirm", "--health-cmd", "echo reader dead >&2; exit 3"});
  EXPECT_EQ(c.exit_code, 1) << c.out << c.err;
  EXPECT_NE(c.out.find("NOT confirmed: health check"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("exit code 3"), std::string::npos) << c.out;
  auto s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "unbootable");
  EXPECT_EQ(s["min_security_counter"], 0);
  Boot();
  EXPECT_EQ(Status()["booted_slot"], "A");
  EXPECT_EQ(JournalCount(), records) << "invariant 8: records written during the trial survive its rollback";
}

TEST_F(InstallTest, ConfirmRestoresAJournalThatLostRecordsAndRollsBack) {
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  Boot();
  Ok({"fwupdate", "journal", "simulate", "--journal", Journal(), "--count", "10", "--seed", "3"});
  const int64_t records = JournalCount();
  {  // The trial firmware "loses" a snapshotted record.
    auto db = sql::Database::Open(Journal());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("DELETE FROM records WHERE seq = 42").ok());
  }
  auto c = Run({"confirm", "--health-cmd", "true"});
  EXPECT_EQ(c.exit_code, 1) << c.out << c.err;
  EXPECT_NE(c.out.find("journal lost or changed records (1 missing"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("10 records written since were kept"), std::string::npos) << c.out;
  EXPECT_EQ(JournalCount(), records) << "invariant 7/8: restored, and the trial's records kept";
  EXPECT_EQ(Status()["slots"][1]["state"], "unbootable");
}

TEST_F(InstallTest, ATrialNeverConfirmedIsRevertedByTheBootloaderAndRecordedByTheNextWriter) {
  ASSERT_EQ(Install("1.1.0", {"--tries", "2"}).exit_code, 0);
  for (int i = 0; i < 3; ++i) Boot();
  const std::string history_before = HistoryHash();
  auto s = Status();
  EXPECT_EQ(s["booted_slot"], "A");
  EXPECT_EQ(s["slots"][1]["state"], "unbootable");
  ASSERT_FALSE(s["notes"].empty());
  EXPECT_NE(s["notes"][0].get<std::string>().find("bootloader reverted trial 1.1.0"), std::string::npos);
  EXPECT_NE(s["notes"][0].get<std::string>().find("recorded by the next writer"), std::string::npos);
  EXPECT_EQ(History()[0]["operation"], "install") << "a reader recorded something";
  EXPECT_EQ(HistoryHash(), history_before) << "status or history wrote to history.db";
  // The next writer that gets past its checks records the revert, before its own intent.
  ASSERT_EQ(Install("1.2.0").exit_code, 0);
  auto h = History();
  ASSERT_GE(h.size(), 3u);
  EXPECT_EQ(h[1]["operation"], "revert") << "invariant 10: the revert is in the flash history";
  EXPECT_EQ(h[0]["operation"], "install");
  EXPECT_EQ(Status()["notes"].size(), 0u) << "recorded once";
}

TEST_F(InstallTest, RollbackRevertsAPendingTrialOnly) {
  auto none = Run({"rollback"});
  EXPECT_EQ(none.exit_code, 5);
  EXPECT_NE(none.err.find("no trial firmware to roll back"), std::string::npos) << none.err;
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  auto r = Run({"rollback"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Status()["slots"][1]["state"], "unbootable");
  Boot();
  EXPECT_EQ(Status()["booted_slot"], "A");
  EXPECT_EQ(History()[0]["operation"], "rollback");
}

TEST_F(InstallTest, HistoryAsCsv) {
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  auto r = Run({"history", "--csv"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("id,started_at,finished_at,operation,operator,from_version,to_version", 0), 0u);
  EXPECT_NE(r.out.find(",install,"), std::string::npos);
  EXPECT_NE(r.out.find(",1.0.0,1.1.0,B,"), std::string::npos) << r.out;
}

// ------------------------------------------------------------ operator errors: clear, non-zero, nothing written

TEST_F(InstallTest, InstallWhileATrialIsPendingIsRefused) {
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  auto before = Take();
  auto r = Install("1.2.0");
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("a trial of version 1.1.0 is pending in slot B"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fwupdate confirm"), std::string::npos) << r.err;
  EXPECT_EQ(Take(), before);
}

TEST_F(InstallTest, ABundleForOtherHardwareIsRefused) {
  auto before = Take();
  auto r = Install("other-hw");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("POS-X1"), std::string::npos) << r.err;
  EXPECT_EQ(Take(), before);
}

TEST_F(InstallTest, ADowngradeIsRefusedUnlessAllowedButNeverBelowTheCounter) {
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  Boot();
  ASSERT_EQ(Run({"confirm"}).exit_code, 0);
  auto before = Take();
  auto down = Install("1.0.5");
  EXPECT_EQ(down.exit_code, 5);
  EXPECT_NE(down.err.find("older than the installed 1.1.0; pass --allow-downgrade"), std::string::npos) << down.err;
  auto low = Install("1.3.0-low");
  EXPECT_EQ(low.exit_code, 3) << low.err;
  EXPECT_NE(low.err.find("security counter"), std::string::npos) << low.err;
  EXPECT_EQ(Take(), before);
  EXPECT_EQ(Install("1.0.5", {"--allow-downgrade"}).exit_code, 0);
}

TEST_F(InstallTest, ALayoutThatDoesNotMatchTheDeviceIsRefused) {
  auto before = Take();
  auto layout = nlohmann::json::parse(testing::ReadFile(Layout()));
  layout["regions"]["bank_b"]["size"] = 4 * kBankSize;  // the device's banks.bin is smaller
  testing::WriteFile(dev_ / "wrong.json", layout.dump());
  auto r =
      RunCommand({"fwupdate", "install", "--device", dev_ / "wrong.json", "--quiet", Vendor::Get().Bundle("1.1.0")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("banks.bin"), std::string::npos) << r.err;
  layout = nlohmann::json::parse(testing::ReadFile(Layout()));
  layout.erase("data_dir");
  testing::WriteFile(dev_ / "nodata.json", layout.dump());
  r = RunCommand({"fwupdate", "install", "--device", dev_ / "nodata.json", "--quiet", Vendor::Get().Bundle("1.1.0")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has no \"data_dir\""), std::string::npos) << r.err;
  EXPECT_EQ(Take(), before);
}

TEST_F(InstallTest, AFullSnapshotDiskRefusesTheInstallBeforeAnyWrite) {
  const std::string host = dev_ / "host";
  fs::create_directories(host);
  if (::mount("tmpfs", host.c_str(), "tmpfs", 0, "size=64k") != 0) GTEST_SKIP() << "cannot mount a tmpfs here";
  auto before = Take();
  auto r = Install("1.1.0", {"--host-snapshots", host});
  ::umount(host.c_str());
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("not enough room for the host copy of the snapshot"), std::string::npos) << r.err;
  EXPECT_EQ(Take(), before);
}

TEST_F(InstallTest, AJournalLockedByThePaymentApplicationFailsWithinTheBound) {
  auto db = sql::Database::Open(Journal());
  ASSERT_TRUE(db.ok());
  // The payment application holds the file exclusively (WAL readers are not blocked by a mere write lock).
  ASSERT_TRUE(db->Exec("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; "
                       "UPDATE records SET time_ms = time_ms WHERE seq = 1")
                  .ok());
  auto before_banks = std::make_pair(BankHash(0), BankHash(1));
  auto r = Install("1.1.0", {"--lock-timeout-ms", "300"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("locked"), std::string::npos) << r.err;
  EXPECT_EQ(std::make_pair(BankHash(0), BankHash(1)), before_banks);
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
  EXPECT_EQ(SnapshotCount(), 0u);
}

TEST_F(InstallTest, ADamagedJournalIsRefusedBeforeAnyWrite) {
  {
    auto db = sql::Database::Open(Journal());
    ASSERT_TRUE(db->Exec("UPDATE records SET amount_minor = amount_minor + 1 WHERE seq = 7").ok());
  }
  auto before = Take();
  auto r = Install("1.1.0");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("is damaged"), std::string::npos) << r.err;
  EXPECT_EQ(Take(), before);
}

TEST_F(InstallTest, ATamperedBundleIsRefusedAndNothingIsBootable) {
  auto bytes = testing::ReadBytes(Vendor::Get().Bundle("1.1.0"));
  bytes[bytes.size() - 2048] ^= 0x01;  // inside the image, past the metadata
  testing::WriteBytes(dev_ / "tampered.tar", bytes);
  auto r = Run({"install", "--quiet", dev_ / "tampered.tar"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("does not match"), std::string::npos) << r.err;
  auto s = Status();
  EXPECT_NE(s["slots"][1]["state"], "trial") << "invariant 2/3: a half-written bank is never bootable";
  EXPECT_EQ(History()[0]["outcome"], "failed");
  Boot();
  EXPECT_EQ(Status()["booted_slot"], "A");
}

TEST_F(InstallTest, ConfirmWithoutABootedTrialIsRefused) {
  auto r = Run({"confirm"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("no trial firmware to confirm"), std::string::npos);
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  r = Run({"confirm"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("has not been booted yet"), std::string::npos) << r.err;
}

TEST_F(InstallTest, EverySubcommandHasHelp) {
  for (const char* c : {"init", "install", "status", "confirm", "rollback", "history"}) {
    auto r = RunCommand({"fwupdate", c, "--help"});
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_NE(r.out.find(std::string("Usage: fwupdate ") + c), std::string::npos) << c;
  }
}

// ------------------------------------------------------------ one writer at a time (invariant 12), real processes

constexpr const char* kSlowFlash = "FWUPDATE_TEST_WRITE_DELAY_MS";
// Under the sanitizers every fwupdate process the readers start is several times slower,
// so the install they must overlap writes its chunks proportionally slower too.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 5;
#else
constexpr int kSlowdown = 1;
#endif

class ConcurrencyTest : public InstallTest {
 protected:
  Background StartInstall(const std::string& name, int delay_ms, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"fwupdate", "install", "--device", Layout(), "--quiet", "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(Vendor::Get().Bundle(name));
    return Background(argv, {{kSlowFlash, std::to_string(delay_ms * kSlowdown)}}, dev_.path());
  }
  // Polls status until it shows a writer holding the lock with a history id.
  nlohmann::json WaitForLockedStatus(Background& writer) {
    for (int i = 0; i < 500 && writer.Running(); ++i) {
      auto s = Status();
      if (!s["lock"].is_null() && !s["lock"]["history_id"].is_null()) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return nullptr;
  }
};

TEST_F(ConcurrencyTest, StatusAndHistoryDuringAnInstallNeverDisturbIt) {
  int seen_locked = 0;
  for (int k : {0, 5, 20, 60, 120, 250, 400, 600}) {
    SCOPED_TRACE("status after " + std::to_string(k) + " ms");
    Background install = StartInstall("1.1.0", 60);
    std::this_thread::sleep_for(std::chrono::milliseconds(k));
    // Readers at this offset, several times in a row.
    for (int i = 0; i < 3; ++i) {
      auto st = Run({"status", "--json"});
      ASSERT_EQ(st.exit_code, 0) << st.err;
      auto sj = nlohmann::json::parse(st.out);
      if (!sj["lock"].is_null()) {
        ++seen_locked;
        EXPECT_EQ(sj["lock"]["pid"], install.pid());
        EXPECT_EQ(sj["lock"]["operation"], "install");
        EXPECT_TRUE(sj["interrupted"].empty()) << "a live install was called interrupted";
      }
      auto text = Run({"status"});
      ASSERT_EQ(text.exit_code, 0) << text.err;
      EXPECT_EQ(text.out.find("interrupted"), std::string::npos) << text.out;
      auto hist = Run({"history", "--json"});
      ASSERT_EQ(hist.exit_code, 0) << hist.err;
      const auto doc = nlohmann::json::parse(hist.out);
      for (const auto& e : doc["history"]) EXPECT_NE(e["outcome"], "interrupted");
    }
    auto r = install.Wait();
    ASSERT_EQ(r.exit_code, 0) << "the install was disturbed by a reader: " << r.err;
    auto s = Status();
    ASSERT_EQ(s["slots"][1]["state"], "trial");
    ASSERT_TRUE(s["lock"].is_null());
    auto h = History();
    ASSERT_EQ(h[0]["operation"], "install");
    ASSERT_EQ(h[0]["outcome"], "succeeded");
    Ok({"fwboot", "boot", "--device", Layout()});  // the trial boots: the bank is whole
    ASSERT_EQ(Status()["booted_slot"], "B");
    ASSERT_EQ(Run({"rollback"}).exit_code, 0);
    Boot();
  }
  EXPECT_GT(seen_locked, 0) << "no reader ever ran during an install: the test proves nothing";
}

TEST_F(ConcurrencyTest, AReaderNamesTheRunningOperationAndItsPid) {
  Background install = StartInstall("1.1.0", 300);
  auto s = WaitForLockedStatus(install);
  ASSERT_FALSE(s.is_null()) << "the install never showed as running";
  const int64_t id = s["lock"]["history_id"];
  const std::string want =
      "operation " + std::to_string(id) + " (install) in progress, pid " + std::to_string(install.pid());
  EXPECT_NE(s["lock"]["message"].get<std::string>().find(want), std::string::npos) << s.dump();
  auto text = Run({"status"});
  EXPECT_NE(text.out.find(want), std::string::npos) << text.out;
  auto hist = Run({"history"});
  EXPECT_NE(hist.out.find(want), std::string::npos) << hist.out;
  ASSERT_EQ(install.Wait().exit_code, 0);
}

TEST_F(ConcurrencyTest, TwoInstallsAtOnceExactlyOneWinsAndNeitherHarmsTheOther) {
  const std::string bank_a = BankHash(0);
  Background first = StartInstall("1.1.0", 150, {"--lock-timeout", "0"});
  Background second = StartInstall("1.2.0", 150, {"--lock-timeout", "0"});
  auto r1 = first.Wait();
  auto r2 = second.Wait();
  ASSERT_TRUE((r1.exit_code == 0) != (r2.exit_code == 0))
      << "exactly one install must win: " << r1.exit_code << " " << r1.err << " / " << r2.exit_code << " " << r2.err;
  const auto& winner = r1.exit_code == 0 ? r1 : r2;
  const auto& loser = r1.exit_code == 0 ? r2 : r1;
  const std::string version = r1.exit_code == 0 ? "1.1.0" : "1.2.0";
  EXPECT_TRUE(loser.exit_code == 6 || loser.exit_code == 5) << loser.err;
  if (loser.exit_code == 6) {
    EXPECT_NE(loser.err.find("(install) in progress, pid"), std::string::npos) << loser.err;
  }
  EXPECT_EQ(LastJsonLine(winner.out)["to_version"], version);
  // The winner's trial is whole and is the one recorded; the loser wrote nothing.
  auto s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "trial");
  EXPECT_EQ(s["slots"][1]["version"], version);
  auto h = History();
  ASSERT_EQ(h.size(), 1u) << h.dump();
  EXPECT_EQ(h[0]["outcome"], "succeeded");
  EXPECT_EQ(h[0]["to_version"], version);
  EXPECT_EQ(SnapshotCount(), 1u) << "the loser took or deleted a snapshot";
  EXPECT_EQ(BankHash(0), bank_a);
  Boot();
  EXPECT_EQ(Status()["booted_slot"], "B") << "the winner's trial does not boot";
  ASSERT_EQ(Run({"confirm"}).exit_code, 0);
}

TEST_F(ConcurrencyTest, ASecondWriterWaitsUpToTheLockTimeoutThenExits6NamingTheHolder) {
  Background install = StartInstall("1.1.0", 1500);  // about 6 s of writing
  auto s = WaitForLockedStatus(install);
  ASSERT_FALSE(s.is_null());
  const std::string holder = "operation " + std::to_string(s["lock"]["history_id"].get<int64_t>()) +
                             " (install) in progress, pid " + std::to_string(install.pid());
  const std::string history = HistoryHash();
  for (const auto& [argv, bound_ms] : std::vector<std::pair<std::vector<std::string>, int>>{
           {{"rollback", "--lock-timeout", "1"}, 1000}, {{"confirm", "--lock-timeout", "0"}, 0}}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = Run(argv);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.exit_code, 6) << argv[0] << ": " << r.err;
    EXPECT_NE(r.err.find(holder), std::string::npos) << r.err;
    EXPECT_GE(waited, std::chrono::milliseconds(bound_ms)) << argv[0] << " did not wait";
  }
  EXPECT_EQ(HistoryHash(), history) << "a writer that timed out wrote to history.db";
  // A writer that waits long enough runs after the install, sees its trial and refuses.
  auto late = Install("1.2.0", {"--lock-timeout", "60"});
  EXPECT_EQ(late.exit_code, 5) << late.err;
  EXPECT_NE(late.err.find("a trial of version 1.1.0 is pending"), std::string::npos) << late.err;
  ASSERT_EQ(install.Wait().exit_code, 0);
}

TEST_F(ConcurrencyTest, KillingAnInstallReleasesTheLockAndTheNextWriterRecovers) {
  Background install = StartInstall("1.1.0", 400);
  auto s = WaitForLockedStatus(install);
  ASSERT_FALSE(s.is_null());
  const int64_t id = s["lock"]["history_id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(300 * kSlowdown));  // well into the write
  install.Kill();                                                           // SIGKILL: no cleanup at all

  // Readers: the lock is free, the row is orphaned, and they write nothing.
  const auto before = DataDirHashes();
  auto after_kill = Status();
  EXPECT_TRUE(after_kill["lock"].is_null()) << "the kernel did not release a killed writer's lock";
  ASSERT_EQ(after_kill["interrupted"].size(), 1u) << after_kill.dump();
  EXPECT_EQ(after_kill["interrupted"][0], id);
  bool noted = false;
  for (const auto& n : after_kill["notes"]) {
    noted |= n.get<std::string>().find("recovered by the next writer") != std::string::npos;
  }
  EXPECT_TRUE(noted) << after_kill.dump();
  EXPECT_EQ(History()[0]["outcome"], "in-progress");
  EXPECT_EQ(DataDirHashes(), before) << "a reader wrote to the data directory";
  EXPECT_NE(after_kill["slots"][1]["state"], "trial") << "a half-written bank is never bootable";

  // The next writer takes the lock at once, recovers, and installs.
  auto r = Install("1.1.0", {"--lock-timeout", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto h = History();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1]["id"], id);
  EXPECT_EQ(h[1]["outcome"], "interrupted");
  EXPECT_EQ(h[0]["outcome"], "succeeded");
  EXPECT_TRUE(Status()["interrupted"].empty());
  Boot();
  EXPECT_EQ(Status()["booted_slot"], "B");
}

TEST_F(ConcurrencyTest, KillingAWriterAtAnyOffsetNeverWedgesTheTerminal) {
  for (int k : {0, 30, 90, 200, 350, 500, 700}) {
    SCOPED_TRACE("killed after " + std::to_string(k) + " ms");
    Background install = StartInstall("1.1.0", 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(k));
    install.Kill();
    auto s = Status();
    ASSERT_TRUE(s["lock"].is_null()) << "the kernel did not release a killed writer's lock";
    ASSERT_LE(s["interrupted"].size(), 1u);
    // The next writer never waits for the dead one and leaves nothing in progress.
    if (s["slots"][1]["state"] == "trial") {
      auto r = Run({"rollback", "--lock-timeout", "0"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    } else {
      auto r = Install("1.1.0", {"--lock-timeout", "0"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      ASSERT_EQ(Run({"rollback", "--lock-timeout", "0"}).exit_code, 0);
    }
    for (const auto& e : History()) ASSERT_NE(e["outcome"], "in-progress") << e.dump();
    EXPECT_TRUE(Status()["interrupted"].empty());
    Boot();
    ASSERT_EQ(Status()["booted_slot"], "A");
  }
}

// ------------------------------------------------------------ a refused or read-only command writes nothing

TEST_F(InstallTest, RefusedCommandsAndReadersLeaveTheDataDirectoryByteIdentical) {
  auto before = DataDirHashes();
  const std::string history = HistoryHash();
  EXPECT_EQ(Install("other-hw").exit_code, 3);
  EXPECT_EQ(Run({"confirm"}).exit_code, 5);
  EXPECT_EQ(Run({"rollback"}).exit_code, 5);
  EXPECT_EQ(Run({"status"}).exit_code, 0);
  EXPECT_EQ(Run({"status", "--json"}).exit_code, 0);
  EXPECT_EQ(Run({"history"}).exit_code, 0);
  EXPECT_EQ(Run({"history", "--csv"}).exit_code, 0);
  EXPECT_EQ(HistoryHash(), history);
  EXPECT_EQ(DataDirHashes(), before);

  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  before = DataDirHashes();
  const std::string history2 = HistoryHash();
  EXPECT_EQ(Install("1.2.0").exit_code, 5);  // a trial is pending
  EXPECT_EQ(Run({"confirm"}).exit_code, 5);  // not booted yet
  auto init = Run({"init", "--device", Layout(), "--tuf-root", Vendor::Get().Path("repo/metadata/1.root.json")});
  EXPECT_EQ(init.exit_code, 5) << init.err;
  EXPECT_EQ(Run({"status"}).exit_code, 0);
  EXPECT_EQ(Run({"history", "--json"}).exit_code, 0);
  EXPECT_EQ(HistoryHash(), history2) << "a refused command wrote to history.db";
  EXPECT_EQ(DataDirHashes(), before) << "a refused command wrote to the data directory";
}

TEST_F(InstallTest, AReadOnlyDataDirectoryServesReadersAndRefusesWritersByName) {
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  const std::string data = dev_ / "data";
  if (::mount(data.c_str(), data.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    GTEST_SKIP() << "cannot bind-mount here (needs CAP_SYS_ADMIN)";
  }
  if (::mount(nullptr, data.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
    ::umount(data.c_str());
    GTEST_SKIP() << "cannot remount read-only here";
  }
  auto status = Run({"status", "--json"});
  auto history = Run({"history", "--json"});
  auto install = Install("1.2.0");
  auto confirm = Run({"confirm"});
  auto rollback = Run({"rollback"});
  ::umount(data.c_str());
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(nlohmann::json::parse(status.out)["slots"][1]["state"], "trial");
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_EQ(nlohmann::json::parse(history.out)["history"].size(), 1u);
  for (const auto* r : {&install, &confirm, &rollback}) {
    EXPECT_EQ(r->exit_code, 4) << r->err;
    EXPECT_NE(r->err.find("data directory " + data + " is read-only (read-only file system)"), std::string::npos)
        << r->err;
  }
  EXPECT_EQ(Status()["slots"][1]["state"], "trial") << "nothing changed";
}

TEST_F(InstallTest, ALockTimeoutOutOfRangeIsAUsageError) {
  for (const char* v : {"-1", "86401"}) {
    auto r = Install("1.1.0", {"--lock-timeout", v});
    EXPECT_EQ(r.exit_code, 2) << v << ": " << r.err;
    EXPECT_NE(r.err.find("--lock-timeout"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace fw
