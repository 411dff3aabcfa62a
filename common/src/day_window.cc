#include "fw/day_window.h"

namespace fw {

std::optional<DayWindow> ParseDayWindow(std::string_view text) {
  auto hhmm = [&](size_t at) -> int {
    for (size_t i : {at, at + 1, at + 3, at + 4}) {
      if (text[i] < '0' || text[i] > '9') return -1;
    }
    if (text[at + 2] != ':') return -1;
    const int h = (text[at] - '0') * 10 + (text[at + 1] - '0'), m = (text[at + 3] - '0') * 10 + (text[at + 4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
  };
  if (text.size() != 11 || text[5] != '-') return std::nullopt;
  const int start = hhmm(0), end = hhmm(6);
  if (start < 0 || end < 0 || start == end) return std::nullopt;
  return DayWindow{start, end};
}

}  // namespace fw
