// FlashRegion: a bounds-checked window of another Flash.
#include "fw/boot/flash.h"

namespace fw::boot {

FlashError FlashRegion::Read(uint64_t offset, uint8_t* buf, size_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  return parent_->Read(base_ + offset, buf, len);
}

FlashError FlashRegion::Write(uint64_t offset, const uint8_t* data, size_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  return parent_->Write(base_ + offset, data, len);
}

FlashError FlashRegion::Erase(uint64_t offset, uint64_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  return parent_->Erase(base_ + offset, len);
}

FlashError FlashRegion::SyncRange(uint64_t offset, uint64_t len) {
  if (!InRange(offset, len)) return FlashError::kOutOfRange;
  return parent_->SyncRange(base_ + offset, len);
}

}  // namespace fw::boot
