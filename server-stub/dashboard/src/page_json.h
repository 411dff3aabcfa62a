// Reading the operator API's JSON in pages, and small pieces the rollout, audit and alert pages share
// (internal to fw_server_dashboard).
//
// Contract:
//  - JStr/JInt/JAt never throw: a missing key or a value of another type reads as ""/0/null, so a
//    page shows an empty cell instead of failing on an answer it did not expect.
//  - PercentText is the rollout engine's own format ("5%", "5.3%"), so numbers a page derives read
//    exactly like the engine's pause reasons.
//  - ObjectLink links only objects the dashboard has pages for (device:SERIAL, rollout:ID), through
//    UrlPiece; any other object is text.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "html.h"

namespace fw::server::dash {

inline const nlohmann::json& JAt(const nlohmann::json& j, std::string_view key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

inline std::string JStr(const nlohmann::json& j, std::string_view key) {
  const nlohmann::json& v = JAt(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

inline int64_t JInt(const nlohmann::json& j, std::string_view key) {
  const nlohmann::json& v = JAt(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

inline bool JBool(const nlohmann::json& j, std::string_view key) {
  const nlohmann::json& v = JAt(j, key);
  return v.is_boolean() && v.get<bool>();
}

// Pretty JSON text for a <pre> (invalid UTF-8 replaced, never throws).
inline std::string JPretty(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

// "5%" or "5.3%" (one decimal when not whole), as the rollout engine writes its reasons.
inline std::string PercentText(int64_t num, int64_t den) {
  if (den <= 0) return "0%";
  const int64_t tenths = (num * 1000 + den / 2) / den;
  if (tenths % 10 == 0) return std::to_string(tenths / 10) + "%";
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "%";
}

// "device:T-1" -> a link to /ui/devices/T-1, "rollout:7" -> /ui/rollouts/7, anything else as text.
inline void ObjectLink(Html& out, const std::string& object) {
  const size_t colon = object.find(':');
  const std::string kind = colon == std::string::npos ? "" : object.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : object.substr(colon + 1);
  if (kind == "device" && !rest.empty()) {
    out.Link("/ui/devices/" + UrlPiece(rest), object);
  } else if (kind == "rollout" && !rest.empty() && rest.find_first_not_of("0123456789") == std::string::npos) {
    out.Link("/ui/rollouts/" + rest, object);
  } else {
    out.Text(object);
  }
}

// Text whose long unbroken runs (hashes, tokens) may wrap on a phone: a <wbr> after every 16 ASCII
// characters of a run without spaces (never inside a multi-byte UTF-8 character). Escaped like Text().
inline void WrappingText(Html& out, std::string_view text) {
  size_t start = 0, run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    run = (c == ' ' || c >= 0x80) ? 0 : run + 1;
    if (run == 16 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0x80) {
      out.Text(text.substr(start, i + 1 - start));
      out.Void("wbr");
      start = i + 1;
      run = 0;
    }
  }
  out.Text(text.substr(start));
}

// A time cell: "2026-11-28 14:03:05Z" with the age as its title; "" for 0.
inline void TimeCell(Html& out, int64_t unix_s, int64_t now_s) {
  if (unix_s <= 0) {
    out.Element("td", "");
    return;
  }
  out.Open("td");
  out.Element("time", {{"title", Age(unix_s, now_s)}}, Time(unix_s));
  out.Close("td");
}

}  // namespace fw::server::dash
