// StreamBundleSource: an offline bundle read front to back from a ByteStream; HttpStreamOpener.
// Rules: fw/net_sources.h.
#include "fw/net_sources.h"

namespace fw::bundle {
namespace {

class StreamSource final : public BundleSource {
 public:
  explicit StreamSource(std::unique_ptr<net::ByteStream> stream) : stream_(std::move(stream)) {}
  Result<size_t> Read(std::span<uint8_t> buf) override { return stream_->Read(buf); }
  const std::string& Name() const override { return stream_->Name(); }
  std::optional<uint64_t> Size() const override { return stream_->Size(); }
  // PeekAt: not offered. A peek would cost a second connection for the trailing bytes, and the
  // reader checks them when the stream reaches them (fw/bundle_source.h).

 private:
  std::unique_ptr<net::ByteStream> stream_;
};

}  // namespace

std::unique_ptr<BundleSource> StreamBundleSource(std::unique_ptr<net::ByteStream> stream) {
  return std::make_unique<StreamSource>(std::move(stream));
}

StreamOpener HttpStreamOpener(net::StreamOptions options, Clock& clock) {
  return [options = std::move(options), &clock](const std::string& url) -> Result<std::unique_ptr<net::ByteStream>> {
    FW_ASSIGN_OR_RETURN(auto s, net::HttpStream::Open(url, options, clock));
    return std::unique_ptr<net::ByteStream>(std::move(s));
  };
}

}  // namespace fw::bundle
