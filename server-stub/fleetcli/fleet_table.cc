// fwfleet's tables (fleet_table.h).
#include "fleet_table.h"

#include <algorithm>
#include <array>
#include <ctime>

namespace fw::fleet {
namespace {

using Json = nlohmann::json;

// A value at a dotted path ("firmware.version"); null when absent.
Json At(const Json& object, const std::string& path) {
  if (object.is_object() && object.contains(path)) return object[path];
  const Json* cur = &object;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return nullptr;
    cur = &(*cur)[part];
    if (dot == std::string::npos) return *cur;
    start = dot + 1;
  }
}

std::string CutTo(const std::string& text, size_t max_chars) {
  if (max_chars == 0 || DisplayWidth(text) <= max_chars) return text;
  std::string out;
  size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80 && n++ == max_chars) break;
    out += c;
  }
  return out;
}

bool IsObjectArray(const Json& v) {
  return v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const Json& e) { return e.is_object(); });
}

// KEY VALUE rows of `object` (nested objects flattened as prefix.key); arrays of objects collected.
void Flatten(const Json& object, const std::string& prefix, Table& fields,
             std::vector<std::pair<std::string, const Json*>>& sections) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string key = prefix + it.key();
    if (it->is_object() && !it->empty()) {
      Flatten(*it, key + ".", fields, sections);
    } else if (IsObjectArray(*it)) {
      sections.emplace_back(key, &*it);
    } else {
      fields.rows.push_back({Sanitize(key), Cell(*it, IsTimeField(it.key()))});
    }
  }
}

}  // namespace

std::string Sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += '?';  // U+0080..U+009F: C1 controls (CSI is U+009B)
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

size_t DisplayWidth(std::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string Render(const Table& table) {
  std::vector<size_t> width(table.headers.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], DisplayWidth(row[i]));
  };
  measure(table.headers);
  for (const auto& row : table.rows) measure(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string& cell = i < row.size() ? row[i] : std::string("-");
      out += cell;
      if (i + 1 < width.size()) out += std::string(width[i] - DisplayWidth(cell) + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(table.headers);
  for (const auto& row : table.rows) out += line(row);
  if (table.rows.empty()) out += "(none)\n";
  return out;
}

bool IsTimeField(std::string_view name) {
  static constexpr std::array<std::string_view, 19> kTimes = {
      "created",     "updated",      "last_seen",       "expires",        "received",
      "time",        "exported",     "not_before",      "not_after",      "deadline",
      "revoked",     "delivered_at", "next_attempt_at", "last_attempt",   "targets_expires",
      "seen_before", "seen_after",   "created_at",      "last_attempt_at"};
  return std::find(kTimes.begin(), kTimes.end(), name) != kTimes.end();
}

std::string TimeText(int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Cell(const Json& value, bool is_time) {
  if (value.is_null()) return "-";
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_integer() && is_time) return TimeText(value.get<int64_t>());
  if (value.is_string()) return value.get<std::string>().empty() ? "-" : Sanitize(value.get<std::string>());
  if (value.is_array() && std::none_of(value.begin(), value.end(), [](const Json& e) { return e.is_structured(); })) {
    if (value.empty()) return "-";
    std::string out;
    for (const auto& e : value) out += (out.empty() ? "" : ",") + Cell(e);
    return out;
  }
  return Sanitize(value.dump(-1, ' ', false, Json::error_handler_t::replace));
}

Table ColumnsTable(const Json& items, const std::vector<Column>& columns) {
  Table t;
  for (const auto& c : columns) t.headers.push_back(c.header);
  if (!items.is_array()) return t;
  for (const auto& item : items) {
    std::vector<std::string> row;
    for (const auto& c : columns) {
      const std::string last = c.key.substr(c.key.rfind('.') == std::string::npos ? 0 : c.key.rfind('.') + 1);
      row.push_back(CutTo(Cell(At(item, c.key), IsTimeField(last)), c.max_chars));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string Describe(const Json& object) {
  if (!object.is_object()) return Cell(object) + "\n";
  Table fields{{"FIELD", "VALUE"}, {}};
  std::vector<std::pair<std::string, const Json*>> sections;
  Flatten(object, "", fields, sections);
  std::string out = Render(fields);
  for (const auto& [name, array] : sections) {
    std::vector<Column> columns;
    for (const auto& item : *array) {
      for (auto it = item.begin(); it != item.end(); ++it) {
        if (std::none_of(columns.begin(), columns.end(), [&](const Column& c) { return c.key == it.key(); })) {
          std::string header = it.key();
          std::transform(header.begin(), header.end(), header.begin(), [](unsigned char c) { return std::toupper(c); });
          columns.push_back({Sanitize(header), it.key(), 0});
        }
      }
    }
    out += "\n" + Sanitize(name) + ":\n" + Render(ColumnsTable(*array, columns));
  }
  return out;
}

}  // namespace fw::fleet
