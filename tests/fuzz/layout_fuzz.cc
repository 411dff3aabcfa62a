// libFuzzer target for the layout file parser (a terminal's layout file is outside input:
// hand-written by integrators, copied between machines). Parse() only: storage identity
// (Layout::Load) asks the file system and is tested in tests/bootloader/layout_storage_test.cc.
// Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/boot/layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto layout = fw::boot::Layout::Parse(text, "/nonexistent-layout-base");
  if (layout.ok()) {
    // Whatever parses has bounded regions whose extent does not wrap.
    for (const auto& r : layout->regions) {
      if (r.size > fw::boot::kMaxRegionSize || r.offset + r.size < r.offset) __builtin_trap();
    }
  }
  return 0;
}
