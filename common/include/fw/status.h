// Status and Result<T>: errors are values in library code.
//
// A Status is either OK or carries an ErrorCode and a human-readable message.
// Context is added at each hop with WithContext(), so a final message reads as a
// chain: "install: writing bank B: chunk 17: hash mismatch".
//
// Thread safety: values; no shared state.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace fw {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,     // caller/user gave something unusable (flags, paths, values)
  kNotFound,            // a named thing does not exist
  kCorrupt,             // bytes from outside are malformed (format, bounds, CRC)
  kVerificationFailed,  // a hash, signature or policy check failed
  kIoError,             // the OS refused a read/write/fsync
  kFailedPrecondition,  // the current state does not allow the operation
  kResourceExhausted,   // disk full, caps on size/time exceeded
  kUnsupported,         // a valid but unsupported variant (key type, format version)
  kTimeout,             // a bound on waiting was exceeded
  kInternal,            // a bug or an unexpected library failure
};

// Short lower-case name of a code, e.g. "verification failed".
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {
    assert(code != ErrorCode::kOk);
  }
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message". OK stays OK.
  Status WithContext(std::string_view context) const;

  // "OK" or the message.
  std::string ToString() const { return ok() ? "OK" : message_; }

  // Explicitly discard a status (for best-effort cleanup paths).
  void IgnoreError() const {}

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// Shorthand constructors.
Status InvalidArgument(std::string message);
Status NotFound(std::string message);
Status Corrupt(std::string message);
Status VerificationFailed(std::string message);
Status IoError(std::string message);
Status FailedPrecondition(std::string message);
Status ResourceExhausted(std::string message);
Status Unsupported(std::string message);
Status Timeout(std::string message);
Status Internal(std::string message);

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  Result WithContext(std::string_view context) && {
    if (ok()) return std::move(*this);
    return Result(std::get<Status>(v_).WithContext(context));
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace fw

#define FW_CONCAT_INNER_(a, b) a##b
#define FW_CONCAT_(a, b) FW_CONCAT_INNER_(a, b)

// Returns the status from the current function if it is not OK.
#define FW_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::fw::Status fw_status_ = (expr);        \
    if (!fw_status_.ok()) return fw_status_; \
  } while (0)

// Like FW_RETURN_IF_ERROR, prefixing the message with a context string.
#define FW_RETURN_IF_ERROR_CTX(expr, ctx)                     \
  do {                                                        \
    ::fw::Status fw_status_ = (expr);                         \
    if (!fw_status_.ok()) return fw_status_.WithContext(ctx); \
  } while (0)

// Evaluates a Result<T> expression; on error returns its status, else moves the
// value into `lhs` (which may be a declaration such as `auto x`).
#define FW_ASSIGN_OR_RETURN(lhs, expr) FW_ASSIGN_OR_RETURN_IMPL_(FW_CONCAT_(fw_result_, __LINE__), lhs, expr)
#define FW_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
