// fw_server_plan, the pure parts: PlanAction (one test per rule, each refusal naming its rule, and
// the successes) and the journal vault (AES-256-GCM at rest, key file rules, legacy plain text).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fw/server/action_plan.h"
#include "fw/server/device_messages.h"
#include "fw/server/journal_vault.h"
#include "testing.h"

namespace fw::server {
namespace {

using fw::testing::TempDir;
constexpr int64_t kNow = 1'800'000'000;

RepositoryTarget Firmware(const std::string& path, const std::string& version, uint32_t counter,
                          std::vector<std::string> hardware = {"POS-X1"}) {
  RepositoryTarget t;
  t.path = path;
  t.length = 1000;
  t.sha256_hex = std::string(64, 'a');
  t.has_firmware = true;
  t.firmware.hardware_ids = std::move(hardware);
  t.firmware.version = version;
  t.firmware.security_counter = counter;
  return t;
}

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.root_version = 1;
    repo_.targets_version = 4;
    repo_.targets = {Firmware("pos-x1/fw-1.0.0.ptfw", "1.0.0", 1), Firmware("pos-x1/fw-1.1.0.ptfw", "1.1.0", 2),
                     Firmware("pos-x1/fw-2.0.0.ptfw", "2.0.0", 3),
                     Firmware("pos-x9/fw-2.0.0.ptfw", "2.0.0", 3, {"POS-X9"}),
                     Firmware("pos-x1/fw-0.9.0.ptfw", "0.9.0", 0)};
    RepositoryTarget readme;
    readme.path = "notes/readme.txt";
    repo_.targets.push_back(readme);
    std::sort(repo_.targets.begin(), repo_.targets.end(),
              [](const RepositoryTarget& a, const RepositoryTarget& b) { return a.path < b.path; });
    manifest_.hardware_id = "POS-X1";
    manifest_.time_zone = "Europe/Berlin";
    manifest_.running = {"A", "1.1.0", "confirmed"};
    manifest_.other = SlotReport{"B", "1.0.0", "bootable"};
    manifest_.security_counter = 2;
    manifest_.root_version = 1;
    device_.serial = "TERM-0001";
    device_.state = DeviceState::kActive;
    Checkin();
  }
  void Checkin() { device_.manifest_json = ManifestJson(manifest_); }

  Result<Action> Plan(const ActionRequest& r) { return PlanAction(device_, open_, repo_, r, kNow); }
  static ActionRequest Install(const std::string& target) {
    ActionRequest r;
    r.kind = "install";
    r.target = target;
    return r;
  }
  static ActionRequest Rollback(const std::string& target) {
    ActionRequest r = Install(target);
    r.kind = "rollback";
    return r;
  }
  // A refusal: kFailedPrecondition whose message names the rule.
  void ExpectRefused(const ActionRequest& r, const std::string& rule) {
    auto a = Plan(r);
    ASSERT_FALSE(a.ok()) << "expected rule " << rule;
    EXPECT_EQ(a.status().code(), ErrorCode::kFailedPrecondition) << a.status().message();
    EXPECT_NE(a.status().message().find("(plan rule " + rule + ")"), std::string::npos) << a.status().message();
  }

  RepositoryTargets repo_;
  Manifest manifest_;
  Device device_;
  std::vector<Action> open_;
};

TEST_F(PlanTest, InstallSucceedsWithTheTargetsFacts) {
  ActionRequest r = Install("pos-x1/fw-2.0.0.ptfw");
  r.type = "time-forced";
  r.window = "22:00-04:00";
  r.deadline_s = kNow + 86400;
  r.backup_required = false;
  auto a = Plan(r);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->device_serial, "TERM-0001");
  EXPECT_EQ(a->kind, "install");
  EXPECT_EQ(a->target_name, "pos-x1/fw-2.0.0.ptfw");
  EXPECT_EQ(a->target_version, "2.0.0");
  EXPECT_EQ(a->type, "time-forced");
  EXPECT_EQ(a->window, "22:00-04:00");
  EXPECT_EQ(a->deadline_s, kNow + 86400);
  EXPECT_FALSE(a->backup_required);
  EXPECT_EQ(a->state, "pending");
  EXPECT_EQ(a->created_s, kNow);
  EXPECT_FALSE(a->done);
  // The same version as the running one is fine while it is only on trial (re-install).
  manifest_.running = {"A", "2.0.0", "trial"};
  Checkin();
  EXPECT_TRUE(Plan(Install("pos-x1/fw-2.0.0.ptfw")).ok());
}

