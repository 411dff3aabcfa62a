// libFuzzer target for the request headers the repository server parses (fw/server/static_files.h):
// Range, If-Range, If-None-Match, HTTP dates and the /repo/ path. Input: the first byte picks a
// file size class, the rest is split at NUL bytes into the header values and the target.
// Checks the invariants a caller relies on: a partial range lies inside the file and is not
// empty, a confined path never has an empty, "." or ".." segment. Under g++ it replays the corpus.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/server/static_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const uint64_t kSizes[] = {0, 1, 20, 65536, 18446744073709551615ull};
  const uint64_t file_size = kSizes[data[0] % 5];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> parts;
  while (parts.size() < 3) {
    const size_t nul = rest.find('\0');
    parts.push_back(rest.substr(0, nul));
    if (nul == std::string_view::npos) {
      rest = {};
      break;
    }
    rest.remove_prefix(nul + 1);
  }
  parts.push_back(rest);
  while (parts.size() < 4) parts.emplace_back();

  const auto r = fw::server::DecideRange(parts[0], file_size);
  if (r.kind == fw::server::RangeDecision::Kind::kPartial) {
    if (r.length == 0 || r.offset >= file_size || r.length > file_size - r.offset) __builtin_trap();
  }
  (void)fw::server::IfRangeMatches(parts[1], "\"sha256-00\"", 784111777);
  (void)fw::server::IfNoneMatchMatches(parts[1], "\"sha256-00\"");
  if (const auto t = fw::server::ParseHttpDate(parts[2])) {
    if (fw::server::HttpDate(*t) != parts[2]) __builtin_trap();  // only canonical dates parse
  }
  if (const auto path = fw::server::RepositoryPath(parts[3])) {
    const std::string p = "/" + *path + "/";
    if (p.find("//") != std::string::npos || p.find("/./") != std::string::npos ||
        p.find("/../") != std::string::npos || p.find('\0') != std::string::npos) {
      __builtin_trap();
    }
  }
  return 0;
}
