#include "fw/status.h"

namespace fw {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kVerificationFailed:
      return "verification failed";
    case ErrorCode::kIoError:
      return "I/O error";
    case ErrorCode::kFailedPrecondition:
      return "failed precondition";
    case ErrorCode::kResourceExhausted:
      return "resource exhausted";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m;
  m.reserve(context.size() + 2 + message_.size());
  m.append(context).append(": ").append(message_);
  return Status(code_, std::move(m));
}

Status InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
Status NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
Status Corrupt(std::string m) { return {ErrorCode::kCorrupt, std::move(m)}; }
Status VerificationFailed(std::string m) { return {ErrorCode::kVerificationFailed, std::move(m)}; }
Status IoError(std::string m) { return {ErrorCode::kIoError, std::move(m)}; }
Status FailedPrecondition(std::string m) { return {ErrorCode::kFailedPrecondition, std::move(m)}; }
Status ResourceExhausted(std::string m) { return {ErrorCode::kResourceExhausted, std::move(m)}; }
Status Unsupported(std::string m) { return {ErrorCode::kUnsupported, std::move(m)}; }
Status Timeout(std::string m) { return {ErrorCode::kTimeout, std::move(m)}; }
Status Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

}  // namespace fw
