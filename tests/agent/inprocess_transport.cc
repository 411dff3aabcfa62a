#include "inprocess_transport.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <span>

#include "fw/encoding.h"

namespace fw::agent::testing {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The DER of every certificate of a PEM text, in order (leaf first).
std::vector<Bytes> PemChainToDer(const std::string& pem) {
  static const std::string kBegin = "-----BEGIN CERTIFICATE-----", kEnd = "-----END CERTIFICATE-----";
  std::vector<Bytes> out;
  size_t pos = 0;
  while ((pos = pem.find(kBegin, pos)) != std::string::npos) {
    const size_t start = pos + kBegin.size();
    const size_t end = pem.find(kEnd, start);
    if (end == std::string::npos) break;
    std::string b64;
    for (size_t i = start; i < end; ++i) {
      if (!std::isspace(static_cast<unsigned char>(pem[i]))) b64 += pem[i];
    }
    auto der = Base64Decode(b64);
    if (der.ok()) out.push_back(std::move(*der));
    pos = end + kEnd.size();
  }
  return out;
}

// A file of the repository as a positioned stream, with the transport's faults.
class RepoFileStream final : public net::ByteStream {
 public:
  RepoFileStream(InProcessTransport& t, std::string url, int fd, uint64_t size)
      : t_(t), name_(std::move(url)), fd_(fd), size_(size) {}
  ~RepoFileStream() override { ::close(fd_); }

  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (buf.empty() || offset_ >= size_) return size_t{0};
    if (Status s = t_.Enter(CallKind::kStreamRead, name_, offset_); !s.ok()) return s;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - offset_));
    auto budget = t_.StreamBudget(want);
    if (!budget.ok()) return budget.status();
    const ssize_t n = ::pread(fd_, buf.data(), *budget, static_cast<off_t>(offset_));
    if (n < 0) return IoError(name_ + ": read failed");
    offset_ += static_cast<uint64_t>(n);
    t_.Delivered(static_cast<size_t>(n));
    return static_cast<size_t>(n);
  }
  Status Seek(uint64_t offset) override {
    if (offset > size_) return InvalidArgument(name_ + ": seek past the end");
    offset_ = offset;
    return Status::Ok();
  }
  std::optional<uint64_t> Size() const override { return size_; }
  uint64_t Offset() const override { return offset_; }
  const std::string& Name() const override { return name_; }

 private:
  InProcessTransport& t_;
  std::string name_;
  int fd_;
  uint64_t size_;
  uint64_t offset_ = 0;
};

class RepoFetcher final : public net::Fetcher {
 public:
  explicit RepoFetcher(InProcessTransport& t) : t_(t) {}
  Status Fetch(const std::string& url, uint64_t max_bytes, const net::Sink& sink) override {
    if (Status s = t_.Enter(CallKind::kFetch, url); !s.ok()) return s;
    auto path = t_.RepoFile(url);
    if (!path.ok()) return path.status();
    const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NotFound(url + ": 404 Not Found");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return NotFound(url + ": 404 Not Found");
    }
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      ::close(fd);
      return ResourceExhausted(url + ": " + std::to_string(st.st_size) + " bytes, more than " +
                               std::to_string(max_bytes));
    }
    Bytes buf(64 << 10);
    Status result = Status::Ok();
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        result = IoError(url + ": read failed");
        break;
      }
      if (n == 0) break;
      result = sink(ByteSpan(buf.data(), static_cast<size_t>(n)));
      if (!result.ok()) break;
    }
    ::close(fd);
    return result;
  }

 private:
  InProcessTransport& t_;
};

template <class T>
Result<Answer<T>> Decode(const server::Response& r, Result<T> (*parse)(std::string_view)) {
  Answer<T> a;
  if (r.status >= 200 && r.status < 300) {
    auto v = parse(r.body);
    if (!v.ok()) return v.status();
    a.value = std::move(*v);
    return a;
  }
  a.error = ParseServerError(r.status, r.body, ResponseHeader(r, "retry-after"));
  return a;
}

}  // namespace