TEST_F(PlanTest, RollbackToTheOtherSlotSucceeds) {
  manifest_.security_counter = 1;
  Checkin();
  auto a = Plan(Rollback("pos-x1/fw-1.0.0.ptfw"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->kind, "rollback");
  EXPECT_EQ(a->target_version, "1.0.0");
}

TEST_F(PlanTest, JournalBackupOnAnyActiveCheckedInDeviceAlsoBesideAnInstall) {
  Action open;
  open.id = 7;
  open.device_serial = device_.serial;
  open.kind = "install";
  open.state = "downloading";
  open_.push_back(open);
  ActionRequest r;
  r.kind = "journal_backup";
  auto a = Plan(r);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->target_name, "");
  EXPECT_EQ(a->target_version, "");
}

TEST_F(PlanTest, RuleDeviceNotActive) {
  device_.state = DeviceState::kQuarantined;
  device_.state_reason = "journal fork";
  ExpectRefused(Install("pos-x1/fw-2.0.0.ptfw"), "device_not_active");
  ActionRequest backup;
  backup.kind = "journal_backup";
  ExpectRefused(backup, "device_not_active");
  device_.state = DeviceState::kRevoked;
  ExpectRefused(Install("pos-x1/fw-2.0.0.ptfw"), "device_not_active");
}

TEST_F(PlanTest, RuleNeverCheckedIn) {
  device_.manifest_json = "";
  ExpectRefused(Install("pos-x1/fw-2.0.0.ptfw"), "never_checked_in");
  ActionRequest backup;
  backup.kind = "journal_backup";
  ExpectRefused(backup, "never_checked_in");
}

TEST_F(PlanTest, RuleOneInstallOrRollbackAtATime) {
  Action open;
  open.id = 3;
  open.device_serial = device_.serial;
  open.kind = "rollback";
  open.state = "pending";
  open_.push_back(open);
  ExpectRefused(Install("pos-x1/fw-2.0.0.ptfw"), "one_at_a_time");
  ExpectRefused(Rollback("pos-x1/fw-1.0.0.ptfw"), "one_at_a_time");
  // A closed action or an open journal backup does not block.
  open_[0].done = true;
  open_[0].state = "succeeded";
  Action backup;
  backup.id = 4;
  backup.device_serial = device_.serial;
  backup.kind = "journal_backup";
  open_.push_back(backup);
  EXPECT_TRUE(Plan(Install("pos-x1/fw-2.0.0.ptfw")).ok());
}

TEST_F(PlanTest, RuleTargetUnknown) {
  ExpectRefused(Install("pos-x1/fw-3.0.0.ptfw"), "target_unknown");
  ExpectRefused(Rollback("pos-x1/fw-3.0.0.ptfw"), "target_unknown");
}

TEST_F(PlanTest, RuleNoFirmwareFacts) { ExpectRefused(Install("notes/readme.txt"), "no_firmware_facts"); }

TEST_F(PlanTest, RuleHardwareMismatch) {
  auto a = Plan(Install("pos-x9/fw-2.0.0.ptfw"));
  ExpectRefused(Install("pos-x9/fw-2.0.0.ptfw"), "hardware_mismatch");
  EXPECT_NE(a.status().message().find("POS-X9"), std::string::npos);
}

TEST_F(PlanTest, RuleInstallBelowSecurityCounter) {
  ExpectRefused(Install("pos-x1/fw-0.9.0.ptfw"), "below_security_counter");
  // Equal to the floor is allowed.
  manifest_.running = {"A", "2.0.0", "confirmed"};
  manifest_.security_counter = 2;
  Checkin();
  EXPECT_TRUE(Plan(Install("pos-x1/fw-1.1.0.ptfw")).ok());
}

TEST_F(PlanTest, RuleAlreadyRunningConfirmed) { ExpectRefused(Install("pos-x1/fw-1.1.0.ptfw"), "already_running"); }

TEST_F(PlanTest, RuleRollbackNeedsABootableOtherSlot) {
  manifest_.security_counter = 1;
  for (const auto& other : {std::optional<SlotReport>(), std::optional<SlotReport>(SlotReport{"B", "", "empty"}),
                            std::optional<SlotReport>(SlotReport{"B", "1.0.0", "invalid"}),
                            std::optional<SlotReport>(SlotReport{"B", "1.0.0", "trial_pending"})}) {
    manifest_.other = other;
    Checkin();
    ExpectRefused(Rollback("pos-x1/fw-1.0.0.ptfw"), "other_slot_not_bootable");
  }
}

TEST_F(PlanTest, RuleRollbackTargetMustBeTheOtherSlotsVersion) {
  ExpectRefused(Rollback("pos-x1/fw-2.0.0.ptfw"), "not_other_slot");
}

