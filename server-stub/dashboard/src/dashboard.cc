// The operator port: the dashboard under /ui, the operator API for the rest (fw/server/dashboard.h).
// Routing of /ui paths, the session check, pages and fragments, static files and the security headers;
// login/logout in ui_login.cc, the state-changing forms in ui_post.cc.
#include "fw/server/dashboard.h"

#include <string_view>
#include <utility>
#include <vector>

#include "assets.h"
#include "forms.h"
#include "fw/server/operator_messages.h"
#include "layout.h"
#include "ui_handler.h"

namespace fw::server::dash {

constexpr std::string_view kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

Response HtmlResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.Header("Content-Type", "text/html; charset=utf-8");
  return r;
}

Response Redirect(std::string location) {
  Response r = HtmlResponse(303, "");
  r.Header("Location", std::move(location));
  return r;
}

Response PageResponse(const Page& page, const PageContext* ctx) {
  return HtmlResponse(page.status, Document(page, ctx));
}

bool SameOrigin(const Request& request) {
  const auto origin = request.headers.find("origin");
  if (origin == request.headers.end()) return true;
  const std::string host = request.Header("host");
  return !host.empty() && origin->second == "https://" + host;
}

bool IsFormPost(const Request& request) {
  std::string type = request.Header("content-type");
  for (auto& c : type) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  const std::string_view kForm = "application/x-www-form-urlencoded";
  return type == kForm || (type.starts_with(kForm) && (type[kForm.size()] == ';' || type[kForm.size()] == ' '));
}

