// SKELETON (issue 17, helper "stream"): HttpStream over libcurl.
#include "fw/http_stream.h"

namespace fw::net {

Status StreamOptions::Validate() const { return http.Validate(); }

Result<std::unique_ptr<HttpStream>> HttpStream::Open(const std::string& url, const StreamOptions&, Clock&, uint64_t) {
  return Unsupported("SKELETON: HttpStream::Open(" + url + ")");
}

}  // namespace fw::net
