// A daily maintenance window "HH:MM-HH:MM" (docs/fleet-protocol.md: the terminal's local time, may
// wrap midnight, start != end), as minutes after midnight. The one parser of the format: the server,
// the operator CLIs and the agent all use it. Pure; thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace fw {

struct DayWindow {
  int start_min = 0;
  int end_min = 0;
};

// nullopt for any other text: exactly 11 bytes, two-digit fields, hours < 24, minutes < 60, start != end.
std::optional<DayWindow> ParseDayWindow(std::string_view text);

}  // namespace fw
