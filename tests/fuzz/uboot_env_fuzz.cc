// libFuzzer target for the U-Boot environment parser and store (uboot_env.h): bytes read
// from an environment area any process on the terminal (or U-Boot, or an attacker with the
// disk) may have written. Under g++ it replays the corpus.
//
// Input: one mode byte, then the bytes.
//   bit 0  redundant (header 5 bytes, two copies) — else single
//   bit 1  fix the CRC(s) first, so the parser behind the CRC check is reached
//   bit 2  Store with the boolean flags rule — else incremental
//   bit 3  Load on a memory flash (both copies: the first and second half of the bytes),
//          then Save the loaded environment and Load it back — else DecodeCopy only
// Seeds (tests/fuzz/corpus/uboot_env/): mkenvimage images (-s 256, with -r / -p 0x00),
// two-copy files with wrapping flags, a torn copy and an erased area, each behind a mode byte.
#include <algorithm>
#include <cstring>

#include "fw/boot/boot_control.h"
#include "fw/boot/sim_flash.h"
#include "fw/boot/uboot_env.h"

namespace {

using namespace fw::boot;
using namespace fw::boot::uenv;

constexpr size_t kMaxInput = 1 << 16;

void FixCrc(uint8_t* copy, size_t size, bool redundant) {
  const size_t h = HeaderSize(redundant);
  if (size < h) return;
  uint32_t crc = fw::boot::Crc32(copy + h, size - h);
  for (int i = 0; i < 4; ++i) copy[i] = static_cast<uint8_t>(crc >> (8 * i));
}

void CheckDecode(fw::ByteSpan bytes, bool redundant) {
  auto d = DecodeCopy(bytes, redundant);
  if (!d.ok()) {
    if (d.status().code() != fw::ErrorCode::kCorrupt || d.status().message().empty()) __builtin_trap();
    return;
  }
  // Everything accepted obeys the limits and survives a round trip at the same size.
  for (const auto& [name, value] : d->env.vars()) {
    if (!ValidateName(name).ok() || !ValidateValue(name, value).ok()) __builtin_trap();
  }
  if (!redundant && d->flags != 0) __builtin_trap();
  auto again = EncodeCopy(d->env, bytes.size(), redundant, d->flags);
  if (!again.ok()) __builtin_trap();
  auto back = DecodeCopy(*again, redundant);
  if (!back.ok() || !(back->env == d->env) || back->flags != d->flags) __builtin_trap();
}

void CheckStore(const uint8_t* data, size_t size, bool redundant, bool fix, FlagsRule rule) {
  const size_t env_size = std::max<size_t>(HeaderSize(redundant) + 2, redundant ? size / 2 : size);
  const uint32_t eb = 256;
  const uint64_t area = (env_size + eb - 1) / eb * eb;
  auto flash = SimFlash::Create({.size = 2 * area, .erase_block_size = eb, .write_alignment = 4, .erased_value = 0xFF});
  if (!flash.ok()) __builtin_trap();
  auto& bytes = flash->bytes();
  if (size > 0) std::memcpy(bytes.data(), data, std::min<size_t>(size, env_size));
  if (redundant && size > env_size) {
    std::memcpy(bytes.data() + area, data + env_size, std::min(size - env_size, env_size));
  }
  if (fix) {
    FixCrc(bytes.data(), env_size, redundant);
    if (redundant) FixCrc(bytes.data() + area, env_size, redundant);
  }
  FlashRegion c0(*flash, 0, area), c1(*flash, area, area);
  StoreConfig config{.copy = {&c0, redundant ? &c1 : nullptr}, .size = env_size, .rule = rule};
  Store store(config);
  auto loaded = store.Load();
  if (!loaded.ok()) __builtin_trap();  // a memory flash never fails a read
  const Loaded& l = *loaded;
  if (l.found != (l.copies[0].valid || l.copies[1].valid)) __builtin_trap();
  if (l.found && (!l.copies[l.copy].valid || l.flags != l.copies[l.copy].flags)) __builtin_trap();
  if (!redundant && l.copies[1].valid) __builtin_trap();
  // Saving what was loaded, then loading, gives it back — from the other copy if redundant.
  if (!store.Save(l.env).ok()) __builtin_trap();
  auto after = store.Load();
  if (!after.ok() || !after->found || !(after->env == l.env)) __builtin_trap();
  if (redundant && l.found && after->copy == l.copy) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > kMaxInput) return 0;
  const uint8_t mode = data[0];
  const bool redundant = mode & 1, fix = mode & 2;
  const FlagsRule rule = (mode & 4) ? FlagsRule::kBoolean : FlagsRule::kIncremental;
  fw::Bytes bytes(data + 1, data + size);
  if (mode & 8) {
    CheckStore(bytes.data(), bytes.size(), redundant, fix, rule);
    return 0;
  }
  if (fix) FixCrc(bytes.data(), bytes.size(), redundant);
  CheckDecode(bytes, redundant);
  CheckDecode(bytes, !redundant);
  return 0;
}
