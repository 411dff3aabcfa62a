// fwserver's configuration: DIR/fwserver.json (server-stub/net; documented in docs/fleet-server.md).
//
// Contract:
//  - LoadConfig(dir) reads DIR/fwserver.json (at most 64 KiB) and ParseConfig() checks it
//    strictly: a JSON object of known keys only (an unknown or misspelt key is refused, naming
//    it), every value of the right type and inside its bounds, exactly one of issuer.socket and
//    issuer.key. Missing keys take the defaults below. Relative paths are resolved against DIR;
//    the result carries absolute paths.
//  - DefaultConfigJson() is what `fwserver init` writes: every key with its default value.
// Errors: a missing file is kNotFound (exit 4), anything malformed kCorrupt (exit 3), with the
// key's name in the message. Nothing is written.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fw/status.h"

namespace fw::server {

inline constexpr uint64_t kMaxConfigBytes = 64 * 1024;

struct ServerLimits {
  uint64_t header_bytes = 8192;          // 431 beyond
  uint64_t max_body_bytes = 1 << 20;     // an upper bound on every route's own body cap (413 beyond)
  int64_t handshake_timeout_ms = 10000;  // TLS handshake
  int64_t header_timeout_ms = 10000;     // a request's header, from its first byte
  int64_t body_timeout_ms = 30000;       // a request's body
  int64_t write_timeout_ms = 30000;      // each response write (file bodies: each 64 KiB)
  int64_t idle_timeout_ms = 60000;       // keep-alive wait for the next request
  uint64_t max_connections = 10000;      // 503 + Retry-After beyond
  int retry_after_seconds = 5;
  int threads = 0;  // I/O threads; 0: the number of CPUs
};

struct ServerConfig {
  std::string data_dir;  // absolute
  // Device port.
  std::string listen_address = "0.0.0.0";
  uint16_t port = 8443;
  std::string tls_cert;   // default DIR/tls/server.pem
  std::string tls_key;    // default DIR/tls/server.key
  std::string client_ca;  // default DIR/ca/chain.pem (issuing + root: what device certificates chain to)
  int64_t ticket_key_rotation_seconds = 3600;
  // Data.
  std::string repository_dir;  // default DIR/repo
  std::string repository_url = "/repo/";
  std::string database;  // default DIR/server.db
  // Issuer: exactly one of a Unix socket (`fwserver issuer`) or a signer spec (pkcs11: URI).
  std::string issuer_socket;  // default DIR/issuer.sock
  std::string issuer_key;
  // Device API policy.
  int64_t poll_seconds = 300;
  int64_t poll_jitter_seconds = 60;
  int64_t cert_validity_seconds = 365 * 86400;
  int64_t renew_grace_seconds = 30 * 86400;
  ServerLimits limits;
};

Result<ServerConfig> ParseConfig(std::string_view json_text, const std::string& data_dir);
Result<ServerConfig> LoadConfig(const std::string& data_dir);
std::string DefaultConfigJson();

}  // namespace fw::server
