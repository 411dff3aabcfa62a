// The dashboard's static files (internal to fw_server_dashboard; docs/dashboard.md "Static files"):
// server-stub/dashboard/assets/app.css and app.js, embedded into the binary at build time (CMake
// reads them into the generated dashboard_assets.cc), so fwserver needs no file at run time.
//
// Contract: FindAsset("/ui/static/app.css") -> the file's bytes, its Content-Type and a strong ETag
// (a quoted prefix of its SHA-256); nullopt for any other path. The bytes live for the whole program.
// Thread safety: immutable data (the ETags are computed once, thread-safe static initialisation).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fw::server::dash {

struct Asset {
  std::string_view content_type;
  std::string_view body;
  std::string etag;  // "\"<32 hex>\""
};

std::optional<Asset> FindAsset(std::string_view path);

// The embedded files (dashboard_assets.cc, generated).
extern const std::string_view kAppCss;
extern const std::string_view kAppJs;

}  // namespace fw::server::dash
