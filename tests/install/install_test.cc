// fwupdate install/confirm/rollback/status/history on a file-backed simulated
// terminal, driven through the real CLIs: every operator error refused clearly
// with nothing written, and the installer's invariants (DESIGN.md 1, 2, 4, 6-10).
#include <gtest/gtest.h>

#include "install_cli_fixture.h"

namespace fw {
namespace {

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
