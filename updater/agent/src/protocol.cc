// The agent's protocol codecs (fw/agent/protocol.h, docs/fleet-protocol.md). nlohmann::json stays here.
#include "fw/agent/protocol.h"
#include "fw/day_window.h"

#include <nlohmann/json.hpp>

#include "fw/canonical_json.h"

namespace fw::agent {
namespace {

using Json = nlohmann::json;

constexpr int kMaxDepth = 8;
constexpr size_t kMaxName = 128;  // versions, slots, states, hardware ids (server: kMaxNameBytes)
constexpr size_t kMaxTargetName = 1024;
constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxDetail = 1024;
constexpr size_t kMaxMessage = 4096;
constexpr size_t kMaxPem = 64 * 1024;

// A field path for messages: "actions[2].target.name".
std::string At(const std::string& path, const char* name) { return path.empty() ? name : path + "." + name; }

Result<Json> ParseObject(std::string_view body, std::string_view what) {
  const std::string w(what);
  if (body.size() > kMaxReplyBytes) {
    return Corrupt(w + " of " + std::to_string(body.size()) + " bytes exceeds its cap of " +
                   std::to_string(kMaxReplyBytes));
  }
  if (JsonNestingDepth(body) > kMaxDepth) return Corrupt(w + " nested deeper than " + std::to_string(kMaxDepth));
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt(w + " is not JSON");
  if (!j.is_object()) return Corrupt(w + " is not a JSON object");
  return j;
}

const Json* Member(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::optional<std::string>> Str(const Json& obj, const std::string& path, const char* name, bool required,
                                       size_t max_bytes, bool allow_newlines = false) {
  const std::string f = At(path, name);
  const Json* v = Member(obj, name);
  if (v == nullptr) {
    if (required) return Corrupt("missing field \"" + f + "\"");
    return std::optional<std::string>();
  }
  if (!v->is_string()) return Corrupt("field \"" + f + "\" is not a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes)
    return Corrupt("field \"" + f + "\" is longer than " + std::to_string(max_bytes) + " bytes");
  for (unsigned char c : s) {
    if (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\r'))) {
      return Corrupt("field \"" + f + "\" holds a control character");
    }
  }
  return std::optional<std::string>(s);
}

Result<std::optional<int64_t>> Int(const Json& obj, const std::string& path, const char* name, bool required,
                                   int64_t lo, int64_t hi) {
  const std::string f = At(path, name);
  const Json* v = Member(obj, name);
  if (v == nullptr) {
    if (required) return Corrupt("missing field \"" + f + "\"");
    return std::optional<int64_t>();
  }
  int64_t n = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return Corrupt("field \"" + f + "\" is out of range");
    n = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    n = v->get<int64_t>();
  } else {
    return Corrupt("field \"" + f + "\" is not an integer");
  }
  if (n < lo || n > hi) {
    return Corrupt("field \"" + f + "\" = " + std::to_string(n) + " is outside " + std::to_string(lo) + ".." +
                   std::to_string(hi));
  }
  return std::optional<int64_t>(n);
}

Result<std::optional<bool>> Bool(const Json& obj, const std::string& path, const char* name) {
  const Json* v = Member(obj, name);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) return Corrupt("field \"" + At(path, name) + "\" is not a boolean");
  return std::optional<bool>(v->get<bool>());
}

bool OneOf(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (v == a) return true;
  }
  return false;
}

Status NotOneOf(const std::string& field, const std::string& value) {
  return Corrupt("field \"" + field + "\" has an unknown value \"" + value + "\"");
}

bool IsWindow(std::string_view w) { return ParseDayWindow(w).has_value(); }

// size: one field after the other, each with its bound
Result<Action> ParseAction(const Json& j, const std::string& path) {
  if (!j.is_object()) return Corrupt("field \"" + path + "\" is not an object");
  Action a;
  FW_ASSIGN_OR_RETURN(auto id, Int(j, path, "id", true, 1, INT64_MAX));
  FW_ASSIGN_OR_RETURN(auto kind, Str(j, path, "kind", true, 32));
  FW_ASSIGN_OR_RETURN(auto type, Str(j, path, "type", true, 32));
  a.id = *id;
  a.kind = *kind;
  a.type = *type;
  if (!OneOf(a.kind, {"install", "rollback", "journal_backup"})) return NotOneOf(At(path, "kind"), a.kind);
  if (!OneOf(a.type, {"forced", "soft", "time-forced", "download-only"})) return NotOneOf(At(path, "type"), a.type);
  const Json* target = Member(j, "target");
  const std::string tpath = At(path, "target");
  if (target != nullptr) {
    if (!target->is_object()) return Corrupt("field \"" + tpath + "\" is not an object");
    FW_ASSIGN_OR_RETURN(auto name, Str(*target, tpath, "name", true, kMaxTargetName));
    FW_ASSIGN_OR_RETURN(auto version, Str(*target, tpath, "version", false, kMaxName));
    if (name->empty()) return Corrupt("field \"" + At(tpath, "name") + "\" is empty");
    a.target_name = *name;
    a.target_version = version.value_or("");
  } else if (a.kind != "journal_backup") {
    return Corrupt("missing field \"" + tpath + "\" (required for " + a.kind + ")");
  }
  FW_ASSIGN_OR_RETURN(auto window, Str(j, path, "window", false, 11));
  if (window.has_value() && !IsWindow(*window)) {
    return Corrupt("field \"" + At(path, "window") + "\" is not HH:MM-HH:MM");
  }
  a.window = window;
  FW_ASSIGN_OR_RETURN(a.deadline, Int(j, path, "deadline", false, 0, INT64_MAX));
  FW_ASSIGN_OR_RETURN(auto backup, Bool(j, path, "backup_required"));
  a.backup_required = backup.value_or(true);
  FW_ASSIGN_OR_RETURN(auto state, Str(j, path, "state", false, 32));
  a.state = state.value_or("pending");
  FW_ASSIGN_OR_RETURN(auto attempt, Int(j, path, "attempt", false, 0, 1000000));
  FW_ASSIGN_OR_RETURN(auto last_seq, Int(j, path, "last_seq", false, 0, INT64_MAX));
  a.attempt = attempt.value_or(0);
  a.last_seq = last_seq.value_or(0);
  return a;
}

// The first `max` bytes of `s`, cut back to a UTF-8 boundary.
std::string CutUtf8(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Text for JSON: invalid UTF-8 would make nlohmann's dump() throw; replace it instead.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json SlotJson(const SlotInfo& s) { return Json{{"slot", s.slot}, {"version", s.version}, {"state", s.state}}; }

}  // namespace

std::string EncodeManifest(const Manifest& m) {
  Json j = {{"hardware_id", m.hardware_id},
            {"running", SlotJson(m.running)},
            {"other", m.other ? SlotJson(*m.other) : Json(nullptr)},
            {"security_counter", m.security_counter},
            {"root_version", m.root_version},
            {"outbox", m.outbox},
            {"free_bytes", m.free_bytes}};
  if (!m.time_zone.empty()) j["time_zone"] = m.time_zone;
  if (!m.agent_version.empty()) j["agent_version"] = m.agent_version;
  Json journal = {{"last_seq", m.journal_last_seq}};
  if (m.journal_last_seq > 0) journal["head"] = m.journal_head;
  if (m.journal_receipt) {
    journal["receipt"] = {
        {"epoch", m.journal_receipt->epoch}, {"seq", m.journal_receipt->seq}, {"mac", m.journal_receipt->mac}};
  }
  j["journal"] = journal;
  if (m.clock_suspect) j["clock_suspect"] = CutUtf8(*m.clock_suspect, 256);
  if (m.max_action_id) j["max_action_id"] = *m.max_action_id;
  return Dump(j);
}

// size: the reply's members in order, each bounded
Result<CheckinReply> ParseCheckinReply(std::string_view body) {
  FW_ASSIGN_OR_RETURN(auto j, ParseObject(body, "check-in reply"));
  CheckinReply r;
  FW_ASSIGN_OR_RETURN(auto state, Str(j, "", "device_state", true, 32));
  r.device_state = *state;
  if (!OneOf(r.device_state, {"active", "quarantined"})) return NotOneOf("device_state", r.device_state);
  const Json* actions = Member(j, "actions");
  if (actions == nullptr) return Corrupt("missing field \"actions\"");
  if (!actions->is_array()) return Corrupt("field \"actions\" is not an array");
  if (actions->size() > kMaxActions) {
    return Corrupt("field \"actions\" holds " + std::to_string(actions->size()) + " actions, more than " +
                   std::to_string(kMaxActions));
  }
  for (size_t i = 0; i < actions->size(); ++i) {
    FW_ASSIGN_OR_RETURN(auto a, ParseAction((*actions)[i], "actions[" + std::to_string(i) + "]"));
    for (const Action& seen : r.actions) {
      if (seen.id == a.id) return Corrupt("field \"actions\" lists action " + std::to_string(a.id) + " twice");
    }
    r.actions.push_back(std::move(a));
  }
  if (const Json* cancels = Member(j, "cancels"); cancels != nullptr) {
    if (!cancels->is_array()) return Corrupt("field \"cancels\" is not an array");
    if (cancels->size() > kMaxActions) return Corrupt("field \"cancels\" holds more than 64 ids");
    for (size_t i = 0; i < cancels->size(); ++i) {
      const std::string f = "cancels[" + std::to_string(i) + "]";
      const Json wrapped = {{f, (*cancels)[i]}};  // so that Int names the element
      FW_ASSIGN_OR_RETURN(auto id, Int(wrapped, "", f.c_str(), true, 1, INT64_MAX));
      r.cancels.push_back(*id);
    }
  }
  if (const Json* up = Member(j, "journal_upload"); up != nullptr) {
    if (!up->is_object()) return Corrupt("field \"journal_upload\" is not an object");
    FW_ASSIGN_OR_RETURN(auto from, Int(*up, "journal_upload", "from_seq", true, 1, int64_t{1} << 53));
    FW_ASSIGN_OR_RETURN(auto epoch, Int(*up, "journal_upload", "epoch", true, 1, INT64_MAX));
    r.journal_upload = JournalUpload{*from, *epoch};
  }
  FW_ASSIGN_OR_RETURN(auto repo, Str(j, "", "repository", false, kMaxUrl));
  r.repository = repo.value_or("");
  FW_ASSIGN_OR_RETURN(auto server_time, Int(j, "", "server_time", false, 0, INT64_MAX));
  FW_ASSIGN_OR_RETURN(auto poll, Int(j, "", "poll_seconds", false, 0, 366LL * 24 * 3600));
  r.server_time = server_time.value_or(0);
  r.poll_seconds = poll.value_or(0);
  return r;
}

std::string EncodeEvent(const Event& e) {
  Json j = {{"attempt", e.attempt}, {"seq", e.seq}, {"state", e.state}};
  if (e.bytes) j["bytes"] = *e.bytes;
  if (e.total) j["total"] = *e.total;
  if (!e.stage.empty()) j["stage"] = e.stage;
  if (e.exit_code) j["exit_code"] = *e.exit_code;
  if (!e.error_kind.empty()) j["error_kind"] = CutUtf8(e.error_kind, 64);
  if (!e.detail.empty()) j["detail"] = CutUtf8(e.detail, kMaxDetail);
  return Dump(j);
}

Result<EventReply> ParseEventReply(std::string_view body) {
  FW_ASSIGN_OR_RETURN(auto j, ParseObject(body, "event reply"));
  EventReply r;
  FW_ASSIGN_OR_RETURN(auto result, Str(j, "", "result", true, 32));
  r.result = *result;
  if (!OneOf(r.result, {"applied", "duplicate", "ignored_older"})) return NotOneOf("result", r.result);
  FW_ASSIGN_OR_RETURN(auto state, Str(j, "", "state", true, 32));
  FW_ASSIGN_OR_RETURN(auto attempt, Int(j, "", "attempt", true, 0, 1000000));
  FW_ASSIGN_OR_RETURN(auto last_seq, Int(j, "", "last_seq", true, 0, INT64_MAX));
  r.state = *state;
  r.attempt = *attempt;
  r.last_seq = *last_seq;
  return r;
}

Result<SegmentReply> ParseSegmentReply(std::string_view body) {
  FW_ASSIGN_OR_RETURN(auto j, ParseObject(body, "segment reply"));
  SegmentReply r;
  constexpr int64_t kMaxSeq = int64_t{1} << 53;
  FW_ASSIGN_OR_RETURN(auto first, Int(j, "", "first_seq", true, 0, kMaxSeq));
  FW_ASSIGN_OR_RETURN(auto last, Int(j, "", "last_seq", true, 0, kMaxSeq));
  FW_ASSIGN_OR_RETURN(auto verified, Int(j, "", "verified_seq", true, 0, kMaxSeq));
  FW_ASSIGN_OR_RETURN(auto duplicate, Bool(j, "", "duplicate"));
  r.first_seq = *first;
  r.last_seq = *last;
  r.verified_seq = *verified;
  r.duplicate = duplicate.value_or(false);
  if (r.last_seq < r.first_seq) return Corrupt("field \"last_seq\" is below \"first_seq\"");
  if (const Json* findings = Member(j, "findings"); findings != nullptr) {
    if (!findings->is_array()) return Corrupt("field \"findings\" is not an array");
    if (findings->size() > kMaxActions) return Corrupt("field \"findings\" holds more than 64 findings");
    for (size_t i = 0; i < findings->size(); ++i) {
      const std::string path = "findings[" + std::to_string(i) + "]";
      const Json& f = (*findings)[i];
      if (!f.is_object()) return Corrupt("field \"" + path + "\" is not an object");
      FW_ASSIGN_OR_RETURN(auto kind, Str(f, path, "kind", true, 32));
      FW_ASSIGN_OR_RETURN(auto seq, Int(f, path, "seq", false, 0, kMaxSeq));
      FW_ASSIGN_OR_RETURN(auto detail, Str(f, path, "detail", false, kMaxDetail, true));
      std::string text = *kind + " at seq " + std::to_string(seq.value_or(0));
      if (detail.has_value() && !detail->empty()) text += ": " + *detail;
      r.findings.push_back(std::move(text));
    }
  }
  if (const Json* receipt = Member(j, "receipt"); receipt != nullptr && !receipt->is_null()) {
    if (!receipt->is_object()) return Corrupt("field \"receipt\" is not an object");
    FW_ASSIGN_OR_RETURN(auto epoch, Int(*receipt, "receipt", "epoch", true, 1, kMaxSeq));
    FW_ASSIGN_OR_RETURN(auto seq, Int(*receipt, "receipt", "seq", true, 0, kMaxSeq));
    FW_ASSIGN_OR_RETURN(auto mac, Str(*receipt, "receipt", "mac", true, 64));
    r.receipt = WitnessReceipt{*epoch, *seq, *mac};
  }
  return r;
}

Result<CertificateReply> ParseCertificateReply(std::string_view body) {
  FW_ASSIGN_OR_RETURN(auto j, ParseObject(body, "certificate reply"));
  CertificateReply r;
  FW_ASSIGN_OR_RETURN(auto serial, Str(j, "", "serial", true, 64));
  FW_ASSIGN_OR_RETURN(auto cert, Str(j, "", "certificate", true, kMaxPem, true));
  FW_ASSIGN_OR_RETURN(auto chain, Str(j, "", "chain", false, kMaxPem, true));
  FW_ASSIGN_OR_RETURN(auto cert_serial, Str(j, "", "cert_serial", false, 128));
  FW_ASSIGN_OR_RETURN(auto not_after, Int(j, "", "not_after", true, 0, INT64_MAX));
  r.serial = *serial;
  r.certificate = *cert;
  r.chain = chain.value_or("");
  r.cert_serial = cert_serial.value_or("");
  r.not_after = *not_after;
  if (r.certificate.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Corrupt("field \"certificate\" holds no PEM certificate");
  }
  return r;
}

std::string ServerError::Describe() const {
  std::string s = "HTTP " + std::to_string(http_status) + " " + (code.empty() ? "(no error code)" : code);
  if (!message.empty()) s += ": " + message;
  if (retry_after_s >= 0) s += " (retry after " + std::to_string(retry_after_s) + " s)";
  return s;
}

ServerError ParseServerError(int http_status, std::string_view body, std::string_view retry_after) {
  ServerError e;
  e.http_status = http_status;
  auto j = ParseObject(body, "error body");
  if (j.ok()) {
    auto code = Str(*j, "", "error", false, 64);
    auto message = Str(*j, "", "message", false, kMaxMessage, true);
    if (code.ok()) e.code = code->value_or("");
    if (message.ok()) e.message = message->value_or("");
  }
  if (e.code.empty() && e.message.empty() && !body.empty()) {
    // Not the protocol's error body (a proxy's page): keep a printable prefix for people.
    for (char c : body.substr(0, 200)) e.message += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (!retry_after.empty() && retry_after.size() <= 9 &&
      retry_after.find_first_not_of("0123456789") == std::string_view::npos) {
    e.retry_after_s = std::stoll(std::string(retry_after));
  }
  return e;
}

}  // namespace fw::agent