namespace {

// Path pieces after "/ui/": "/ui/rollouts/7" -> {"rollouts", "7"}. An empty piece (a "//" or a
// trailing '/') stays empty, so such a path matches no route.
std::vector<std::string_view> Pieces(std::string_view path) {
  std::vector<std::string_view> out;
  std::string_view rest = path.substr(4);  // after "/ui/"
  if (rest.empty()) return out;
  while (true) {
    const size_t slash = rest.find('/');
    out.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return out;
}

Response MethodNotAllowed(const char* allow) {
  Response r = PageResponse(
      MessagePage(405, "Method not allowed", std::string("This address takes ") + allow + ".", true), nullptr);
  r.Header("Allow", allow);
  return r;
}

Response ServeAsset(const Request& request, std::string_view path) {
  if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET, HEAD");
  const auto asset = FindAsset(path);
  if (!asset) return PageResponse(MessagePage(404, "Not found", "No such file.", true), nullptr);
  Response r;
  r.Header("ETag", asset->etag);
  r.Header("Cache-Control", "no-cache");
  if (request.Header("if-none-match") == asset->etag) {
    r.status = 304;
    return r;
  }
  r.Header("Content-Type", std::string(asset->content_type));
  r.body = std::string(asset->body);
  return r;
}

// The page for `pieces` (GET), or a 404 page.
Page RoutePage(UiApi& api, const PageContext& ctx, const std::vector<std::string_view>& pieces) {
  const size_t n = pieces.size();
  if (n == 0) return FleetPage(api, ctx);
  if (pieces[0] == "devices" && n == 1) return DevicesPage(api, ctx);
  if (pieces[0] == "devices" && n == 2 && IsValidSerialText(pieces[1])) {
    return DevicePage(api, ctx, std::string(pieces[1]));
  }
  if (pieces[0] == "rollouts" && n == 1) return RolloutsPage(api, ctx);
  if (pieces[0] == "rollouts" && n == 2) {
    auto id = ParseDecimal("id", pieces[1], 1, INT64_MAX);
    if (id.ok()) return RolloutPage(api, ctx, *id);
  }
  if (pieces[0] == "audit" && n == 1) return AuditPage(api, ctx);
  if (pieces[0] == "alerts" && n == 1) return AlertsPage(api, ctx);
  return MessagePage(404, "Not found", "There is no dashboard page at this address.", true);
}

// No live session: a page goes to the login form (coming back here after), a fragment gets 401 (app.js
// reloads the page, which then goes to the login form), a form POST goes to the login form.
Response NoSession(UiEnv& env, const Request& request, const SessionLookup& lookup, const std::string& path,
                   const std::string& query, bool fragment) {
  Response r;
  if (fragment) {
    r = HtmlResponse(401, "not logged in\n");
  } else if (request.method == "POST") {
    r = Redirect("/ui/login");
  } else {
    std::string next = query.empty() ? path : path + "?" + query;
    if (!SafeUiPath(next)) next = "/ui/";
    r = Redirect("/ui/login?next=" + UrlPiece(next));
  }
  if (lookup.had_cookie) r.Header("Set-Cookie", ClearCookie(kSessionCookie));
  if (lookup.token_gone) {
    // The token was revoked or expired: its session is dead, drop it now (best effort; the purge at
    // the next login removes it otherwise).
    const auto value = CookieValue(request.Header("cookie"), kSessionCookie);
    if (value) (void)env.api.store().DeleteUiSession(SessionHash(*value));
  }
  return r;
}

PageContext ContextFor(UiEnv& env, const Request& request, const LiveSession& live, const std::string& path,
                       QueryValues query) {
  PageContext ctx;
  ctx.token_name = live.token.name;
  ctx.role = ParseRole(live.token.role).value_or(Role::kViewer);
  ctx.journal_read = live.token.journal_read;
  ctx.csrf = CsrfToken(CookieValue(request.Header("cookie"), kSessionCookie).value_or(""));
  ctx.now_s = env.clock.WallSeconds();
  ctx.path = path;
  ctx.fragment = query.contains("fragment") && query.at("fragment") == "1";
  query.erase("fragment");
  ctx.query = std::move(query);
  ctx.refresh_ms = env.config.refresh_ms;
  return ctx;
}

// Everything under /ui but the static files.
// The whole path of a request through the session check, in one place and in order.
Response HandleUi(UiEnv& env, const Request& request, const std::string& path, const std::string& query_text) {
  if (path == "/ui") return Redirect("/ui/");
  auto query = ParseUrlEncoded(query_text, 16, 1024);
  if (!query.ok()) {
    return PageResponse(MessagePage(400, "Bad request", "The address's query: " + query.status().message(), true),
                        nullptr);
  }
  if (path == "/ui/login") {
    if (request.method == "GET" || request.method == "HEAD") return LoginForm(env, request, *query);
    if (request.method == "POST") return LoginPost(env, request);
    return MethodNotAllowed("GET, HEAD, POST");
  }
  if (path == "/ui/logout") {
    if (request.method == "POST") return LogoutPost(env, request);
    return MethodNotAllowed("POST");
  }
  const bool post = request.method == "POST";
  if (!post && request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET, HEAD");
  const bool fragment =
      (query->contains("fragment") && query->at("fragment") == "1") || !request.Header("x-requested-with").empty();
  auto lookup = ResolveSession(env.api.store(), request.Header("cookie"), env.clock.WallSeconds());
  if (!lookup.ok()) {
    return PageResponse(MessagePage(503, "Store unavailable",
                                    "The session could not be checked: " + lookup.status().message() +
                                        ". Try again when the database answers.",
                                    true),
                        nullptr);
  }
  if (path == "/ui/session" && !post) {
    // Is this browser logged in? app.js asks from the login form: a link from another site carries no
    // SameSite=Strict cookie, so such a visit lands on the login form with a live session; the
    // same-origin fetch does carry it, and the page goes on to `next`. Always 200 (a 401 would be an
    // error in the browser's console on every login page).
    Response r;
    r.body = lookup->live ? "live" : "none";
    r.Header("Content-Type", "text/plain; charset=utf-8");
    return r;
  }
  if (!lookup->live) return NoSession(env, request, *lookup, path, query_text, fragment);
  const PageContext ctx = ContextFor(env, request, *lookup->live, path, std::move(*query));
  if (post) return OperationPost(env, request, path, ctx, *lookup->live);
  const auto api = MakeUiApi(env.api, lookup->live->token.id);
  const Page page = RoutePage(*api, ctx, Pieces(path));
  if (ctx.fragment) return HtmlResponse(page.status, page.body.str());
  return PageResponse(page, &ctx);
}

void SecurityHeaders(Response& r) {
  r.Header("Content-Security-Policy", std::string(kCsp));
  r.Header("X-Content-Type-Options", "nosniff");
  r.Header("Referrer-Policy", "same-origin");
  r.Header("X-Frame-Options", "DENY");
  r.Header("Cross-Origin-Opener-Policy", "same-origin");
  bool cache_set = false;
  for (const auto& [name, value] : r.headers) cache_set = cache_set || name == "Cache-Control";
  if (!cache_set) r.Header("Cache-Control", "no-store");
}

class OperatorPort final : public RequestHandler {
 public:
  OperatorPort(std::unique_ptr<OperatorApiHandler> api, const DashboardConfig& config, Clock& clock)
      : api_(std::move(api)), config_(config), env_{*api_, config_, clock} {}

  Response Handle(const Request& request) override {
    const auto [path, query] = SplitTarget(request.target);
    if (path != "/ui" && !path.starts_with("/ui/")) return api_->Handle(request);
    Response r = path.starts_with("/ui/static/") ? ServeAsset(request, path) : HandleUi(env_, request, path, query);
    SecurityHeaders(r);
    return r;
  }
  uint64_t MaxBodyBytes(const std::string& method, const std::string& target) const override {
    const std::string path = SplitTarget(target).first;
    if (path == "/ui" || path.starts_with("/ui/")) return kMaxFormBytes;
    return api_->MaxBodyBytes(method, target);
  }

 private:
  std::unique_ptr<OperatorApiHandler> api_;
  DashboardConfig config_;
  UiEnv env_;
};

}  // namespace
}  // namespace fw::server::dash

namespace fw::server {

std::unique_ptr<RequestHandler> MakeOperatorPort(std::unique_ptr<OperatorApiHandler> api, const DashboardConfig& config,
                                                 Clock& clock) {
  return std::make_unique<dash::OperatorPort>(std::move(api), config, clock);
}

}  // namespace fw::server
