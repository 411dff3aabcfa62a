// libFuzzer target for the journal snapshot descriptor parser (bytes from a store
// or a technician's host directory are outside input). Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/journal/snapshot.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto d = fw::journal::ParseDescriptor(text);
  if (d.ok()) {
    // Whatever parses must serialize and parse back to the same descriptor.
    auto again = fw::journal::ParseDescriptor(fw::journal::SerializeDescriptor(*d));
    if (!again.ok() || fw::journal::SerializeDescriptor(*again) != fw::journal::SerializeDescriptor(*d)) {
      __builtin_trap();
    }
    if (d->file.find('/') != std::string::npos) __builtin_trap();
  }
  return 0;
}
