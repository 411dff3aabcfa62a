// HostileServer (library fw_hostile_server): an HTTPS server on 127.0.0.1 (ephemeral port) for the
// streaming tests, with a throwaway PKI (tests/server/tls_testing.h MakeTestPki plus two bad server
// certificates) and scripted faults per request: it serves content from memory or a directory,
// honours Range / If-Range like a CDN, and misbehaves exactly when a test says so.
//
// Contract:
//   - Start() makes (or reuses) the PKI, listens, and serves until the object is destroyed. Every
//     connection gets its own thread and one request ("Connection: close"). GET only. Start sets
//     SIGPIPE to SIG_IGN for the process (a client closing mid-body must not kill the test).
//   - Content: Serve(path, bytes) (strong ETag "<size>-<fnv64>" unless given; "" = no ETag) and/or
//     ServeDirectory(dir, prefix) (PREFIX + rel → dir/rel, read at request time, so a test may change
//     them; Serve() paths win). Unknown paths 404.
//   - Faults (AddFault) apply to the matching requests `first` .. `first + count - 1`, counted per
//     fault from 1 over the requests for its path (kCorruptAt counts only replies that carry the
//     byte). Several faults may apply to one request: kStatus/kRedirect answer at once; otherwise
//     kChangeContent picks the content, kIgnoreRange/kWrongContentRange/kWrongTotal shape the
//     reply, kCorruptAt flips a byte, and kDropAfter/kStallAfter/kTruncate cut the body.
//   - Log() lists every request (method, path, Range, If-Range, the status answered and the body
//     bytes sent), in arrival order; tests assert resumes against it.
// Thread safety: every method may be called from any thread while the server runs.
// Failure model: Start returns nullptr and an error text; a broken connection is the client's problem.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fw::testing {

struct Fault {
  enum class Kind {
    kDropAfter,          // send `bytes` body bytes, then close the socket (no TLS close_notify)
    kStallAfter,         // send `bytes` body bytes, then nothing more until the client goes away
    kTruncate,           // announce the whole length, send `bytes` body bytes, close cleanly
    kCorruptAt,          // flip (xor 0xff) the byte at content offset `bytes`
    kIgnoreRange,        // 200 with the whole content, whatever Range / If-Range say
    kWrongContentRange,  // a range request gets 206 starting `bytes` (default 1) after the byte asked
    kWrongTotal,         // a range request gets 206 naming a total length one more than the content's
    kChangeContent,      // serve `other` (its own ETag) instead; If-Range is honoured unless told not to
    kStatus,             // answer `status` (+ Retry-After when retry_after >= 0) without content
    kRedirect,           // answer 301 with Location: `location`
  };
  static constexpr uint32_t kAlways = std::numeric_limits<uint32_t>::max();

  Kind kind = Kind::kStatus;
  std::string path;  // "/file"; "/dir/*": every path starting with "/dir/"; empty: every path
  uint32_t first = 1;
  uint32_t count = kAlways;
  uint64_t bytes = 0;
  int status = 500;
  int retry_after = -1;
  std::string location;
  std::string other;
  bool honour_if_range = true;  // kChangeContent: false = answer 206 from the other content anyway

  // Constructors for each kind (every request for `path` unless narrowed with Requests()).
  static Fault DropAfter(std::string path, uint64_t bytes);
  static Fault StallAfter(std::string path, uint64_t bytes);
  static Fault Truncate(std::string path, uint64_t bytes);
  static Fault CorruptAt(std::string path, uint64_t offset);  // once (count = 1)
  static Fault IgnoreRange(std::string path);
  static Fault WrongContentRange(std::string path, uint64_t shift = 1);
  static Fault WrongTotal(std::string path);
  static Fault ChangeContent(std::string path, std::string other, uint32_t from_request);
  static Fault Status(std::string path, int status, uint32_t count, int retry_after = -1);
  static Fault Redirect(std::string path, std::string location);
  // Narrows the fault to the matching requests first .. first + count - 1.
  Fault& Requests(uint32_t first_request, uint32_t request_count) {
    first = first_request;
    count = request_count;
    return *this;
  }
};

struct LoggedRequest {
  std::string method;
  std::string path;
  std::string range;     // the Range header as sent ("" if none)
  std::string if_range;  // the If-Range header as sent
  int status = 0;        // what the server answered (0: nothing, e.g. the handshake failed)
  uint64_t body_bytes = 0;
  std::string client_subject;  // the client certificate's subject ("/CN=TERM-0001"), "" if none
};

struct HostileServerOptions {
  enum class Cert {
    kGood,       // localhost / 127.0.0.1 by the test PKI's issuing CA (ca_file() verifies it)
    kOtherCa,    // localhost / 127.0.0.1 by a CA the client does not know
    kWrongHost,  // wrong.example by the test PKI's issuing CA
  };
  Cert cert = Cert::kGood;
  bool require_client_cert = false;  // verified against the test PKI (issuing + root)
  std::string pki_dir;               // a directory a previous Start made (shared by a suite); "": a new one
};

class HostileServer {
 public:
  static std::unique_ptr<HostileServer> Start(const HostileServerOptions& options, std::string* error);
  ~HostileServer();
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  uint16_t port() const;
  std::string Url(const std::string& path) const;  // https://127.0.0.1:PORT + path
  const std::string& pki_dir() const;
  std::string ca_file() const;      // root.pem of the test PKI
  std::string client_cert() const;  // device.pem (CN=TERM-0001, by the issuing CA)
  std::string client_key() const;

  void Serve(const std::string& path, std::string content, std::optional<std::string> etag = std::nullopt);
  void ServeDirectory(const std::string& dir, const std::string& prefix = "/");
  void AddFault(Fault fault);
  void ClearFaults();

  std::vector<LoggedRequest> Log() const;
  void ClearLog();

  // The default strong ETag of some content.
  static std::string EtagOf(const std::string& content);

  struct State;  // internal

 private:
  HostileServer() = default;
  std::unique_ptr<State> state_;
};

}  // namespace fw::testing
