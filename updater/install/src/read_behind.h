// The target bank while an install writes it, shared by three threads:
//  - the writer (the installer's BankWriter) programs it front to back;
//  - the reader (the bootloader core's whole-bank read-back, ProveBank) reads it
//    through this Flash, and each read waits until its bytes were programmed;
//  - a flusher thread makes what was programmed durable (Flash::SyncRange:
//    fdatasync on files) whenever at least `window` new bytes are there, so the
//    disk works while the stream goes on and the writer's final Sync() has only
//    the tail left.
// The read-back and its hash thus run behind the writer instead of after it
// (docs/install.md, "Read-back").
//
// Read/Write/Erase/Sync of the underlying Flash are serialized (the flash
// simulator is not thread-safe); SyncRange runs outside that lock, as its
// contract allows, so a flush never blocks a write or a read. After Abort(),
// reads of bytes not yet programmed fail with kIo.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "fw/boot/flash.h"
#include "fw/status.h"

namespace fw::install {

class ReadBehindBank final : public boot::Flash {
 public:
  // Starts the flusher; `window` > 0.
  static Result<std::unique_ptr<ReadBehindBank>> Start(boot::Flash& bank, uint64_t window);
  ReadBehindBank(const ReadBehindBank&) = delete;
  ReadBehindBank& operator=(const ReadBehindBank&) = delete;
  ~ReadBehindBank();  // aborts unless Complete() ran, and joins the flusher

  // The writer synced the bank (BankWriter::Finish): the whole bank may be read.
  void Complete();
  // The writer gave up: pending and later reads of bytes not yet programmed fail.
  void Abort();

  uint64_t Size() const override { return bank_.Size(); }
  uint32_t EraseBlockSize() const override { return bank_.EraseBlockSize(); }
  uint32_t WriteAlignment() const override { return bank_.WriteAlignment(); }
  uint8_t ErasedValue() const override { return bank_.ErasedValue(); }
  bool ProgramNeedsErase() const override { return bank_.ProgramNeedsErase(); }
  boot::FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override;
  // Writes must come front to back (each at or before the programmed end).
  boot::FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override;
  boot::FlashError Erase(uint64_t offset, uint64_t len) override;
  boot::FlashError Sync() override;

 private:
  ReadBehindBank(boot::Flash& bank, uint64_t window) : bank_(bank), window_(window) {}
  void Flusher();
  void Stop(bool complete);

  boot::Flash& bank_;
  const uint64_t window_;
  std::mutex io_mu_;  // serializes the underlying Read/Write/Erase/Sync
  std::mutex mu_;
  std::condition_variable cv_;  // programmed_, readable_, stopping_ changed
  uint64_t programmed_ = 0;     // guarded by mu_: end of the programmed prefix
  uint64_t readable_ = 0;       // guarded by mu_: reads of [0, readable_) may go through
  uint64_t flushed_ = 0;        // guarded by mu_: SyncRange covered [0, flushed_)
  bool stopping_ = false;       // guarded by mu_
  std::thread flusher_;
};

}  // namespace fw::install
