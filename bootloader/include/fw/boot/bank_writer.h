// Streams an image into a bank in order, honouring flash rules: each erase
// block is erased just before the first byte lands in it (on flash that needs
// it; files and block devices are overwritten in place), writes are aligned
// (a partial aligned unit is held back until it fills), and Finish() pads the
// tail with the erased value and syncs.
//
// Write-back: every `writeback_window` bytes the writer asks the medium to start
// writing what was programmed (Flash::WriteBack) and waits for the window before
// it, so the disk works while the stream goes on and Finish()'s sync has little
// left to do. written_back() tells a reader running behind the writer (the
// updater's read-back) how far the bank holds final bytes that reached the medium.
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
  static constexpr uint64_t kDefaultWriteBackWindow = 8 << 20;
  static Result<BankWriter> Create(Flash& bank, uint64_t image_size,
                                   uint64_t writeback_window = kDefaultWriteBackWindow);

  // Appends bytes at `offset`, which must equal the number of bytes appended so far.
  Status Append(uint64_t offset, ByteSpan data);
  // Pads the last unit, writes it, and syncs the bank. Requires every byte to have been appended.
  Status Finish();

  uint64_t appended() const { return appended_; }
  // Bytes [0, written_back()) are programmed and written back (all of them once
  // Finish() succeeded, the padded tail included).
  uint64_t written_back() const { return written_back_; }

 private:
  BankWriter(Flash& bank, uint64_t image_size, uint64_t window)
      : bank_(&bank), image_size_(image_size), window_(window) {}
  Status EraseThrough(uint64_t end);  // erases every block up to `end` not yet erased
  Status Program(uint64_t offset, const uint8_t* data, size_t len);
  Status PushWriteBack();  // starts a full window, waits for the one before
  Flash* bank_;
  uint64_t image_size_;
  uint64_t window_;
  uint64_t appended_ = 0;
  uint64_t programmed_ = 0;    // end of the programmed prefix
  uint64_t started_ = 0;       // write-back started for [0, started_)
  uint64_t written_back_ = 0;  // write-back finished for [0, written_back_)
  uint64_t erased_end_ = 0;
  std::vector<uint8_t> pending_;  // bytes of an incomplete aligned unit, starting at appended_ - pending_.size()
};

}  // namespace fw::boot
