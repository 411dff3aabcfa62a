// Test support: a simulated terminal on one SimFlash (boot-control copies and both
// banks as regions), real signed images, and the bootloader core wired to OpenSSL.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fw/boot/boot.h"
#include "fw/boot/boot_backend.h"
#include "fw/boot/host_crypto.h"
#include "fw/boot/sim_flash.h"
#include "fw/crypto.h"
#include "fw/image.h"
#include "testing.h"

namespace fw::boot::testing {

struct ImageOptions {
  std::string version = "1.0.0";
  uint32_t security_counter = 1;
  std::string hardware_id = "POS-X1";
  std::string key = "ed25519-a.pem";
  size_t payload_size = 1500;
};

// Signs a payload with a test key (tests/keys) and returns the image bytes.
// Results are cached per options, so the sweep signs each image once.
const std::vector<uint8_t>& SignedImage(const ImageOptions& o);

PublicKey TestPublicKey(const std::string& name);

struct SimConfig {
  uint32_t erase_block = 512;
  uint32_t write_alignment = 8;
  uint8_t erased_value = 0xFF;
  uint64_t bank_size = 8192;
  // The boot-state backend on the boot-control regions ("crc-two-copy" or "uboot-env");
  // uboot-env copies are env_size bytes (each region rounded up to erase blocks).
  std::string backend = "crc-two-copy";
  uint64_t env_size = 1024;
};

class SimDevice {
 public:
  explicit SimDevice(const SimConfig& c = {}, std::vector<std::string> trusted = {"ed25519-a.pub.pem"});

  SimFlash& flash() { return *flash_; }
  Flash& control(int c) { return control_[c]; }
  Flash& bank(uint8_t slot) { return bank_[slot]; }
  uint64_t bank_offset(uint8_t slot) const { return bank_base_[slot]; }
  uint64_t bank_size() const { return config_.bank_size; }
  const SimConfig& config() const { return config_; }

  // The core's environment: the regions, OpenSSL crypto, hardware id "POS-X1".
  BootEnv Env();
  image::KeyRing& keys() { return keys_; }
  // A fresh core instance, as after a reset (the store forgets which copy is current).
  Bootloader Reset();
  // The configured backend on this device (fresh: it remembers nothing between calls).
  std::unique_ptr<BootBackend> Backend();
  BootControlOptions Options() const;
  uint64_t control_size() const { return control_size_; }
  // Reads the record with a fresh store (no writes). found=false when both copies are invalid.
  bool ReadRecord(BootControl* out);
  // The backend's state read from a copy of the flash bytes (no counted ops, usable
  // inside a flash observer). False when no stored copy is valid.
  bool PeekState(BootState* out);

  // Factory state: `image` in bank A, confirmed and active; bank B empty; the
  // minimum security counter at the image's. Written without faults, by the backend.
  void Provision(const std::vector<uint8_t>& image);
  // Installs `image` to `slot` the way an updater must: PrepareInstall (marks it
  // unbootable), write the bank (erase + program in erase-block chunks), SetTrial.
  // Returns false at the first failure (e.g. a power cut).
  bool InstallToTrial(uint8_t slot, const std::vector<uint8_t>& image, uint8_t tries);

  // The bytes of a bank's image-sized prefix.
  std::vector<uint8_t> BankPrefix(uint8_t slot, size_t n) const;

 private:
  SimConfig config_;
  std::unique_ptr<SimFlash> flash_;
  FlashRegion control_[2];
  FlashRegion bank_[2];
  uint64_t bank_base_[2] = {0, 0};
  uint64_t control_size_ = 0;
  HostHash hash_;
  HostKeyRing keys_;
  std::vector<uint8_t> scratch_;
};

// Forwards every call to another Flash; tests override what they observe or break.
class FlashProxy : public Flash {
 public:
  explicit FlashProxy(Flash& f) : f_(f) {}
  uint64_t Size() const override { return f_.Size(); }
  uint32_t EraseBlockSize() const override { return f_.EraseBlockSize(); }
  uint32_t WriteAlignment() const override { return f_.WriteAlignment(); }
  uint8_t ErasedValue() const override { return f_.ErasedValue(); }
  bool ProgramNeedsErase() const override { return f_.ProgramNeedsErase(); }
  FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override { return f_.Read(offset, buf, len); }
  FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override { return f_.Write(offset, data, len); }
  FlashError Erase(uint64_t offset, uint64_t len) override { return f_.Erase(offset, len); }
  FlashError Sync() override { return f_.Sync(); }
  FlashError SyncRange(uint64_t offset, uint64_t len) override { return f_.SyncRange(offset, len); }

 protected:
  ~FlashProxy() = default;

 private:
  Flash& f_;
};

}  // namespace fw::boot::testing
