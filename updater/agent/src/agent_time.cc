#include "agent_time.h"
#include "fw/day_window.h"

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
  const auto w = ParseDayWindow(text);
  if (!w) return InvalidArgument("window \"" + text + "\" is not HH:MM-HH:MM");
  return Window{w->start_min, w->end_min};
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
