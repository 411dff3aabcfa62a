// The agent's cycle: open, recovery, outbox, certificate renewal, check-in, cancels (docs/agent.md).
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent_impl.h"
#include "fw/agent/identity.h"
#include "fw/agent/journal_upload.h"
#include "fw/file_io.h"

namespace fw::agent {

namespace {

using Json = nlohmann::json;

constexpr const char* kFloorKey = "clock_floor_ms";
constexpr const char* kEtagKey = "checkin_etag";
constexpr const char* kReplyKey = "checkin_reply";
constexpr const char* kMaxActionIdKey = "max_action_id";

// kv key marking an action the server said it does not know (409 unknown_action; 404 before issue 19).
std::string UnknownActionKey(int64_t id) { return "server_unknown_action:" + std::to_string(id); }

// A server answer to an event that settles it: applied, duplicate, ignored_older (200), or a final
// refusal (the action is closed or unknown, the event can never be taken). 5xx, 401/403 and 408/429
// are retried.
bool FinalAnswer(const Answer<EventReply>& a) {
  if (a.ok()) return true;
  const int s = a.error.http_status;
  return s >= 400 && s < 500 && s != 401 && s != 403 && s != 408 && s != 429;
}

Json ActionToJson(const Action& a) {
  Json j = {{"id", a.id},
            {"kind", a.kind},
            {"target", a.target_name},
            {"version", a.target_version},
            {"type", a.type},
            {"backup_required", a.backup_required},
            {"state", a.state},
            {"attempt", a.attempt},
            {"last_seq", a.last_seq}};
  if (a.window) j["window"] = *a.window;
  if (a.deadline) j["deadline"] = *a.deadline;
  return j;
}

Action ActionFromJson(const Json& j) {
  Action a;
  a.id = j.at("id").get<int64_t>();
  a.kind = j.at("kind").get<std::string>();
  a.target_name = j.at("target").get<std::string>();
  a.target_version = j.at("version").get<std::string>();
  a.type = j.at("type").get<std::string>();
  a.backup_required = j.at("backup_required").get<bool>();
  a.state = j.at("state").get<std::string>();
  a.attempt = j.at("attempt").get<int64_t>();
  a.last_seq = j.at("last_seq").get<int64_t>();
  if (j.contains("window")) a.window = j["window"].get<std::string>();
  if (j.contains("deadline")) a.deadline = j["deadline"].get<int64_t>();
  return a;
}

// "A" / "B" → the protocol's other-slot state.
std::string OtherState(const install::SlotStatus& s) {
  if (s.state == "confirmed") return "bootable";
  if (s.state == "trial") return "trial_pending";
  if (s.state == "unbootable") return "invalid";
  return "empty";
}

}  // namespace

AgentImpl::AgentImpl(install::Terminal& terminal, Transport& transport, Commands& commands, Clock& clock,
                     AgentConfig config, AgentStore store)
    : terminal_(terminal),
      transport_(transport),
      commands_(commands),
      clock_(clock),
      config_(std::move(config)),
      store_(std::move(store)),
      floor_(clock),
      rng_(std::random_device{}()) {}

Result<std::unique_ptr<Agent>> Agent::Open(install::Terminal& terminal, Transport& transport, Commands& commands,
                                           Clock& clock, AgentConfig config) {
  if (config.state_dir.empty()) config.state_dir = terminal.data_dir + "/agent";
  if (config.confirm_template.operator_name.empty() || config.confirm_template.operator_name == "technician") {
    config.confirm_template.operator_name = "agent";
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(terminal.data_dir, ec) ||
      !std::filesystem::exists(terminal.TufDir() + "/root.json", ec)) {
    return FailedPrecondition("the terminal's data area " + terminal.data_dir +
                              " is not initialised (no tuf/root.json); run 'fwupdate init' first");
  }
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) return IoError("agent state directory " + config.state_dir + ": " + ec.message());
  FW_ASSIGN_OR_RETURN(AgentStore store, AgentStore::Open(config.state_dir + "/agent.db"));
  auto agent = std::make_unique<AgentImpl>(terminal, transport, commands, clock, std::move(config), std::move(store));
  FW_RETURN_IF_ERROR(agent->Init());
  return std::unique_ptr<Agent>(std::move(agent));
}