const char* CallKindName(CallKind kind) {
  switch (kind) {
    case CallKind::kCheckin:
      return "checkin";
    case CallKind::kEvent:
      return "event";
    case CallKind::kSegment:
      return "segment";
    case CallKind::kRenew:
      return "renew";
    case CallKind::kFetch:
      return "fetch";
    case CallKind::kOpenStream:
      return "open-stream";
    case CallKind::kStreamRead:
      return "stream-read";
  }
  return "?";
}

std::string ResponseHeader(const server::Response& response, const std::string& name) {
  const std::string want = Lower(name);
  for (const auto& [k, v] : response.headers) {
    if (Lower(k) == want) return v;
  }
  return "";
}

InProcessTransport::InProcessTransport(InProcessConfig config) : config_(std::move(config)) {
  fetcher_ = std::make_unique<RepoFetcher>(*this);
}

InProcessTransport::~InProcessTransport() = default;

Status InProcessTransport::Enter(CallKind kind, const std::string& target, uint64_t offset) {
  if (dead_) return IoError(target + ": network unreachable (power cut)");
  const int64_t index = ++calls_;
  if (hooks_.before) {
    if (Status s = hooks_.before(Call{kind, index, target, offset}); !s.ok()) return s;
    if (dead_) return IoError(target + ": network unreachable (power cut)");
  }
  if (hooks_.fail_call == index) {
    return IoError(target + ": connection reset (injected at call " + std::to_string(index) + ")");
  }
  return Status::Ok();
}

Result<size_t> InProcessTransport::StreamBudget(size_t n) {
  const uint64_t cut = hooks_.cut_stream_after_bytes;
  if (cut == 0 || stream_cut_done_ || stream_bytes_ + n <= cut) return n;
  if (stream_bytes_ >= cut) {
    stream_cut_done_ = true;
    return IoError("connection dropped after " + std::to_string(stream_bytes_) + " stream bytes (injected)");
  }
  return static_cast<size_t>(cut - stream_bytes_);  // a short read up to the cut; the next read fails
}

Result<std::string> InProcessTransport::RepoFile(const std::string& url) const {
  const std::string base = config_.base_url + "/repo/";
  if (url.rfind(base, 0) != 0) return IoError(url + ": no route to host (not " + base + ")");
  std::string rel = url.substr(base.size());
  const size_t q = rel.find_first_of("?#");
  if (q != std::string::npos) rel.resize(q);
  if (rel.empty() || rel.find("..") != std::string::npos || rel[0] == '/') return NotFound(url + ": 404 Not Found");
  return config_.repo_dir + "/" + rel;
}

server::Peer InProcessTransport::MakePeer() const {
  const std::vector<Bytes> chain = PemChainToDer(config_.cert_pem);
  server::Peer peer;
  if (!chain.empty()) {
    const int64_t now = config_.clock->WallSeconds();
    peer = config_.verifier->Inspect(std::span<const Bytes>(chain.data(), chain.size()), now);
  }
  peer.remote_address = config_.remote_address;
  return peer;
}

Result<server::Response> InProcessTransport::Post(CallKind kind, const std::string& target, std::string body,
                                                  const std::vector<std::pair<std::string, std::string>>& headers) {
  if (Status s = Enter(kind, target); !s.ok()) return s;
  server::Request request;
  request.method = "POST";
  request.target = target;
  request.headers["host"] = config_.base_url.substr(config_.base_url.find("://") + 3);
  request.headers["content-type"] = "application/json";
  request.headers["content-length"] = std::to_string(body.size());
  for (const auto& [k, v] : headers) request.headers[Lower(k)] = v;
  request.body = std::move(body);
  request.peer = MakePeer();
  server::Response response;
  if (request.body.size() > config_.handler->MaxBodyBytes(request.method, request.target)) {
    // The transport refuses an oversized body before the handler sees it.
    response.status = 413;
    response.body = R"({"error":"too_large","message":"request body over the route's cap"})";
  } else {
    response = config_.handler->Handle(request);
  }
  const int64_t index = calls_;
  exchanges_.push_back({kind, target, response.status, request.body, response.body});
  if (hooks_.after) hooks_.after(request, response);
  if (hooks_.lose_reply_call == index) {
    return IoError(target + ": connection reset before the reply (injected at call " + std::to_string(index) + ")");
  }
  return response;
}

