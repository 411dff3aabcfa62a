#include "fw/boot/sim_flash.h"

#include <string>

namespace fw::boot {

Status ValidateGeometry(const FlashGeometry& g) {
  const uint32_t eb = g.erase_block_size;
  if (eb == 0 || (eb & (eb - 1)) != 0 || eb > (16u << 20)) {
    return InvalidArgument("erase block size " + std::to_string(eb) + " must be a power of two up to 16 MiB");
  }
  const uint32_t wa = g.write_alignment;
  if (wa != 1 && wa != 2 && wa != 4 && wa != 8) {
    return InvalidArgument("write alignment " + std::to_string(wa) + " must be 1, 2, 4 or 8");
  }
  if (wa > eb) return InvalidArgument("write alignment is larger than the erase block");
  if (g.erased_value != 0xFF && g.erased_value != 0x00) {
    return InvalidArgument("erased value " + std::to_string(g.erased_value) + " must be 255 (0xFF) or 0");
  }
  if (g.size == 0 || g.size % eb != 0) {
    return InvalidArgument("flash size " + std::to_string(g.size) + " must be a non-zero multiple of the erase block");
  }
  return Status::Ok();
}

Result<SimFlash> SimFlash::Create(const FlashGeometry& g) {
  FW_RETURN_IF_ERROR_CTX(ValidateGeometry(g), "flash simulator");
  if (g.size > (uint64_t{1} << 32)) return InvalidArgument("flash simulator: size above 4 GiB");
  return SimFlash(g);
}

void SimFlash::SetFaults(const FaultPlan& plan) {
  plan_ = plan;
  rng_ = plan.seed;
}

void SimFlash::PowerOn() {
  powered_ = true;
  ClearFaults();
}

uint64_t SimFlash::Next() {
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

FlashError SimFlash::Read(uint64_t offset, uint8_t* buf, size_t len) {
  if (!powered_) return FlashError::kPowerLost;
  if (offset > geometry_.size || len > geometry_.size - offset) return FlashError::kOutOfRange;
  for (size_t i = 0; i < len; ++i) buf[i] = bytes_[offset + i];
  if (plan_.read_flip_one_in != 0 && len > 0 && Next() % plan_.read_flip_one_in == 0) {
    uint64_t bit = Next() % (uint64_t{len} * 8);
    buf[bit / 8] = static_cast<uint8_t>(buf[bit / 8] ^ (1u << (bit % 8)));
    ++flips_;
  }
  return FlashError::kOk;
}

// Counts the operation and decides its fate. Returns kPowerLost if the op must
// not happen at all; sets *tear if only part of it reaches the array.
FlashError SimFlash::BeginOp(OpKind kind, uint64_t offset, uint64_t len, bool* tear) {
  ++ops_;
  if (kind == OpKind::kWrite) ++writes_;
  if (observer_) observer_(kind, offset, len);
  *tear = plan_.tear_op == ops_;
  if (plan_.cut_before_op == ops_) {
    powered_ = false;
    return FlashError::kPowerLost;
  }
  return FlashError::kOk;
}

FlashError SimFlash::Write(uint64_t offset, const uint8_t* data, size_t len) {
  if (!powered_) return FlashError::kPowerLost;
  if (offset > geometry_.size || len > geometry_.size - offset) return FlashError::kOutOfRange;
  if (offset % geometry_.write_alignment != 0 || len % geometry_.write_alignment != 0) return FlashError::kMisaligned;
  for (size_t i = 0; i < len; ++i) {
    if (bytes_[offset + i] != geometry_.erased_value) return FlashError::kNotErased;
  }
  bool tear = false;
  if (FlashError e = BeginOp(OpKind::kWrite, offset, len, &tear); e != FlashError::kOk) return e;
  if (tear) {
    if (plan_.tear_mode == TearMode::kPrefix) {
      uint64_t n = plan_.tear_bytes >= 0 ? static_cast<uint64_t>(plan_.tear_bytes) : (len ? Next() % len : 0);
      if (len > 0 && n >= len) n = len - 1;
      for (uint64_t i = 0; i < n; ++i) bytes_[offset + i] = data[i];
    } else {
      // Programming moves bits away from the erased value; a torn program moves
      // only some of them.
      for (size_t i = 0; i < len; ++i) {
        uint8_t change = static_cast<uint8_t>(geometry_.erased_value ^ data[i]);
        bytes_[offset + i] = static_cast<uint8_t>(geometry_.erased_value ^ (change & static_cast<uint8_t>(Next())));
      }
    }
    powered_ = false;
    return FlashError::kPowerLost;
  }
  for (size_t i = 0; i < len; ++i) bytes_[offset + i] = data[i];
  if (plan_.cut_after_op == ops_) {
    powered_ = false;
    return FlashError::kPowerLost;
  }
  return FlashError::kOk;
}

FlashError SimFlash::Erase(uint64_t offset, uint64_t len) {
  if (!powered_) return FlashError::kPowerLost;
  if (offset > geometry_.size || len > geometry_.size - offset) return FlashError::kOutOfRange;
  if (offset % geometry_.erase_block_size != 0 || len % geometry_.erase_block_size != 0) {
    return FlashError::kMisaligned;
  }
  bool tear = false;
  if (FlashError e = BeginOp(OpKind::kErase, offset, len, &tear); e != FlashError::kOk) return e;
  uint64_t n = len;
  if (tear) n = len ? Next() % len : 0;  // an interrupted erase: only part of the range is erased
  for (uint64_t i = 0; i < n; ++i) bytes_[offset + i] = geometry_.erased_value;
  if (tear || plan_.cut_after_op == ops_) {
    powered_ = false;
    return FlashError::kPowerLost;
  }
  return FlashError::kOk;
}

}  // namespace fw::boot
