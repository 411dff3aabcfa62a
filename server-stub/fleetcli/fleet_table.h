// fwfleet's human output (server-stub/fleetcli, lib fw_fleetcli): aligned tables and key/value
// listings made from the operator API's JSON (docs/fleet-operator.md, "Fleet CLI").
//
// Contract:
//  - Pure functions of their arguments; no I/O.
//  - Every text that came from the server goes through Sanitize(): C0 controls, DEL and the UTF-8
//    C1 controls (U+0080..U+009F) become '?', so a device's reason or label cannot drive the
//    operator's terminal (escape sequences).
//  - Render(): a header line and one line per row, columns separated by two spaces and padded to
//    the widest cell (width in UTF-8 code points), trailing spaces trimmed; "(none)" for no rows.
//  - Cells: null/missing -> "-", booleans "yes"/"no", arrays of scalars joined by ",", objects as
//    compact JSON; Unix-seconds fields named in IsTimeField() as "YYYY-MM-DDTHH:MM:SSZ" (0 -> "-").
//  - Describe(): an object as KEY VALUE lines (nested objects flattened to dotted keys), then each
//    array of objects as its own titled table.
// This header is private to the fwfleet executable, like fw/cli.h, so nlohmann::json appears in it.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace fw::fleet {

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
};

std::string Sanitize(std::string_view text);
size_t DisplayWidth(std::string_view text);
std::string Render(const Table& table);

bool IsTimeField(std::string_view name);
std::string TimeText(int64_t unix_seconds);  // ISO 8601 UTC; "-" for 0
std::string Cell(const nlohmann::json& value, bool is_time = false);

struct Column {
  std::string header;
  std::string key;       // a top-level key, or a dotted path ("firmware.version")
  size_t max_chars = 0;  // cut longer cells to this many characters (0: no cut), e.g. hashes
};
// One row per item of `items` (an array of objects).
Table ColumnsTable(const nlohmann::json& items, const std::vector<Column>& columns);
std::string Describe(const nlohmann::json& object);

}  // namespace fw::fleet