TEST_F(PlanTest, RuleRollbackStaysAboveTheAntiRollbackFloor) {
  // The device's counter is 2; the other slot's 1.0.0 has counter 1 in the repository.
  ExpectRefused(Rollback("pos-x1/fw-1.0.0.ptfw"), "below_security_counter");
}

TEST_F(PlanTest, MalformedRequestsAreBadRequestsNotRefusals) {
  const auto bad = [&](ActionRequest r, const std::string& words) {
    auto a = Plan(r);
    EXPECT_EQ(a.status().code(), ErrorCode::kInvalidArgument) << words;
    EXPECT_NE(a.status().message().find(words), std::string::npos) << a.status().message();
  };
  ActionRequest r = Install("pos-x1/fw-2.0.0.ptfw");
  r.kind = "reboot";
  bad(r, "kind \"reboot\"");
  r = Install("pos-x1/fw-2.0.0.ptfw");
  r.type = "eventually";
  bad(r, "type \"eventually\"");
  r = Install("pos-x1/fw-2.0.0.ptfw");
  r.window = "25:00-01:00";
  bad(r, "window");
  r.window = "02:00-02:00";
  bad(r, "window");
  r = Install("pos-x1/fw-2.0.0.ptfw");
  r.deadline_s = kNow - 1;
  bad(r, "deadline");
  r.deadline_s = 0;
  r.type = "time-forced";
  bad(r, "needs a deadline");
  bad(Install(""), "needs a target");
  ActionRequest backup;
  backup.kind = "journal_backup";
  backup.target = "pos-x1/fw-2.0.0.ptfw";
  bad(backup, "takes no target");
}

// --- Journal vault.

