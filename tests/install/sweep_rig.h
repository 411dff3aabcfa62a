// Test support for the installer's power-cut tests: a simulated terminal (a SimFlash
// holding boot control and both banks, its bootloader, a data area on disk with a real
// journal, the TUF root and the flash history) and vendor material made once per test
// binary with the real `fwsign` CLI. Not thread-safe; one rig per test at a time.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "fw/flash_history.h"
#include "fw/install/installer.h"
#include "fw/journal/journal.h"
#include "fw/journal/simulator.h"
#include "sim_device.h"
#include "testing.h"

namespace fw::install {

namespace fs = std::filesystem;
namespace ft = fw::testing;
using boot::BootReport;
using boot::BootState;
using boot::BootStatus;
using boot::SlotState;
using boot::testing::SimConfig;
using boot::testing::SimDevice;

inline bool FullSweep() {
  const char* v = std::getenv("FW_FULL_SWEEP");
  return v && std::string(v) == "1";
}

constexpr uint64_t kBankSize = 64 << 10;
constexpr size_t kPayloadSize = 20 << 10;
constexpr int kJournalRecords = 300;
// Small flush windows: the core's read-back runs beside the writer, as it does
// for large images, so the cuts also land while a second thread reads the bank.
constexpr uint64_t kFlushWindow = 4096;
const char* const kVersions[] = {"1.0.0", "1.1.0", "1.2.0"};

inline void Must(const ft::CommandResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + " failed (" + std::to_string(r.exit_code) + "): " + r.err);
}

// Made once per test binary: keys, images signed with the key the SimDevice
// trusts, a TUF repository, two bundles, and a journal of kJournalRecords records.
struct Vendor {
  ft::TempDir dir;
  std::vector<uint8_t> images[3];  // 1.0.0, 1.1.0, 1.2.0 (security counters 0, 1, 2)
  std::string bundle_11, bundle_12, root_json, journal;
  std::vector<journal::Record> records;  // the journal's records, in order

  Vendor() {
    const std::string image_key = ft::SourcePath("tests/keys/ed25519-a.pem");
    for (const char* k : {"root", "targets", "snapshot", "timestamp"}) {
      Must(ft::RunCommand({"fwsign", "key", "generate", "--out", dir / (std::string(k) + ".pem")}), "key generate");
    }
    for (int i = 0; i < 3; ++i) {
      const std::string payload = dir / ("fw-" + std::string(kVersions[i]) + ".bin");
      const std::string img = dir / ("fw-" + std::string(kVersions[i]) + ".img");
      ft::WriteBytes(payload, ft::PseudoRandomBytes(kPayloadSize, 100 + i));
      Must(ft::RunCommand({"fwsign", "image", "sign", "--key", image_key, "--version", kVersions[i],
                           "--security-counter", std::to_string(i), "--hardware-id", "POS-X1", payload, "-o", img}),
           "image sign");
      images[i] = ft::ReadBytes(img);
    }
    const std::string repo = dir / "repo";
    Must(ft::RunCommand({"fwsign", "repo", "init", "--repo", repo, "--root-key", dir / "root.pem", "--targets-key",
                         dir / "targets.pem", "--snapshot-key", dir / "snapshot.pem", "--timestamp-key",
                         dir / "timestamp.pem"}),
         "repo init");
    for (int i = 1; i < 3; ++i) {
      Must(ft::RunCommand({"fwsign", "repo", "add-target", "--repo", repo, "--image",
                           dir / ("fw-" + std::string(kVersions[i]) + ".img"), "--chunk-size", "4096"}),
           "repo add-target");
    }
    Must(ft::RunCommand({"fwsign", "repo", "publish", "--repo", repo, "--key", dir / "targets.pem", "--key",
                         dir / "snapshot.pem", "--key", dir / "timestamp.pem"}),
         "repo publish");
    bundle_11 = dir / "bundle-1.1.0.tar";
    bundle_12 = dir / "bundle-1.2.0.tar";
    Must(ft::RunCommand({"fwsign", "bundle", "create", "--repo", repo, "--target", "fw-1.1.0.img", "-o", bundle_11}),
         "bundle create");
    Must(ft::RunCommand({"fwsign", "bundle", "create", "--repo", repo, "--target", "fw-1.2.0.img", "-o", bundle_12}),
         "bundle create");
    root_json = repo + "/metadata/1.root.json";

    journal = dir / "journal.db";
    journal::OpenOptions jo;
    jo.create = true;
    auto j = journal::Journal::Open(journal, jo);
    if (!j.ok()) throw std::runtime_error(j.status().message());
    journal::SimulatorOptions so;
    so.seed = 7;
    so.start_time_ms = 1'700'000'000'000;
    journal::Simulator sim(so);
    Status s = sim.Run(*j, kJournalRecords, [&](const journal::Record& r) { records.push_back(r); });
    if (!s.ok()) throw std::runtime_error(s.message());
    if (Status c = j->Checkpoint(); !c.ok()) throw std::runtime_error(c.message());
  }
};

inline const Vendor& TheVendor() {
  static Vendor v;
  return v;
}

// Index into kVersions of the image a bank starts with, byte for byte; -1 if none.
inline int ImageInBank(SimDevice& d, uint8_t slot) {
  const Vendor& v = TheVendor();
  for (int i = 0; i < 3; ++i) {
    if (d.BankPrefix(slot, v.images[i].size()) == v.images[i]) return i;
  }
  return -1;
}

