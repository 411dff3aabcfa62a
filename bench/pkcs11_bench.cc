// pkcs11_bench: time per signature through fw::Signer, for a token key and a key file.
//   pkcs11_bench KEY_SPEC COUNT MESSAGE_BYTES
// Opens KEY_SPEC with OpenSigner (a pkcs11: URI or a PEM file), signs COUNT distinct messages of
// MESSAGE_BYTES and prints "open_ms per_signature_us" (each signature is also verified by the
// signer, as fw::Signer requires). Run through bench/pkcs11_bench.sh.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fw/open_signer.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: pkcs11_bench KEY_SPEC COUNT MESSAGE_BYTES\n");
    return 2;
  }
  const int count = std::atoi(argv[2]);
  fw::Bytes message(static_cast<size_t>(std::atol(argv[3])), 0x5a);
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto signer = fw::OpenSigner(argv[1], {});
  if (!signer.ok()) {
    std::fprintf(stderr, "pkcs11_bench: %s\n", signer.status().message().c_str());
    return 1;
  }
  const auto t1 = Clock::now();
  for (int i = 0; i < count; ++i) {
    message[0] = static_cast<uint8_t>(i);
    message[1] = static_cast<uint8_t>(i >> 8);
    auto sig = (*signer)->Sign(message);
    if (!sig.ok()) {
      std::fprintf(stderr, "pkcs11_bench: %s\n", sig.status().message().c_str());
      return 1;
    }
  }
  const auto t2 = Clock::now();
  const double open_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const double per_us = std::chrono::duration<double, std::micro>(t2 - t1).count() / count;
  std::printf("%.1f %.1f\n", open_ms, per_us);
  return 0;
}
