// libFuzzer target for fwserver.json (fw/server/config.h, ParseConfig): outside input written by
// operators and copied between machines. Whatever parses must be inside the documented bounds.
// Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto c = fw::server::ParseConfig(text, "/data");
  if (c.ok()) {
    const auto& l = c->limits;
    if (l.header_bytes < 1024 || l.header_bytes > 65536 || l.max_connections < 1 || l.threads < 0 || l.threads > 256 ||
        c->poll_jitter_seconds >= c->poll_seconds || c->database.empty() || c->repository_dir.empty() ||
        (c->issuer_socket.empty() == c->issuer_key.empty())) {
      __builtin_trap();
    }
  }
  return 0;
}