// The newest valid boot state straight from the array (no counted ops), any backend.
inline bool DecodeNewest(SimDevice& d, BootState* out) { return d.PeekState(out); }

inline std::string VersionOf(const boot::BootSlot& s) {
  return std::to_string(s.version.major) + "." + std::to_string(s.version.minor) + "." +
         std::to_string(s.version.patch);
}

// True if boot control (when valid) holds version `v` in a slot in `state`.
inline bool SlotOf(const boot::BootState& bc, bool valid, const std::string& v, boot::SlotState state) {
  if (!valid) return false;
  for (const auto& slot : bc.slots) {
    if (slot.state == state && VersionOf(slot) == v) return true;
  }
  return false;
}

// The updater's view of a simulated terminal with its data area in `data_dir`.
inline Terminal SimTerminal(boot::BootBackend& boot, SimDevice& dev, const std::string& data_dir) {
  Terminal t;
  t.boot = &boot;
  t.boot_keys = &dev.keys();
  t.banks[0] = &dev.bank(0);
  t.banks[1] = &dev.bank(1);
  t.hardware_id = "POS-X1";
  t.data_dir = data_dir;
  t.journal_path = data_dir + "/journal.db";
  return t;
}

// One simulated terminal: the SimFlash, its bootloader, a data area on disk, and
// the records the payment application has seen acknowledged.
class Rig {
 public:
  Rig(const SimConfig& config, const std::vector<uint8_t>& flash_bytes, const std::string& data_template,
      const std::string& data_dir, std::vector<journal::Record> acked, uint32_t seed)
      : dev_(config), boot_(dev_.Reset()), backend_(dev_.Backend()), data_dir_(data_dir), acked_(std::move(acked)) {
    dev_.flash().bytes() = flash_bytes;
    fs::remove_all(data_dir_);
    fs::copy(data_template, data_dir_, fs::copy_options::recursive);
    journal::SimulatorOptions so;
    so.seed = seed;
    so.start_time_ms = 1'800'000'000'000;
    sim_ = std::make_unique<journal::Simulator>(so);
  }

  SimDevice& dev() { return dev_; }
  boot::Bootloader& bootloader() { return boot_; }  // for bank verification
  const std::string& data_dir() const { return data_dir_; }
  const std::vector<journal::Record>& acked() const { return acked_; }

  Terminal terminal() { return SimTerminal(*backend_, dev_, data_dir_); }

  // The payment application: records it saw acknowledged are remembered.
  void Append(int n) {
    auto j = journal::Journal::Open(data_dir_ + "/journal.db");
    ASSERT_TRUE(j.ok()) << j.status().message();
    for (int i = 0; i < n; ++i) {
      auto r = j->Append(sim_->Next());
      ASSERT_TRUE(r.ok()) << r.status().message();
      acked_.push_back(*r);
    }
  }

  // A reset: power returns (after a cut; PowerOn also drops a pending fault plan),
  // a fresh boot stage (the layout's backend) boots.
  BootReport Reset() {
    if (!dev_.flash().powered()) dev_.flash().PowerOn();
    boot_ = dev_.Reset();
    return dev_.Backend()->Boot();
  }

 private:
  SimDevice dev_;
  boot::Bootloader boot_;
  std::unique_ptr<boot::BootBackend> backend_;  // every operation reloads boot control, as after a reset
  std::string data_dir_;
  std::vector<journal::Record> acked_;
  std::unique_ptr<journal::Simulator> sim_;
};

// Every acknowledged record present and unchanged; the chain verifies.
inline void CheckJournal(Rig& rig) {
  auto j = journal::Journal::Open(rig.data_dir() + "/journal.db");
  ASSERT_TRUE(j.ok()) << j.status().message();
  auto vr = j->Verify();
  ASSERT_TRUE(vr.ok()) << vr.status().message();
  ASSERT_TRUE(vr->ok()) << "journal chain broken: " << vr->problem_count << " problems";
  const auto& acked = rig.acked();
  ASSERT_EQ(vr->summary.record_count, static_cast<int64_t>(acked.size())) << "records lost or added";
  size_t i = 0;
  Status s = j->ForEach(0, [&](const journal::Record& r) {
    if (i >= acked.size()) return Internal("extra record " + std::to_string(r.seq));
    const journal::Record& a = acked[i++];
    if (r.seq != a.seq || r.hash != a.hash || r.amount_minor != a.amount_minor || r.pan_masked != a.pan_masked) {
      return Internal("record " + std::to_string(a.seq) + " altered");
    }
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(i, acked.size());
}

// Factory: 1.0 confirmed in bank A, booted once (`*flash` receives the flash
// bytes); the data area in `tmpl` initialized with the vendor's journal.
inline void FactoryState(const SimConfig& config, const std::string& tmpl, std::vector<uint8_t>* flash) {
  const Vendor& v = TheVendor();
  SimDevice d(config);
  d.Provision(v.images[0]);
  ASSERT_EQ(d.Backend()->Boot().status, BootStatus::kBooted);
  fs::create_directories(tmpl);
  fs::copy_file(v.journal, tmpl + "/journal.db");
  {
    auto backend = d.Backend();
    Terminal t = SimTerminal(*backend, d, tmpl);
    Status s = InitDataArea(t, v.root_json);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  *flash = d.flash().bytes();
}

}  // namespace fw::install
