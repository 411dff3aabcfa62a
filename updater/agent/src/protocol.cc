// SKELETON (issue 17, helper "client"): the agent's protocol codecs.
#include "fw/agent/protocol.h"

namespace fw::agent {

std::string EncodeManifest(const Manifest&) { return "{}"; }
Result<CheckinReply> ParseCheckinReply(std::string_view) { return Unsupported("SKELETON: ParseCheckinReply"); }
std::string EncodeEvent(const Event&) { return "{}"; }
Result<EventReply> ParseEventReply(std::string_view) { return Unsupported("SKELETON: ParseEventReply"); }
Result<SegmentReply> ParseSegmentReply(std::string_view) { return Unsupported("SKELETON: ParseSegmentReply"); }
Result<CertificateReply> ParseCertificateReply(std::string_view) {
  return Unsupported("SKELETON: ParseCertificateReply");
}
std::string ServerError::Describe() const {
  return "HTTP " + std::to_string(http_status) + " " + code + ": " + message;
}
ServerError ParseServerError(int http_status, std::string_view, std::string_view) {
  ServerError e;
  e.http_status = http_status;
  return e;
}

}  // namespace fw::agent
