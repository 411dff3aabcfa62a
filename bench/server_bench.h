// server_bench: simulated payment terminals checking in with an HTTPS update server
// (bench/server_bench.sh runs it against fwserver and nginx in the same run).
//
// Contract:
//  - Fleet CA helpers (server_bench_certs.cc) make P-256 / ECDSA-SHA256 certificates with
//    OpenSSL: WriteFleetCa() writes the fwserver data-directory layout (ca/root.pem,
//    ca/issuing.pem, ca/chain.pem, issuer/issuing.key, tls/server.pem, tls/server.key);
//    IssueTerminals() makes `count` distinct terminal keys and certificates (CN=serial,
//    EKU clientAuth, CA:FALSE) from an issuing CA certificate and key, in memory.
//  - RunLoad() (server_bench_load.cc) drives one target in one mode for a fixed time with
//    `concurrency` terminals in flight and returns what it measured. Each terminal keeps its
//    own TLS session (ticket) and ETag per target, as a real agent would.
//  - Errors: helpers return false / record errors with a message; main() turns them into
//    exit codes (1 gate failed or run failed, 2 usage, 4 I/O).
// Thread safety: RunLoad() uses its own io_context and threads; a Terminal is used by one
// connection at a time (its `busy` flag); TargetSlots belong to one target.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

struct Terminal {
  std::string serial;
  X509Ptr cert;
  PkeyPtr key;
  std::atomic<bool> busy{false};
};

// Writes root + issuing CA and a serverAuth TLS certificate (SAN localhost, 127.0.0.1) in
// the fwserver data-directory layout under `dir`. False with `error` set on failure.
// The whole file into `out`; false when it cannot be read.
bool ReadFile(const std::string& path, std::string& out);

bool WriteFleetCa(const std::string& dir, std::string& error);

// `count` terminals PREFIX000000.. with fresh P-256 keys, issued by the given CA.
bool IssueTerminals(const std::string& issuing_cert_pem_file, const std::string& issuing_key_pem_file, size_t count,
                    const std::string& prefix, std::vector<std::unique_ptr<Terminal>>& out, std::string& error);

// PEM of a terminal's key (PKCS#8) and certificate, for curl in the demo.
std::string TerminalPem(const Terminal& t);

// What one terminal remembers about one server.
struct Slot {
  SessionPtr session;
  std::string etag;
};

struct Target {
  std::string name;  // "nginx", "fwserver"
  std::string host;
  uint16_t port = 0;
  std::vector<Slot> slots;  // one per terminal
  std::vector<int> pids;    // the server's processes, for its CPU time (/proc/PID/stat)
  // Further instances on `host`: each new connection goes to one of port, more_ports... at random (an
  // L4 balancer's spreading without stickiness; RunLoad only).
  std::vector<uint16_t> more_ports = {};
  std::vector<int> db_pids = {};  // its database's main processes (a postmaster), with all their children
};

// CPU seconds (user + system) the processes have used so far; 0 for a process that is gone.
double ProcessCpuSeconds(const std::vector<int>& pids);
// The same for each root, its reaped children (cutime + cstime) and its live children: the CPU of a
// forking server (PostgreSQL's postmaster and its backends) so far.
double ProcessTreeCpuSeconds(const std::vector<int>& roots);

enum class Mode { kFirst, kResumeOnce, kResume, kFull, kKeepAlive };
inline bool OnePass(Mode m) { return m == Mode::kFirst || m == Mode::kResumeOnce; }
const char* ModeName(Mode m);

struct LoadOptions {
  Mode mode = Mode::kResume;
  double seconds = 10;      // ignored for kFirst (one check-in per terminal)
  size_t concurrency = 50;  // connections in flight
  unsigned threads = 2;     // client I/O threads
  std::string path = "/v1/checkin";
  std::string body_template;    // @SERIAL@ replaced by the terminal's serial
  std::string chain_pem_file;   // what the client trusts for the server certificate
  double timeout_seconds = 10;  // per request (connect + handshake + response)
};

struct LoadResult {
  uint64_t ok = 0, errors = 0, reused = 0, connections = 0;
  double seconds = 0;
  double server_cpu_s = 0, client_cpu_s = 0;  // filled by the caller of RunLoad
  double db_cpu_s = 0;                        // the target's database processes (Target::db_pids)
  std::vector<uint32_t> latency_us;           // one per successful request
  std::map<int, uint64_t> statuses;
  std::map<std::string, uint64_t> error_kinds;
  size_t distinct_terminals = 0;
  void Merge(LoadResult&& other);
  double Rps() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
  double PercentileMs(double p) const;  // sorts a copy
};

// The client side shared by RunLoad and the reconnect storm (tests/fleet/storm): TLS 1.3 only,
// the server certificate checked against options.chain_pem_file for `host` (an IP), client
// sessions kept by the new-session callback in the Slot set as the SSL's ex data (SlotIndex()).
void ConfigureClient(boost::asio::ssl::context& ctx, const LoadOptions& options, const std::string& host);
int SlotIndex();
// One check-in request: POST options.path with the body template (@SERIAL@ replaced), the slot's
// ETag as If-None-Match, `Connection: close` when `close`.
std::string BuildRequest(const LoadOptions& options, const Target& target, const Terminal& t, const Slot& slot,
                         bool close);
struct ReplyHead {
  int status = 0;
  size_t content_length = 0;
  std::string etag;
  std::string retry_after;  // "" when the header is absent
};
// Parses a response head (status line + headers, up to the blank line); false when unparsable.
bool ParseHead(std::string_view head, ReplyHead& out);

LoadResult RunLoad(Target& target, std::vector<std::unique_ptr<Terminal>>& terminals, const LoadOptions& options);

// One check-in by terminal 0 over a fresh connection: status and body of the reply.
bool Probe(Target& target, Terminal& terminal, const LoadOptions& options, int& status, std::string& body,
           std::string& error);

}  // namespace bench
