// Fault constructors and the default ETag (hostile_server.h).
#include <cstdio>

#include "hostile_server.h"

namespace fw::testing {

namespace {
Fault Make(Fault::Kind kind, std::string path, uint64_t bytes = 0) {
  Fault f;
  f.kind = kind;
  f.path = std::move(path);
  f.bytes = bytes;
  return f;
}
}  // namespace

Fault Fault::DropAfter(std::string path, uint64_t bytes) { return Make(Kind::kDropAfter, std::move(path), bytes); }
Fault Fault::StallAfter(std::string path, uint64_t bytes) { return Make(Kind::kStallAfter, std::move(path), bytes); }
Fault Fault::Truncate(std::string path, uint64_t bytes) { return Make(Kind::kTruncate, std::move(path), bytes); }
Fault Fault::CorruptAt(std::string path, uint64_t offset) {
  return Make(Kind::kCorruptAt, std::move(path), offset).Requests(1, 1);
}
Fault Fault::IgnoreRange(std::string path) { return Make(Kind::kIgnoreRange, std::move(path)); }
Fault Fault::WrongContentRange(std::string path, uint64_t shift) {
  return Make(Kind::kWrongContentRange, std::move(path), shift);
}
Fault Fault::WrongTotal(std::string path) { return Make(Kind::kWrongTotal, std::move(path)); }
Fault Fault::ChangeContent(std::string path, std::string other, uint32_t from_request) {
  Fault f = Make(Kind::kChangeContent, std::move(path));
  f.other = std::move(other);
  f.first = from_request;
  return f;
}
Fault Fault::Status(std::string path, int status, uint32_t count, int retry_after) {
  Fault f = Make(Kind::kStatus, std::move(path)).Requests(1, count);
  f.status = status;
  f.retry_after = retry_after;
  return f;
}
Fault Fault::Redirect(std::string path, std::string location) {
  Fault f = Make(Kind::kRedirect, std::move(path));
  f.location = std::move(location);
  return f;
}

std::string HostileServer::EtagOf(const std::string& content) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char c : content) h = (h ^ c) * 1099511628211ull;
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "\"" + std::to_string(content.size()) + "-" + hex + "\"";
}

}  // namespace fw::testing
