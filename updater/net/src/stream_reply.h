// The head of one HTTP reply as HttpStream judges it (fw_http internal, never installed): the
// header lines collected from libcurl's header callback, and the few parsers HttpStream needs
// (Content-Range, Retry-After, validators). Pure functions over text; no curl type here.
// Thread safety: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fw::net::internal {

struct ReplyHead {
  int status = 0;
  std::string etag;           // as sent (may be weak: W/"...")
  std::string last_modified;  // as sent
  std::string content_range;  // as sent
  std::string location;
  std::string retry_after;
  std::optional<uint64_t> content_length;
  bool complete = false;  // the blank line ending a final (non-1xx) head was seen

  // Takes one header line as libcurl hands it over (with its CR LF). A status line starts a new
  // head (1xx heads and heads before them are forgotten). Returns true when this line ended a
  // final head.
  bool Add(std::string_view line);
};

struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  std::optional<uint64_t> total;  // nullopt for "*"
};

// "bytes FIRST-LAST/TOTAL" (TOTAL may be "*"); nullopt when malformed or LAST < FIRST or
// TOTAL <= LAST.
std::optional<ContentRange> ParseContentRange(std::string_view text);

// Retry-After in seconds (decimal delta-seconds only; an HTTP date is not used: the terminal's
// clock is not trusted for it). nullopt when absent or not a number; capped at `cap`.
std::optional<uint64_t> ParseRetryAfterSeconds(std::string_view text, uint64_t cap);

// A strong ETag ("..."), usable for If-Range; false for W/"..." and malformed values.
bool IsStrongEtag(std::string_view etag);

}  // namespace fw::net::internal