Status AgentImpl::Init() {
  FW_ASSIGN_OR_RETURN(int64_t floor, store_.GetInt(kFloorKey, 0));
  floor_.SetFloorMs(std::max(floor, config_.build_time_s * 1000));
  return LoadReply();
}

Status AgentImpl::SaveReply() {
  if (!reply_) return Status::Ok();
  Json actions = Json::array();
  for (const auto& a : reply_->actions) actions.push_back(ActionToJson(a));
  Json j = {{"device_state", reply_->device_state},
            {"actions", actions},
            {"cancels", reply_->cancels},
            {"repository", reply_->repository},
            {"poll", reply_->poll_seconds}};
  if (reply_->journal_upload) j["upload"] = {reply_->journal_upload->from_seq, reply_->journal_upload->epoch};
  FW_RETURN_IF_ERROR(store_.Set(kReplyKey, j.dump()));
  return store_.Set(kEtagKey, etag_);
}

Status AgentImpl::LoadReply() {
  FW_ASSIGN_OR_RETURN(auto text, store_.Get(kReplyKey));
  FW_ASSIGN_OR_RETURN(auto etag, store_.Get(kEtagKey));
  if (!text || !etag) return Status::Ok();
  try {
    const Json j = Json::parse(*text);
    CheckinReply r;
    r.device_state = j.at("device_state").get<std::string>();
    for (const auto& a : j.at("actions")) r.actions.push_back(ActionFromJson(a));
    r.cancels = j.at("cancels").get<std::vector<int64_t>>();
    r.repository = j.at("repository").get<std::string>();
    r.poll_seconds = j.at("poll").get<int64_t>();
    if (j.contains("upload"))
      r.journal_upload = JournalUpload{j["upload"][0].get<int64_t>(), j["upload"][1].get<int64_t>()};
    r.etag = *etag;
    reply_ = std::move(r);
    etag_ = *etag;
  } catch (const std::exception& e) {
    // Only a cache: a damaged copy costs one full check-in.
    Note(std::string("agent state: the cached check-in reply does not parse (") + e.what() + "); ignored");
  }
  return Status::Ok();
}

void AgentImpl::Note(const std::string& text) {
  if (report_) report_->notes.push_back(text);
  if (config_.progress) config_.progress->Note(text);
}

void AgentImpl::WakeIn(int64_t ms) {
  if (!report_) return;
  const int64_t at = clock_.MonotonicMs() + std::max<int64_t>(ms, 0);
  report_->next_wake_ms = report_->next_wake_ms == 0 ? at : std::min(report_->next_wake_ms, at);
}

// Exponential from retry_initial_s, capped at retry_max_s, with "equal jitter" (half fixed, half random).
int64_t AgentImpl::Backoff(int64_t failures) {
  int64_t s = std::max<int64_t>(1, config_.retry_initial_s);
  for (int64_t i = 1; i < failures && s < config_.retry_max_s; ++i) s *= 2;
  s = std::min(s, std::max<int64_t>(1, config_.retry_max_s));
  const int64_t half = s * 1000 / 2;
  return half + static_cast<int64_t>(rng_() % static_cast<uint64_t>(half + 1));
}

Status AgentImpl::Emit(ActionRecord& a, const std::string& state, const std::string& new_step, Event e) {
  e.state = state;
  FW_ASSIGN_OR_RETURN(Event sent, store_.Emit(a, std::move(e), new_step));
  Note("action " + std::to_string(a.id) + ": " + sent.state + (sent.detail.empty() ? "" : " (" + sent.detail + ")"));
  return FlushOutbox();
}

