// The rollout spec (fw/server/rollout.h; docs/fleet-rollouts.md "Spec"): strict JSON in, canonical JSON out.
// Strictness follows the operator API's body parsers (server-stub/ops/src/operator_messages.cc): one
// nlohmann parse with a callback that refuses repeated keys (here at every depth, naming the dotted
// key), then typed reads where each refusal is kInvalidArgument naming the key.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "fw/canonical_json.h"
#include "fw/day_window.h"
#include "fw/image.h"
#include "rollout_internal.h"

namespace fw::server::rollout {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxSpecBytes = 64 * 1024;
constexpr int kMaxSpecDepth = 4;  // spec > groups > group > devices
constexpr size_t kMaxGroups = 64;
constexpr size_t kMaxAbortRules = 16;
constexpr size_t kMaxDevices = 10000;
constexpr size_t kMaxLabels = 16;
constexpr int64_t kMaxRate = 1000000;
constexpr int64_t kMaxSeconds = 366LL * 86400;
constexpr const char* kTransientClasses[] = {"download", "verify", "timed_out", "internal"};

Status Bad(const std::string& key, const std::string& what) { return InvalidArgument(key + " " + what); }

bool IsNameText(std::string_view s, bool colon) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || (colon && c == ':');
  });
}

bool IsClass(std::string_view c) {
  return std::any_of(std::begin(kClasses), std::end(kClasses), [&](const char* k) { return c == k; });
}

bool IsTransient(std::string_view c) {
  return std::any_of(std::begin(kTransientClasses), std::end(kTransientClasses), [&](const char* k) { return c == k; });
}

// Dotted path of the value being parsed: "groups[1].percent".
struct Frame {
  bool object = false;
  std::set<std::string> keys;
  std::string key;
  int64_t index = -1;
};

std::string PathOf(const std::vector<Frame>& frames) {
  std::string path;
  for (const Frame& f : frames) {
    if (f.object) {
      if (!f.key.empty()) path += (path.empty() ? "" : ".") + f.key;
    } else if (f.index >= 0) {
      path += "[" + std::to_string(f.index) + "]";
    }
  }
  return path;
}

std::string Printable(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 64)) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  return out;
}

