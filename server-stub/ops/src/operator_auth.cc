// Operator tokens and roles (fw/server/operator_auth.h).
#include "fw/server/operator_auth.h"

#include <cctype>

#include "fw/crypto.h"
#include "fw/encoding.h"

namespace fw::server {

namespace {
constexpr std::string_view kTokenPrefix = "ptfw_op_";
constexpr size_t kTokenChars = 43;  // base64url of 32 bytes, no padding
}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kApprover:
      return "approver";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kApprover, Role::kAdmin}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string HashOperatorToken(std::string_view clear) { return HexEncode(Sha256::Of(AsBytes(clear))); }

Result<NewToken> MakeOperatorToken(OperatorToken record) {
  if (!ParseRole(record.role)) return InvalidArgument("unknown role \"" + record.role + "\"");
  FW_ASSIGN_OR_RETURN(Bytes random, RandomBytes(32));
  NewToken t;
  t.clear = std::string(kTokenPrefix) + Base64UrlEncode(random);
  record.token_sha256_hex = HashOperatorToken(t.clear);
  record.revoked_s.reset();
  t.record = std::move(record);
  return t;
}

namespace {
bool WellFormedToken(std::string_view token) {
  if (!token.starts_with(kTokenPrefix) || token.size() != kTokenPrefix.size() + kTokenChars) return false;
  return Base64UrlDecode(token.substr(kTokenPrefix.size())).ok();
}

AuthResult Check(std::optional<OperatorToken> found, int64_t now_s);

AuthResult Fail(AuthFailure failure, std::string reason) {
  AuthResult r;
  r.failure = failure;
  r.reason = std::move(reason);
  return r;
}
}  // namespace

Result<AuthResult> Authenticate(Store& store, std::string_view header, int64_t now_s) {
  if (header.empty()) return Fail(AuthFailure::kMissing, "no Authorization header: send \"Bearer <token>\"");
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return Fail(AuthFailure::kMalformed, "malformed Authorization header");
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
      return Fail(AuthFailure::kMalformed, "the Authorization scheme must be Bearer");
    }
  }
  const std::string_view token = header.substr(kScheme.size());
  if (!WellFormedToken(token)) {
    return Fail(AuthFailure::kMalformed, "malformed token: expected ptfw_op_ and 43 base64url characters");
  }
  FW_ASSIGN_OR_RETURN(auto found, store.GetOperatorTokenByHash(HashOperatorToken(token)));
  return Check(std::move(found), now_s);
}

Result<AuthResult> AuthenticateId(Store& store, int64_t token_id, int64_t now_s) {
  FW_ASSIGN_OR_RETURN(auto found, store.GetOperatorToken(token_id));
  return Check(std::move(found), now_s);
}

namespace {
AuthResult Check(std::optional<OperatorToken> found, int64_t now_s) {
  if (!found) return Fail(AuthFailure::kUnknown, "unknown token");
  if (found->revoked_s) {
    return Fail(AuthFailure::kRevoked, "token " + std::to_string(found->id) + " (" + found->name + ") was revoked");
  }
  if (now_s >= found->expires_s) {
    return Fail(AuthFailure::kExpired, "token " + std::to_string(found->id) + " (" + found->name + ") has expired");
  }
  if (!ParseRole(found->role)) return Fail(AuthFailure::kUnknown, "token has an unknown role");
  AuthResult r;
  r.token = std::move(*found);
  return r;
}
}  // namespace

std::string TokenActor(const OperatorToken& token) { return "token:" + std::to_string(token.id) + ":" + token.name; }

}  // namespace fw::server
