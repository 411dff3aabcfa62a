// fwserver's configuration: DIR/fwserver.json (server-stub/net; documented in docs/fleet-server.md).
//
// Contract:
//  - LoadConfig(dir) reads DIR/fwserver.json (at most 64 KiB) and ParseConfig() checks it
//    strictly: a JSON object of known keys only (an unknown or misspelt key is refused, naming
//    it), every value of the right type and inside its bounds, exactly one of issuer.socket and
//    issuer.key. Missing keys take the defaults below. Relative paths are resolved against DIR;
//    the result carries absolute paths ("database" as a PostgreSQL URI is not a path: kept as is).
//  - DefaultConfigJson() is what `fwserver init` writes: every key with its default value.
//  - ParseConfig is pure (fuzzed): it names each webhook's secret_file but does not read it.
//    LoadConfig() then reads every secret file (LoadWebhookSecrets): a missing one is kNotFound,
//    an empty one kCorrupt, one above 4 KiB refused, one readable by group or others
//    kFailedPrecondition — each naming the key and the file.
// Errors: a missing file is kNotFound (exit 4), anything malformed kCorrupt (exit 3), with the
// key's name in the message. Nothing is written.
// Thread safety: pure functions (LoadConfig reads files).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/status.h"

namespace fw::server {

inline constexpr uint64_t kMaxConfigBytes = 64 * 1024;

struct ServerLimits {
  uint64_t header_bytes = 8192;          // 431 beyond
  uint64_t max_body_bytes = 8 << 20;     // an upper bound on every route's own body cap (413 beyond);
                                         // the default lets the largest route (journal segments, 8 MiB) through
  int64_t handshake_timeout_ms = 10000;  // TLS handshake
  int64_t header_timeout_ms = 10000;     // a request's header, from its first byte
  int64_t body_timeout_ms = 30000;       // a request's body
  int64_t write_timeout_ms = 30000;      // each response write (file bodies: each 64 KiB)
  int64_t idle_timeout_ms = 60000;       // keep-alive wait for the next request
  uint64_t max_connections = 10000;      // 503 + Retry-After beyond
  int retry_after_seconds = 5;
  int threads = 0;  // I/O threads; 0: the number of CPUs
};

// The operator port (fw/server/operator_api.h): HTTPS with a server certificate only.
struct OperatorPortConfig {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 9443;  // 0: ephemeral
  std::string tls_cert;  // default: the device port's certificate
  std::string tls_key;   // default: the device port's key
  int threads =
      2;  // I/O threads, each with its own store connection (2: one slow dashboard view never stalls the rest)
};

struct WebhookConfig {
  std::string name;                // unique among the webhooks
  std::string url;                 // https:// (http:// only with alerts.allow_plain_http)
  std::string secret_file;         // absolute; read by LoadWebhookSecrets
  std::string secret;              // its content (one trailing newline stripped); "" until loaded
  std::vector<std::string> kinds;  // known alert kinds, or {"*"}
};

struct AlertsConfig {
  std::vector<WebhookConfig> webhooks;
  std::string ca_file;  // CA bundle for the receivers' certificates ("" = system store)
  int64_t max_attempts = 8;
  int64_t backoff_seconds = 10;
  int64_t max_backoff_seconds = 3600;
  bool allow_plain_http = false;  // tests only
};

struct AuditConfig {
  std::string heads_file;  // default DIR/audit/heads.jsonl
  int64_t export_interval_seconds = 300;
};

struct JournalConfig {
  int64_t retention_days = 0;                        // 0: segments are kept forever
  std::string encryption_key_file;                   // "" = stored as uploaded (fw/server/journal_vault.h)
  std::string readers = "tokens with journal_read";  // the only policy there is (documented)
};

// The alert kinds a webhook may subscribe to (fw/server/alerts.h).
const std::vector<std::string>& KnownAlertKinds();

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
  std::string database;  // default DIR/server.db; a "postgresql://" or "postgres://" URI is kept as written
  // Issuer: exactly one of a Unix socket (`fwserver issuer`) or a signer spec (pkcs11: URI).
  std::string issuer_socket;  // default DIR/issuer.sock
  std::string issuer_key;
  // Device API policy.
  int64_t poll_seconds = 300;
  int64_t poll_jitter_seconds = 60;
  int64_t cert_validity_seconds = 365 * 86400;
  int64_t renew_grace_seconds = 30 * 86400;
  ServerLimits limits;
  // Operator side (issue 16).
  OperatorPortConfig operator_port;
  AuditConfig audit;
  AlertsConfig alerts;
  JournalConfig journal;
  int64_t cert_warn_days = 30;
};

Result<ServerConfig> ParseConfig(std::string_view json_text, const std::string& data_dir);
// Reads every alerts.webhooks[i].secret_file into .secret (see the contract above).
Status LoadWebhookSecrets(ServerConfig& config);
// ParseConfig of DIR/fwserver.json + LoadWebhookSecrets.
Result<ServerConfig> LoadConfig(const std::string& data_dir);
std::string DefaultConfigJson();

}  // namespace fw::server
