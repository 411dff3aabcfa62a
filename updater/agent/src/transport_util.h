// Internal helpers of fw_agent_client (not installed): URL checks, reply headers, and writing the
// terminal's identity files (key first, 0600; then certificate + chain; each temp + fsync + rename).
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>

#include "fw/agent/protocol.h"
#include "fw/http_client.h"
#include "fw/status.h"

namespace fw::agent::internal {

// "https://host:port" (a trailing '/' dropped); http:// only when allowed. kInvalidArgument otherwise.
Result<std::string> ServerBase(const std::string& url, bool allow_plain_http);
// The check-in's `repository` (a path on the server, or an https:// URL) as an absolute base ending in
// '/'. kCorrupt when the server sent something else (plain http unless allowed, "//host", control bytes).
Result<std::string> ResolveUrl(const std::string& base, const std::string& repository, bool allow_plain_http);

std::string HeaderOf(const net::HttpReply& reply, const std::string& lower_name);
int64_t HeaderInt(const net::HttpReply& reply, const std::string& lower_name);  // 0 when absent or not digits

// Writes key_pem (when non-empty) to key_file (0600), then certificate + chain to cert_file (0644).
Status WriteIdentity(const std::string& cert_file, const std::string& key_file, const CertificateReply& cert,
                     const std::string& key_pem);

}  // namespace fw::agent::internal
