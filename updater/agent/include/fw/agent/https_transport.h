// The agent's Transport over HTTPS with mutual TLS (library fw_agent_client; libcurl via fw::net::Call
// and HttpStream, no curl type here). docs/fleet-protocol.md is the wire format.
//
// Contract: as fw/agent/transport.h. The client certificate and key are files (cert_file, key_file),
// read at every request, so InstallCertificate (temp + fsync + rename of both, key 0600, the key first)
// takes effect at the next request. The server is verified against ca_file (the fleet CA chain);
// redirects are not followed. Bodies are capped (kMaxReplyBytes). Thread safety: one thread.
#pragma once

#include <memory>
#include <string>

#include "fw/agent/transport.h"
#include "fw/http_stream.h"

namespace fw::agent {

struct HttpsTransportConfig {
  std::string server_url;         // https://host:port (the device port)
  std::string cert_file;          // device certificate (+ chain), PEM
  std::string key_file;           // its key, PEM
  std::string ca_file;            // fleet CA chain, PEM
  net::StreamOptions stream;      // bounds for API calls (stream.http) and target streams
  bool allow_plain_http = false;  // tests only
};

Result<std::unique_ptr<Transport>> OpenHttpsTransport(const HttpsTransportConfig& config);

}  // namespace fw::agent
