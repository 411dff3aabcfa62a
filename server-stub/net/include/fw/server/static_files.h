// The TUF repository served as static files under /repo/ (server-stub/net).
//
// ServeRepositoryFile() answers GET and HEAD for `/repo/metadata/...` and `/repo/targets/...`
// from the directory `fwsign repo` produces (manifests/docs/tuf.md); nothing else of that
// directory (repo.json, staged/) is served. It is a pure request -> response function: it never
// touches a socket, and a body is returned as a FileBody (path, offset, length) that the
// transport streams in chunks (fw/server/https_server.h).
//
// Contract (docs/fleet-server.md, "Repository serving"):
//  - Confinement: the percent-decoded path must consist of non-empty segments other than "." and
//    ".."; "%2F", NUL, backslashes and absolute paths are refused (404). Symlinks are followed only
//    while the resolved file stays inside the repository directory; the file must be regular.
//  - ETag: "sha256-<lower hex>" of the content, cached by (path, device, inode, size, mtime).
//  - Cache-Control: `metadata/N.<role>.json` and hash-prefixed targets (`<64 hex>.<name>`)
//    `public, max-age=31536000, immutable`; `metadata/timestamp.json` `public, max-age=60`;
//    anything else `no-cache` (revalidated with the ETag).
//  - Conditional and partial requests: If-None-Match (weak comparison, `*`) -> 304; one byte range
//    (RFC 9110 §14) -> 206 with Content-Range, unsatisfiable -> 416 with `Content-Range: bytes */N`;
//    If-Range with a strong ETag or the exact Last-Modified date, otherwise the whole file (200).
//    A Range header with several ranges, another unit or bad syntax is ignored: 200, whole file
//    (RFC 9110 allows a server to ignore Range; we never build multipart/byteranges). On an empty
//    file a suffix range is ignored (200, empty) and any other range is 416.
//  - Other methods: 405 with `Allow: GET, HEAD`. Errors carry {"error": CODE, "message": TEXT}.
// Thread safety: every function here may be called from several threads at once (the ETag cache
// is internally locked and bounded).
// Failure model: never throws; an unreadable file is 404 (missing) or 500 (I/O error).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fw/server/http.h"

namespace fw::server {

Response ServeRepositoryFile(const std::string& repo_dir, const Request& request);

// ---- The pieces, exposed for tests and fuzz targets (pure functions of their arguments).

// What a Range header asks of a representation of `size` bytes.
struct RangeDecision {
  enum class Kind { kWhole, kPartial, kUnsatisfiable };
  Kind kind = Kind::kWhole;
  uint64_t offset = 0;  // kPartial: first byte
  uint64_t length = 0;  // kPartial: number of bytes (>= 1)
};
RangeDecision DecideRange(std::string_view range_header, uint64_t size);

// True when `if_range` (an entity tag or an IMF-fixdate) still matches the representation:
// a strong ETag equal to `etag`, or a date equal to `mtime_s` (Last-Modified). Weak tags and
// other date formats never match.
bool IfRangeMatches(std::string_view if_range, std::string_view etag, int64_t mtime_s);

// True when an If-None-Match value ("*", or a list of entity tags) matches `etag` (weak comparison).
bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag);

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and back; nullopt for anything else.
std::string HttpDate(int64_t unix_s);
std::optional<int64_t> ParseHttpDate(std::string_view text);

// The repository-relative path of a request target under /repo/ ("metadata/1.root.json"), or
// nullopt when the target is outside /repo/metadata/ and /repo/targets/ or not confined.
std::optional<std::string> RepositoryPath(std::string_view target);

}  // namespace fw::server
