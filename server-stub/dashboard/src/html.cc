// HTML output (html.h).
#include "html.h"

#include <ctime>

namespace fw::server::dash {

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\0':
        out += "\xEF\xBF\xBD";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string UrlPiece(std::string_view piece) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : piece) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void Html::Attributes(Attrs attrs) {
  for (const auto& [name, value] : attrs) {
    out_ += ' ';
    out_ += name;
    out_ += "=\"";
    out_ += Escape(value);
    out_ += '"';
  }
}

Html& Html::Open(std::string_view tag, Attrs attrs) {
  out_ += '<';
  out_ += tag;
  Attributes(attrs);
  out_ += '>';
  return *this;
}

Html& Html::Close(std::string_view tag) {
  out_ += "</";
  out_ += tag;
  out_ += '>';
  return *this;
}

Html& Html::Text(std::string_view text) {
  out_ += Escape(text);
  return *this;
}

Html& Html::Text(int64_t number) {
  out_ += std::to_string(number);
  return *this;
}

Html& Html::Element(std::string_view tag, Attrs attrs, std::string_view text) {
  return Open(tag, attrs).Text(text).Close(tag);
}

Html& Html::Void(std::string_view tag, Attrs attrs) { return Open(tag, attrs); }

Html& Html::Link(std::string_view href, std::string_view text, Attrs attrs) {
  out_ += "<a href=\"";
  out_ += Escape(href);
  out_ += '"';
  Attributes(attrs);
  out_ += '>';
  Text(text);
  return Close("a");
}

Html& Html::Raw(const Html& safe) {
  out_ += safe.out_;
  return *this;
}

std::string Time(int64_t unix_s) {
  if (unix_s <= 0) return "";
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string Age(int64_t unix_s, int64_t now_s) {
  if (unix_s <= 0) return "never";
  const int64_t d = now_s - unix_s;
  if (d < 0) return "in the future";
  if (d < 60) return std::to_string(d) + " s ago";
  if (d < 3600) return std::to_string(d / 60) + " min ago";
  if (d < 86400 * 2) return std::to_string(d / 3600) + " h ago";
  return std::to_string(d / 86400) + " d ago";
}

}  // namespace fw::server::dash
