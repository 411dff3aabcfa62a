// Fuzz target: the streaming bundle reader (full and head mode) on arbitrary bytes, against a fixed
// trusted root (bundle_trusted/root.json, keys from tests/keys) and a fixed clock,
// so the seed bundles verify fully and mutations explore every check.
#include <cstddef>
#include <cstdint>

#include "fw/bundle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fw::bundle::ReaderOptions o;
  o.metadata_dir = FW_BUNDLE_FUZZ_TRUSTED_DIR;
  o.policy = {"FUZZ", 0};
  static fw::FakeClock clock((1795550500LL + 3600) * 1000);  // when the seed repository was made (+1 h)
  o.clock = &clock;
  uint64_t total = 0;
  (void)fw::bundle::ReadBundleMemory({data, size}, o, [&](uint64_t offset, fw::ByteSpan chunk) {
    if (offset != total) __builtin_trap();  // chunks arrive in order, without gaps
    total += chunk.size();
    return fw::Status::Ok();
  });
  // Head mode (what the installer's plan reads) on the same bytes: it must stop at
  // the image's first chunk and never return more than one chunk.
  auto head = fw::bundle::ReadBundleHeadMemory({data, size}, o);
  if (head.ok() && head->first_chunk.size() > head->bundle.facts.chunk_size) __builtin_trap();
  return 0;
}
