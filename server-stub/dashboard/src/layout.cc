// The dashboard's page frame (layout.h).
#include "layout.h"

namespace fw::server::dash {
namespace {

struct NavItem {
  std::string_view href;
  std::string_view text;
  Role min_role;
};
constexpr NavItem kNav[] = {
    {"/ui/", "Fleet", Role::kViewer},
    {"/ui/devices", "Terminals", Role::kViewer},
    {"/ui/rollouts", "Rollouts", Role::kViewer},
    {"/ui/alerts", "Alerts", Role::kViewer},
    {"/ui/audit", "Audit", Role::kApprover},
};

// The navigation entry `item` is current on `path` (a terminal under Terminals, a rollout under Rollouts).
bool Current(const NavItem& item, std::string_view path) {
  if (item.href == "/ui/") return path == "/ui/";
  return path == item.href || path.starts_with(std::string(item.href) + "/");
}

void Header(Html& out, const PageContext& ctx) {
  out.Open("header", {{"class", "top"}});
  out.Link("/ui/", "fwserver", {{"class", "brand"}});
  out.Open("nav", {{"id", "nav"}, {"aria-label", "main"}});
  for (const NavItem& item : kNav) {
    if (static_cast<int>(ctx.role) < static_cast<int>(item.min_role)) continue;
    if (Current(item, ctx.path)) {
      out.Link(item.href, item.text, {{"aria-current", "page"}});
    } else {
      out.Link(item.href, item.text);
    }
  }
  out.Close("nav");
  out.Open("div", {{"class", "user"}});
  out.Element("span", {{"id", "refresh-status"}, {"class", "refresh-status"}, {"aria-live", "polite"}}, "");
  out.Element("span", {{"id", "whoami"}}, ctx.token_name + " (" + std::string(RoleName(ctx.role)) + ")");
  out.Open("form", {{"id", "logout"}, {"method", "post"}, {"action", "/ui/logout"}});
  out.Void("input", {{"type", "hidden"}, {"name", "csrf"}, {"value", ctx.csrf}});
  out.Element("button", {{"type", "submit"}}, "Log out");
  out.Close("form");
  out.Close("div");
  out.Close("header");
}

}  // namespace

std::string Document(const Page& page, const PageContext* ctx) {
  Html out;
  out.Open("html", {{"lang", "en"}});
  out.Open("head");
  out.Void("meta", {{"charset", "utf-8"}});
  out.Void("meta", {{"name", "viewport"}, {"content", "width=device-width, initial-scale=1"}});
  // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on every form POST (Fetch
  // spec), which the Origin check refuses; same-origin keeps the real Origin on our own forms, `null` on
  // cross-site ones, and no Referer ever leaves the site.
  out.Void("meta", {{"name", "referrer"}, {"content", "same-origin"}});
  // An icon of its own: otherwise the browser asks for /favicon.ico (a 404 in the console on every page).
  out.Void("link", {{"rel", "icon"}, {"href", "data:,"}});
  out.Element("title", page.title + " · fwserver");
  out.Void("link", {{"rel", "stylesheet"}, {"href", "/ui/static/app.css"}});
  out.Element("script", {{"src", "/ui/static/app.js"}, {"defer", ""}}, "");
  out.Close("head");
  out.Open("body");
  if (ctx != nullptr) {
    Header(out, *ctx);
  } else {
    out.Open("header", {{"class", "top"}});
    out.Link("/ui/", "fwserver", {{"class", "brand"}});
    out.Close("header");
  }
  out.Open("main", {{"id", "main"}});
  out.Element("h1", page.title);
  out.Raw(page.body);
  out.Close("main");
  out.Close("body");
  out.Close("html");
  return "<!doctype html>\n" + out.str() + "\n";
}

Html LoginBody(std::string_view login_csrf, std::string_view next, std::string_view message) {
  Html out;
  if (!message.empty()) out.Element("p", {{"class", "api-error login-error"}, {"role", "alert"}}, message);
  out.Open("form", {{"id", "login"}, {"class", "login"}, {"method", "post"}, {"action", "/ui/login"}});
  out.Void("input", {{"type", "hidden"}, {"name", "login_csrf"}, {"value", login_csrf}});
  out.Void("input", {{"type", "hidden"}, {"name", "next"}, {"value", next}});
  out.Element("label", {{"for", "token"}}, "Operator token");
  out.Void("input", {{"id", "token"},
                     {"type", "password"},
                     {"name", "token"},
                     {"autocomplete", "off"},
                     {"autocapitalize", "off"},
                     {"spellcheck", "false"},
                     {"required", ""},
                     {"maxlength", "128"}});
  out.Element("button", {{"type", "submit"}}, "Log in");
  out.Close("form");
  out.Open("p", {{"class", "hint"}});
  out.Text("An operator token, made with ").Element("code", "fwserver token create").Text(" or ");
  out.Element("code", "POST /v1/tokens").Text(". The session lasts at most until the token expires; revoking ");
  out.Text("the token ends it.");
  out.Close("p");
  return out;
}

Page MessagePage(int status, std::string_view title, std::string_view message, bool error, std::string_view back_href,
                 std::string_view back_text) {
  Page p;
  p.status = status;
  p.title = std::string(title);
  if (error) {
    p.body.Element("div", {{"class", "api-error"}, {"role", "alert"}}, message);
  } else {
    p.body.Element("p", message);
  }
  p.body.Open("p").Link(back_href, back_text).Close("p");
  return p;
}

}  // namespace fw::server::dash
