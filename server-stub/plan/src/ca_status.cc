#include "fw/server/ca_status.h"

#include "fw/file_io.h"
#include "fw/server/fleet_ca.h"

namespace fw::server {
namespace {

constexpr uint64_t kMaxPemBytes = 1 << 20;

// The one certificate of DIR/ca/<name>.pem (a bundle there is a mistake: kCorrupt naming the file).
Result<CaCertStatus> ReadCaCert(const std::string& data_dir, const std::string& name) {
  const std::string path = data_dir + "/ca/" + name + ".pem";
  FW_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path, kMaxPemBytes));
  auto certs = DescribeCerts(pem);
  if (!certs.ok()) return certs.status().WithContext(path);
  if (certs->size() != 1) {
    return Corrupt(path + " holds " + std::to_string(certs->size()) + " certificates, expected exactly one");
  }
  const CertSummary& c = certs->front();
  return CaCertStatus{name, c.subject, c.serial_hex, c.not_before_s, c.not_after_s};
}

}  // namespace

Result<CaStatus> ReadCaStatus(const std::string& data_dir, Store& store, int64_t now_s, int64_t warn_seconds) {
  if (warn_seconds < 0) return InvalidArgument("warning window of " + std::to_string(warn_seconds) + " s is negative");
  CaStatus out;
  out.warn_seconds = warn_seconds;
  for (const char* name : {"root", "issuing"}) {
    FW_ASSIGN_OR_RETURN(CaCertStatus c, ReadCaCert(data_dir, name));
    out.ca.push_back(std::move(c));
  }
  const int64_t before = now_s > INT64_MAX - warn_seconds ? INT64_MAX : now_s + warn_seconds;
  FW_ASSIGN_OR_RETURN(out.expiring, store.ListCertsExpiringBefore(before));
  return out;
}

}  // namespace fw::server
