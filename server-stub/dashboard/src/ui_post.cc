// The dashboard's state-changing forms mapped to the operator API (ui_handler.h; docs/dashboard.md
// "Buttons"): POST /ui/rollouts/{id}/{op}, /ui/devices/{serial}/{op}, /ui/actions/{id}/cancel.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "forms.h"
#include "fw/server/operator_messages.h"
#include "layout.h"
#include "ui_handler.h"

namespace fw::server::dash {
namespace {

struct Operation {
  std::string api_target;  // "/v1/rollouts/7/pause"
  std::string what;        // "pause rollout 7", for the refusal page
  bool reason_optional = false;
  bool may_revert = false;
};

bool OneOf(std::string_view op, std::initializer_list<std::string_view> ops) {
  for (auto o : ops) {
    if (o == op) return true;
  }
  return false;
}

// The API route for a dashboard POST path, or nullopt (404).
std::optional<Operation> MapOperation(std::string_view path) {
  std::vector<std::string_view> p;
  std::string_view rest = path.substr(4);  // after "/ui/"
  while (true) {
    const size_t slash = rest.find('/');
    p.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (p.size() != 3) return std::nullopt;
  const std::string object(p[1]), op(p[2]);
  if (p[0] == "rollouts" && OneOf(op, {"start", "pause", "resume", "stop", "approve"})) {
    if (!ParseDecimal("id", object, 1, INT64_MAX).ok()) return std::nullopt;
    return Operation{"/v1/rollouts/" + object + "/" + op, op + " rollout " + object, op == "start", op == "stop"};
  }
  if (p[0] == "devices" && OneOf(op, {"quarantine", "release"})) {
    if (!IsValidSerialText(object)) return std::nullopt;
    return Operation{"/v1/devices/" + object + "/" + op, op + " terminal " + object};
  }
  if (p[0] == "actions" && op == "cancel") {
    if (!ParseDecimal("id", object, 1, INT64_MAX).ok()) return std::nullopt;
    return Operation{"/v1/actions/" + object + "/cancel", "cancel action " + object};
  }
  return std::nullopt;
}

Response Refused(int status, std::string_view title, const std::string& message, const PageContext& ctx,
                 std::string_view back) {
  const Page page = MessagePage(status, title, message, true, back, "Back");
  return PageResponse(page, &ctx);
}

}  // namespace

// The checks in the order they must run (origin, form, CSRF, route), then the call and its answer.
Response OperationPost(UiEnv& env, const Request& request, const std::string& path, const PageContext& ctx,
                       const LiveSession& session) {
  constexpr std::string_view kNothing = " Nothing was changed.";
  if (!SameOrigin(request)) {
    return Refused(
        403, "Refused",
        "The form was sent from another site (its Origin header is not this server's)." + std::string(kNothing), ctx,
        "/ui/");
  }
  if (!IsFormPost(request)) {
    return Refused(415, "Refused",
                   "A dashboard form is sent as application/x-www-form-urlencoded." + std::string(kNothing), ctx,
                   "/ui/");
  }
  auto form = ParseUrlEncoded(request.body, 8, kMaxReasonBytes * 3);
  if (!form.ok())
    return Refused(400, "Bad form", "The form: " + form.status().message() + "." + std::string(kNothing), ctx, "/ui/");
  const auto csrf = form->find("csrf");
  if (csrf == form->end() || !SafeEqual(csrf->second, ctx.csrf)) {
    return Refused(403, "Refused",
                   "The form carried no valid CSRF token (it was made for another session, or not by this "
                   "dashboard)." +
                       std::string(kNothing) + " Reload the page and try again.",
                   ctx, "/ui/");
  }
  std::string back = "/ui/";
  if (const auto ret = form->find("return"); ret != form->end()) back = SafeUiPath(ret->second).value_or("/ui/");
  const auto op = MapOperation(path);
  if (!op) return Refused(404, "Not found", "There is no dashboard operation at this address.", ctx, back);

  nlohmann::json body = nlohmann::json::object();
  const auto reason = form->find("reason");
  if (reason != form->end() && !(reason->second.empty() && op->reason_optional)) body["reason"] = reason->second;
  if (op->may_revert) {
    const auto revert = form->find("revert");
    body["revert"] = revert != form->end() && revert->second == "1";
  }
  const auto api = MakeUiApi(env.api, session.token.id);
  const ApiReply reply = api->Post(op->api_target, body);
  if (reply.ok()) return Redirect(back);
  const int status = reply.status >= 400 && reply.status <= 599 ? reply.status : 502;
  std::string message = "The operator API refused to " + op->what + ": HTTP " + std::to_string(reply.status);
  if (!reply.error.empty()) message += " " + reply.error;
  if (!reply.message.empty()) message += ": " + reply.message;
  return Refused(status, "Refused", message + "." + std::string(kNothing), ctx, back);
}

}  // namespace fw::server::dash
