// A terminal's storage opened from a layout file: one FileFlash per region, the
// trust store, OpenSSL crypto, the bootloader core wired to them (for the boot
// decision) and the boot-state backend the layout names (for everything else).
// Used by fwboot and the updater.
//
// Also: provisioning a simulated terminal, writing an image into a bank, and
// turning the core's error values into Status messages.
//
// Thread safety: none. A Device is not movable (the core holds pointers into it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fw/boot/boot.h"
#include "fw/boot/boot_backend.h"
#include "fw/boot/file_flash.h"
#include "fw/boot/host_crypto.h"
#include "fw/boot/layout.h"
#include "fw/boot/trust_store.h"
#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::boot {

inline constexpr size_t kVerifyBufferSize = 64 << 10;  // read+hash while cache-hot (see manifests/src/image.cc)

class Device {
 public:
  // Loads the layout, opens every region and parses the trust store.
  static Result<std::unique_ptr<Device>> Open(const std::string& layout_path);
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const Layout& layout() const { return layout_; }
  const TrustStore& trust() const { return trust_; }
  Flash& region(RegionId id) { return *flashes_[static_cast<size_t>(id)]; }
  // The core, for Boot() (one simulated reset) and bank verification.
  Bootloader& bootloader() { return *boot_; }
  // The layout's boot-state backend: read the state, prepare, trial, confirm, mark bad.
  BootBackend& backend() { return *backend_; }
  // The trust store's boot keys (for a read-back on another thread, ProveBank).
  image::KeyRing& boot_keys() { return *keys_; }

 private:
  Device() = default;
  Layout layout_;
  TrustStore trust_;
  std::unique_ptr<FileFlash> flashes_[kRegionCount];
  std::unique_ptr<HostHash> hash_;
  std::unique_ptr<HostKeyRing> keys_;
  std::vector<uint8_t> scratch_;
  std::unique_ptr<Bootloader> boot_;
  std::unique_ptr<BootBackend> backend_;
};

// Writes `image` at the start of `bank`: erases the blocks it covers, then
// programs it in chunks of at most `chunk` bytes (tail padded with the erased
// value to the write alignment). The caller marks the slot unbootable first.
Status WriteImageToBank(Flash& bank, ByteSpan image, size_t chunk = 64 << 10);

struct ProvisionSpec {
  std::string image_path;  // signed image for bank A
  std::vector<PublicKey> boot_keys;
  std::string hardware_id;
  bool force = false;  // overwrite existing region files
};

// Creates a simulated terminal: region files (created and sized as needed),
// trust store, the image in bank A (confirmed, active), bank B empty, the
// minimum security counter at the image's. Every input is checked (layout, keys,
// image signature, hardware id, fit) before anything is written.
Status Provision(const std::string& layout_path, const ProvisionSpec& spec);

// Readable statuses for the core's error values.
Status BankCheckStatus(const BankCheck& c);
Status OpStatus(const OpResult& r);
std::string SlotName(uint8_t slot);  // "A" / "B"
// Parses "A"/"B"/"a"/"b"/"0"/"1".
Result<uint8_t> ParseSlot(const std::string& text);

}  // namespace fw::boot
