// Shared page pieces (pages.h).
#include <string>

#include "pages.h"

namespace fw::server::dash {

void ApiErrorBlock(Html& out, const ApiReply& reply, std::string_view what) {
  std::string text;
  if (reply.status == 403) {
    text = "Your token's role cannot see " + std::string(what) + ": " + reply.message;
  } else if (reply.status == 503) {
    text = "The store is unavailable, " + std::string(what) + " cannot be shown now (" + reply.message +
           "). The page will work again when the database answers.";
  } else if (reply.status == 404) {
    text = "Not found: " + reply.message;
  } else {
    text = "Could not load " + std::string(what) + ": HTTP " + std::to_string(reply.status) + " " + reply.error +
           (reply.message.empty() ? "" : ": " + reply.message);
  }
  out.Element("div", {{"class", "api-error"}, {"role", "alert"}}, text);
}

void CsrfForm(Html& out, const PageContext& ctx, std::string_view action, std::string_view button, bool ask_reason,
              Attrs extra) {
  out.Open("form", {{"method", "post"}, {"action", action}, {"class", "op-form"}});
  out.Void("input", {{"type", "hidden"}, {"name", "csrf"}, {"value", ctx.csrf}});
  for (const auto& [name, value] : extra) out.Void("input", {{"type", "hidden"}, {"name", name}, {"value", value}});
  if (ask_reason) {
    out.Void("input", {{"type", "text"},
                       {"name", "reason"},
                       {"placeholder", "reason (recorded in the audit log)"},
                       {"aria-label", "reason"},
                       {"maxlength", "500"}});
  }
  out.Element("button", {{"type", "submit"}}, button);
  out.Close("form");
}

void OpenCsrfForm(Html& out, const PageContext& ctx, std::string_view action, std::string_view data_op,
                  std::string_view return_to) {
  out.Open("form", {{"method", "post"}, {"action", action}, {"class", "op-form"}, {"data-op", data_op}});
  out.Void("input", {{"type", "hidden"}, {"name", "csrf"}, {"value", ctx.csrf}});
  out.Void("input", {{"type", "hidden"}, {"name", "return"}, {"value", return_to}});
}

void CloseCsrfForm(Html& out, std::string_view button, std::string_view confirm) {
  if (confirm.empty()) {
    out.Element("button", {{"type", "submit"}}, button);
  } else {
    out.Element("button", {{"type", "submit"}, {"data-confirm", confirm}}, button);
  }
  out.Close("form");
}

void OpenLiveRegion(Html& out, const PageContext& ctx, std::string_view refresh_target) {
  std::string target(refresh_target);
  target += target.find('?') == std::string::npos ? "?fragment=1" : "&fragment=1";
  out.Open("div", {{"id", "live"},
                   {"data-refresh", target},
                   {"data-interval", std::to_string(ctx.refresh_ms)},
                   {"aria-live", "polite"}});
}

void CloseLiveRegion(Html& out) { out.Close("div"); }

int PageStatusFor(const ApiReply& reply) {
  if (reply.status == 404 || reply.status == 503) return reply.status;
  return 200;
}

}  // namespace fw::server::dash
