// Operator tokens and roles (server-stub/ops, lib fw_server_ops; docs/fleet-operator.md, "Tokens
// and roles").
//
// Contract:
//  - A token is "ptfw_op_" + 43 base64url characters (32 random bytes); only SHA-256(token text) in
//    lower-case hex is stored. The clear token exists only in the reply that created it.
//  - Roles are ordered: viewer < operator < approver < admin; a route needs a minimum role.
//    journal_read is a separate flag on the token (any role): without it no journal segment body is
//    readable, whatever the role.
//  - Authenticate(store, authorization_header, now_s): "Bearer <token>" (scheme case-insensitive,
//    exactly one space) -> the stored token, refused as kUnauthenticated-like errors with a reason:
//    missing/malformed header, unknown token, expired (now_s >= expires_s), revoked. Comparison is by
//    hash lookup (the hash of a guess reveals nothing about stored tokens).
// Thread safety: pure functions over the caller's Store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

enum class Role { kViewer = 0, kOperator = 1, kApprover = 2, kAdmin = 3 };
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

struct NewToken {
  std::string clear;  // shown once
  OperatorToken record;
};
// A fresh token (random) for `record` fields name/role/journal_read/expires_s/created_by/created_s.
Result<NewToken> MakeOperatorToken(OperatorToken record);
std::string HashOperatorToken(std::string_view clear);

enum class AuthFailure { kMissing, kMalformed, kUnknown, kExpired, kRevoked };
struct AuthResult {
  std::optional<OperatorToken> token;  // set when authenticated
  AuthFailure failure = AuthFailure::kMissing;
  std::string reason;  // for the 401 message
};
Result<AuthResult> Authenticate(Store& store, std::string_view authorization_header, int64_t now_s);
// The same checks for a token known by id (a dashboard session): unknown, revoked or expired -> no token.
Result<AuthResult> AuthenticateId(Store& store, int64_t token_id, int64_t now_s);

// The audit actor of a token: "token:<id>:<name>".
std::string TokenActor(const OperatorToken& token);

}  // namespace fw::server
