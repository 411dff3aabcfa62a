// The agent's Transport over HTTPS with mutual TLS (fw/agent/https_transport.h): fw::net::Call for the
// device API, HttpFetcher for TUF metadata, HttpStream for targets — all with the same identity files.
#include "fw/agent/https_transport.h"

#include <nlohmann/json.hpp>

#include "fw/file_io.h"
#include "fw/http_client.h"
#include "fw/http_fetcher.h"
#include "transport_util.h"

namespace fw::agent {
namespace {

constexpr uint64_t kMaxSegmentBody = 8u << 20;  // docs/fleet-journal-witness.md
constexpr uint64_t kMaxCertificateFile = 256 * 1024;

template <class T>
Result<Answer<T>> Decode(const Result<net::HttpReply>& reply, Result<T> (*parse)(std::string_view),
                         const std::string& what) {
  if (!reply.ok()) return reply.status().WithContext(what);
  Answer<T> answer;
  if (reply->status == 200) {
    auto value = parse(reply->body);
    if (!value.ok()) return value.status().WithContext(what + ": the server's reply");
    answer.value = std::move(*value);
    return answer;
  }
  answer.error = ParseServerError(reply->status, reply->body, internal::HeaderOf(*reply, "retry-after"));
  return answer;
}

class HttpsTransport : public Transport {
 public:
  HttpsTransport(HttpsTransportConfig config, std::string base)
      : config_(std::move(config)), base_(std::move(base)), fetcher_(Options()) {}

  Result<Answer<CheckinReply>> Checkin(const Manifest& manifest, const std::string& if_none_match) override {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!if_none_match.empty()) headers.emplace_back("If-None-Match", if_none_match);
    auto reply = Post("/v1/checkin", EncodeManifest(manifest), kMaxReplyBytes, headers);
    if (reply.ok() && reply->status == 304) {
      Answer<CheckinReply> answer;
      CheckinReply r;
      r.not_modified = true;
      r.etag = internal::HeaderOf(*reply, "etag");
      if (r.etag.empty()) r.etag = if_none_match;
      r.server_time = internal::HeaderInt(*reply, "fw-server-time");
      r.poll_seconds = internal::HeaderInt(*reply, "fw-poll-seconds");
      answer.value = std::move(r);
      return answer;
    }
    FW_ASSIGN_OR_RETURN(auto answer, Decode<CheckinReply>(reply, &ParseCheckinReply, "POST /v1/checkin"));
    if (answer.ok()) answer.value->etag = internal::HeaderOf(*reply, "etag");
    return answer;
  }

  Result<Answer<EventReply>> PostEvent(const Event& event) override {
    const std::string path = "/v1/actions/" + std::to_string(event.action) + "/events";
    return Decode<EventReply>(Post(path, EncodeEvent(event), kMaxReplyBytes), &ParseEventReply, "POST " + path);
  }

  Result<Answer<SegmentReply>> UploadSegment(const std::string& segment) override {
    if (segment.size() > kMaxSegmentBody) {
      return InvalidArgument("journal segment of " + std::to_string(segment.size()) + " bytes is over 8 MiB");
    }
    return Decode<SegmentReply>(Post("/v1/journal/segments", segment, kMaxReplyBytes), &ParseSegmentReply,
                                "POST /v1/journal/segments");
  }

  Result<Answer<CertificateReply>> Renew(const std::string& csr_pem) override {
    const std::string body = nlohmann::json{{"csr", csr_pem}}.dump();
    return Decode<CertificateReply>(Post("/v1/renew", body, kMaxReplyBytes), &ParseCertificateReply, "POST /v1/renew");
  }

  Status InstallCertificate(const CertificateReply& cert, const std::string& key_pem) override {
    return internal::WriteIdentity(config_.cert_file, config_.key_file, cert, key_pem);
  }

  Result<std::string> CurrentCertificate() override { return ReadFileToString(config_.cert_file, kMaxCertificateFile); }

  Result<std::string> ResolveRepository(const std::string& repository) override {
    return internal::ResolveUrl(base_, repository, config_.allow_plain_http);
  }

  net::Fetcher& RepositoryFetcher() override { return fetcher_; }

  Result<std::unique_ptr<net::ByteStream>> OpenStream(const std::string& url) override {
    net::StreamOptions options = config_.stream;
    options.http = Options();
    options.allow_plain_http = config_.allow_plain_http;
    FW_ASSIGN_OR_RETURN(auto stream, net::HttpStream::Open(url, options));
    return std::unique_ptr<net::ByteStream>(std::move(stream));
  }

 private:
  net::HttpOptions Options() const {
    net::HttpOptions o = config_.stream.http;
    o.ca_file = config_.ca_file;
    o.client_cert_file = config_.cert_file;
    o.client_key_file = config_.key_file;
    return o;
  }

  Result<net::HttpReply> Post(const std::string& path, const std::string& body, uint64_t max_reply,
                              const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    net::HttpCall call;
    call.method = "POST";
    call.url = base_ + path;
    call.body = body;
    call.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    call.headers.insert(call.headers.end(), extra.begin(), extra.end());
    call.max_response_bytes = max_reply;
    call.allow_plain_http = config_.allow_plain_http;
    return net::Call(call, Options());
  }

  HttpsTransportConfig config_;
  std::string base_;  // scheme://host:port, no trailing slash
  net::HttpFetcher fetcher_;
};

}  // namespace

Result<std::unique_ptr<Transport>> OpenHttpsTransport(const HttpsTransportConfig& config) {
  FW_ASSIGN_OR_RETURN(std::string base, internal::ServerBase(config.server_url, config.allow_plain_http));
  if (config.cert_file.empty() || config.key_file.empty()) {
    return InvalidArgument("the agent's transport needs a client certificate and its key (enrol first)");
  }
  FW_RETURN_IF_ERROR_CTX(config.stream.Validate(), "transport options");
  return std::unique_ptr<Transport>(std::make_unique<HttpsTransport>(config, std::move(base)));
}

}  // namespace fw::agent
