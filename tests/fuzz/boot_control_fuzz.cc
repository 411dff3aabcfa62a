// libFuzzer target for the boot-control parser and two-copy selection (bytes the
// bootloader reads from flash at every reset). Under g++ it replays the corpus.
// Input: copy 0 (72 bytes) then copy 1 (72 bytes); shorter inputs are padded
// with the erased value.
#include <cstring>

#include "fw/boot/boot_control.h"

namespace {

using namespace fw::boot;

// A flash area backed by the fuzz input; writes are refused (the parser only reads).
class InputFlash final : public Flash {
 public:
  InputFlash(const uint8_t* data, size_t size) {
    std::memset(bytes_, 0xFF, sizeof bytes_);
    if (size > 0) std::memcpy(bytes_, data, size < sizeof bytes_ ? size : sizeof bytes_);
  }
  uint64_t Size() const override { return sizeof bytes_; }
  uint32_t EraseBlockSize() const override { return 128; }
  uint32_t WriteAlignment() const override { return 8; }
  uint8_t ErasedValue() const override { return 0xFF; }
  FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override {
    if (offset > sizeof bytes_ || len > sizeof bytes_ - offset) return FlashError::kOutOfRange;
    std::memcpy(buf, bytes_ + offset, len);
    return FlashError::kOk;
  }
  FlashError Write(uint64_t, const uint8_t*, size_t) override { return FlashError::kIo; }
  FlashError Erase(uint64_t, uint64_t) override { return FlashError::kIo; }
  FlashError Sync() override { return FlashError::kOk; }

 private:
  uint8_t bytes_[128];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // 1. The single-copy decoder: anything accepted must re-encode to the same bytes.
  BootControl bc;
  if (DecodeBootControl(data, size, &bc) == DecodeError::kOk) {
    uint8_t again[kBootControlSize];
    EncodeBootControl(bc, again);
    if (std::memcmp(again, data, kBootControlSize) != 0) __builtin_trap();
    if (bc.active_slot >= kSlotCount || bc.slots[bc.active_slot].state == SlotState::kTrial) __builtin_trap();
  }
  (void)DecodeErrorName(DecodeBootControl(data, size, &bc));

  // 2. Two-copy selection: the chosen copy must be valid and the newest valid one.
  const size_t half = size < kBootControlSize ? size : kBootControlSize;
  InputFlash c0(data, half);
  InputFlash c1(size > half ? data + half : data, size - half);
  BootControlStore store(c0, c1);
  BootControl picked;
  LoadInfo info = store.Load(&picked);
  if (info.found) {
    if (info.copy_error[info.copy] != DecodeError::kOk) __builtin_trap();
    const uint8_t other = static_cast<uint8_t>(1 - info.copy);
    if (info.copy_error[other] == DecodeError::kOk &&
        SequenceNewer(info.copy_sequence[other], info.copy_sequence[info.copy])) {
      __builtin_trap();
    }
  } else if (info.copy_error[0] == DecodeError::kOk || info.copy_error[1] == DecodeError::kOk) {
    __builtin_trap();
  }
  return 0;
}
