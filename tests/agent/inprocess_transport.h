// Test support (library fw_agent_testing): the agent's Transport (fw/agent/transport.h) over the REAL
// device API of fwserver, called in-process without sockets, and the repository read from the
// server's data directory.
//
// Contract:
//   - API calls (check-in, events, journal segments, renewal) build the server's Request exactly as
//     the HTTPS transport of fwserver would (method, path, lower-cased headers, body, and the Peer
//     the TLS layer makes from the client certificate: DeviceCertVerifier::Inspect over the
//     certificate chain the terminal holds, at the clock's time), refuse a body over the route's cap
//     with 413 as the transport does, call the handler, and parse the reply with the agent's codecs
//     (fw/agent/protocol.h). HTTP errors are Answer::error, never a Status (transport.h).
//   - The repository: ResolveRepository maps the check-in's "/repo/" (or the configured absolute
//     base) to `base_url + "/repo/"`; RepositoryFetcher() and OpenStream() serve files of
//     `repo_dir` under that base (404 → kNotFound, a body over max_bytes → kResourceExhausted, a
//     path leaving the directory → kNotFound). Streams are file-backed ByteStreams (Size known).
//   - Faults: every call (API request, repository fetch, stream open, stream read) is counted and
//     passed to FaultHooks::before first; a non-OK status from it is that call's transport failure
//     (the request never reaches the server). `fail_call` = N fails the Nth call with kIoError;
//     `cut_stream_after_bytes` = N makes the Read that would deliver the N+1th byte of all target
//     streams together fail kIoError once (a dropped connection; a Seek resumes);
//     `lose_reply_call` = N lets API call N reach the server and loses its reply (kIoError): the
//     server applied what the agent believes failed (idempotency of events and segments).
//     `after` sees every request the server answered, with its response (checks such as
//     "confirmed only after the confirm happened on the terminal").
//   - `Dead(true)`: the network is gone (a power cut in progress): every call fails kIoError
//     without reaching the server or the hooks.
// Ownership: the handler, the verifier and the clock are borrowed and must outlive the transport.
// Thread safety: one thread, as every Transport (the `after` hook runs on it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fw/agent/transport.h"
#include "fw/clock.h"
#include "fw/server/device_cert.h"
#include "fw/server/http.h"

namespace fw::agent::testing {

enum class CallKind { kCheckin, kEvent, kSegment, kRenew, kFetch, kOpenStream, kStreamRead };
const char* CallKindName(CallKind kind);

struct Call {
  CallKind kind = CallKind::kCheckin;
  int64_t index = 0;    // 1-based, over every call of this transport
  std::string target;   // request path, or the URL fetched / streamed
  uint64_t offset = 0;  // kStreamRead: the stream offset read from
};

struct FaultHooks {
  std::function<Status(const Call&)> before;
  int64_t fail_call = 0;                // 0: never
  int64_t lose_reply_call = 0;          // API call N reaches the server, its reply is lost (kIoError)
  uint64_t cut_stream_after_bytes = 0;  // 0: never
  std::function<void(const server::Request&, const server::Response&)> after;
};

// One request the server answered (the log tests read).
struct Exchange {
  CallKind kind = CallKind::kCheckin;
  std::string target;
  int status = 0;
  std::string request_body;
  std::string response_body;
};

struct InProcessConfig {
  server::RequestHandler* handler = nullptr;             // the device API (OpenDeviceApi)
  const server::DeviceCertVerifier* verifier = nullptr;  // the fleet CA, as the device port holds it
  Clock* clock = nullptr;                                // certificate validity is judged at its time
  std::string repo_dir;                                  // DIR/repo
  std::string base_url = "https://fleet.test:8443";
  std::string remote_address = "192.0.2.10:40000";
  std::string cert_pem;  // the device certificate, then its chain (PEM)
  std::string key_pem;   // its key (kept for InstallCertificate; the Peer needs only the certificate)
};

class InProcessTransport final : public Transport {
 public:
  explicit InProcessTransport(InProcessConfig config);
  ~InProcessTransport() override;

  Result<Answer<CheckinReply>> Checkin(const Manifest& manifest, const std::string& if_none_match) override;
  Result<Answer<EventReply>> PostEvent(const Event& event) override;
  Result<Answer<SegmentReply>> UploadSegment(const std::string& segment) override;
  Result<Answer<CertificateReply>> Renew(const std::string& csr_pem) override;
  Status InstallCertificate(const CertificateReply& cert, const std::string& key_pem) override;
  Result<std::string> CurrentCertificate() override;
  Result<std::string> ResolveRepository(const std::string& repository) override;
  net::Fetcher& RepositoryFetcher() override;
  Result<std::unique_ptr<net::ByteStream>> OpenStream(const std::string& url) override;

  FaultHooks& hooks() { return hooks_; }
  void Dead(bool dead) { dead_ = dead; }
  bool dead() const { return dead_; }
  int64_t calls() const { return calls_; }
  uint64_t stream_bytes() const { return stream_bytes_; }
  const std::vector<Exchange>& exchanges() const { return exchanges_; }
  const std::string& key_pem() const { return config_.key_pem; }

  // Counts the call and applies Dead / the hooks / fail_call. Used by the fetcher and streams.
  Status Enter(CallKind kind, const std::string& target, uint64_t offset = 0);
  // The file of `url` under repo_dir; kNotFound when the URL is not under the repository base.
  Result<std::string> RepoFile(const std::string& url) const;
  // Stream bytes delivered: applies cut_stream_after_bytes (returns how many of `n` may go out,
  // or an error when the cut is now).
  Result<size_t> StreamBudget(size_t n);
  void Delivered(size_t n) { stream_bytes_ += n; }

 private:
  // POST to the handler as the HTTPS layer would; the raw response.
  Result<server::Response> Post(CallKind kind, const std::string& target, std::string body,
                                const std::vector<std::pair<std::string, std::string>>& headers = {});
  server::Peer MakePeer() const;

  InProcessConfig config_;
  FaultHooks hooks_;
  bool dead_ = false;
  bool stream_cut_done_ = false;
  int64_t calls_ = 0;
  uint64_t stream_bytes_ = 0;
  std::vector<Exchange> exchanges_;
  std::unique_ptr<net::Fetcher> fetcher_;
};

// The response header `name` (case-insensitive), or "".
std::string ResponseHeader(const server::Response& response, const std::string& name);

}  // namespace fw::agent::testing
