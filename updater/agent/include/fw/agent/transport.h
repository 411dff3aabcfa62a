// Transport: how the agent reaches the fleet server and its repository. Injected, so the agent
// state machine runs against the real server over HTTPS (OpenHttpsTransport, fw/agent/https_transport.h),
// against the server's request handlers in-process (tests), or against simulated ones (fleet-sim).
//
// Contract:
//   - A Result error is a transport failure (no HTTP reply): kIoError / kTimeout (retry later),
//     kInvalidArgument (configuration). An HTTP reply that is an error is an Answer holding
//     `error` (status, code, message, Retry-After); a reply body that does not parse is kCorrupt.
//   - Nothing here retries a request: the agent decides (outbox, backoff).
//   - Repository URLs: ResolveRepository(reply.repository) turns the check-in's path or URL into
//     an absolute base (a path is relative to the server URL; an https:// URL to another host is
//     allowed, plain http only if the transport allows it).
// Thread safety: one agent uses one transport from one thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "fw/agent/protocol.h"
#include "fw/byte_stream.h"
#include "fw/fetcher.h"
#include "fw/status.h"

namespace fw::agent {

template <class T>
struct Answer {
  std::optional<T> value;
  ServerError error;  // meaningful when !value
  bool ok() const { return value.has_value(); }
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<Answer<CheckinReply>> Checkin(const Manifest& manifest, const std::string& if_none_match) = 0;
  virtual Result<Answer<EventReply>> PostEvent(const Event& event) = 0;
  virtual Result<Answer<SegmentReply>> UploadSegment(const std::string& segment) = 0;
  // POST /v1/renew with a CSR; the answer holds the new certificate and its chain. The transport keeps
  // using its current certificate until InstallCertificate().
  virtual Result<Answer<CertificateReply>> Renew(const std::string& csr_pem) = 0;
  // Makes a renewed certificate (and its key, when rotated) the one sent from the next request on,
  // writing both durably (temp + fsync + rename) when the transport is file-backed.
  virtual Status InstallCertificate(const CertificateReply& cert, const std::string& key_pem) = 0;
  // The current client certificate (PEM), for its expiry.
  virtual Result<std::string> CurrentCertificate() = 0;

  virtual Result<std::string> ResolveRepository(const std::string& repository) = 0;
  // TUF metadata (bounded by the caller) and target streams, with the same TLS identity.
  virtual net::Fetcher& RepositoryFetcher() = 0;
  virtual Result<std::unique_ptr<net::ByteStream>> OpenStream(const std::string& url) = 0;
};

}  // namespace fw::agent
