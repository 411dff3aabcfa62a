// The vendor's material and the factory state (sim_vendor.h).
#include "sim_vendor.h"

#include <filesystem>

#include "fw/install/installer.h"
#include "fw/journal/journal.h"
#include "testing.h"

namespace fw::fleetsim {
namespace {

namespace fs = std::filesystem;
namespace ft = fw::testing;

constexpr size_t kPayloadSize = 16 << 10;

Status Fwsign(const std::string& fwsign, std::vector<std::string> args) {
  args.insert(args.begin(), fwsign);
  const ft::CommandResult r = ft::RunCommand(args);
  if (r.exit_code == 0) return Status::Ok();
  return Internal("fwsign " + args[1] + " " + args[2] + " exited " + std::to_string(r.exit_code) + ": " + r.err);
}

Status MakeRepository(SimVendor& v, const std::string& fwsign) {
  const std::string image_key = ft::SourcePath("tests/keys/ed25519-a.pem");
  for (const char* k : {"root", "targets", "snapshot", "timestamp"}) {
    FW_RETURN_IF_ERROR(Fwsign(fwsign, {"key", "generate", "--out", v.dir + "/" + k + ".pem"}));
  }
  for (int i = 0; i < 3; ++i) {
    const std::string payload = v.dir + "/fw-" + kVersions[i] + ".bin";
    const std::string img = v.dir + "/fw-" + kVersions[i] + ".img";
    ft::WriteBytes(payload, ft::PseudoRandomBytes(kPayloadSize, 100 + i));
    FW_RETURN_IF_ERROR(
        Fwsign(fwsign, {"image", "sign", "--key", image_key, "--version", kVersions[i], "--security-counter",
                        std::to_string(i), "--hardware-id", kHardwareId, payload, "-o", img}));
    v.images[i] = ft::ReadBytes(img);
  }
  FW_RETURN_IF_ERROR(
      Fwsign(fwsign, {"repo", "init", v.repo, "--root-key", v.dir + "/root.pem", "--targets-key",
                      v.dir + "/targets.pem", "--snapshot-key", v.dir + "/snapshot.pem", "--timestamp-key",
                      v.dir + "/timestamp.pem", "--snapshot-expires-days", "60", "--timestamp-expires-days", "60"}));
  for (int i = 1; i < 3; ++i) {
    FW_RETURN_IF_ERROR(Fwsign(fwsign, {"repo", "add-target", v.repo, "--image", v.dir + "/fw-" + kVersions[i] + ".img",
                                       "--chunk-size", "4096", "--journal-schema-max", "2"}));
  }
  FW_RETURN_IF_ERROR(Fwsign(fwsign, {"repo", "publish", v.repo, "--key", v.dir + "/targets.pem", "--key",
                                     v.dir + "/snapshot.pem", "--key", v.dir + "/timestamp.pem"}));
  v.root_json = v.repo + "/metadata/1.root.json";
  return Status::Ok();
}

// 1.0.0 confirmed in bank A, booted once; the data area initialised with the root and an empty journal.
Status MakeFactoryState(SimVendor& v) {
  boot::testing::SimDevice d(v.sim_config);
  d.Provision(v.images[0]);
  if (d.Backend()->Boot().status != boot::BootStatus::kBooted) return Internal("the factory image does not boot");
  fs::create_directories(v.data_template);
  {
    journal::OpenOptions jo;
    jo.create = true;
    FW_ASSIGN_OR_RETURN(auto j, journal::Journal::Open(v.data_template + "/journal.db", jo));
    FW_RETURN_IF_ERROR(j.Checkpoint());
  }
  auto backend = d.Backend();
  install::Terminal t;
  t.boot = backend.get();
  t.boot_keys = &d.keys();
  t.banks[0] = &d.bank(0);
  t.banks[1] = &d.bank(1);
  t.hardware_id = kHardwareId;
  t.data_dir = v.data_template;
  t.journal_path = v.data_template + "/journal.db";
  FW_RETURN_IF_ERROR(install::InitDataArea(t, v.root_json).WithContext("fwupdate init of the factory data area"));
  v.factory_flash = d.flash().bytes();
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SimVendor>> MakeVendor(const std::string& dir, const std::string& fwsign_path) {
  auto v = std::make_unique<SimVendor>();
  v->dir = dir;
  v->repo = dir + "/repo";
  v->data_template = dir + "/factory-data";
  v->sim_config.erase_block = 4096;
  v->sim_config.write_alignment = 8;
  v->sim_config.bank_size = 32 << 10;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("creating " + dir + ": " + ec.message());
  FW_RETURN_IF_ERROR(MakeRepository(*v, fwsign_path).WithContext("vendor repository"));
  FW_RETURN_IF_ERROR(MakeFactoryState(*v).WithContext("factory state"));
  return v;
}

int ImageInBank(const SimVendor& vendor, boot::testing::SimDevice& device, uint8_t slot) {
  for (int i = 0; i < 3; ++i) {
    if (device.BankPrefix(slot, vendor.images[i].size()) == vendor.images[i]) return i;
  }
  return -1;
}

}  // namespace fw::fleetsim
