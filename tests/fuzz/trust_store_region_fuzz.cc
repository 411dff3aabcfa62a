// libFuzzer target for the trust store region (bootloader/README.md, "Trust store"): the
// input is the whole region (two copies: provisioned text or versioned copies with
// header and SHA-256), as flash left it — erased, torn, or tampered with.
// Whatever reads is consistent (the copy taken is valid and the newest valid one), and
// an update written over it reads back as exactly that update at version + 1, with the
// copy read before still intact (the cut-safety rule: never write the copy in use).
// Under g++ it replays the corpus.
#include <cstdint>
#include <cstring>

#include "fw/boot/sim_flash.h"
#include "fw/boot/trust_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  fw::boot::FlashGeometry g;
  g.erase_block_size = size >= 8192 ? 4096 : 512;
  g.size = size == 0 ? g.erase_block_size : (size + g.erase_block_size - 1) / g.erase_block_size * g.erase_block_size;
  g.write_alignment = 8;
  auto flash = fw::boot::SimFlash::Create(g);
  if (!flash.ok()) __builtin_trap();
  if (size > 0) std::memcpy(flash->bytes().data(), data, size);
  auto ts = fw::boot::TrustStore::Read(*flash);
  if (!ts.ok()) return 0;
  if (ts->copy < 0 || ts->copy > 1 || !ts->copies[ts->copy].valid || ts->copies[ts->copy].version != ts->version ||
      ts->boot_keys.empty()) {
    __builtin_trap();
  }
  const int other = 1 - ts->copy;
  if (ts->copies[other].valid && ts->copies[other].version > ts->version) __builtin_trap();
  if (ts->version == UINT64_MAX) return 0;
  const uint64_t copy = fw::boot::TrustStore::CopySize(*flash);
  const auto before = flash->bytes();
  fw::Status s = ts->WriteVersion(*flash, *ts, ts->version + 1);
  if (!s.ok()) {
    if (s.code() != fw::ErrorCode::kFailedPrecondition || flash->bytes() != before) __builtin_trap();
    return 0;
  }
  auto after = fw::boot::TrustStore::Read(*flash);
  if (!after.ok() || after->version != ts->version + 1 || after->copy != other ||
      after->Serialize() != ts->Serialize()) {
    __builtin_trap();
  }
  // The copy in use before the update is untouched.
  const uint64_t at = static_cast<uint64_t>(ts->copy) * copy;
  if (std::memcmp(before.data() + at, flash->bytes().data() + at, copy) != 0) __builtin_trap();
  return 0;
}
