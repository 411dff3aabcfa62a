// OpenSSL server context for HttpsServer (internal to server-stub/net; no Boost here).
//
// MakeServerContext() builds an SSL_CTX: TLS 1.2+, the server certificate chain and key (PEM
// text), client certificates requested (request_client_cert) with a verify callback that always
// accepts (the DeviceCertVerifier decides after the handshake) or not requested at all, a server-side session cache and
// stateless session tickets whose keys come from `ticket_state->source`. Ownership: the caller owns the returned
// SSL_CTX (HttpsServer hands it to Asio) and `ticket_state`, which must outlive the SSL_CTX. Thread safety: the SSL_CTX
// is shared by every I/O thread (OpenSSL locks it internally); the ticket source must be thread-safe.
#pragma once

#include <openssl/ssl.h>

#include <vector>

#include "fw/crypto.h"
#include "fw/server/https_server.h"
#include "fw/status.h"

namespace fw::server::tls {

struct TicketState {
  TicketKeySource source;
};

Result<SSL_CTX*> MakeServerContext(const HttpsServerOptions& options, TicketState* ticket_state);

// The client's certificate chain after a handshake, leaf first, DER (empty: no certificate).
// On a resumed session only the leaf is known (OpenSSL keeps the peer certificate, not its chain).
std::vector<Bytes> PeerChainDer(SSL* ssl);

}  // namespace fw::server::tls
