// libFuzzer target for the agent's other reply parsers (fw/agent/protocol.h): event, segment and
// certificate replies and error bodies. The first byte picks the parser; the rest is the body.
// Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/agent/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto r = fw::agent::ParseEventReply(body);
      if (r.ok() && r->result != "applied" && r->result != "duplicate" && r->result != "ignored_older")
        __builtin_trap();
      break;
    }
    case 1: {
      auto r = fw::agent::ParseSegmentReply(body);
      if (r.ok() && (r->last_seq < r->first_seq || r->findings.size() > 64)) __builtin_trap();
      break;
    }
    case 2: {
      auto r = fw::agent::ParseCertificateReply(body);
      if (r.ok() && r->certificate.empty()) __builtin_trap();
      break;
    }
    default: {
      auto e = fw::agent::ParseServerError(400, body, body.substr(0, body.size() < 12 ? body.size() : 12));
      if (e.message.size() > 4096 || e.Describe().empty()) __builtin_trap();
      break;
    }
  }
  return 0;
}
