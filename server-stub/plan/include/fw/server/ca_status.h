// Fleet CA status (server-stub/plan, lib fw_server_plan): when the fleet's CA certificates and the
// terminals' certificates expire, derived from the certificate bytes (DIR/ca/root.pem, issuing.pem)
// and the store's certificate records.
//
// Contract: ReadCaStatus(data_dir, store, now_s, warn_seconds) parses root.pem and issuing.pem with
// OpenSSL (behind fw_server_identity's facade) for subject, serial, notBefore/notAfter; lists every
// device certificate (newest per non-revoked device) with not_after_s < now_s + warn_seconds.
// A missing CA file is kNotFound, an unparsable one (or one holding other than exactly one
// certificate) kCorrupt, both naming the file; a negative warn_seconds is kInvalidArgument.
// Device certificates come from ListCertsExpiringBefore(now_s + warn_seconds) (already expired ones
// included).
// Thread safety: pure I/O over the caller's Store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

struct CaCertStatus {
  std::string name;  // "root" | "issuing"
  std::string subject;
  std::string serial_hex;
  int64_t not_before_s = 0;
  int64_t not_after_s = 0;
};

struct CaStatus {
  std::vector<CaCertStatus> ca;      // root, issuing
  std::vector<CertRecord> expiring;  // device certificates expiring within the window (or expired)
  int64_t warn_seconds = 0;
};

Result<CaStatus> ReadCaStatus(const std::string& data_dir, Store& store, int64_t now_s, int64_t warn_seconds);

}  // namespace fw::server
