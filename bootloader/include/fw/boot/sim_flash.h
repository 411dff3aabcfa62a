// Flash simulator with fault injection (host only; tests and sweeps).
//
// Holds the whole device in memory and enforces NOR rules: erase whole blocks,
// program only erased bytes, honour the write alignment. Writes and erases are
// counted as "operations" (1-based); a FaultPlan cuts power before or after the
// k-th operation, or tears it (only a prefix of its bytes, or only some of the
// bits being programmed, reach the array — then power is lost). Reads may flip a
// bit in the returned data. Everything random is drawn from `seed`, so a failing
// case replays exactly.
//
// After a cut every operation returns kPowerLost until PowerOn(). The array
// keeps whatever reached it — that is the point.
//
// Thread safety: none.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "fw/boot/flash.h"
#include "fw/status.h"

namespace fw::boot {

struct FlashGeometry {
  uint64_t size = 0;
  uint32_t erase_block_size = 4096;  // power of two, divides size
  uint32_t write_alignment = 1;      // 1, 2, 4 or 8
  uint8_t erased_value = 0xFF;       // 0xFF or 0x00
};

// Checks a geometry: clear error naming the bad value.
Status ValidateGeometry(const FlashGeometry& g);

enum class TearMode : uint8_t {
  kPrefix,  // the first n bytes (n < len, drawn from the seed, or `tear_bytes`) are programmed
  kBits,    // every byte gets a random subset of its programmed bits
};

struct FaultPlan {
  uint64_t cut_before_op = 0;  // 1-based; 0 = never. The op does not happen.
  uint64_t cut_after_op = 0;   // the op completes, then power is lost
  uint64_t tear_op = 0;        // the op is torn, then power is lost
  TearMode tear_mode = TearMode::kPrefix;
  int64_t tear_bytes = -1;  // kPrefix: exact prefix length (clamped below len); -1 = from the seed
  uint64_t seed = 1;
  uint32_t read_flip_one_in = 0;  // each read flips one bit with probability 1/N; 0 = never
};

enum class OpKind : uint8_t { kWrite, kErase };

class SimFlash final : public Flash {
 public:
  static Result<SimFlash> Create(const FlashGeometry& g);

  uint64_t Size() const override { return geometry_.size; }
  uint32_t EraseBlockSize() const override { return geometry_.erase_block_size; }
  uint32_t WriteAlignment() const override { return geometry_.write_alignment; }
  uint8_t ErasedValue() const override { return geometry_.erased_value; }
  FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override;
  FlashError Write(uint64_t offset, const uint8_t* data, size_t len) override;
  FlashError Erase(uint64_t offset, uint64_t len) override;
  FlashError Sync() override { return powered_ ? FlashError::kOk : FlashError::kPowerLost; }

  // Installs a plan; operation counting continues from ops().
  void SetFaults(const FaultPlan& plan);
  void ClearFaults() { SetFaults(FaultPlan{}); }
  // A reset: power returns, pending faults are dropped.
  void PowerOn();
  bool powered() const { return powered_; }

  uint64_t ops() const { return ops_; }  // writes + erases performed or attempted past the checks
  uint64_t write_ops() const { return writes_; }
  uint64_t read_flips() const { return flips_; }

  // Called before every counted operation (after its checks), with the device
  // still in its pre-op state: lets tests assert invariants at the instant a
  // byte is about to change.
  void SetObserver(std::function<void(OpKind, uint64_t offset, uint64_t len)> observer) {
    observer_ = std::move(observer);
  }

  std::vector<uint8_t>& bytes() { return bytes_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  explicit SimFlash(const FlashGeometry& g) : geometry_(g), bytes_(g.size, g.erased_value) {}
  uint64_t Next();  // splitmix64 over the plan's seed
  FlashError BeginOp(OpKind kind, uint64_t offset, uint64_t len, bool* tear);

  FlashGeometry geometry_;
  std::vector<uint8_t> bytes_;
  FaultPlan plan_;
  uint64_t rng_ = 0;
  bool powered_ = true;
  uint64_t ops_ = 0;
  uint64_t writes_ = 0;
  uint64_t flips_ = 0;
  std::function<void(OpKind, uint64_t, uint64_t)> observer_;
};

}  // namespace fw::boot
