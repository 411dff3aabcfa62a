#include "agent_time.h"

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>

namespace fw::agent {

namespace {

std::mutex& TzMutex() {
  static std::mutex m;
  return m;
}

int ParseHhMm(const std::string& s, size_t at, bool* ok) {
  auto digit = [&](size_t i) { return (i < s.size() && s[i] >= '0' && s[i] <= '9') ? s[i] - '0' : -1; };
  const int h1 = digit(at), h2 = digit(at + 1), m1 = digit(at + 3), m2 = digit(at + 4);
  if (h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0 || s[at + 2] != ':') return *ok = false, 0;
  const int h = h1 * 10 + h2, m = m1 * 10 + m2;
  if (h > 23 || m > 59) return *ok = false, 0;
  return h * 60 + m;
}

// Seconds since local midnight at `wall_s` in `zone` (TZ set for the duration of the call).
Result<int64_t> LocalSecondOfDay(int64_t wall_s, const std::string& zone) {
  if (zone.empty() || zone.find("..") != std::string::npos ||
      (zone != "UTC" && !std::filesystem::exists("/usr/share/zoneinfo/" + zone))) {
    return InvalidArgument("unknown time zone \"" + zone + "\"");
  }
  std::lock_guard<std::mutex> lock(TzMutex());
  const char* old = std::getenv("TZ");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("TZ", zone.c_str(), 1);
  ::tzset();
  std::tm tm{};
  const time_t t = static_cast<time_t>(wall_s);
  const bool ok = ::localtime_r(&t, &tm) != nullptr;
  if (saved) {
    ::setenv("TZ", saved->c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
  if (!ok) return InvalidArgument("time " + std::to_string(wall_s) + " cannot be converted to " + zone);
  return static_cast<int64_t>(tm.tm_hour) * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

}  // namespace

Result<Window> ParseWindow(const std::string& text) {
  bool ok = text.size() == 11 && text[5] == '-';
  Window w;
  if (ok) w.start_min = ParseHhMm(text, 0, &ok);
  if (ok) w.end_min = ParseHhMm(text, 6, &ok);
  if (!ok || w.start_min == w.end_min) return InvalidArgument("window \"" + text + "\" is not HH:MM-HH:MM");
  return w;
}

Result<int64_t> SecondsUntilWindow(const Window& w, int64_t wall_s, const std::string& time_zone) {
  FW_ASSIGN_OR_RETURN(int64_t now, LocalSecondOfDay(wall_s, time_zone));
  const int64_t start = w.start_min * 60, end = w.end_min * 60, day = 86400;
  const bool inside = start < end ? (now >= start && now < end) : (now >= start || now < end);
  if (inside) return int64_t{0};
  return (start - now + day) % day;
}

std::string Iso8601(int64_t wall_s) {
  const time_t t = static_cast<time_t>(wall_s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace fw::agent
