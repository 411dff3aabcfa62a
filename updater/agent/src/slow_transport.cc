#include "slow_transport.h"

#include <algorithm>

namespace fw::agent {
namespace {

class SlowStream final : public net::ByteStream {
 public:
  SlowStream(std::unique_ptr<net::ByteStream> inner, int delay_ms, Clock& clock)
      : inner_(std::move(inner)), delay_ms_(delay_ms), clock_(clock) {}
  Result<size_t> Read(std::span<uint8_t> buf) override {
    auto n = inner_->Read(buf.first(std::min(buf.size(), kSlowReadBytes)));
    if (n.ok() && *n > 0) clock_.SleepMs(delay_ms_);
    return n;
  }
  Status Seek(uint64_t offset) override { return inner_->Seek(offset); }
  std::optional<uint64_t> Size() const override { return inner_->Size(); }
  uint64_t Offset() const override { return inner_->Offset(); }
  const std::string& Name() const override { return inner_->Name(); }

 private:
  std::unique_ptr<net::ByteStream> inner_;
  int delay_ms_;
  Clock& clock_;
};

class SlowTransport final : public Transport {
 public:
  SlowTransport(Transport& inner, int delay_ms, Clock& clock) : inner_(inner), delay_ms_(delay_ms), clock_(clock) {}
  Result<Answer<CheckinReply>> Checkin(const Manifest& m, const std::string& etag) override {
    return inner_.Checkin(m, etag);
  }
  Result<Answer<EventReply>> PostEvent(const Event& e) override { return inner_.PostEvent(e); }
  Result<Answer<SegmentReply>> UploadSegment(const std::string& s) override { return inner_.UploadSegment(s); }
  Result<Answer<CertificateReply>> Renew(const std::string& csr) override { return inner_.Renew(csr); }
  Status InstallCertificate(const CertificateReply& c, const std::string& key) override {
    return inner_.InstallCertificate(c, key);
  }
  Result<std::string> CurrentCertificate() override { return inner_.CurrentCertificate(); }
  Result<std::string> ResolveRepository(const std::string& r) override { return inner_.ResolveRepository(r); }
  net::Fetcher& RepositoryFetcher() override { return inner_.RepositoryFetcher(); }
  Result<std::unique_ptr<net::ByteStream>> OpenStream(const std::string& url) override {
    FW_ASSIGN_OR_RETURN(auto s, inner_.OpenStream(url));
    return std::unique_ptr<net::ByteStream>(std::make_unique<SlowStream>(std::move(s), delay_ms_, clock_));
  }

 private:
  Transport& inner_;
  int delay_ms_;
  Clock& clock_;
};

}  // namespace

std::unique_ptr<Transport> MakeSlowTransport(Transport& inner, int delay_ms, Clock& clock) {
  return std::make_unique<SlowTransport>(inner, delay_ms, clock);
}

}  // namespace fw::agent
