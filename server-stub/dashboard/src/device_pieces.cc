// Pieces the terminal pages share (device_pieces.h).
#include "device_pieces.h"

namespace fw::server::dash {

using Json = nlohmann::json;

std::string JsonPlain(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string Shorten(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "\xE2\x80\xA6";
}

std::string DevicePath(std::string_view serial) { return "/ui/devices/" + UrlPiece(serial); }

void DeviceLink(Html& out, std::string_view serial) { out.Link(DevicePath(serial), serial, {{"class", "serial"}}); }

namespace {
std::string IsoTime(int64_t unix_s) {
  std::string t = Time(unix_s);  // "2026-11-28 14:03:05Z"
  if (t.size() > 10 && t[10] == ' ') t[10] = 'T';
  return t;
}
}  // namespace

void TimeAge(Html& out, int64_t unix_s, int64_t now_s) {
  if (unix_s <= 0) {
    out.Element("span", {{"class", "never"}}, "never");
    return;
  }
  out.Element("time", {{"datetime", IsoTime(unix_s)}, {"title", Time(unix_s)}}, Age(unix_s, now_s));
}

void TimeExact(Html& out, int64_t unix_s, int64_t now_s) {
  if (unix_s <= 0) {
    out.Element("span", {{"class", "never"}}, "never");
    return;
  }
  out.Element("time", {{"datetime", IsoTime(unix_s)}, {"title", Age(unix_s, now_s)}}, Time(unix_s));
}

void StateBadge(Html& out, std::string_view state) {
  out.Element("span", {{"class", "badge state-" + UrlPiece(state)}}, state);
}

void FinishLive(Page& p, const PageContext& ctx, std::string_view refresh_target, const Html& live) {
  if (ctx.fragment) {
    p.body.Raw(live);
    return;
  }
  OpenLiveRegion(p.body, ctx, refresh_target);
  p.body.Raw(live);
  CloseLiveRegion(p.body);
}

bool RoleAtLeast(const PageContext& ctx, Role role) { return static_cast<int>(ctx.role) >= static_cast<int>(role); }

std::string AlertSerial(const Json& alert) {
  const Json& details = JAt(JAt(alert, "body"), "details");
  std::string serial = JStr(details, "serial");
  if (!serial.empty()) return serial;
  const std::string object = JStr(alert, "object");
  return object.starts_with("device:") ? object.substr(7) : std::string();
}

std::string AlertDetails(const Json& alert) {
  const Json& details = JAt(JAt(alert, "body"), "details");
  if (!details.is_object()) return JsonPlain(details);
  std::string out;
  // The telling members first, then the rest in the JSON's (sorted) order.
  static constexpr std::string_view kFirst[] = {"finding", "seq", "source", "action", "rollout", "reason"};
  auto add = [&](std::string_view key, const Json& value) {
    if (value.is_null()) return;
    if (!out.empty()) out += ", ";
    out += key;
    out += ": ";
    out += JsonPlain(value);
  };
  for (auto key : kFirst) add(key, JAt(details, key));
  for (const auto& [key, value] : details.items()) {
    bool seen = key == "serial";
    for (auto first : kFirst) seen = seen || key == first;
    if (!seen) add(key, value);
  }
  return out;
}

}  // namespace fw::server::dash
