// libFuzzer target for the journal vault's Open (fw/server/journal_vault.h) on arbitrary stored
// text with a fixed key: it never crashes; plain text opens as itself; a sealed text that opens
// seals and opens again to the same body; nothing opens under another segment's associated data.
// Under g++ it replays the corpus.
#include <cstdint>
#include <string>

#include "fw/server/journal_vault.h"

namespace {

const fw::Bytes& Key() {
  static const fw::Bytes key = [] {
    fw::Bytes k;
    for (int i = 0; i < 32; ++i) k.push_back(static_cast<uint8_t>(i));
    return k;
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto vault = fw::server::MakeVaultWithKey(Key()).value();
  static const auto plain = fw::server::MakeVault("").value();
  const std::string stored(reinterpret_cast<const char*>(data), size);
  const std::string ad = fw::server::SegmentAssociatedData("TERM-0001", 1, 2);
  const bool sealed = stored.rfind("ptfw-seal-v1:", 0) == 0;
  auto opened = vault->Open(ad, stored);
  if (!sealed && (!opened.ok() || *opened != stored)) __builtin_trap();
  if (sealed && plain->Open(ad, stored).ok()) __builtin_trap();  // never readable without the key
  if (!opened.ok()) return 0;
  if (sealed && vault->Open(fw::server::SegmentAssociatedData("TERM-0001", 1, 3), stored).ok()) __builtin_trap();
  auto again = vault->Seal(ad, *opened);
  if (!again.ok()) __builtin_trap();
  auto back = vault->Open(ad, *again);
  if (!back.ok() || *back != *opened) __builtin_trap();
  return 0;
}
