// The dashboard's static files (assets.h); the bytes are in the generated dashboard_assets.cc.
#include "assets.h"

#include "fw/crypto.h"
#include "fw/encoding.h"

namespace fw::server::dash {
namespace {

std::string ETagOf(std::string_view body) {
  const Digest d = Sha256::Of(AsBytes(body));
  return "\"" + HexEncode(d).substr(0, 32) + "\"";
}

}  // namespace

std::optional<Asset> FindAsset(std::string_view path) {
  static const std::string kCssTag = ETagOf(kAppCss);
  static const std::string kJsTag = ETagOf(kAppJs);
  if (path == "/ui/static/app.css") return Asset{"text/css; charset=utf-8", kAppCss, kCssTag};
  if (path == "/ui/static/app.js") return Asset{"text/javascript; charset=utf-8", kAppJs, kJsTag};
  return std::nullopt;
}

}  // namespace fw::server::dash
