#include "strict_json.h"

#include <set>
#include <vector>

#include "fw/journal/record.h"

namespace fw::server::witness::internal {

namespace {

constexpr size_t kMaxRunChecked = 64;

bool RunLooksLikeCard(std::string_view run) {
  if (run.size() < 13) return false;
  if (run.size() > kMaxRunChecked) return true;
  for (size_t len = 13; len <= 19 && len <= run.size(); ++len) {
    for (size_t at = 0; at + len <= run.size(); ++at) {
      if (fw::journal::LuhnValid(run.substr(at, len))) return true;
    }
  }
  return false;
}

struct Frame {
  bool object = false;
  std::set<std::string> keys;
  std::string key;  // the member being parsed (objects)
};

std::string Label(const std::vector<Frame>& frames, bool naming_key) {
  std::string label;
  for (const Frame& f : frames) {
    if (!f.object) {
      label += "[]";
      continue;
    }
    if (&f == &frames.back() && naming_key) break;
    if (!QuotableName(f.key)) return naming_key ? "a member name" : "a member with an unprintable name";
    label += (label.empty() ? "" : ".") + f.key;
  }
  if (naming_key) return label.empty() ? "a member name" : "a member name in " + label;
  return label.empty() ? "the value" : label;
}

}  // namespace

size_t CardLikeDigits(std::string_view s) {
  std::string run;
  for (size_t i = 0; i <= s.size(); ++i) {
    char c = i < s.size() ? s[i] : '\0';
    if (c >= '0' && c <= '9') {
      if (run.size() <= kMaxRunChecked) run += c;
      continue;
    }
    if ((c == ' ' || c == '-') && !run.empty() && i < s.size()) continue;
    if (RunLooksLikeCard(run)) return run.size();
    run.clear();
  }
  return 0;
}

bool QuotableName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return CardLikeDigits(name) == 0;
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

StrictJson ParseStrict(std::string_view text, int max_depth, bool scan_cards) {
  StrictJson out;
  std::vector<Frame> frames;
  auto note = [&](const std::string& why) {
    if (out.error.empty()) out.error = why;
  };
  auto scan = [&](const std::string& s, bool is_key) {
    if (!scan_cards || out.card) return;
    if (!is_key && frames.size() == 1 && (frames[0].key == "hash" || frames[0].key == "prev_hash") && IsHex64(s)) {
      return;
    }
    if (size_t n = CardLikeDigits(s); n > 0) out.card = CardHit{Label(frames, is_key), n};
  };
  using E = nlohmann::json::parse_event_t;
  auto cb = [&](int /*depth*/, E event, nlohmann::json& parsed) {
    switch (event) {
      case E::object_start:
      case E::array_start:
        if (static_cast<int>(frames.size()) >= max_depth) note("nested deeper than " + std::to_string(max_depth));
        frames.push_back(Frame{event == E::object_start, {}, {}});
        break;
      case E::object_end:
      case E::array_end:
        if (!frames.empty()) frames.pop_back();
        break;
      case E::key: {
        const std::string& k = parsed.get_ref<const std::string&>();
        scan(k, true);
        if (!frames.empty()) {
          if (!frames.back().keys.insert(k).second) {
            note(QuotableName(k) ? "duplicate member '" + k + "'" : "a duplicate member name");
          }
          frames.back().key = k;
        }
        break;
      }
      case E::value:
        if (parsed.is_string()) scan(parsed.get_ref<const std::string&>(), false);
        break;
    }
    return true;
  };
  out.value = nlohmann::json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (out.value.is_discarded()) note("not valid JSON");
  return out;
}

Result<int64_t> IntField(const nlohmann::json& obj, const char* key, int64_t min, int64_t max,
                         const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return Corrupt(what + ": " + key + " must be an integer");
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return Corrupt(what + ": " + key + " is out of range");
  }
  int64_t v = it->get<int64_t>();
  if (v < min || v > max) {
    return Corrupt(what + ": " + key + " must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                   std::to_string(v));
  }
  return v;
}

Result<std::string> StringField(const nlohmann::json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return Corrupt(what + ": " + key + " must be a string");
  return it->get<std::string>();
}

Status CheckMembers(const nlohmann::json& obj, std::initializer_list<const char*> required,
                    std::initializer_list<const char*> optional, const std::string& what) {
  if (!obj.is_object()) return Corrupt(what + " must be a JSON object");
  for (const char* r : required) {
    if (!obj.contains(r)) return Corrupt(what + ": missing member " + r);
  }
  for (const auto& [k, v] : obj.items()) {
    bool known = false;
    for (const char* n : required) known = known || k == n;
    for (const char* n : optional) known = known || k == n;
    if (!known) return Corrupt(what + ": unknown member " + (QuotableName(k) ? "'" + k + "'" : std::string("name")));
  }
  return Status::Ok();
}

}  // namespace fw::server::witness::internal