Result<Answer<CheckinReply>> InProcessTransport::Checkin(const Manifest& manifest, const std::string& if_none_match) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!if_none_match.empty()) headers.emplace_back("if-none-match", if_none_match);
  auto r = Post(CallKind::kCheckin, "/v1/checkin", EncodeManifest(manifest), headers);
  if (!r.ok()) return r.status();
  Answer<CheckinReply> a;
  if (r->status == 304) {
    CheckinReply reply;
    reply.not_modified = true;
    reply.etag = ResponseHeader(*r, "etag");
    a.value = std::move(reply);
    return a;
  }
  auto decoded = Decode<CheckinReply>(*r, &ParseCheckinReply);
  if (decoded.ok() && decoded->value) decoded->value->etag = ResponseHeader(*r, "etag");
  return decoded;
}

Result<Answer<EventReply>> InProcessTransport::PostEvent(const Event& event) {
  auto r = Post(CallKind::kEvent, "/v1/actions/" + std::to_string(event.action) + "/events", EncodeEvent(event));
  if (!r.ok()) return r.status();
  return Decode<EventReply>(*r, &ParseEventReply);
}

Result<Answer<SegmentReply>> InProcessTransport::UploadSegment(const std::string& segment) {
  auto r = Post(CallKind::kSegment, "/v1/journal/segments", segment);
  if (!r.ok()) return r.status();
  return Decode<SegmentReply>(*r, &ParseSegmentReply);
}

Result<Answer<CertificateReply>> InProcessTransport::Renew(const std::string& csr_pem) {
  auto r = Post(CallKind::kRenew, "/v1/renew", nlohmann::json{{"csr", csr_pem}}.dump());
  if (!r.ok()) return r.status();
  return Decode<CertificateReply>(*r, &ParseCertificateReply);
}

Status InProcessTransport::InstallCertificate(const CertificateReply& cert, const std::string& key_pem) {
  if (cert.certificate.empty()) return InvalidArgument("InstallCertificate: no certificate");
  config_.cert_pem = cert.certificate + (cert.certificate.ends_with("\n") ? "" : "\n") + cert.chain;
  if (!key_pem.empty()) config_.key_pem = key_pem;
  return Status::Ok();
}

Result<std::string> InProcessTransport::CurrentCertificate() { return config_.cert_pem; }

Result<std::string> InProcessTransport::ResolveRepository(const std::string& repository) {
  if (repository.rfind("https://", 0) == 0) return repository.ends_with("/") ? repository : repository + "/";
  if (repository.rfind("http://", 0) == 0) {
    return InvalidArgument(repository + ": plain http is not allowed for the repository");
  }
  if (repository.empty() || repository[0] != '/')
    return InvalidArgument("repository '" + repository + "' is not a path");
  return config_.base_url + repository + (repository.ends_with("/") ? "" : "/");
}

net::Fetcher& InProcessTransport::RepositoryFetcher() { return *fetcher_; }

Result<std::unique_ptr<net::ByteStream>> InProcessTransport::OpenStream(const std::string& url) {
  if (Status s = Enter(CallKind::kOpenStream, url); !s.ok()) return s;
  auto path = RepoFile(url);
  if (!path.ok()) return path.status();
  const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound(url + ": 404 Not Found");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return NotFound(url + ": 404 Not Found");
  }
  return std::unique_ptr<net::ByteStream>(
      std::make_unique<RepoFileStream>(*this, url, fd, static_cast<uint64_t>(st.st_size)));
}

}  // namespace fw::agent::testing
