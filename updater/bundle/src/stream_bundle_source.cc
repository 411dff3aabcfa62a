// SKELETON (issue 17, helper "stream"): a bundle read from a ByteStream; the HttpStream opener.
#include "fw/net_sources.h"

namespace fw::bundle {

std::unique_ptr<BundleSource> StreamBundleSource(std::unique_ptr<net::ByteStream>) { return nullptr; }

StreamOpener HttpStreamOpener(net::StreamOptions options, Clock& clock) {
  return [options, &clock](const std::string& url) -> Result<std::unique_ptr<net::ByteStream>> {
    FW_ASSIGN_OR_RETURN(auto s, net::HttpStream::Open(url, options, clock));
    return std::unique_ptr<net::ByteStream>(std::move(s));
  };
}

}  // namespace fw::bundle
