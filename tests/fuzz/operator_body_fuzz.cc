// libFuzzer target for the operator API's JSON body parsers (fw/server/operator_messages.h): bounded,
// and what parses holds checked values (a known role, a valid serial, a non-empty bounded reason,
// expires_in in range, a rollout operation's revert only where allowed). Under g++ it replays the corpus.
#include <cstdint>
#include <string_view>

#include "fw/server/operator_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fw::server;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool fits = text.size() <= kMaxOperatorBodyBytes;
  auto a = ParseActionBody(text);
  if (a.ok() && (!fits || a->kind.empty() || a->deadline_s < 0)) __builtin_trap();
  auto r = ParseReasonBody(text);
  if (r.ok() && (!fits || r->reason.empty() || r->reason.size() > kMaxReasonBytes)) __builtin_trap();
  auto e = ParseExpiresBody(text);
  if (e.ok() && e->expires_in && *e->expires_in < 60) __builtin_trap();
  auto t = ParseEnrolTokenBody(text);
  if (t.ok() && !IsValidSerialText(t->serial)) __builtin_trap();
  auto o = ParseRolloutOpBody(text, /*reason_required=*/true, /*revert_allowed=*/false);
  if (o.ok() && (!fits || o->reason.empty() || o->reason.size() > kMaxReasonBytes || o->revert)) __builtin_trap();
  auto so = ParseRolloutOpBody(text, /*reason_required=*/false, /*revert_allowed=*/true);
  if (so.ok() && (!fits || so->reason.size() > kMaxReasonBytes)) __builtin_trap();
  auto k = ParseTokenBody(text);
  if (k.ok() && (k->name.empty() ||
                 (k->role != "viewer" && k->role != "operator" && k->role != "approver" && k->role != "admin"))) {
    __builtin_trap();
  }
  return 0;
}
