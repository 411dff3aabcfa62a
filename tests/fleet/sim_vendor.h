// fleet-sim (tests/fleet): the vendor's material, made once per run with the real `fwsign` CLI, and the
// factory state every simulated terminal starts from.
//
// Contract:
//   - MakeVendor(dir, fwsign) signs images 1.0.0, 1.1.0 and 1.2.0 (security counters 0, 1, 2, hardware id
//     POS-X1) with tests/keys/ed25519-a.pem — the key boot::testing::SimDevice trusts — and builds a TUF
//     repository in DIR/repo (targets fw-1.1.0.img and fw-1.2.0.img with their chunk index files,
//     metadata that stays valid for 60 days so simulated days and skewed clocks never expire it).
//   - The factory state: 1.0.0 confirmed in bank A and booted once, bank B empty (`factory_flash`), and a
//     data area (`data_template`) initialised with the repository's root (install::InitDataArea) and an
//     empty journal; each terminal appends its own records when it is provisioned.
// Ownership: plain values; the files live under DIR (the caller's work directory).
// Thread safety: read-only after MakeVendor returns.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fw/crypto.h"
#include "fw/status.h"
#include "sim_device.h"

namespace fw::fleetsim {

inline constexpr const char* kHardwareId = "POS-X1";
inline constexpr const char* kVersions[] = {"1.0.0", "1.1.0", "1.2.0"};

// A journal record as the payment application saw it acknowledged: its seq and chain hash (the hash
// covers every field and the link to its predecessor).
struct RecordId {
  int64_t seq = 0;
  Digest hash{};
};

struct SimVendor {
  std::string dir;
  std::string repo;       // DIR/repo: the TUF repository the fleet server serves
  std::string root_json;  // DIR/repo/metadata/1.root.json
  std::vector<uint8_t> images[3];
  boot::testing::SimConfig sim_config;
  std::string data_template;  // DIR/factory-data
  std::vector<uint8_t> factory_flash;
};

Result<std::unique_ptr<SimVendor>> MakeVendor(const std::string& dir, const std::string& fwsign_path);

// The kVersions index of the image bank `slot` of `device` starts with, byte for byte; -1 if none.
int ImageInBank(const SimVendor& vendor, boot::testing::SimDevice& device, uint8_t slot);

}  // namespace fw::fleetsim
