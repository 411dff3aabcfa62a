// Parsers of the device API's bodies and the action state machine (fw/server/device_messages.h).
#include "fw/server/device_messages.h"
#include "fw/day_window.h"

#include <array>

#include "json_fields.h"

namespace fw::server {
namespace {

using json_fields::Json;

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<SlotReport> ParseSlot(const Json& obj, const char* what) {
  SlotReport s;
  auto slot = json_fields::String(obj, "slot", true, 8);
  if (!slot.ok()) return slot.status().WithContext(what);
  auto version = json_fields::String(obj, "version", false, kMaxNameBytes);
  if (!version.ok()) return version.status().WithContext(what);
  auto state = json_fields::String(obj, "state", true, 16);
  if (!state.ok()) return state.status().WithContext(what);
  s.slot = **slot;
  s.version = version->value_or("");
  s.state = **state;
  return s;
}

// Progress states in the order an attempt goes through them (docs/fleet-protocol.md).
constexpr std::array<std::string_view, 10> kProgress = {"pending",        "accepted",    "downloading", "downloaded",
                                                        "waiting_window", "backup_done", "installing",  "trial_set",
                                                        "rebooting",      "confirmed"};
constexpr int kRankDownloaded = 3;
constexpr int kRankInstalling = 6;
constexpr int kRankTrialSet = 7;

int Rank(std::string_view state) {
  for (size_t i = 0; i < kProgress.size(); ++i) {
    if (kProgress[i] == state) return static_cast<int>(i);
  }
  return -1;
}

bool IsTerminalEvent(std::string_view s) {
  return s == "failed" || s == "rolled_back" || s == "rejected" || s == "canceled";
}

EventDecision Invalid(std::string_view from, std::string_view to, std::string_view why) {
  return {EventOutcome::kInvalid,
          "cannot go from " + std::string(from) + " to " + std::string(to) + ": " + std::string(why)};
}

}  // namespace

bool IsValidSerial(std::string_view serial) {
  if (serial.empty() || serial.size() > 64) return false;
  for (char c : serial) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidWindow(std::string_view w) { return ParseDayWindow(w).has_value(); }

Result<Manifest> ParseManifest(std::string_view body) {
  namespace jf = json_fields;
  FW_ASSIGN_OR_RETURN(auto j, jf::ParseObject(body, kMaxCheckinBytes, "check-in manifest"));
  Manifest m;
  FW_ASSIGN_OR_RETURN(auto hw, jf::String(j, "hardware_id", true, kMaxNameBytes));
  FW_ASSIGN_OR_RETURN(auto tz, jf::String(j, "time_zone", false, kMaxNameBytes));
  FW_ASSIGN_OR_RETURN(auto agent, jf::String(j, "agent_version", false, kMaxNameBytes));
  m.hardware_id = *hw;
  m.time_zone = tz.value_or("");
  m.agent_version = agent.value_or("");
  FW_ASSIGN_OR_RETURN(auto clock_suspect, jf::String(j, "clock_suspect", false, kMaxClockSuspectBytes));
  m.clock_suspect = clock_suspect.value_or("");
  FW_ASSIGN_OR_RETURN(const Json* running, jf::Object(j, "running", true));
  FW_ASSIGN_OR_RETURN(m.running, ParseSlot(*running, "running"));
  if (m.running.state != "confirmed" && m.running.state != "trial") {
    return Corrupt("running: state must be \"confirmed\" or \"trial\"");
  }
  if (m.running.version.empty()) return Corrupt("running: missing field \"version\"");
  FW_ASSIGN_OR_RETURN(const Json* other, jf::Object(j, "other", false));
  if (other != nullptr) {
    FW_ASSIGN_OR_RETURN(auto o, ParseSlot(*other, "other"));
    if (o.state != "bootable" && o.state != "trial_pending" && o.state != "invalid" && o.state != "empty") {
      return Corrupt("other: state must be bootable, trial_pending, invalid or empty");
    }
    m.other = std::move(o);
  }
  constexpr int64_t kMax = INT64_MAX;
  FW_ASSIGN_OR_RETURN(auto counter, jf::Int(j, "security_counter", false, 0, 0xffffffffLL));
  FW_ASSIGN_OR_RETURN(auto root, jf::Int(j, "root_version", false, 0, 0xffffffffLL));
  FW_ASSIGN_OR_RETURN(auto outbox, jf::Int(j, "outbox", false, 0, 1000000));
  FW_ASSIGN_OR_RETURN(auto free_bytes, jf::Int(j, "free_bytes", false, 0, kMax));
  m.security_counter = counter.value_or(0);
  m.root_version = root.value_or(0);
  m.outbox = outbox.value_or(0);
  m.free_bytes = free_bytes.value_or(0);
  FW_ASSIGN_OR_RETURN(const Json* journal, jf::Object(j, "journal", false));
  if (journal != nullptr) {
    FW_ASSIGN_OR_RETURN(auto last_seq, jf::Int(*journal, "last_seq", true, 0, kMax));
    FW_ASSIGN_OR_RETURN(auto head, jf::String(*journal, "head", false, 64));
    m.journal_last_seq = *last_seq;
    m.journal_head_hex = head.value_or("");
    if (m.journal_last_seq == 0 ? !m.journal_head_hex.empty() : !IsHex64(m.journal_head_hex)) {
      return Corrupt("journal: \"head\" must be 64 lower-case hex digits when last_seq > 0, absent when 0");
    }
    FW_ASSIGN_OR_RETURN(const Json* receipt, jf::Object(*journal, "receipt", false));
    if (receipt != nullptr) {
      FW_ASSIGN_OR_RETURN(auto epoch, jf::Int(*receipt, "epoch", true, 1, kMax));
      FW_ASSIGN_OR_RETURN(auto seq, jf::Int(*receipt, "seq", true, 0, kMax));
      FW_ASSIGN_OR_RETURN(auto mac, jf::String(*receipt, "mac", true, 64));
      m.journal_receipt = WitnessReceiptReport{*epoch, *seq, *mac};
    }
  }
  FW_ASSIGN_OR_RETURN(auto max_action_id, jf::Int(j, "max_action_id", false, 0, kMax));
  m.max_action_id = max_action_id.value_or(0);
  return m;
}

std::string ManifestJson(const Manifest& m) {
  auto slot = [](const SlotReport& s) { return Json{{"slot", s.slot}, {"version", s.version}, {"state", s.state}}; };
  Json j = {{"hardware_id", m.hardware_id},
            {"time_zone", m.time_zone},
            {"running", slot(m.running)},
            {"other", m.other ? slot(*m.other) : Json(nullptr)},
            {"security_counter", m.security_counter},
            {"root_version", m.root_version},
            {"journal", {{"last_seq", m.journal_last_seq}, {"head", m.journal_head_hex}}},
            {"outbox", m.outbox},
            {"free_bytes", m.free_bytes},
            {"agent_version", m.agent_version}};
  // Only when reported: the stored text of every manifest without it stays what it was.
  if (!m.clock_suspect.empty()) j["clock_suspect"] = m.clock_suspect;
  return j.dump();  // nlohmann sorts object keys: one text per manifest
}

Result<EventReport> ParseEvent(std::string_view body) {
  namespace jf = json_fields;
  FW_ASSIGN_OR_RETURN(auto j, jf::ParseObject(body, kMaxEventBytes, "event"));
  EventReport e;
  FW_ASSIGN_OR_RETURN(auto attempt, jf::Int(j, "attempt", true, 1, 1000000));
  FW_ASSIGN_OR_RETURN(auto seq, jf::Int(j, "seq", true, 1, INT64_MAX));
  FW_ASSIGN_OR_RETURN(auto state, jf::String(j, "state", true, 32));
  e.attempt = *attempt;
  e.seq = *seq;
  e.state = *state;
  if ((Rank(e.state) <= 0) && !IsTerminalEvent(e.state)) return Corrupt("unknown event state \"" + e.state + "\"");
  FW_ASSIGN_OR_RETURN(auto bytes, jf::Int(j, "bytes", false, 0, INT64_MAX));
  FW_ASSIGN_OR_RETURN(auto total, jf::Int(j, "total", false, 0, INT64_MAX));
  e.bytes = bytes.value_or(0);
  e.total = total.value_or(0);
  if (e.total != 0 && e.bytes > e.total) return Corrupt("\"bytes\" exceeds \"total\"");
  FW_ASSIGN_OR_RETURN(auto detail, jf::String(j, "detail", false, kMaxDetailBytes));
  e.detail = detail.value_or("");
  if (e.state == "failed") {
    FW_ASSIGN_OR_RETURN(auto stage, jf::String(j, "stage", true, 32));
    FW_ASSIGN_OR_RETURN(auto code, jf::Int(j, "exit_code", true, 0, 255));
    FW_ASSIGN_OR_RETURN(auto kind, jf::String(j, "error_kind", false, 64));
    e.stage = *stage;
    e.exit_code = *code;
    e.error_kind = kind.value_or("");
    FW_RETURN_IF_ERROR(FailureClassFor(e.stage, e.exit_code, e.error_kind).status());
  }
  return e;
}

std::string EventJson(const EventReport& e) {
  Json j = {{"attempt", e.attempt}, {"seq", e.seq}, {"state", e.state}};
  if (e.state == "downloading") j["bytes"] = e.bytes, j["total"] = e.total;
  if (e.state == "failed") j["stage"] = e.stage, j["exit_code"] = e.exit_code, j["error_kind"] = e.error_kind;
  if (!e.detail.empty()) j["detail"] = e.detail;
  return j.dump();
}

Result<std::string> FailureClassFor(std::string_view stage, int64_t exit_code, std::string_view error_kind) {
  static constexpr std::array<std::string_view, 12> kStages = {"download", "plan",   "snapshot",      "write",
                                                               "verify",   "lock",   "confirm",       "backup",
                                                               "boot",     "health", "journal_check", "deadline"};
  bool known = false;
  for (auto s : kStages) known = known || s == stage;
  if (!known) return Corrupt("unknown failure stage \"" + std::string(stage) + "\"");
  if (stage == "journal_check") return std::string("journal_check");
  if (stage == "boot") return std::string("boot_failed");
  if (stage == "health") return std::string("health_failed");
  if (stage == "deadline") return std::string("timed_out");
  if (stage == "backup") {
    if (exit_code == 6) return std::string("timed_out");
    if (exit_code == 4) return std::string("download");
    return std::string("snapshot_failed");  // the journal itself refused to be exported
  }
  switch (exit_code) {
    case 1:
      return std::string(stage == "confirm" ? "health_failed" : "plan_refused");
    case 3:
      if (stage == "download" || stage == "plan" || stage == "write" || stage == "verify") return std::string("verify");
      return std::string("plan_refused");
    case 4:
      if (stage == "download") return std::string("download");
      if (stage == "snapshot") return std::string("snapshot_failed");
      if (stage == "plan") return std::string(error_kind == "resource exhausted" ? "snapshot_failed" : "plan_refused");
      if (stage == "write" || stage == "verify") return std::string("verify");
      if (stage == "lock") return std::string("timed_out");
      return std::string("plan_refused");
    case 5:
      if (stage == "confirm") return std::string("boot_failed");
      if (stage == "lock") return std::string("timed_out");
      if (stage == "snapshot") return std::string("snapshot_failed");
      return std::string("plan_refused");
    case 6:
      return std::string("timed_out");
    default:
      return std::string("internal");  // 0 (no error?), 2 (the agent's own command line), 70 (a bug), other
  }
}

EventDecision ApplyEvent(Action& a, const EventReport& e, int64_t now_s) {
  if (a.done) return {EventOutcome::kClosed, "action " + std::to_string(a.id) + " is closed (" + a.state + ")"};
  if (e.attempt < a.attempt || (e.attempt == a.attempt && e.seq <= a.last_seq)) return {EventOutcome::kOlder, ""};
  const bool new_attempt = e.attempt > a.attempt;
  const std::string from = new_attempt ? "pending" : a.state;
  const int rf = Rank(from), rt = Rank(e.state);
  if (new_attempt && Rank(a.state) >= kRankTrialSet)
    return Invalid(a.state, e.state, "a new attempt after the trial was set");
  const bool backup_done = (new_attempt ? false : a.backup_done) || e.state == "backup_done";
  if (a.kind == "journal_backup" && rt >= kRankInstalling)
    return Invalid(from, e.state, "a journal backup installs nothing");
  if (a.type == "download-only" && rt > kRankDownloaded)
    return Invalid(from, e.state, "a download-only action ends at downloaded");
  if (rt >= 0) {
    const bool repeatable = e.state == "downloading" || e.state == "waiting_window" || e.state == "installing";
    if (rt < rf || (rt == rf && !repeatable)) return Invalid(from, e.state, "states only move forward");
    if ((e.state == "rebooting" || e.state == "confirmed") && rf < kRankTrialSet) {
      return Invalid(from, e.state, "the trial was not set");
    }
    if (rt >= kRankInstalling && rf < kRankInstalling && a.backup_required && !backup_done) {
      return Invalid(from, e.state, "the journal backup is required before any flash write");
    }
  } else if (e.state == "canceled") {
    if (!a.cancel_requested) return Invalid(from, e.state, "no cancel was requested");
    if (rf >= kRankTrialSet) return Invalid(from, e.state, "cancels are honoured only until the trial is set");
  } else if (e.state == "rejected") {
    if (rf > 1) return Invalid(from, e.state, "an action is rejected before work starts");
  } else if (e.state == "rolled_back") {
    if (rf < kRankInstalling) return Invalid(from, e.state, "nothing was installed");
  }
  a.state = e.state;
  a.attempt = e.attempt;
  a.last_seq = e.seq;
  a.backup_done = backup_done;
  a.updated_s = now_s;
  if (e.state == "failed") {
    a.failure_class = FailureClassFor(e.stage, e.exit_code, e.error_kind).value();  // checked by ParseEvent
    a.exit_code = e.exit_code;
  }
  if (!e.detail.empty()) a.detail = e.detail;
  if (IsTerminalEvent(e.state)) a.done = true;
  if (a.kind == "journal_backup" && e.state == "backup_done") a.state = "succeeded", a.done = true;
  if (a.type == "download-only" && e.state == "downloaded") a.state = "succeeded", a.done = true;
  return {EventOutcome::kApplied, ""};
}

std::string CheckinVerdict(const Action& a, const Manifest& m) {
  if (a.done || a.kind == "journal_backup") return "";
  const int r = Rank(a.state);
  if (r < kRankTrialSet) return "";
  if (m.running.version == a.target_version) {
    return (m.running.state == "confirmed" && a.state == "confirmed") ? "succeeded" : "";
  }
  if (a.state != "confirmed" && m.other && m.other->version == a.target_version && m.other->state == "trial_pending") {
    return "";  // trial set, not rebooted yet
  }
  return "failed";
}

Result<EnrolRequest> ParseEnrolRequest(std::string_view body) {
  namespace jf = json_fields;
  FW_ASSIGN_OR_RETURN(auto j, jf::ParseObject(body, kMaxEnrolBytes, "enrolment request"));
  FW_ASSIGN_OR_RETURN(auto token, jf::String(j, "token", true, 64));
  FW_ASSIGN_OR_RETURN(auto serial, jf::String(j, "serial", true, 64));
  FW_ASSIGN_OR_RETURN(auto csr, jf::String(j, "csr", true, 16 * 1024));
  if (!IsHex64(*token)) return Corrupt("\"token\" must be 64 lower-case hex digits");
  if (!IsValidSerial(*serial)) return Corrupt("\"serial\" must be 1-64 of [A-Za-z0-9._-]");
  return EnrolRequest{*token, *serial, *csr};
}

Result<RenewRequest> ParseRenewRequest(std::string_view body) {
  namespace jf = json_fields;
  FW_ASSIGN_OR_RETURN(auto j, jf::ParseObject(body, kMaxEnrolBytes, "renewal request"));
  FW_ASSIGN_OR_RETURN(auto csr, jf::String(j, "csr", true, 16 * 1024));
  return RenewRequest{*csr};
}

}  // namespace fw::server
