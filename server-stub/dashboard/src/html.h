// HTML output for the dashboard (internal to fw_server_dashboard): a builder that escapes by
// construction, so no page can forget to.
//
// Contract:
//  - Text() and every attribute value are escaped (& < > " ' and NUL -> U+FFFD); tag and attribute
//    names are the code's own literals (string_view constants), never data.
//  - Href values: only Url() output or literal "/ui/..." paths (Url() percent-encodes each piece), so
//    a value from the store can never become a javascript: URL.
//  - Raw() appends another builder's output (already safe) — never a string from elsewhere.
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fw::server::dash {

std::string Escape(std::string_view text);
// Percent-encodes one path piece or query value (everything but A-Z a-z 0-9 - . _ ~).
std::string UrlPiece(std::string_view piece);

using Attrs = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class Html {
 public:
  Html& Open(std::string_view tag, Attrs attrs = {});
  Html& Close(std::string_view tag);
  Html& Text(std::string_view text);
  Html& Text(int64_t number);
  // <tag attrs>text</tag>
  Html& Element(std::string_view tag, Attrs attrs, std::string_view text);
  Html& Element(std::string_view tag, std::string_view text) { return Element(tag, {}, text); }
  // <tag attrs> for void elements (input, br, meta, link).
  Html& Void(std::string_view tag, Attrs attrs = {});
  // <a href="href" attrs>text</a>
  Html& Link(std::string_view href, std::string_view text, Attrs attrs = {});
  Html& Raw(const Html& safe);

  const std::string& str() const { return out_; }
  bool empty() const { return out_.empty(); }

 private:
  void Attributes(Attrs attrs);
  std::string out_;
};

// Formats for pages: Unix seconds -> "2026-11-28 14:03:05Z" (UTC); "" for 0 or less. An age like
// "3 min ago" / "2 h ago" / "5 d ago" relative to now_s ("never" for 0).
std::string Time(int64_t unix_s);
std::string Age(int64_t unix_s, int64_t now_s);

}  // namespace fw::server::dash
