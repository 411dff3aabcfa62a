// ServeRepositoryFile (fw/server/static_files.h): confinement, ETag cache, caching policy,
// conditional and range requests. The body is a FileBody the transport streams.
#include "fw/server/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/file_io.h"

namespace fw::server {
namespace {

constexpr size_t kEtagCacheEntries = 4096;
constexpr const char* kImmutable = "public, max-age=31536000, immutable";

Response ErrorResponse(int status, const std::string& code, const std::string& message) {
  Response r;
  r.status = status;
  r.Header("Content-Type", "application/json");
  // code and message are ours (no outside bytes), so plain concatenation is valid JSON.
  r.body = "{\"error\":\"" + code + "\",\"message\":\"" + message + "\"}";
  return r;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string CacheControlFor(const std::string& rel) {
  const size_t slash = rel.rfind('/');
  const std::string_view name = std::string_view(rel).substr(slash + 1);
  if (rel.rfind("metadata/", 0) == 0) {
    if (rel == "metadata/timestamp.json") return "public, max-age=60";
    const size_t dot = name.find('.');
    if (dot != std::string_view::npos && IsDigits(name.substr(0, dot)) && name.size() > 5 &&
        name.substr(name.size() - 5) == ".json") {
      return kImmutable;  // N.<role>.json
    }
    return "no-cache";
  }
  const size_t dot = name.find('.');
  if (dot == 64 && IsHex64(name.substr(0, 64)) && name.size() > 65) return kImmutable;  // <sha256>.<name>
  return "no-cache";
}

std::string ContentTypeFor(const std::string& rel) {
  if (rel.size() > 5 && rel.compare(rel.size() - 5, 5, ".json") == 0) return "application/json";
  return "application/octet-stream";
}

struct FileKey {
  std::string path;
  dev_t dev;
  ino_t ino;
  off_t size;
  int64_t mtime_ns;
  bool operator<(const FileKey& o) const {
    return std::tie(path, dev, ino, size, mtime_ns) < std::tie(o.path, o.dev, o.ino, o.size, o.mtime_ns);
  }
};

std::mutex g_etag_mu;
std::map<FileKey, std::string>& EtagCache() {
  static auto* cache = new std::map<FileKey, std::string>();
  return *cache;
}

Result<std::string> EtagFor(const std::string& path, const struct stat& st) {
  const FileKey key{path, st.st_dev, st.st_ino, st.st_size,
                    static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  {
    std::lock_guard<std::mutex> lock(g_etag_mu);
    auto it = EtagCache().find(key);
    if (it != EtagCache().end()) return it->second;
  }
  FW_ASSIGN_OR_RETURN(const Digest digest, Sha256File(path));
  std::string etag = "\"sha256-" + HexEncode(digest) + "\"";
  std::lock_guard<std::mutex> lock(g_etag_mu);
  if (EtagCache().size() >= kEtagCacheEntries) EtagCache().clear();  // bounded; rebuilt on demand
  EtagCache().emplace(key, etag);
  return etag;
}

// realpath() of both, the file strictly inside the root.
std::optional<std::string> ResolveInside(const std::string& root, const std::string& rel) {
  char root_buf[PATH_MAX];
  char file_buf[PATH_MAX];
  if (realpath(root.c_str(), root_buf) == nullptr) return std::nullopt;
  const std::string joined = std::string(root_buf) + "/" + rel;
  if (realpath(joined.c_str(), file_buf) == nullptr) return std::nullopt;
  const std::string base = std::string(root_buf) + "/";
  const std::string resolved(file_buf);
  if (resolved.compare(0, base.size(), base) != 0) return std::nullopt;
  // The resolved file must still sit under metadata/ or targets/ (a symlink may not reach repo.json).
  const std::string inner = resolved.substr(base.size());
  if (inner.rfind("metadata/", 0) != 0 && inner.rfind("targets/", 0) != 0) return std::nullopt;
  return resolved;
}

}  // namespace

std::optional<std::string> RepositoryPath(std::string_view target) {
  const size_t q = target.find_first_of("?#");
  std::string_view path = target.substr(0, q);
  constexpr std::string_view kPrefix = "/repo/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  std::string decoded;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;
      const int hi = HexValue(path[i + 1]);
      const int lo = HexValue(path[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '/') return std::nullopt;  // %2F would hide a separator
      i += 2;
    }
    if (c == '\0' || c == '\\') return std::nullopt;
    decoded.push_back(c);
  }
  // Segments: non-empty, not "." or "..".
  size_t start = 0;
  while (start <= decoded.size()) {
    const size_t end = decoded.find('/', start);
    const std::string_view seg =
        std::string_view(decoded).substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (seg.empty() || seg == "." || seg == "..") return std::nullopt;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (decoded.rfind("metadata/", 0) != 0 && decoded.rfind("targets/", 0) != 0) return std::nullopt;
  return decoded;
}

// size: one linear decision (method, path, stat, validators, range) reads best in one place.
Response ServeRepositoryFile(const std::string& repo_dir, const Request& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    Response r = ErrorResponse(405, "method_not_allowed", "the repository is read-only: GET or HEAD");
    r.Header("Allow", "GET, HEAD");
    return r;
  }
  const auto rel = RepositoryPath(request.target);
  if (!rel) return ErrorResponse(404, "not_found", "no such repository file");
  const auto resolved = ResolveInside(repo_dir, *rel);
  if (!resolved) return ErrorResponse(404, "not_found", "no such repository file");
  struct stat st {};
  if (stat(resolved->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return ErrorResponse(404, "not_found", "no such repository file");
  }
  const auto etag = EtagFor(*resolved, st);
  if (!etag.ok()) return ErrorResponse(500, "io_error", "the repository file could not be read");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const int64_t mtime_s = static_cast<int64_t>(st.st_mtim.tv_sec);

  Response r;
  r.Header("ETag", *etag);
  r.Header("Last-Modified", HttpDate(mtime_s));
  r.Header("Cache-Control", CacheControlFor(*rel));
  r.Header("Accept-Ranges", "bytes");
  const std::string inm = request.Header("if-none-match");
  if (!inm.empty() && IfNoneMatchMatches(inm, *etag)) {
    r.status = 304;
    return r;
  }
  r.Header("Content-Type", ContentTypeFor(*rel));
  RangeDecision range;  // whole
  const std::string range_header = request.Header("range");
  if (!range_header.empty()) {
    const std::string if_range = request.Header("if-range");
    if (if_range.empty() || IfRangeMatches(if_range, *etag, mtime_s)) range = DecideRange(range_header, size);
  }
  switch (range.kind) {
    case RangeDecision::Kind::kUnsatisfiable: {
      Response u = ErrorResponse(416, "range_not_satisfiable", "the range lies beyond the end of the file");
      u.Header("Content-Range", "bytes */" + std::to_string(size));
      u.Header("ETag", *etag);
      return u;
    }
    case RangeDecision::Kind::kPartial:
      r.status = 206;
      r.Header("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                    std::to_string(range.offset + range.length - 1) + "/" + std::to_string(size));
      r.file = FileBody{*resolved, range.offset, range.length};
      break;
    case RangeDecision::Kind::kWhole:
      r.status = 200;
      r.file = FileBody{*resolved, 0, size};
      break;
  }
  return r;  // HEAD: the transport sends these headers and this Content-Length, not the body
}

}  // namespace fw::server