// Sends the outbox in order; stops at the first event the server did not settle (it goes again at the
// next flush, with the same attempt and seq: the server takes it once). Only agent.db errors return.
Status AgentImpl::FlushOutbox() {
  FW_ASSIGN_OR_RETURN(auto rows, store_.Outbox());
  for (const auto& r : rows) {
    FW_ASSIGN_OR_RETURN(auto unknown, store_.Get(UnknownActionKey(r.event.action)));
    if (unknown) {  // the server does not know the action: its events are never sent again
      Note("event " + r.event.state + " of action " + std::to_string(r.event.action) +
           " not sent: the server does not know the action");
      FW_RETURN_IF_ERROR(store_.DeleteOutbox(r.row));
      continue;
    }
    auto answer = transport_.PostEvent(r.event);
    if (!answer.ok()) {
      Note("event " + r.event.state + " of action " + std::to_string(r.event.action) +
           " not sent: " + answer.status().message());
      WakeIn(config_.retry_initial_s * 1000);
      return Status::Ok();
    }
    if (!FinalAnswer(*answer)) {
      Note("event " + r.event.state + " of action " + std::to_string(r.event.action) +
           " not taken: " + answer->error.Describe());
      const int64_t after = answer->error.retry_after_s >= 0 ? answer->error.retry_after_s : config_.retry_initial_s;
      WakeIn(after * 1000);
      return Status::Ok();
    }
    if (!answer->ok()) {
      Note("event " + r.event.state + " of action " + std::to_string(r.event.action) +
           " refused for good: " + answer->error.Describe());
    }
    if (!answer->ok() && answer->error.code == "unknown_action") {
      // Final for the whole action (e.g. the server's database was restored from a backup older than the
      // action): no more reports for it. The terminal's own steps go on (a set trial still runs to its
      // verdict on the terminal); the next check-in does not list it, so it is dropped like a closed one.
      Note("action " + std::to_string(r.event.action) +
           ": the server does not know it (was its database restored from an older backup?); no more reports "
           "for it");
      FW_RETURN_IF_ERROR(store_.Set(UnknownActionKey(r.event.action), "1"));
    }
    FW_RETURN_IF_ERROR(store_.DeleteOutbox(r.row));
  }
  return Status::Ok();
}

void AgentImpl::RenewIfDue() {
  auto pem = transport_.CurrentCertificate();
  if (!pem.ok()) return;  // a transport without a file-backed identity (tests, the simulator)
  auto facts = ReadCertificateFacts(*pem);
  if (!facts.ok()) return Note("certificate: " + facts.status().message());
  const int64_t now = floor_.WallSeconds();
  if (facts->not_after - now > config_.renew_before_s) return;
  auto key = MakeKeyAndCsr(facts->subject_cn);
  if (!key.ok()) return Note("certificate renewal: " + key.status().message());
  auto answer = transport_.Renew(key->csr_pem);
  if (!answer.ok()) return Note("certificate renewal: " + answer.status().message());
  if (!answer->ok()) return Note("certificate renewal refused: " + answer->error.Describe());
  Status s = transport_.InstallCertificate(*answer->value, key->key_pem);
  Note(s.ok() ? "certificate renewed, valid until " + Iso8601(answer->value->not_after)
              : "certificate renewal: " + s.message());
}

Result<Manifest> AgentImpl::BuildManifest() {
  FW_ASSIGN_OR_RETURN(install::StatusReport st, install::GetStatus(terminal_, OperatorName(), 0));
  Manifest m;
  m.hardware_id = terminal_.hardware_id;
  m.time_zone = config_.time_zone;
  m.agent_version = config_.agent_version;
  const uint8_t run = st.booted_slot != boot::kNoSlot ? st.booted_slot : st.active_slot;
  const auto& r = st.slots[run];
  m.running = {r.name, r.version.empty() ? "0.0.0" : r.version, r.state == "trial" ? "trial" : "confirmed"};
  const auto& o = st.slots[1 - run];
  m.other = SlotInfo{o.name, o.version, OtherState(o)};
  m.security_counter = st.min_security_counter;
  FW_ASSIGN_OR_RETURN(m.root_version, DeviceRootVersion());
  FW_ASSIGN_OR_RETURN(JournalHead head, ReadJournalHead(terminal_.journal_path, terminal_.lock_timeout_ms));
  m.journal_last_seq = head.last_seq;
  m.journal_head = head.head;
  FW_ASSIGN_OR_RETURN(m.outbox, store_.OutboxCount());
  FW_ASSIGN_OR_RETURN(int64_t max_action_id, store_.GetInt(kMaxActionIdKey, 0));
  if (max_action_id > 0) m.max_action_id = max_action_id;
  FW_ASSIGN_OR_RETURN(m.journal_receipt, LoadReceipt());
  struct statvfs sv {};
  if (::statvfs(terminal_.data_dir.c_str(), &sv) == 0) m.free_bytes = static_cast<int64_t>(sv.f_bavail * sv.f_frsize);
  const int64_t rtc = clock_.WallSeconds(), floor = floor_.floor_ms() / 1000;
  if (rtc + config_.clock_skew_tolerance_s < floor) {
    m.clock_suspect = "RTC " + Iso8601(rtc) + " is behind the clock floor " + Iso8601(floor) +
                      " (last verified metadata or build time); using the floor";
  }
  return m;
}

