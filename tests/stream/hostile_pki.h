// The hostile server's throwaway PKI (fw_hostile_server internal): tests/server/tls_testing.h
// MakeTestPki in `dir`, plus wrong_host_server.pem/.key (wrong.example, by the issuing CA),
// other_server.pem/.key (localhost/127.0.0.1 by other_root) and the chains a server sends
// (server_chain.pem, wrong_host_server_chain.pem, other_server_chain.pem).
// Returns "" or the failing openssl command and its output. Thread safety: one call per directory.
#pragma once

#include <string>

namespace fw::testing {

std::string MakeHostilePki(const std::string& dir);

}  // namespace fw::testing
