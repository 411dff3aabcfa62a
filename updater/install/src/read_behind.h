// The target bank while an install writes it, shared by three threads:
//  - the writer (the installer's BankWriter) programs it front to back;
//  - a flusher thread makes what was programmed durable (Flash::SyncRange:
//    fdatasync on files) whenever at least `window` new bytes are there, so the
//    disk works while the stream goes on and the writer's final Sync() has only
//    the tail left;
//  - the reader (the bootloader core's whole-bank read-back, ProveBank) reads it
//    through this Flash; each read waits until its bytes are durable (flushed, or
//    Complete() after the writer's final Sync) and then reads them from the medium
//    (Flash::ReadDurable: O_DIRECT, or after the flush dropped their cached pages;
//    the chip itself on raw flash), never from what the OS page cache remembers.
// The read-back and its hash thus run behind the writer instead of after it
// (docs/install.md, "Read-back").
//
// On files and block devices a fetcher thread reads the durable bytes ahead from the
// medium, in order, into three 2 MiB aligned slots (large O_DIRECT reads that overlap
// the reader's hashing); reads are served from the slots (a read behind the slots —
// the core re-reading a header — reads the medium directly), beside the writer. On raw flash (ReadBackMode::kFlash)
// Read/Write/Erase/Sync of the underlying Flash are serialized (the flash
// simulator is not thread-safe). SyncRange runs outside that lock, as its
// contract allows, so a flush never blocks a write or a read. After Abort(),
// reads of bytes not yet durable fail with kIo.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
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
  // The writer gave up: pending and later reads of bytes not yet durable fail.
  void Abort();
  // How the read-back reaches the stored bytes ("direct", "dropped-cache", "flash").
  boot::ReadBackMode mode() const { return bank_.DurableReadMode(); }

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
  boot::FlashError ReadDurable(uint64_t offset, uint8_t* buf, size_t len) override { return Read(offset, buf, len); }
  boot::ReadBackMode DurableReadMode() const override { return bank_.DurableReadMode(); }

  static constexpr size_t kSlotSize = 2 << 20;
  static constexpr size_t kSlots = 3;
  static constexpr uint64_t kReadAlign = 4096;

 private:
  ReadBehindBank(boot::Flash& bank, uint64_t window) : bank_(bank), window_(window) {}
  void Flusher();
  void Stop(bool complete);
  void Fetcher();
  boot::FlashError ReadFetched(uint64_t offset, uint8_t* buf, size_t len);
  void Rewind(uint64_t offset);  // requires mu_
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  struct Slot {
    std::unique_ptr<uint8_t, FreeDeleter> data;
    enum State { kFree, kBusy, kReady } state = kFree;
    uint64_t from = 0, to = 0;  // kReady: bytes [from, to) of the bank, as read from the medium
    boot::FlashError error = boot::FlashError::kOk;
  };

  boot::Flash& bank_;
  const uint64_t window_;
  std::mutex io_mu_;  // raw flash: serializes the underlying Read/Write/Erase/Sync
  std::mutex mu_;
  std::condition_variable cv_;  // programmed_, readable_, stopping_ changed
  uint64_t programmed_ = 0;     // guarded by mu_: end of the programmed prefix
  uint64_t readable_ = 0;       // guarded by mu_: [0, readable_) is durable and may be read back
  uint64_t flushed_ = 0;        // guarded by mu_: SyncRange covered [0, flushed_)
  uint64_t rewinds_ = 0;        // guarded by mu_: writes or erases below programmed_ so far
  bool stopping_ = false;       // guarded by mu_
  bool aborted_ = false;        // guarded by mu_: Abort() or destruction; the fetcher stops
  // Read-ahead from the medium (not on raw flash).
  Slot slots_[kSlots];       // guarded by mu_ (data: written by the fetcher while kBusy, read by the reader)
  uint64_t fetched_to_ = 0;  // guarded by mu_: the fetcher has read [.., fetched_to_); next from its block
  std::mutex rd_mu_;         // one reader at a time
  std::thread fetcher_;
  std::thread flusher_;
};

}  // namespace fw::install
