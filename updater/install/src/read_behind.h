// The target bank while an install writes it, seen by two threads: the writer
// (the installer) programs it through this Flash and publishes how far the bank
// holds final, written-back bytes; the bootloader core reads it back on a second
// thread (Bootloader::ProveBank) through the same Flash, and each read waits
// until its bytes are published. The whole-bank read-back and its hash thus run
// behind the writer instead of after it (docs/install.md, "Read-back").
//
// Every access to the underlying Flash is serialized (the flash simulator is not
// thread-safe); WriteBack is forwarded without the lock (Flash::WriteBack must
// tolerate concurrent reads) so the writer's wait for the disk never blocks a read.
// A read past what will ever be published — after Abort() — fails with kIo.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "fw/boot/flash.h"

namespace fw::install {

class ReadBehindBank final : public boot::Flash {
 public:
  explicit ReadBehindBank(boot::Flash& bank) : bank_(bank) {}

  // Bytes [0, end) are final (written and written back). Monotonic.
  void Publish(uint64_t end);
  // The writer gave up: pending and later reads of unpublished bytes fail.
  void Abort();

  uint64_t Size() const override { return bank_.Size(); }
  uint32_t EraseBlockSize() const override { return bank_.EraseBlockSize(); }
  uint32_t WriteAlignment() const override { return bank_.WriteAlignment(); }
  uint8_t ErasedValue() const override { return bank_.ErasedValue(); }
  bool ProgramNeedsErase() const override { return bank_.ProgramNeedsErase(); }
  boot::FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override;
  boot::FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override;
  boot::FlashError Erase(uint64_t offset, uint64_t len) override;
  boot::FlashError Sync() override;
  boot::FlashError WriteBack(uint64_t offset, uint64_t len, bool wait) override {
    return bank_.WriteBack(offset, len, wait);
  }

 private:
  boot::Flash& bank_;
  std::mutex io_mu_;  // serializes the underlying Read/Write/Erase/Sync
  std::mutex mu_;
  std::condition_variable published_cv_;
  uint64_t published_ = 0;  // guarded by mu_
  bool aborted_ = false;    // guarded by mu_
};

}  // namespace fw::install
