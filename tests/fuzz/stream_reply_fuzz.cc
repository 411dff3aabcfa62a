// libFuzzer target for what HttpStream parses from a server's reply head (updater/net/src/
// stream_reply.h): the header lines (status line, ETag, Content-Range, Content-Length,
// Retry-After, Location), then Content-Range, Retry-After and the ETag on their own. Input: the
// head as a server would send it, split at LF into the lines libcurl hands over. Checks the
// invariants HttpStream relies on: a parsed range has first <= last < total, Retry-After never
// exceeds its cap, a strong ETag is quoted. Under g++ it replays the corpus.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "stream_reply.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fw::net::internal;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ReplyHead head;
  while (!in.empty()) {
    const size_t lf = in.find('\n');
    const std::string_view line = in.substr(0, lf == std::string_view::npos ? in.size() : lf + 1);
    const bool ended = head.Add(line);
    if (ended && (!head.complete || head.status < 200)) std::abort();
    in.remove_prefix(line.size());
  }
  if (head.status < 0 || head.status > 999) std::abort();
  for (std::string_view text : {std::string_view(head.content_range), std::string_view(head.etag)}) {
    if (const auto r = ParseContentRange(text)) {
      if (r->last < r->first || (r->total && *r->total <= r->last)) std::abort();
    }
  }
  if (const auto s = ParseRetryAfterSeconds(head.retry_after, 3600); s && *s > 3600) std::abort();
  if (IsStrongEtag(head.etag) && (head.etag.front() != '"' || head.etag.back() != '"')) std::abort();
  return 0;
}
