// The journal guard inside the technician's flow, through the real CLIs (issue 11):
// - item 1: confirm re-derives the snapshot's figures from its file; a forged
//   descriptor refuses the confirm (exit 3) and nothing is confirmed or restored;
// - item 5b: the signed journal_schema range is enforced by the plan (exit 5) and the
//   journal is moved into the booted firmware's range at boot (`fwupdate journal
//   align`), down with the stored SQL after a revert, with every record kept.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "journal_testing.h"
#include "testing.h"

namespace fw::journal {
namespace {

using fw::testing::CommandResult;
using fw::testing::RunCommand;
using fw::testing::TempDir;

constexpr uint64_t kBankSize = 1 << 20;

void Must(const std::vector<std::string>& argv) {
  auto r = RunCommand(argv);
  if (r.exit_code != 0) throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + r.err);
}

// Keys, images with journal-schema ranges, a TUF repository and bundles, made once.
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
    // version, security counter, journal schema min, max
    const std::vector<std::array<std::string, 4>> images = {
        {"1.0.0", "0", "1", "1"}, {"1.1.0", "1", "1", "1"}, {"1.2.0", "2", "2", "2"}, {"1.3.0", "3", "3", "3"}};
    Must({"fwsign", "repo", "init", "--repo", dir_ / "repo", "--root-key", dir_ / "root.pem", "--targets-key",
          dir_ / "targets.pem", "--snapshot-key", dir_ / "snapshot.pem", "--timestamp-key", dir_ / "timestamp.pem"});
    for (const auto& [version, counter, smin, smax] : images) {
      fw::testing::WriteBytes(dir_ / (version + ".bin"), fw::testing::PseudoRandomBytes(150000, std::stoi(counter)));
      Must({"fwsign", "image", "sign", "--key", dir_ / "image.pem", "--version", version, "--security-counter", counter,
            "--hardware-id", "POS-X1", dir_ / (version + ".bin"), "-o", dir_ / ("fw-" + version + ".img")});
      if (version != "1.0.0") {
        Must({"fwsign", "repo", "add-target", "--repo", dir_ / "repo", "--image", dir_ / ("fw-" + version + ".img"),
              "--journal-schema-min", smin, "--journal-schema-max", smax});
      }
    }
    Must({"fwsign", "repo", "publish", "--repo", dir_ / "repo", "--key", dir_ / "targets.pem", "--key",
          dir_ / "snapshot.pem", "--key", dir_ / "timestamp.pem"});
    for (const auto& [version, counter, smin, smax] : images) {
      if (version == "1.0.0") continue;
      Must({"fwsign", "bundle", "create", "--repo", dir_ / "repo", "--target", "fw-" + version + ".img", "-o",
            Bundle(version)});
    }
  }
  TempDir dir_;
};

