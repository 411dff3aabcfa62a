// libFuzzer target for the RFC 7512 pkcs11: URI parser (key options given to fwsign, and URIs
// copied from p11tool / `fwsign key list`). Whatever parses round-trips: ToString(true) parses
// back to the same URI text. Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/pkcs11_uri.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto uri = fw::Pkcs11Uri::Parse(text);
  if (!uri.ok()) return 0;
  if (text.size() > fw::Pkcs11Uri::kMaxUriLength) __builtin_trap();
  if (uri->token && uri->token->size() > 32) __builtin_trap();
  const std::string once = uri->ToString(true);
  auto again = fw::Pkcs11Uri::Parse(once);
  if (!again.ok() || again->ToString(true) != once || again->id != uri->id || again->object != uri->object ||
      again->pin_value != uri->pin_value || again->module_path != uri->module_path) {
    __builtin_trap();
  }
  return 0;
}
