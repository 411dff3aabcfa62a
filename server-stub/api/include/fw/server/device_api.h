// The device API of fwserver (server-stub/api): the routes terminals call over mutual TLS
// — enrolment, renewal, check-in, action events, journal segments (docs/fleet-protocol.md).
// Owner: the api component (also owns the store, fw/server/store.h).
//
// Contract:
//  - OpenDeviceApi() opens its own connection to the store at config.db_path (one per
//    transport thread: the result is a RequestHandler for fw/server/http.h's
//    HandlerFactory) and never reads a private key: certificates come from `issuer`.
//  - Handle() is a pure request -> response function over the store and the clock; it
//    never throws; every error is a JSON body {"error": CODE, "message": TEXT} with the
//    status the protocol document gives for it. A store that is unreachable or busy (kIoError,
//    kTimeout) is 503 + Retry-After, never 500.
//  - GET /livez (200 while the process answers) and GET /readyz (200 when Store::Ping() succeeds,
//    else 503 not_ready) need no client certificate: probes of an L4 balancer or an orchestrator.
// Thread safety: one handler per thread; `issuer` and `clock` are shared and must outlive
// every handler.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fw/clock.h"
#include "fw/server/alerts.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/http.h"
#include "fw/server/journal_vault.h"
#include "fw/server/metrics.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

struct DeviceApiConfig {
  std::string db_path;                          // DIR/server.db
  int64_t poll_seconds = 300;                   // check-in interval the server asks for
  int64_t poll_jitter_seconds = 60;             // +- uniform jitter added per reply
  int64_t cert_validity_seconds = 365 * 86400;  // device certificates
  int64_t renew_grace_seconds = 30 * 86400;     // expired-but-unrevoked certificates may renew this long
  std::string repository_url = "/repo/";        // where terminals fetch TUF metadata and targets
  AlertPolicy alerts;                           // journal anomalies, clones, quarantines (fw/server/alerts.h)
  std::shared_ptr<const JournalVault> vault;    // seals uploaded segments (nullptr: stored as sent)
  Metrics* metrics = nullptr;                   // requests counted when set (shared, thread-safe)
};

Result<std::unique_ptr<RequestHandler>> OpenDeviceApi(const DeviceApiConfig& config, CertIssuer& issuer, Clock& clock);
// The same over a store the caller opened (tests wrap one to make it fail; config.db_path unused).
Result<std::unique_ptr<RequestHandler>> OpenDeviceApi(const DeviceApiConfig& config, std::unique_ptr<Store> store,
                                                      CertIssuer& issuer, Clock& clock);

}  // namespace fw::server
