// Streams an image into a bank in order, honouring flash rules: each erase
// block is erased just before the first byte lands in it (on flash that needs
// it; files and block devices are overwritten in place), writes are aligned
// (a partial aligned unit is held back until it fills), and Finish() pads the
// tail with the erased value and syncs.
//
// The caller must have marked the slot unbootable first (Bootloader::PrepareInstall)
// and feeds only bytes it has verified (invariant 3). Bounded memory: one
// alignment unit plus the caller's chunk.
//
// Thread safety: none.
#pragma once

#include <cstdint>
#include <vector>

#include "fw/boot/flash.h"
#include "fw/crypto.h"
#include "fw/status.h"

namespace fw::boot {

class BankWriter {
 public:
  // Fails (InvalidArgument) if `image_size` bytes, padded to the write alignment, do not fit the bank.
  static Result<BankWriter> Create(Flash& bank, uint64_t image_size);

  // Appends bytes at `offset`, which must equal the number of bytes appended so far.
  Status Append(uint64_t offset, ByteSpan data);
  // Pads the last unit, writes it, and syncs the bank. Requires every byte to have been appended.
  Status Finish();

  uint64_t appended() const { return appended_; }

 private:
  BankWriter(Flash& bank, uint64_t image_size) : bank_(&bank), image_size_(image_size) {}
  Status EraseThrough(uint64_t end);  // erases every block up to `end` not yet erased
  Status Program(uint64_t offset, const uint8_t* data, size_t len);

  Flash* bank_;
  uint64_t image_size_;
  uint64_t appended_ = 0;
  uint64_t erased_end_ = 0;
  std::vector<uint8_t> pending_;  // bytes of an incomplete aligned unit, starting at appended_ - pending_.size()
};

}  // namespace fw::boot