// Transport and server errors are noted and retried at the next cycle; the cached reply stays.
Status AgentImpl::Checkin() {
  auto manifest = BuildManifest();
  if (!manifest.ok()) {
    Note("check-in: the manifest: " + manifest.status().message());
    return Status::Ok();
  }
  if (manifest->clock_suspect) Note("clock suspect: " + *manifest->clock_suspect);
  auto answer = transport_.Checkin(*manifest, reply_ ? etag_ : "");
  if (!answer.ok() || !answer->ok()) {
    Note("check-in failed: " + (answer.ok() ? answer->error.Describe() : answer.status().message()));
    const int64_t after =
        answer.ok() && answer->error.retry_after_s >= 0 ? answer->error.retry_after_s : config_.retry_initial_s;
    WakeIn(after * 1000);
    return Status::Ok();
  }
  checkin_last_seq_ = manifest->journal_last_seq;
  CheckinReply& r = *answer->value;
  if (r.not_modified && reply_) {
    if (r.poll_seconds > 0) reply_->poll_seconds = r.poll_seconds;
    return Status::Ok();
  }
  if (r.not_modified) {  // 304 without a reply we know: ask again without the ETag
    etag_.clear();
    return Checkin();
  }
  etag_ = r.etag;
  reply_ = std::move(r);
  FW_RETURN_IF_ERROR(SaveReply());
  // The highest action id seen, reported at every check-in: a server restored from an older backup keeps
  // its new ids above it (docs/fleet-protocol.md).
  int64_t seen = manifest->max_action_id.value_or(0);
  for (const Action& a : reply_->actions) seen = std::max(seen, a.id);
  for (int64_t id : reply_->cancels) seen = std::max(seen, id);
  if (seen > manifest->max_action_id.value_or(0)) FW_RETURN_IF_ERROR(store_.SetInt(kMaxActionIdKey, seen));
  return ForgetClosedActions();
}

// An action the server no longer lists (closed: timed out, cancelled before any event, failed by a
// verdict) is dropped here unless its trial is set (that one runs to its verdict).
Status AgentImpl::ForgetClosedActions() {
  FW_ASSIGN_OR_RETURN(auto local, store_.ActionsInProgress());
  for (auto& a : local) {
    if (a.step == step::kTrialSet || a.step == step::kRebooting) continue;
    const bool listed =
        std::any_of(reply_->actions.begin(), reply_->actions.end(), [&](const Action& s) { return s.id == a.id; }) ||
        std::find(reply_->cancels.begin(), reply_->cancels.end(), a.id) != reply_->cancels.end();
    if (listed) continue;
    Note("action " + std::to_string(a.id) + ": closed by the server; dropped at step " + a.step);
    a.step = step::kClosed;
    retry_at_ms_.erase(a.id);
    FW_RETURN_IF_ERROR(store_.PutAction(a));
  }
  return Status::Ok();
}

// Cancels are honoured until the trial is set: the action stops and `canceled` is reported.
Status AgentImpl::HandleCancels() {
  if (!reply_) return Status::Ok();
  for (int64_t id : reply_->cancels) {
    FW_ASSIGN_OR_RETURN(auto local, store_.GetAction(id));
    ActionRecord a;
    if (local) {
      a = *local;
    } else {
      a.id = id;
      a.kind = "install";
    }
    if (a.closed()) continue;
    if (a.step == step::kTrialSet || a.step == step::kRebooting) continue;  // runs to its verdict
    FW_RETURN_IF_ERROR(Emit(a, "canceled", step::kClosed));
    retry_at_ms_.erase(id);
  }
  return Status::Ok();
}