class JournalInstall : public ::testing::Test {
 protected:
  void SetUp() override {
    const Vendor& v = Vendor::Get();
    fw::testing::WriteFile(dev_ / "layout.json", fw::testing::FileTerminalLayout(kBankSize));
    Must({"fwboot", "provision", "--device", Layout(), "--image", v.Path("fw-1.0.0.img"), "--pubkey",
          v.Path("image.pub.pem"), "--hardware-id", "POS-X1"});
    Must({"fwupdate", "init", "--device", Layout(), "--tuf-root", v.Path("repo/metadata/1.root.json")});
  }
  void MakeJournal(int schema, int records) {
    Must({"fwupdate", "journal", "simulate", Journal(), "--create", "--schema-version", std::to_string(schema),
          "--count", std::to_string(records)});
  }
  std::string Layout() const { return dev_ / "layout.json"; }
  std::string Journal() const { return dev_ / "data/journal.db"; }
  CommandResult Fw(std::vector<std::string> argv) {
    argv.insert(argv.begin(), "fwupdate");
    argv.insert(argv.begin() + (argv[1] == "journal" ? 3 : 2), {"--device", Layout()});
    return RunCommand(argv);
  }
  CommandResult Install(const std::string& version) {
    return Fw({"install", "--quiet", Vendor::Get().Bundle(version)});
  }
  void Boot() { Must({"fwboot", "boot", "--device", Layout()}); }
  nlohmann::json Status() {
    auto r = Fw({"status", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  nlohmann::json Align() {
    auto r = Fw({"journal", "align", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }
  nlohmann::json VerifyJson() {
    auto r = RunCommand({"fwupdate", "journal", "verify", Journal(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return nlohmann::json::parse(r.out);
  }
  // seq -> (hash, entry_mode) of every record.
  std::map<int64_t, std::pair<std::string, std::string>> Records() {
    auto r = RunCommand({"fwupdate", "journal", "export", Journal()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<int64_t, std::pair<std::string, std::string>> out;
    for (size_t at = 0, nl; (nl = r.out.find('\n', at)) != std::string::npos; at = nl + 1) {
      auto j = nlohmann::json::parse(r.out.substr(at, nl - at));
      std::string mode = j.contains("extensions") ? j["extensions"].value("entry_mode", "") : "";
      out[j["seq"].get<int64_t>()] = {j["hash"].get<std::string>(), mode};
    }
    return out;
  }
  // The newest snapshot's descriptor in the data area.
  std::string Descriptor() {
    std::string newest;
    for (const auto& name : fw::testing::ListDir(dev_ / "data/snapshots")) {
      if (name.size() > 5 && name.substr(name.size() - 5) == ".json") newest = name;
    }
    return dev_ / ("data/snapshots/" + newest);
  }
  TempDir dev_;
};

// ------------------------------------------------------------ item 1: confirm and the snapshot's evidence

TEST_F(JournalInstall, ConfirmRefusesAForgedDescriptorAndConfirmsNothing) {
  MakeJournal(2, 120);
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  Boot();
  // The forgery: the descriptor claims 100 records with the head of record 100 (file hash
  // untouched), and records 101..120 are deleted from the journal.
  auto records = Records();
  auto d = nlohmann::json::parse(fw::testing::ReadFile(Descriptor()));
  ASSERT_EQ(d["record_count"], 120);
  d["record_count"] = 100;
  d["last_seq"] = 100;
  d["chain_head"] = records.at(100).first;
  fw::testing::WriteFile(Descriptor(), d.dump(2));
  ASSERT_EQ(
      testing::RawExec(Journal(), "DELETE FROM record_extension WHERE seq > 100; DELETE FROM records WHERE seq > 100"),
      SQLITE_OK);

  auto c = Fw({"confirm", "--health-cmd", "true"});
  EXPECT_EQ(c.exit_code, 3) << c.out << c.err;
  EXPECT_NE(c.err.find("record_count: descriptor says 100, the file holds 120"), std::string::npos) << c.err;
  auto s = Status();
  EXPECT_EQ(s["slots"][1]["state"], "trial") << "not confirmed, not reverted";
  EXPECT_EQ(s["min_security_counter"], 0) << "the counter must not advance";
  EXPECT_EQ(VerifyJson()["record_count"], 100) << "nothing restored from a forged snapshot";
}

TEST_F(JournalInstall, ConfirmRefusesASnapshotWithAWrongFileHash) {
  MakeJournal(2, 50);
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  Boot();
  auto d = nlohmann::json::parse(fw::testing::ReadFile(Descriptor()));
  d["file_sha256"] = std::string(64, 'a');
  fw::testing::WriteFile(Descriptor(), d.dump(2));
  auto c = Fw({"confirm"});
  EXPECT_EQ(c.exit_code, 3) << c.out << c.err;
  EXPECT_NE(c.err.find("file_sha256"), std::string::npos) << c.err;
  EXPECT_EQ(Status()["slots"][1]["state"], "trial");
  EXPECT_EQ(Status()["min_security_counter"], 0);
}

// ------------------------------------------------------------ item 5b: journal-schema ranges

TEST_F(JournalInstall, NewerSchemaFirmwareThenRevertKeepsEveryRecordAtTheOldSchema) {
  MakeJournal(1, 100);
  // 1.1.0 reads v1..v1: installed, booted, aligned (nothing to move), confirmed.
  ASSERT_EQ(Install("1.1.0").exit_code, 0);
  Boot();
  auto a = Align();
  EXPECT_EQ(a["range_source"], "signed") << a;
  EXPECT_EQ(a["to"], 1);
  ASSERT_EQ(Fw({"confirm"}).exit_code, 0);

  // 1.2.0 reads v2..v2: its first boot moves the journal up before the application starts.
  ASSERT_EQ(Install("1.2.0").exit_code, 0);
  EXPECT_EQ(VerifyJson()["schema_version"], 1) << "no migration while the old firmware runs";
  Boot();
  a = Align();
  EXPECT_EQ(a["slot"], "A");
  EXPECT_EQ(a["range_source"], "signed");
  EXPECT_EQ(a["journal_schema"]["min"], 2);
  EXPECT_EQ(a["from"], 1);
  EXPECT_EQ(a["to"], 2);
  EXPECT_EQ(VerifyJson()["schema_version"], 2);
  // The trial's payment application writes records (with entry_mode, a v2 column).
  Must({"fwupdate", "journal", "simulate", Journal(), "--count", "30", "--seed", "4"});
  const auto before = Records();
  ASSERT_EQ(before.size(), 130u);

  // Revert: the confirmed 1.1.0 boots again and the journal goes back to v1 with the
  // down SQL stored in it, before the application opens it.
  ASSERT_EQ(Fw({"rollback"}).exit_code, 0);
  Boot();
  EXPECT_EQ(Status()["booted_slot"], "B");
  a = Align();
  EXPECT_EQ(a["slot"], "B");
  EXPECT_EQ(a["range_source"], "signed");
  EXPECT_EQ(a["from"], 2);
  EXPECT_EQ(a["to"], 1);
  auto v = VerifyJson();
  EXPECT_EQ(v["schema_version"], 1);
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(Records(), before) << "every record readable at v1, same content (hash) and entry_mode, none lost";
  // Aligning again changes nothing.
  a = Align();
  EXPECT_EQ(a["from"], 1);
  EXPECT_EQ(a["to"], 1);
}

TEST_F(JournalInstall, AfterAFactoryFirmwareWithoutSignedRecordTheJournalGoesBackToItsPreviousSchema) {
  MakeJournal(1, 40);
  ASSERT_EQ(Install("1.2.0").exit_code, 0);  // over the factory 1.0.0 (no signed record)
  Boot();
  EXPECT_EQ(Align()["to"], 2);
  Must({"fwupdate", "journal", "simulate", Journal(), "--count", "5"});
  const auto before = Records();
  ASSERT_EQ(Fw({"rollback"}).exit_code, 0);
  Boot();
  auto a = Align();
  EXPECT_EQ(a["range_source"], "previous") << a;
  EXPECT_EQ(a["to"], 1);
  EXPECT_EQ(Records(), before);
}

TEST_F(JournalInstall, AlignRefusesASlotRecordWhoseSignatureDoesNotVerify) {
  MakeJournal(1, 10);
  ASSERT_EQ(Install("1.2.0").exit_code, 0);
  Boot();
  // Someone widens the range in the kept metadata: the signatures no longer cover it.
  const std::string kept = dev_ / "data/slots/B/targets.json";
  std::string text = fw::testing::ReadFile(kept);
  const std::string range = "\"journal_schema\":{\"max\":2,\"min\":2}";
  auto at = text.find(range);
  ASSERT_NE(at, std::string::npos) << text.substr(0, 400);
  text.replace(at, range.size(), "\"journal_schema\":{\"max\":2,\"min\":1}");
  fw::testing::WriteFile(kept, text);
  auto r = Fw({"journal", "align"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("targets"), std::string::npos) << r.err;
  EXPECT_EQ(VerifyJson()["schema_version"], 1) << "nothing moved on a record that does not verify";
}

TEST_F(JournalInstall, ThePlanRefusesAJournalSchemaOutsideTheFirmwaresReach) {
  MakeJournal(2, 20);
  // 1.3.0 reads only v3; this journal can reach v1..v2.
  auto r = Install("1.3.0");
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_NE(r.err.find("journal schema v3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("v1..v2"), std::string::npos) << r.err;
  EXPECT_EQ(Status()["slots"][1]["state"], "empty") << "refused in the plan: nothing written";

  // A v2 journal whose stored migration has no down SQL cannot go to 1.1.0's v1.
  ASSERT_EQ(testing::RawExec(Journal(), "UPDATE schema_migrations SET down_sql = '' WHERE version = 2"), SQLITE_OK);
  r = Install("1.1.0");
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_NE(r.err.find("reads journal schema v1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("has schema v2"), std::string::npos) << r.err;
  EXPECT_EQ(Status()["slots"][1]["state"], "empty");
}

TEST_F(JournalInstall, AlignWithoutABootedSlotOrJournalIsClear) {
  auto r = Fw({"journal", "align"});
  if (r.exit_code == 5) {  // provisioned, never booted
    EXPECT_NE(r.err.find("no slot has been booted"), std::string::npos) << r.err;
    Boot();
    r = Fw({"journal", "align"});
  }
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no journal"), std::string::npos) << r.out;
  auto h = Fw({"journal", "align", "--help"});
  EXPECT_EQ(h.exit_code, 0);
}

}  // namespace
}  // namespace fw::journal
