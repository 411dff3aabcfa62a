// Device layout: which file or block device (and where in it) holds each region
// of a terminal's storage. JSON, documented in bootloader/README.md:
//
//   {"version": 1,
//    "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},
//    "regions": {"boot_control_0": {"path": "control.bin", "offset": 0, "size": 4096}, ...},
//    "boot_control": {"type": "crc-two-copy"}}          (optional; names the BootBackend)
//
// "boot_control" of type "uboot-env" may also give "env_size" (bytes of each
// environment copy at offset 0 of boot_control_0/1; default 16384, 1024..1 MiB, a
// multiple of the write alignment, at most the region), "flags" ("incremental" or
// "boolean") and "cmdline" (the file holding fw.slot=; default /proc/cmdline).
//
// Validation is strict: every region present, no unknown keys, sizes non-zero
// and erase-block aligned, no two regions of the same file overlapping. Relative
// paths are resolved against the layout file's directory. Load() also compares the
// regions' storage identity (CheckDistinctStorage), not only their path strings.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "fw/boot/boot_backend.h"
#include "fw/boot/sim_flash.h"
#include "fw/status.h"

namespace fw::boot {

enum class RegionId : uint8_t { kBootControl0 = 0, kBootControl1, kBankA, kBankB, kTrustStore, kData };
inline constexpr size_t kRegionCount = 6;

// "boot_control_0", "boot_control_1", "bank_a", "bank_b", "trust_store", "data".
std::string_view RegionName(RegionId id);
inline RegionId BankRegion(uint8_t slot) { return slot == 0 ? RegionId::kBankA : RegionId::kBankB; }

struct RegionSpec {
  std::string path;  // absolute after loading
  uint64_t offset = 0;
  uint64_t size = 0;
};

inline constexpr uint64_t kMaxRegionSize = uint64_t{1} << 40;  // 1 TiB
inline constexpr uint64_t kMaxTrustStoreSize = 1 << 20;        // the parser reads it whole
inline constexpr uint64_t kMaxLayoutFileSize = 64 << 10;

struct Layout {
  FlashGeometry geometry;  // size unused; per-region sizes below
  std::array<RegionSpec, kRegionCount> regions;
  // Where the data partition (region "data") is mounted: the updater keeps the
  // transaction journal, journal snapshots, flash history and TUF metadata there.
  // Optional for the bootloader; required by fwupdate. Absolute after loading.
  std::string data_dir;
  // The storage format of the boot state: `type` is a name from BootBackendTypes()
  // (boot_backend.h), checked by Parse; absent from the file: the first (default)
  // type. The other fields are the uboot-env options.
  BootControlOptions boot_control;

  const RegionSpec& region(RegionId id) const { return regions[static_cast<size_t>(id)]; }
  // Geometry for one region (its size filled in).
  FlashGeometry RegionGeometry(RegionId id) const;

  // Parses and validates layout JSON; relative paths are joined to `base_dir`.
  static Result<Layout> Parse(std::string_view json, const std::string& base_dir);
  // Reads (at most kMaxLayoutFileSize) and parses a layout file, then refuses regions
  // that are the same storage (CheckDistinctStorage).
  static Result<Layout> Load(const std::string& path);
};

// Where a region's bytes live: `key` names the storage (a file by device and inode, a
// whole disk by its device number, a path that does not exist yet by its resolved
// name) and [start, start + size) are the bytes on it.
struct StorageExtent {
  std::string key;
  uint64_t start = 0;
  uint64_t size = 0;
};

// Resolves `path` (symbolic links followed): a regular file → its device and inode (so
// hard links, ../ aliases and bind mounts compare equal); a block device → its whole
// disk, a partition shifted by its start (/sys/class/block/<dev>/start), a loop device
// → its backing file at the loop offset; a missing path → its resolved name.
Result<StorageExtent> ResolveStorage(const std::string& path, uint64_t offset, uint64_t size);

// Every pair of regions (both boot-control copies, the banks, the trust store, the
// data area) must be distinct storage: overlapping extents of the same file or disk
// are refused (kCorrupt, exit 3) naming both regions, their paths and the shared bytes.
Status CheckDistinctStorage(const Layout& layout);

}  // namespace fw::boot