// The local record of a server action. A new one starts at attempt 1 (or one above the server's, when
// the server saw events this agent no longer remembers); one the server already saw past trial_set
// keeps the server's attempt and derives its step from the terminal (RecoverAction).
Result<ActionRecord> AgentImpl::Adopt(const Action& server) {
  FW_ASSIGN_OR_RETURN(auto local, store_.GetAction(server.id));
  if (local) {
    if (local->attempt == server.attempt && local->next_seq <= server.last_seq) {
      local->next_seq = server.last_seq + 1;  // never reuse a seq the server holds
      FW_RETURN_IF_ERROR(store_.PutAction(*local));
    }
    return *local;
  }
  ActionRecord a;
  a.id = server.id;
  a.kind = server.kind;
  a.target_name = server.target_name;
  a.type = server.type;
  a.window = server.window;
  a.backup_required = server.backup_required;
  const bool past_trial = server.state == "trial_set" || server.state == "rebooting" || server.state == "confirmed";
  if (past_trial) {
    a.attempt = server.attempt;
    a.next_seq = server.last_seq + 1;
    a.step = server.state == "trial_set" ? step::kTrialSet : step::kRebooting;
    a.target_version = server.target_version;
    FW_RETURN_IF_ERROR(store_.PutAction(a));
    Note("action " + std::to_string(a.id) + ": the server saw " + server.state + "; state taken from the terminal");
    FW_ASSIGN_OR_RETURN(install::StatusReport st, install::GetStatus(terminal_, OperatorName(), 0));
    FW_RETURN_IF_ERROR(RecoverAction(a, st));
    return a;
  }
  a.attempt =
      server.state == "pending" || server.attempt == 0 ? std::max<int64_t>(1, server.attempt) : server.attempt + 1;
  a.next_seq = 1;
  FW_RETURN_IF_ERROR(store_.PutAction(a));
  return a;
}

Status AgentImpl::Advance(ActionRecord& a) {
  while (!a.closed() && !Stopping()) {
    auto wait = retry_at_ms_.find(a.id);
    if (wait != retry_at_ms_.end() && wait->second > clock_.MonotonicMs()) {
      WakeIn(wait->second - clock_.MonotonicMs());
      return Status::Ok();
    }
    Result<StepResult> r = StepResult::kContinue;
    if (a.step == step::kNew) {
      FW_RETURN_IF_ERROR(Emit(a, "accepted", step::kAccepted));
    } else if (a.step == step::kAccepted) {
      r = a.kind == "journal_backup" ? BackupJournal(a, true) : Preflight(a);
    } else if (a.step == step::kDownloaded || a.step == step::kWaitingWindow) {
      r = AwaitWindowAndIdle(a, true);
      if (r.ok() && *r == StepResult::kContinue) r = BackupJournal(a, true);
    } else if (a.step == step::kBackupDone || a.step == step::kInstalling) {
      r = InstallTarget(a);
    } else if (a.step == step::kTrialSet) {
      FW_RETURN_IF_ERROR(Emit(a, "rebooting", step::kRebooting));
    } else if (a.step == step::kRebooting) {
      r = RebootTerminal(a);
    } else {
      return Internal("action " + std::to_string(a.id) + ": unknown step " + a.step);
    }
    if (!r.ok()) return r.status();
    if (*r != StepResult::kContinue) return Status::Ok();
  }
  return Status::Ok();
}

// Install::Recover under the terminal lock, then each action past its backup is settled from the boot
// state and the flash history: a booted trial is confirmed, a trial that is gone was reverted.
Status AgentImpl::Recover() {
  {
    auto lock =
        install::TerminalLock::Acquire(terminal_.data_dir, "agent recovery", terminal_.terminal_lock_timeout_ms);
    if (!lock.ok()) {
      Note("recovery postponed: " + lock.status().message());
      return Status::Ok();  // another writer: the next cycle tries again
    }
    FW_ASSIGN_OR_RETURN(auto notes, install::Recover(terminal_, *lock, OperatorName()));
    for (const auto& n : notes) Note("recovery: " + n);
  }
  FW_ASSIGN_OR_RETURN(install::StatusReport st, install::GetStatus(terminal_, OperatorName(), 0));
  FW_ASSIGN_OR_RETURN(auto actions, store_.ActionsInProgress());
  for (auto& a : actions) FW_RETURN_IF_ERROR(RecoverAction(a, st));
  recovered_ = true;
  return Status::Ok();
}