// One JSON object with no key repeated at any depth.
Result<Json> ParseStrictObject(std::string_view text) {
  if (text.size() > kMaxSpecBytes) {
    return InvalidArgument("the spec exceeds " + std::to_string(kMaxSpecBytes) + " bytes");
  }
  if (JsonNestingDepth(text) > kMaxSpecDepth) return InvalidArgument("the spec is nested too deeply");
  std::vector<Frame> frames;
  std::string repeated;
  using E = Json::parse_event_t;
  Json::parser_callback_t cb = [&](int, E event, Json& parsed) {
    if (!frames.empty() && !frames.back().object &&
        (event == E::value || event == E::object_start || event == E::array_start)) {
      ++frames.back().index;
    }
    switch (event) {
      case E::object_start:
      case E::array_start:
        frames.push_back(Frame{event == E::object_start, {}, {}, -1});
        break;
      case E::object_end:
      case E::array_end:
        if (!frames.empty()) frames.pop_back();
        break;
      case E::key:
        if (!frames.empty() && parsed.is_string()) {
          Frame& f = frames.back();
          f.key = Printable(parsed.get_ref<const std::string&>());
          if (!f.keys.insert(parsed.get<std::string>()).second && repeated.empty()) repeated = PathOf(frames);
        }
        break;
      case E::value:
        break;
    }
    return true;
  };
  Json j = Json::parse(text, cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("the spec is not JSON");
  if (!j.is_object()) return InvalidArgument("the spec is not a JSON object");
  if (!repeated.empty()) return InvalidArgument(repeated + " is given twice");
  return j;
}

// Typed reads of one object's members; `prefix` is the object's dotted path ("" at the top).
class Reader {
 public:
  Reader(const Json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  std::string Key(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }

  Status OnlyKeys(std::initializer_list<std::string_view> allowed) const {
    for (const auto& [name, value] : obj_.items()) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return InvalidArgument(Key(Printable(name)) + " is not a known key");
      }
    }
    return Status::Ok();
  }
  const Json* Find(const char* name) const {
    auto it = obj_.find(name);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  bool Has(const char* name) const { return obj_.contains(name); }

  Result<std::optional<std::string>> Text(const char* name, bool required, size_t max_bytes) const {
    const Json* v = Find(name);
    if (v == nullptr) {
      if (required) return Bad(Key(name), "is missing");
      return std::optional<std::string>();
    }
    if (!v->is_string()) return Bad(Key(name), "is not a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_bytes) return Bad(Key(name), "is longer than " + std::to_string(max_bytes) + " bytes");
    if (s.empty()) return Bad(Key(name), "is empty");
    for (unsigned char c : s) {
      if (c < 0x20 || c == 0x7f) return Bad(Key(name), "holds a control character");
    }
    return std::optional<std::string>(s);
  }
  Result<std::optional<int64_t>> Int(const char* name, int64_t lo, int64_t hi) const {
    const Json* v = Find(name);
    if (v == nullptr) return std::optional<int64_t>();
    if (!v->is_number_integer()) return Bad(Key(name), "is not an integer");
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return Bad(Key(name), "is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    const int64_t n = v->get<int64_t>();
    if (n < lo || n > hi)
      return Bad(Key(name), "= " + std::to_string(n) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    return std::optional<int64_t>(n);
  }
  Status IntInto(const char* name, int64_t lo, int64_t hi, int64_t& out) const {
    FW_ASSIGN_OR_RETURN(auto v, Int(name, lo, hi));
    if (v) out = *v;
    return Status::Ok();
  }
  Status BoolInto(const char* name, bool& out) const {
    const Json* v = Find(name);
    if (v == nullptr) return Status::Ok();
    if (!v->is_boolean()) return Bad(Key(name), "is not true or false");
    out = v->get<bool>();
    return Status::Ok();
  }
  Result<const Json*> Object(const char* name) const {
    const Json* v = Find(name);
    if (v != nullptr && !v->is_object()) return Bad(Key(name), "is not an object");
    return v;
  }
  Result<const Json*> Array(const char* name, size_t max_items) const {
    const Json* v = Find(name);
    if (v == nullptr) return v;
    if (!v->is_array()) return Bad(Key(name), "is not an array");
    if (v->size() > max_items) return Bad(Key(name), "has more than " + std::to_string(max_items) + " entries");
    return v;
  }

 private:
  const Json& obj_;
  std::string prefix_;
};

Status ParseFilter(const Reader& top, RolloutSpec& spec) {
  FW_ASSIGN_OR_RETURN(const Json* f, top.Object("filter"));
  if (f == nullptr) return Status::Ok();
  Reader r(*f, "filter");
  FW_RETURN_IF_ERROR(r.OnlyKeys({"hardware_id", "labels", "version_below"}));
  FW_ASSIGN_OR_RETURN(auto hw, r.Text("hardware_id", false, 128));
  spec.hardware_id = hw.value_or("");
  FW_ASSIGN_OR_RETURN(auto below, r.Text("version_below", false, 128));
  if (below) {
    if (!SemVer::Parse(*below).ok())
      return Bad("filter.version_below", "\"" + Printable(*below) + "\" is not a version (1.2.3 or 1.2.3+4)");
    spec.version_below = *below;
  }
  FW_ASSIGN_OR_RETURN(const Json* labels, r.Array("labels", kMaxLabels));
  if (labels == nullptr) return Status::Ok();
  for (size_t i = 0; i < labels->size(); ++i) {
    const std::string key = "filter.labels[" + std::to_string(i) + "]";
    const Json& l = (*labels)[i];
    if (!l.is_string() || !IsNameText(l.get_ref<const std::string&>(), true)) {
      return Bad(key, "is not a label ([A-Za-z0-9._:-]{1,64})");
    }
    if (std::find(spec.labels.begin(), spec.labels.end(), l.get<std::string>()) != spec.labels.end()) {
      return Bad(key, "repeats label " + l.get<std::string>());
    }
    spec.labels.push_back(l.get<std::string>());
  }
  std::sort(spec.labels.begin(), spec.labels.end());
  return Status::Ok();
}

Status ParseGroup(const Json& g, const std::string& key, std::set<std::string>& serials, RolloutSpec& spec) {
  if (!g.is_object()) return Bad(key, "is not an object");
  Reader r(g, key);
  FW_RETURN_IF_ERROR(r.OnlyKeys({"name", "devices", "percent", "count", "success_threshold", "approve_after"}));
  GroupSpec group;
  FW_ASSIGN_OR_RETURN(auto name, r.Text("name", true, 64));
  if (!IsNameText(*name, false)) return Bad(r.Key("name"), "is not 1-64 of [A-Za-z0-9._-]");
  for (const GroupSpec& other : spec.groups) {
    if (other.name == *name) return Bad(r.Key("name"), "repeats group name " + *name);
  }
  group.name = *name;
  const int given = (r.Find("devices") ? 1 : 0) + (r.Find("percent") ? 1 : 0) + (r.Find("count") ? 1 : 0);
  if (given != 1) return Bad(key, "needs exactly one of devices, percent, count");
  FW_ASSIGN_OR_RETURN(const Json* devices, r.Array("devices", kMaxDevices));
  if (devices != nullptr) {
    if (devices->empty()) return Bad(r.Key("devices"), "is empty");
    for (size_t i = 0; i < devices->size(); ++i) {
      const std::string dkey = r.Key("devices") + "[" + std::to_string(i) + "]";
      const Json& d = (*devices)[i];
      if (!d.is_string() || !IsNameText(d.get_ref<const std::string&>(), false)) {
        return Bad(dkey, "is not a serial ([A-Za-z0-9._-]{1,64})");
      }
      if (!serials.insert(d.get<std::string>()).second) return Bad(dkey, "repeats serial " + d.get<std::string>());
      if (serials.size() > kMaxDevices)
        return Bad(dkey, "is past " + std::to_string(kMaxDevices) + " explicit devices");
      group.devices.push_back(d.get<std::string>());
    }
  }
  FW_RETURN_IF_ERROR(r.IntInto("percent", 1, 100, group.percent));
  FW_RETURN_IF_ERROR(r.IntInto("count", 1, kMaxRate, group.count));
  FW_RETURN_IF_ERROR(r.IntInto("success_threshold", 0, 100, group.success_threshold));
  FW_RETURN_IF_ERROR(r.BoolInto("approve_after", group.approve_after));
  spec.groups.push_back(std::move(group));
  return Status::Ok();
}

Status ParseGroups(const Reader& top, RolloutSpec& spec) {
  FW_ASSIGN_OR_RETURN(const Json* groups, top.Array("groups", kMaxGroups));
  if (groups == nullptr) return Bad("groups", "is missing");
  if (groups->empty()) return Bad("groups", "is empty");
  std::set<std::string> serials;
  for (size_t i = 0; i < groups->size(); ++i) {
    FW_RETURN_IF_ERROR(ParseGroup((*groups)[i], "groups[" + std::to_string(i) + "]", serials, spec));
  }
  return Status::Ok();
}

Status ParseRamp(const Reader& top, RolloutSpec& spec) {
  FW_ASSIGN_OR_RETURN(const Json* ramp, top.Object("ramp"));
  if (ramp == nullptr) return Status::Ok();
  Reader r(*ramp, "ramp");
  FW_RETURN_IF_ERROR(r.OnlyKeys({"start_per_minute", "growth_percent", "every_successes", "max_per_minute"}));
  FW_RETURN_IF_ERROR(r.IntInto("start_per_minute", 1, kMaxRate, spec.ramp.start_per_minute));
  FW_RETURN_IF_ERROR(r.IntInto("growth_percent", 0, 1000, spec.ramp.growth_percent));
  FW_RETURN_IF_ERROR(r.IntInto("every_successes", 1, kMaxRate, spec.ramp.every_successes));
  FW_RETURN_IF_ERROR(r.IntInto("max_per_minute", 1, kMaxRate, spec.ramp.max_per_minute));
  if (spec.ramp.max_per_minute < spec.ramp.start_per_minute) {
    return Bad("ramp.max_per_minute", "is below ramp.start_per_minute");
  }
  return Status::Ok();
}

Status ParseAbort(const Reader& top, RolloutSpec& spec) {
  FW_ASSIGN_OR_RETURN(const Json* rules, top.Array("abort", kMaxAbortRules));
  if (rules == nullptr) return Status::Ok();
  for (size_t i = 0; i < rules->size(); ++i) {
    const std::string key = "abort[" + std::to_string(i) + "]";
    if (!(*rules)[i].is_object()) return Bad(key, "is not an object");
    Reader r((*rules)[i], key);
    FW_RETURN_IF_ERROR(r.OnlyKeys({"class", "max_percent", "min_sample"}));
    AbortRule rule;
    FW_ASSIGN_OR_RETURN(auto cls, r.Text("class", true, 32));
    if (*cls != "any" && !IsClass(*cls))
      return Bad(r.Key("class"), "\"" + Printable(*cls) + "\" is not a failure class or any");
    for (const AbortRule& other : spec.abort_rules) {
      if (other.failure_class == *cls) return Bad(r.Key("class"), "repeats class " + *cls);
    }
    rule.failure_class = *cls;
    FW_ASSIGN_OR_RETURN(auto max_percent, r.Int("max_percent", 0, 100));
    if (!max_percent) return Bad(r.Key("max_percent"), "is missing");
    rule.max_percent = *max_percent;
    FW_RETURN_IF_ERROR(r.IntInto("min_sample", 1, kMaxRate, rule.min_sample));
    spec.abort_rules.push_back(std::move(rule));
  }
  return Status::Ok();
}

Status ParseAction(const Reader& top, RolloutSpec& spec) {
  FW_ASSIGN_OR_RETURN(const Json* action, top.Object("action"));
  if (action == nullptr) return Status::Ok();
  Reader r(*action, "action");
  FW_RETURN_IF_ERROR(r.OnlyKeys({"type", "window", "deadline", "backup_required"}));
  FW_ASSIGN_OR_RETURN(auto type, r.Text("type", false, 32));
  spec.type = type.value_or("forced");
  if (spec.type != "forced" && spec.type != "soft" && spec.type != "time-forced" && spec.type != "download-only") {
    return Bad("action.type", "\"" + Printable(spec.type) + "\" is not forced, soft, time-forced or download-only");
  }
  FW_ASSIGN_OR_RETURN(auto window, r.Text("window", false, 32));
  if (window && !ParseDayWindow(*window)) {
    return Bad("action.window",
               "\"" + Printable(*window) + "\" is not HH:MM-HH:MM (terminal local time, start != end)");
  }
  spec.window = window.value_or("");
  FW_RETURN_IF_ERROR(r.IntInto("deadline", 1, INT64_MAX / 2, spec.deadline_s));
  if (spec.type == "time-forced" && spec.deadline_s == 0)
    return Bad("action.deadline", "is required by type time-forced");
  FW_RETURN_IF_ERROR(r.BoolInto("backup_required", spec.backup_required));
  return Status::Ok();
}

Status ParseRetries(const Reader& top, RolloutSpec& spec) {
  FW_ASSIGN_OR_RETURN(const Json* retries, top.Object("retries"));
  if (retries == nullptr) return Status::Ok();
  Reader r(*retries, "retries");
  for (const auto& [cls, value] : retries->items()) {
    if (!IsTransient(cls)) {
      return Bad(r.Key(Printable(cls)), "is not a transient class (download, verify, timed_out, internal)");
    }
    FW_ASSIGN_OR_RETURN(auto n, r.Int(cls.c_str(), 0, 100));
    if (!n) return Bad(r.Key(cls), "is not an integer");
    spec.retries.emplace_back(cls, *n);  // items() of an object are sorted by key
  }
  return Status::Ok();
}

}  // namespace

Result<RolloutSpec> ParseRolloutSpec(std::string_view json) {
  FW_ASSIGN_OR_RETURN(Json j, ParseStrictObject(json));
  Reader top(j, "");
  FW_RETURN_IF_ERROR(
      top.OnlyKeys({"name", "target", "filter", "groups", "ramp", "abort", "action", "action_timeout_seconds",
                    "retries", "retry_backoff_seconds", "late_joiners", "revert_on_abort", "two_person"}));
  RolloutSpec spec;
  FW_ASSIGN_OR_RETURN(auto name, top.Text("name", true, 128));
  spec.name = *name;
  FW_ASSIGN_OR_RETURN(auto target, top.Text("target", true, 128));
  spec.target = *target;
  FW_RETURN_IF_ERROR(ParseFilter(top, spec));
  FW_RETURN_IF_ERROR(ParseGroups(top, spec));
  FW_RETURN_IF_ERROR(ParseRamp(top, spec));
  FW_RETURN_IF_ERROR(ParseAbort(top, spec));
  FW_RETURN_IF_ERROR(ParseAction(top, spec));
  FW_RETURN_IF_ERROR(top.IntInto("action_timeout_seconds", 60, kMaxSeconds, spec.action_timeout_seconds));
  FW_RETURN_IF_ERROR(ParseRetries(top, spec));
  FW_RETURN_IF_ERROR(top.IntInto("retry_backoff_seconds", 1, kMaxSeconds, spec.retry_backoff_seconds));
  FW_ASSIGN_OR_RETURN(auto late, top.Text("late_joiners", false, 16));
  spec.late_joiners = late.value_or("ignore");
  if (spec.late_joiners != "ignore" && spec.late_joiners != "last_group") {
    return Bad("late_joiners", "\"" + Printable(spec.late_joiners) + "\" is not ignore or last_group");
  }
  FW_RETURN_IF_ERROR(top.BoolInto("revert_on_abort", spec.revert_on_abort));
  FW_RETURN_IF_ERROR(top.BoolInto("two_person", spec.two_person));
  return spec;
}

std::string RolloutSpecJson(const RolloutSpec& spec) {
  auto text_or_null = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
  Json groups = Json::array();
  for (const GroupSpec& g : spec.groups) {
    Json o = {{"name", g.name}, {"success_threshold", g.success_threshold}, {"approve_after", g.approve_after}};
    if (!g.devices.empty()) {
      o["devices"] = g.devices;
    } else if (g.percent > 0) {
      o["percent"] = g.percent;
    } else {
      o["count"] = g.count;
    }
    groups.push_back(std::move(o));
  }
  Json abort = Json::array();
  for (const AbortRule& a : spec.abort_rules) {
    abort.push_back({{"class", a.failure_class}, {"max_percent", a.max_percent}, {"min_sample", a.min_sample}});
  }
  Json retries = Json::object();
  for (const auto& [cls, n] : spec.retries) retries[cls] = n;
  Json j = {
      {"name", spec.name},
      {"target", spec.target},
      {"filter",
       {{"hardware_id", text_or_null(spec.hardware_id)},
        {"labels", spec.labels},
        {"version_below", text_or_null(spec.version_below)}}},
      {"groups", std::move(groups)},
      {"ramp",
       {{"start_per_minute", spec.ramp.start_per_minute},
        {"growth_percent", spec.ramp.growth_percent},
        {"every_successes", spec.ramp.every_successes},
        {"max_per_minute", spec.ramp.max_per_minute}}},
      {"abort", std::move(abort)},
      {"action",
       {{"type", spec.type},
        {"window", text_or_null(spec.window)},
        {"deadline", spec.deadline_s == 0 ? Json(nullptr) : Json(spec.deadline_s)},
        {"backup_required", spec.backup_required}}},
      {"action_timeout_seconds", spec.action_timeout_seconds},
      {"retries", std::move(retries)},
      {"retry_backoff_seconds", spec.retry_backoff_seconds},
      {"late_joiners", spec.late_joiners},
      {"revert_on_abort", spec.revert_on_abort},
      {"two_person", spec.two_person},
  };
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace fw::server::rollout
