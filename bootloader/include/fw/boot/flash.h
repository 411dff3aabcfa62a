// Flash / block-device interface of the bootloader core — freestanding.
//
// A Flash is a byte-addressed storage area with NOR-flash rules: bytes are
// erased in whole erase blocks (to ErasedValue()), and a write may only program
// erased bytes, at offsets and lengths that are multiples of WriteAlignment().
// Block devices (eMMC, SD, files) satisfy the same contract trivially; the
// simulator (sim_flash.h) enforces it and injects faults.
//
// Every operation reports a FlashError instead of throwing. After a simulated
// power cut every operation returns kPowerLost until the device is reset.
//
// No heap, no exceptions, no OS calls: this header is part of the portable core.
// Thread safety: none; one caller at a time.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace fw::boot {

enum class FlashError : uint8_t {
  kOk = 0,
  kOutOfRange,  // offset/length beyond the area
  kMisaligned,  // write or erase not aligned to the device's unit
  kNotErased,   // write to a byte that is not erased
  kPowerLost,   // the device lost power (simulator) — nothing further happens
  kIo,          // the medium or OS reported an error, or read-back differed
};

// Stable lower-case description, e.g. "write to non-erased flash".
const char* FlashErrorName(FlashError e);

// How Flash::ReadDurable reaches the stored bytes (recorded in the flash history):
//  kFlash        the flash itself (raw NOR/NAND, the simulator): a read reads the chip;
//  kDirect       a file or block device opened with O_DIRECT: the read bypasses the OS page
//                cache and comes from the medium;
//  kDroppedCache a file system without O_DIRECT (tmpfs before Linux 6.6, some FUSE): every
//                Sync/SyncRange drops the synced range's cached pages (POSIX_FADV_DONTNEED
//                after fdatasync), so the next read of it goes to the medium.
enum class ReadBackMode : uint8_t { kFlash = 0, kDirect, kDroppedCache };

// "flash", "direct", "dropped-cache".
constexpr const char* ReadBackModeName(ReadBackMode m) {
  return m == ReadBackMode::kDirect ? "direct" : m == ReadBackMode::kDroppedCache ? "dropped-cache" : "flash";
}

class Flash {
 public:
  virtual uint64_t Size() const = 0;
  virtual uint32_t EraseBlockSize() const = 0;  // power of two
  virtual uint32_t WriteAlignment() const = 0;  // 1, 2, 4 or 8
  virtual uint8_t ErasedValue() const = 0;      // 0xFF or 0x00

  virtual FlashError Read(uint64_t offset, uint8_t* buf, size_t len) = 0;
  // Programs erased bytes. offset and len must be multiples of WriteAlignment().
  virtual FlashError Write(uint64_t offset, const uint8_t* data, size_t len) = 0;
  // Erases whole blocks. offset and len must be multiples of EraseBlockSize().
  virtual FlashError Erase(uint64_t offset, uint64_t len) = 0;
  // Makes every completed Write/Erase durable (fsync on files; no-op on raw flash).
  virtual FlashError Sync() = 0;
  // Makes the completed writes in [offset, offset + len) durable, like Sync() for
  // that range, and may run while other threads Read() and Write() (files:
  // fdatasync). A streaming writer's flusher uses it to make the bank durable
  // piece by piece instead of all at the end. Default: nothing to do (raw flash
  // holds what was programmed).
  virtual FlashError SyncRange(uint64_t offset, uint64_t len) {
    (void)offset;
    (void)len;
    return FlashError::kOk;
  }
  // False when Write() may overwrite any byte (files, eMMC/SD block devices), so a
  // streaming writer need not erase before programming. Raw NOR flash: true.
  virtual bool ProgramNeedsErase() const { return true; }
  // Reads bytes that Sync()/SyncRange() made durable from the medium itself, past any
  // OS cache, so a read-back proves what the storage holds and not what the kernel
  // remembers writing (DurableReadMode() says how). Reading a range that was written
  // but not yet synced gives unspecified bytes. Raw flash: Read(). Where the mode is
  // not kFlash, ReadDurable may run while other threads Write() and SyncRange().
  virtual FlashError ReadDurable(uint64_t offset, uint8_t* buf, size_t len) { return Read(offset, buf, len); }
  virtual ReadBackMode DurableReadMode() const { return ReadBackMode::kFlash; }

 protected:
  ~Flash() = default;
};

// A window [base, base + size) of another Flash, with offsets relative to base.
// base and size must be multiples of the parent's erase block size (the layout
// loader checks this); the region does not own the parent.
class FlashRegion final : public Flash {
 public:
  FlashRegion() = default;
  FlashRegion(Flash& parent, uint64_t base, uint64_t size) : parent_(&parent), base_(base), size_(size) {}

  uint64_t Size() const override { return size_; }
  uint32_t EraseBlockSize() const override { return parent_->EraseBlockSize(); }
  uint32_t WriteAlignment() const override { return parent_->WriteAlignment(); }
  uint8_t ErasedValue() const override { return parent_->ErasedValue(); }
  FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override;
  FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override;
  FlashError Erase(uint64_t offset, uint64_t len) override;
  FlashError Sync() override { return parent_->Sync(); }
  FlashError SyncRange(uint64_t offset, uint64_t len) override;
  bool ProgramNeedsErase() const override { return parent_->ProgramNeedsErase(); }
  FlashError ReadDurable(uint64_t offset, uint8_t* buf, size_t len) override {
    if (!InRange(offset, len)) return FlashError::kOutOfRange;
    return parent_->ReadDurable(base_ + offset, buf, len);
  }
  ReadBackMode DurableReadMode() const override { return parent_->DurableReadMode(); }

 private:
  bool InRange(uint64_t offset, uint64_t len) const { return offset <= size_ && len <= size_ - offset; }
  Flash* parent_ = nullptr;
  uint64_t base_ = 0;
  uint64_t size_ = 0;
};

}  // namespace fw::boot