Status AgentImpl::RecoverAction(ActionRecord& a, const install::StatusReport& st) {
  const bool past_write = a.step == step::kInstalling || a.step == step::kTrialSet || a.step == step::kRebooting;
  if (!past_write) return Status::Ok();
  const uint8_t run = st.booted_slot != boot::kNoSlot ? st.booted_slot : st.active_slot;
  const install::SlotStatus& running = st.slots[run];
  const install::SlotStatus& other = st.slots[1 - run];
  const std::string id = "action " + std::to_string(a.id);
  if (running.state == "trial" && running.version == a.target_version) {
    if (a.step == step::kInstalling) FW_RETURN_IF_ERROR(Emit(a, "trial_set", step::kTrialSet));
    if (a.step == step::kTrialSet) FW_RETURN_IF_ERROR(Emit(a, "rebooting", step::kRebooting));
    return ConfirmTrial(a);
  }
  if (other.state == "trial" && other.version == a.target_version) {
    // The trial is set and the terminal has not been reset yet: go on from trial_set.
    if (a.step == step::kInstalling) FW_RETURN_IF_ERROR(Emit(a, "trial_set", step::kTrialSet));
    return Status::Ok();
  }
  if (running.state == "confirmed" && running.version == a.target_version) {
    // Confirmed before this agent could record it (a power cut right after the confirm).
    if (a.step == step::kInstalling) FW_RETURN_IF_ERROR(Emit(a, "trial_set", step::kTrialSet));
    return Emit(a, "confirmed", step::kClosed);
  }
  if (a.step == step::kInstalling) {
    // The install did not reach its trial (interrupted): the flash history says so; try again.
    Note(id + ": the install was interrupted before its trial was set; it will run again");
    a.step = step::kBackupDone;
    a.transient_failures += 1;
    return store_.PutAction(a);
  }
  Event e;
  e.stage = "boot";
  e.exit_code = 5;
  e.error_kind = "failed precondition";
  e.detail = "the bootloader reverted the trial of " + a.target_version + ": running " + running.version + " in slot " +
             running.name;
  return Emit(a, "failed", step::kClosed, e);
}

Result<CycleReport> AgentImpl::RunOnce() {
  CycleReport report;
  report_ = &report;
  struct Reset {
    CycleReport*& r;
    ~Reset() { r = nullptr; }
  } reset{report_};
  if (!recovered_) FW_RETURN_IF_ERROR(Recover());
  FW_RETURN_IF_ERROR(FlushOutbox());
  if (!Stopping()) RenewIfDue();
  if (!Stopping()) FW_RETURN_IF_ERROR(Checkin());
  if (!Stopping()) FW_RETURN_IF_ERROR(HandleCancels());
  if (reply_ && reply_->device_state == "active") {
    for (const Action& server : reply_->actions) {
      if (Stopping() || report.rebooted) break;
      if (server.kind != "install" && server.kind != "rollback" && server.kind != "journal_backup") {
        Note("action " + std::to_string(server.id) + ": unknown kind " + server.kind + "; left alone");
        continue;
      }
      FW_ASSIGN_OR_RETURN(ActionRecord a, Adopt(server));
      FW_RETURN_IF_ERROR(Advance(a));
    }
  }
  // A trial runs to its verdict whatever the server lists (a check-in that failed, a late cancel).
  FW_ASSIGN_OR_RETURN(auto local, store_.ActionsInProgress());
  for (auto& a : local) {
    if (Stopping() || report.rebooted) break;
    if (a.step == step::kTrialSet || a.step == step::kRebooting) FW_RETURN_IF_ERROR(Advance(a));
  }
  const int64_t poll = reply_ && reply_->poll_seconds > 0 ? reply_->poll_seconds : config_.default_poll_s;
  WakeIn(poll * 1000);
  report.stop_requested = Stopping();
  return report;
}

}  // namespace fw::agent
