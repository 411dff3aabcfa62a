// Pieces the terminal pages share (internal to fw_server_dashboard; pages_fleet.cc, pages_device.cc):
// JSON values as text (the getters that never throw are page_json.h's), links to a terminal, times shown as an
// age with the exact UTC time in the title, a device state as a classed badge.
//
// Contract:
//  - Every output goes through Html (escaped); links to terminals are "/ui/devices/" + UrlPiece(serial).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "html.h"
#include "page_json.h"
#include "pages.h"

namespace fw::server::dash {

// A value as a person reads it: strings as they are, numbers and booleans as JSON, null as "".
std::string JsonPlain(const nlohmann::json& v);
// At most max_bytes of text, cut at a UTF-8 character boundary, "…" appended when cut.
std::string Shorten(std::string_view text, size_t max_bytes);

std::string DevicePath(std::string_view serial);  // "/ui/devices/<serial, percent-encoded>"
void DeviceLink(Html& out, std::string_view serial);
// <time datetime="2026-11-28T14:03:05Z" title="2026-11-28 14:03:05Z">3 min ago</time> ("never" for 0).
void TimeAge(Html& out, int64_t unix_s, int64_t now_s);
// <time datetime=... title="N s ago">2026-11-28 14:03:05Z</time>.
void TimeExact(Html& out, int64_t unix_s, int64_t now_s);
// <span class="state state-quarantined">quarantined</span>
void StateBadge(Html& out, std::string_view state);

// The page's body: `live` inside the live region refreshed from refresh_target, or `live` alone when
// ctx.fragment (appended to whatever p.body holds).
void FinishLive(Page& p, const PageContext& ctx, std::string_view refresh_target, const Html& live);
// The role check behind every button: ctx.role is `role` or above.
bool RoleAtLeast(const PageContext& ctx, Role role);

// The serial an alert is about: details.serial, else its object "device:<serial>", else "".
std::string AlertSerial(const nlohmann::json& alert);
// An alert's details as one line: "finding: fork, seq: 5, source: checkin, detail: …" (serial left out).
std::string AlertDetails(const nlohmann::json& alert);

}  // namespace fw::server::dash
