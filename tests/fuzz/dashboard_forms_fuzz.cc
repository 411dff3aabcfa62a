// libFuzzer target for the dashboard's request parsers (server-stub/dashboard/src/forms.h): a parsed
// form never holds an unknown-shaped name, a repeated name, a control character or an over-long value;
// a cookie value found is one of the header's pieces; a path SafeUiPath lets through is on /ui and can
// be neither scheme-relative nor leave /ui by "." or ".." segments. Under g++ it replays the corpus.
#include <cstdint>
#include <string>
#include <string_view>

#include "forms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fw::server::dash;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto form = ParseUrlEncoded(text, 8, 64);
  if (form.ok()) {
    if (form->size() > 8) __builtin_trap();
    for (const auto& [name, value] : *form) {
      if (name.empty() || name.size() > 32 || value.size() > 64) __builtin_trap();
      for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) __builtin_trap();
      }
      for (unsigned char c : value) {
        if (c < 0x20 || c == 0x7f) __builtin_trap();
      }
    }
  }
  const auto cookie = CookieValue(text, "__Host-fwsession");
  if (cookie && (cookie->find(';') != std::string::npos || text.find("__Host-fwsession") == std::string_view::npos)) {
    __builtin_trap();
  }
  const auto path = SafeUiPath(text);
  if (path) {
    if (*path != text) __builtin_trap();
    const std::string_view p = std::string_view(*path).substr(0, path->find('?'));
    if (p != "/ui" && !p.starts_with("/ui/")) __builtin_trap();
    if (p.find("//") != std::string_view::npos || p.find("/../") != std::string_view::npos || p.ends_with("/..") ||
        p.find('\\') != std::string_view::npos) {
      __builtin_trap();
    }
    for (unsigned char c : *path) {
      if (c <= 0x20 || c >= 0x7f) __builtin_trap();
    }
  }
  return 0;
}