std::string WriteKey(const TempDir& dir, const std::string& name, const std::string& text, unsigned mode = 0600) {
  const std::string path = dir / name;
  fw::testing::WriteFile(path, text);
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

const std::string kKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(JournalVaultTest, SealedSegmentsRoundTripAndAreNotPlainText) {
  TempDir dir;
  auto vault = MakeVault(WriteKey(dir, "journal.key", kKeyHex + "\n"));
  ASSERT_TRUE(vault.ok()) << vault.status().message();
  EXPECT_TRUE((*vault)->encrypts());
  const std::string body = "{\"seq\":1,\"pan\":\"411111******1111\"}\n{\"seq\":2}\n";
  const std::string ad = SegmentAssociatedData("TERM-0001", 1, 2);
  EXPECT_EQ(ad, "TERM-0001:1:2");
  auto sealed = (*vault)->Seal(ad, body);
  ASSERT_TRUE(sealed.ok()) << sealed.status().message();
  EXPECT_EQ(sealed->rfind("ptfw-seal-v1:", 0), 0u);
  EXPECT_EQ(sealed->find("seq"), std::string::npos);
  EXPECT_NE(*(*vault)->Seal(ad, body), *sealed);  // a fresh nonce each time
  auto opened = (*vault)->Open(ad, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(*opened, body);
  // Upper-case hex without newline is the same key.
  auto upper =
      MakeVault(WriteKey(dir, "upper.key", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"));
  ASSERT_TRUE(upper.ok()) << upper.status().message();
  EXPECT_EQ((*upper)->Open(ad, *sealed).value(), body);
}

// A segment sealed by another implementation (Python's cryptography AESGCM, the fuzz corpus seed):
// the format is nonce | ciphertext | tag in standard base64, nothing project-specific.
TEST(JournalVaultTest, OpensASegmentSealedElsewhere) {
  TempDir dir;
  auto vault = MakeVault(WriteKey(dir, "journal.key", kKeyHex));
  ASSERT_TRUE(vault.ok()) << vault.status().message();
  const std::string sealed = fw::testing::ReadFile(fw::testing::SourcePath("tests/fuzz/corpus/journal_vault/sealed"));
  auto opened = (*vault)->Open(SegmentAssociatedData("TERM-0001", 1, 2), sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(*opened,
            "{\"seq\":1,\"time\":1731990000,\"event\":\"boot\",\"version\":\"1.1.0\"}\n"
            "{\"seq\":2,\"time\":1731990060,\"event\":\"checkin\"}\n");
  EXPECT_EQ(MakeVaultWithKey(Bytes(31, 0)).status().code(), ErrorCode::kInvalidArgument);
}

TEST(JournalVaultTest, WrongKeyOtherSegmentAndFlippedBitsAreRefusedNamingTheSegment) {
  TempDir dir;
  auto vault = MakeVault(WriteKey(dir, "journal.key", kKeyHex));
  auto other = MakeVault(WriteKey(dir, "other.key", std::string(64, 'f')));
  ASSERT_TRUE(vault.ok() && other.ok());
  const std::string ad = SegmentAssociatedData("TERM-0001", 1, 2);
  const std::string sealed = (*vault)->Seal(ad, "{\"seq\":1}\n{\"seq\":2}\n").value();
  auto r = (*other)->Open(ad, sealed);
  EXPECT_EQ(r.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(r.status().message().find("TERM-0001:1:2"), std::string::npos) << r.status().message();
  // The same bytes presented as another device's or another range's segment.
  EXPECT_EQ((*vault)->Open(SegmentAssociatedData("TERM-0002", 1, 2), sealed).status().code(),
            ErrorCode::kVerificationFailed);
  EXPECT_EQ((*vault)->Open(SegmentAssociatedData("TERM-0001", 1, 3), sealed).status().code(),
            ErrorCode::kVerificationFailed);
  // One flipped bit anywhere in the encoded part: a changed base64 digit changes the bytes.
  for (size_t i = std::string("ptfw-seal-v1:").size(); i < sealed.size(); i += 7) {
    std::string flipped = sealed;
    flipped[i] = flipped[i] == 'A' ? 'B' : 'A';
    auto f = (*vault)->Open(ad, flipped);
    EXPECT_FALSE(f.ok()) << "position " << i;
    EXPECT_TRUE(f.status().code() == ErrorCode::kVerificationFailed || f.status().code() == ErrorCode::kCorrupt)
        << f.status().message();
  }
  EXPECT_EQ((*vault)->Open(ad, "ptfw-seal-v1:not base64!").status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ((*vault)->Open(ad, "ptfw-seal-v1:").status().code(), ErrorCode::kCorrupt);
}

TEST(JournalVaultTest, PlainLegacyTextOpensAsIsAndSealedTextNeedsTheKey) {
  TempDir dir;
  auto vault = MakeVault(WriteKey(dir, "journal.key", kKeyHex));
  auto plain = MakeVault("");
  ASSERT_TRUE(vault.ok() && plain.ok());
  EXPECT_FALSE((*plain)->encrypts());
  const std::string ad = SegmentAssociatedData("TERM-0001", 5, 9);
  const std::string legacy = "{\"seq\":5}\n";
  EXPECT_EQ((*vault)->Open(ad, legacy).value(), legacy);  // stored before encryption was switched on
  EXPECT_EQ((*plain)->Seal(ad, legacy).value(), legacy);
  EXPECT_EQ((*plain)->Open(ad, legacy).value(), legacy);
  const std::string sealed = (*vault)->Seal(ad, legacy).value();
  auto r = (*plain)->Open(ad, sealed);
  EXPECT_EQ(r.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("TERM-0001:5:9"), std::string::npos) << r.status().message();
}

TEST(JournalVaultTest, KeyFilesMustBePrivateAndExactly64HexDigits) {
  TempDir dir;
  const auto refused = [](const std::string& path, ErrorCode code, const std::string& words) {
    auto v = MakeVault(path);
    ASSERT_FALSE(v.ok()) << path;
    EXPECT_EQ(v.status().code(), code) << v.status().message();
    EXPECT_NE(v.status().message().find(path), std::string::npos) << v.status().message();
    EXPECT_NE(v.status().message().find(words), std::string::npos) << v.status().message();
    EXPECT_EQ(v.status().message().find(kKeyHex.substr(0, 16)), std::string::npos);  // never the key
  };
  refused(WriteKey(dir, "open.key", kKeyHex, 0644), ErrorCode::kFailedPrecondition, "mode 0644");
  refused(WriteKey(dir, "group.key", kKeyHex, 0640), ErrorCode::kFailedPrecondition, "mode 0640");
  refused(WriteKey(dir, "short.key", kKeyHex.substr(0, 62)), ErrorCode::kInvalidArgument, "64 hex digits");
  refused(WriteKey(dir, "long.key", kKeyHex + "00"), ErrorCode::kInvalidArgument, "64 hex digits");
  refused(WriteKey(dir, "nothex.key", kKeyHex.substr(0, 63) + "g"), ErrorCode::kInvalidArgument, "64 hex digits");
  refused(WriteKey(dir, "two.key", kKeyHex + "\n\n"), ErrorCode::kInvalidArgument, "64 hex digits");
  refused(dir / "missing.key", ErrorCode::kNotFound, "missing.key");
  EXPECT_TRUE(MakeVault(WriteKey(dir, "owner-read.key", kKeyHex, 0400)).ok());
}

}  // namespace
}  // namespace fw::server
