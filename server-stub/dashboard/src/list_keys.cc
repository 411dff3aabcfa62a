// Positions in the API's forward-only lists (list_keys.h).
#include "list_keys.h"

#include "page_json.h"

namespace fw::server::dash {
namespace {

// The first item after `after` (null when none); sets *failed and *error on a refusal.
nlohmann::json FirstAfter(UiApi& api, const std::string& base, int64_t after, ApiReply* failed, bool* error) {
  if (*error) return nullptr;
  ApiReply r = api.Get(base + "?limit=1&after=" + std::to_string(after));
  if (!r.ok()) {
    *failed = std::move(r);
    *error = true;
    return nullptr;
  }
  const nlohmann::json& items = JAt(r.body, "items");
  return items.is_array() && !items.empty() ? items[0] : nlohmann::json();
}

}  // namespace

std::optional<int64_t> LastKey(UiApi& api, const std::string& base, ApiReply* failed) {
  bool error = false;
  auto any_after = [&](int64_t after) { return !FirstAfter(api, base, after, failed, &error).is_null(); };
  if (!any_after(0)) return error ? std::nullopt : std::optional<int64_t>(0);
  int64_t lo = 0, hi = 1;  // a key exists after lo; none after hi (once found)
  while (any_after(hi)) {
    lo = hi;
    if (hi > (int64_t{1} << 61)) break;
    hi *= 2;
  }
  while (!error && hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (any_after(mid) ? lo : hi) = mid;
  }
  if (error) return std::nullopt;
  return hi;
}

std::optional<int64_t> FirstAuditSeqAt(UiApi& api, int64_t time_s, int64_t last, ApiReply* failed) {
  bool error = false;
  int64_t lo = 1, hi = last + 1;  // the answer is in [lo, hi]
  while (lo < hi && !error) {
    const int64_t mid = lo + (hi - lo) / 2;
    const nlohmann::json row = FirstAfter(api, "/v1/audit", mid - 1, failed, &error);
    // A missing row (a gap) counts as "later": the search still ends, near it.
    if (row.is_null() || JInt(row, "time") >= time_s) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (error) return std::nullopt;
  return lo;
}

std::string AuditActorOf(UiApi& api, int64_t from, const std::string& action, const std::string& object,
                         int64_t time_s) {
  ApiReply r = api.Get("/v1/audit?limit=100&after=" + std::to_string(from > 0 ? from - 1 : 0));
  if (!r.ok()) return "";
  const nlohmann::json& items = JAt(r.body, "items");
  if (!items.is_array()) return "";
  for (const nlohmann::json& row : items) {
    if (JInt(row, "time") > time_s) break;
    if (JStr(row, "action") == action && JStr(row, "object") == object && JInt(row, "time") == time_s) {
      return JStr(row, "actor");
    }
  }
  return "";
}

}  // namespace fw::server::dash
