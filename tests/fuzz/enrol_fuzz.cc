// libFuzzer target for the enrolment and renewal body parsers of fwserver's device API
// (ParseEnrolRequest, ParseRenewRequest): bounded, and what parses holds a well-formed token
// and serial. The CSR inside is identity's ParseCsr (csr_fuzz). Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/server/device_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = fw::server::ParseEnrolRequest(text);
  if (e.ok()) {
    if (text.size() > fw::server::kMaxEnrolBytes) __builtin_trap();
    if (e->token.size() != 64 || !fw::server::IsValidSerial(e->serial)) __builtin_trap();
  }
  auto r = fw::server::ParseRenewRequest(text);
  if (r.ok() && r->csr_pem.size() > 16 * 1024) __builtin_trap();
  return 0;
}
