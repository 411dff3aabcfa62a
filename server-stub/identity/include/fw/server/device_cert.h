// Device certificates of the fleet CA, seen from the server (server-stub/identity).
// Owner: the identity component. No OpenSSL type appears here; DER and PEM are bytes.
//
// Contract:
//  - DeviceCertVerifier holds the fleet CA (root + issuing CA certificates, PEM). Inspect()
//    takes the chain a TLS client presented (leaf first, DER) and the time, and returns a
//    Peer (fw/server/http.h) with cert = kValid only when: the chain verifies to the fleet
//    root through the issuing CA, the leaf key is EC P-256, extendedKeyUsage contains
//    clientAuth, basicConstraints is not CA, the subject has exactly one CN made of
//    [A-Za-z0-9._-]{1,64} (the serial), and now is inside the validity period. A leaf
//    that satisfies everything but is past notAfter is kExpired (the renewal route
//    decides on the grace period); anything else is kInvalid with `problem` set. An empty
//    chain is kNone. serial, spki_sha256_hex, cert_serial_hex and not_after_s are filled
//    whenever the leaf parses.
//    The chain is built from the fleet's own issuing CA(s) only (intermediates the client sent
//    are ignored), with OpenSSL's strict X.509 checks and the TLS-client purpose; several issuing
//    CAs under one root may be given (issuing CA rotation). docs/fleet-ca.md has the table.
//  - Revocation is not decided here (the store's deny list).
// Thread safety: Inspect() is const and may be called from several threads at once. It caches
// kValid answers by the leaf's DER (at most 65536, then the cache starts over) for the time
// window in which the answer cannot change (the intersection of the chain's validity periods), so
// a resumed or repeated handshake does not re-verify signatures.
// Failure model: Create() refuses unparsable or non-CA certificates (kCorrupt, exit 3).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fw/crypto.h"
#include "fw/server/http.h"
#include "fw/status.h"

namespace fw::server {

class DeviceCertVerifier {
 public:
  // `ca_pem`: the fleet root and issuing CA certificates (one PEM bundle).
  static Result<std::unique_ptr<DeviceCertVerifier>> Create(std::string_view ca_pem);
  virtual ~DeviceCertVerifier() = default;
  virtual Peer Inspect(std::span<const Bytes> chain_der, int64_t now_s) const = 0;
};

}  // namespace fw::server
