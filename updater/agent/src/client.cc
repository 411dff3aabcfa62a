// SKELETON (issue 17, helper "client"): HTTPS transport, identity, journal upload.
#include "fw/agent/https_transport.h"
#include "fw/agent/identity.h"
#include "fw/agent/journal_upload.h"

namespace fw::agent {

Result<std::unique_ptr<Transport>> OpenHttpsTransport(const HttpsTransportConfig& config) {
  return Unsupported("SKELETON: OpenHttpsTransport(" + config.server_url + ")");
}
Result<KeyAndCsr> MakeKeyAndCsr(const std::string&) { return Unsupported("SKELETON: MakeKeyAndCsr"); }
Result<std::string> MakeCsr(const std::string&, const std::string&) { return Unsupported("SKELETON: MakeCsr"); }
Result<CertificateFacts> ReadCertificateFacts(const std::string&) {
  return Unsupported("SKELETON: ReadCertificateFacts");
}
Result<CertificateReply> Enrol(const EnrolRequest&) { return Unsupported("SKELETON: Enrol"); }
Result<JournalHead> ReadJournalHead(const std::string&, int) { return Unsupported("SKELETON: ReadJournalHead"); }
Result<std::vector<std::string>> BuildJournalSegments(const std::string&, int64_t, int64_t, int64_t, int64_t, int) {
  return Unsupported("SKELETON: BuildJournalSegments");
}

}  // namespace fw::agent
