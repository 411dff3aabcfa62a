// libFuzzer target for DeviceCertVerifier::Inspect (fw/server/device_cert.h): the client certificate
// a TLS peer presents, as arbitrary DER, against a fixed fleet CA (device_cert_ca/chain.pem, made by
// `fwserver ca init`) at a fixed time, so the seed device certificate verifies and mutations explore
// every check. The input is split at the first 0xFF 0xFE pair (if any) into a leaf and a second
// "intermediate" the verifier must ignore. Under g++ it replays the corpus.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

#include "fw/server/device_cert.h"

namespace {

const fw::server::DeviceCertVerifier& Verifier() {
  static const auto* verifier = [] {
    std::ifstream in(std::string(FW_DEVICE_CERT_FUZZ_CA_DIR) + "/chain.pem");
    std::stringstream pem;
    pem << in.rdbuf();
    auto v = fw::server::DeviceCertVerifier::Create(pem.str());
    if (!v.ok()) __builtin_trap();
    return v->release();
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kSeedTime = 1795753637 + 3600;  // when the seeds were made (+1 h)
  std::vector<fw::Bytes> chain;
  size_t split = size;
  for (size_t i = 0; i + 1 < size; ++i) {
    if (data[i] == 0xFF && data[i + 1] == 0xFE) {
      split = i;
      break;
    }
  }
  chain.emplace_back(data, data + split);
  if (split + 2 <= size) chain.emplace_back(data + split + 2, data + size);
  const fw::server::Peer peer = Verifier().Inspect(chain, kSeedTime);
  using State = fw::server::Peer::CertState;
  if (peer.cert == State::kValid || peer.cert == State::kExpired) {
    if (peer.serial.empty() || peer.serial.size() > 64 || peer.spki_sha256_hex.size() != 64) __builtin_trap();
  }
  if (peer.cert == State::kValid && !peer.problem.empty()) __builtin_trap();
  if (peer.cert == State::kInvalid && peer.problem.empty()) __builtin_trap();
  return 0;
}
