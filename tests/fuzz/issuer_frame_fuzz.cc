// libFuzzer target for the issuer protocol's frame parsers (fw/server/issuer_service.h): what the
// issuer process reads from its socket (ParseIssuerRequest) and what the web process reads back
// (ParseIssuerResponse). A request that parses re-encodes to a frame that parses to the same request.
// Under g++ it replays the corpus.
#include <cstdint>

#include "fw/server/issuer_service.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fw::ByteSpan frame(data, size);
  auto request = fw::server::ParseIssuerRequest(frame);
  if (request.ok()) {
    if (size > 4 + fw::server::kMaxIssuerFrameBytes) __builtin_trap();
    const fw::Bytes again = fw::server::EncodeIssuerRequest(*request);
    auto round = fw::server::ParseIssuerRequest(again);
    if (!round.ok() || round->csr_pem != request->csr_pem || round->serial != request->serial ||
        round->not_before_s != request->not_before_s || round->not_after_s != request->not_after_s) {
      __builtin_trap();
    }
  }
  auto response = fw::server::ParseIssuerResponse(frame);
  if (!response.ok() && response.status().code() == fw::ErrorCode::kOk) __builtin_trap();
  return 0;
}
