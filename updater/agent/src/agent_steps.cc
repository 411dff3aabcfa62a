// The steps of one action: pre-flight, window and idle, journal backup, install, reboot, confirm
// (docs/agent.md "State machine").
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent_impl.h"
#include "fw/agent/journal_upload.h"
#include "fw/bundle_reader.h"
#include "fw/cli.h"
#include "fw/file_io.h"
#include "fw/image.h"
#include "fw/net_sources.h"
#include "fw/tuf_updater.h"

namespace fw::agent {

namespace {

constexpr const char* kVerifiedSeqKey = "journal_verified_seq";
constexpr const char* kVerifiedHeadKey = "journal_verified_head";
constexpr const char* kEpochKey = "journal_epoch";
constexpr const char* kReceiptKey = "journal_receipt";  // the last segment reply's receipt (JSON)

std::string KindText(const Status& s) { return std::string(ErrorCodeName(s.code())); }

// Taps the installer's progress: remembers the stage (for classifying a failure) and turns the write
// stage's byte counts into `installing` events, at most one per 10 % or 30 s.
class InstallTap final : public Progress {
 public:
  using EmitFn = std::function<void(uint64_t done, uint64_t total)>;
  InstallTap(Progress* next, Clock& clock, EmitFn emit) : next_(next), clock_(clock), emit_(std::move(emit)) {}
  void BeginStage(std::string_view stage, std::string_view description, uint64_t total) override {
    stage_ = std::string(stage);
    total_ = total;
    if (next_) next_->BeginStage(stage, description, total);
  }
  void Update(uint64_t done) override {
    if (stage_ == "write" && total_ > 0) {
      const uint64_t decile = done * 10 / total_;
      const int64_t now = clock_.MonotonicMs();
      if (decile > last_decile_ || now - last_ms_ >= 30'000) {
        last_decile_ = decile;
        last_ms_ = now;
        emit_(done, total_);
      }
    }
    if (next_) next_->Update(done);
  }
  void EndStage() override {
    if (next_) next_->EndStage();
  }
  void Note(std::string_view text) override {
    if (next_) next_->Note(text);
  }
  const std::string& stage() const { return stage_; }

 private:
  Progress* next_;
  Clock& clock_;
  EmitFn emit_;
  std::string stage_;
  uint64_t total_ = 0;
  uint64_t last_decile_ = 0;
  int64_t last_ms_ = 0;
};

// A refusal of the pre-flight (the action is not something this terminal will install): hostile or
// refused input (exit 3), a state refusal of ours (5), or a target TUF does not list.
bool IsRefusal(const Status& s) {
  const int code = cli::ExitCodeFor(s);
  return code == 3 || code == 5;
}

}  // namespace

Result<uint32_t> AgentImpl::DeviceRootVersion() {
  const std::string path = terminal_.TufDir() + "/root.json";
  FW_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 1 << 20));
  try {
    return nlohmann::json::parse(text).at("signed").at("version").get<uint32_t>();
  } catch (const std::exception& e) {
    return Corrupt("trusted root " + path + ": " + e.what());
  }
}

Result<std::string> AgentImpl::RepositoryBase() {
  if (!reply_ || reply_->repository.empty()) return FailedPrecondition("the server named no repository");
  FW_ASSIGN_OR_RETURN(std::string base, transport_.ResolveRepository(reply_->repository));
  if (base.empty() || base.back() != '/') base += '/';
  return base;
}

Result<std::unique_ptr<bundle::BundleSource>> AgentImpl::OpenTarget(const std::string& target_name) {
  FW_ASSIGN_OR_RETURN(std::string base, RepositoryBase());
  bundle::TargetStreamSpec spec;
  spec.metadata_dir = TufDir();
  FW_ASSIGN_OR_RETURN(spec.device_root_version, DeviceRootVersion());
  spec.target_path = target_name;
  spec.target_base_url = base + "targets/";
  spec.open = [this](const std::string& url) { return transport_.OpenStream(url); };
  return bundle::OpenTargetStream(spec);
}

namespace {

// Remembers that the network source failed, so an install that failed because the network did is a
// download failure (transient: retried from the backup) and not the plan's (docs/agent.md,
// "Classification"). The reader reports a source's error as it is and reads no further.
class WatchedSource final : public bundle::BundleSource {
 public:
  WatchedSource(std::unique_ptr<bundle::BundleSource> inner, bool* failed)
      : inner_(std::move(inner)), failed_(failed) {}
  Result<size_t> Read(std::span<uint8_t> buf) override { return Watch(inner_->Read(buf)); }
  const std::string& Name() const override { return inner_->Name(); }
  std::optional<uint64_t> Size() const override { return inner_->Size(); }
  Result<bool> PeekAt(uint64_t offset, std::span<uint8_t> buf) override { return Watch(inner_->PeekAt(offset, buf)); }

 private:
  template <class T>
  Result<T> Watch(Result<T> r) {
    if (!r.ok()) *failed_ = true;
    return r;
  }
  std::unique_ptr<bundle::BundleSource> inner_;
  bool* failed_;
};

}  // namespace

Result<StepResult> AgentImpl::Reject(ActionRecord& a, const Status& why) {
  Event e;
  e.stage = "download";
  e.exit_code = cli::ExitCodeFor(why);
  e.error_kind = KindText(why);
  e.detail = why.message();
  retry_at_ms_.erase(a.id);
  FW_RETURN_IF_ERROR(Emit(a, "rejected", step::kClosed, e));
  return StepResult::kDone;
}

// Transient: retried later from the same step (same attempt), until max_transient_attempts; then, and
// for a permanent error, `failed` with the stage, fwupdate's exit code and the error kind.
Result<StepResult> AgentImpl::Fail(ActionRecord& a, const std::string& stage, const Status& error) {
  const int code = cli::ExitCodeFor(error);
  const std::string kind = KindText(error);
  a.last_error = stage + ": " + error.message();
  if (Classify(stage, code, kind) == Disposition::kTransient) {
    a.transient_failures += 1;
    if (a.transient_failures < config_.max_transient_attempts) {
      FW_RETURN_IF_ERROR(store_.PutAction(a));
      const int64_t wait = Backoff(a.transient_failures);
      retry_at_ms_[a.id] = clock_.MonotonicMs() + wait;
      WakeIn(wait);
      Note("action " + std::to_string(a.id) + ": " + a.last_error + " (retry " + std::to_string(a.transient_failures) +
           " in " + std::to_string(wait / 1000) + " s)");
      return StepResult::kWait;
    }
    Event e;
    e.stage = "deadline";
    e.exit_code = 6;
    e.error_kind = kind;
    e.detail = "gave up after " + std::to_string(a.transient_failures) + " transient failures; last: " + a.last_error;
    FW_RETURN_IF_ERROR(Emit(a, "failed", step::kClosed, e));
    return StepResult::kDone;
  }
  Event e;
  e.stage = stage;
  e.exit_code = code;
  e.error_kind = kind;
  e.detail = error.message();
  FW_RETURN_IF_ERROR(Emit(a, "failed", step::kClosed, e));
  retry_at_ms_.erase(a.id);
  return StepResult::kDone;
}

// "Download" = pre-flight (docs/agent.md): TUF refresh into STATE_DIR/tuf, the target resolved, its
// chunk index fetched and checked, and the bundle head read through the reader against the device's own
// trust (metadata, hardware id, security counter, image header, first chunk), then the version rules.
// download-only also reads the whole image once, every chunk verified.
Result<StepResult> AgentImpl::Preflight(ActionRecord& a) {
  FW_ASSIGN_OR_RETURN(const std::string root, ReadFileToString(terminal_.TufDir() + "/root.json", 1 << 20));
  std::error_code ec;
  if (!std::filesystem::exists(TufDir() + "/root.json", ec)) FW_RETURN_IF_ERROR(tuf::Updater::Init(TufDir(), root));
  auto base = RepositoryBase();
  if (!base.ok()) return Fail(a, "download", base.status());
  tuf::UpdaterConfig uc;
  uc.metadata_dir = TufDir();
  uc.metadata_base_url = *base + "metadata/";
  uc.target_base_url = *base + "targets/";
  tuf::Updater updater(uc, transport_.RepositoryFetcher(), floor_);
  if (Status s = updater.Refresh(); !s.ok()) {
    if (IsRefusal(s)) return Reject(a, s.WithContext("TUF refresh"));
    return Fail(a, "download", s.WithContext("TUF refresh"));
  }
  // Metadata verified now: the floor moves up to the time it was verified at (decision 8).
  floor_.SetFloorMs(floor_.WallMs());
  FW_RETURN_IF_ERROR(store_.SetInt("clock_floor_ms", floor_.floor_ms()));
  auto match = updater.GetTargetInfo(a.target_name);
  if (!match.ok()) {
    if (match.status().code() == ErrorCode::kNotFound || IsRefusal(match.status())) {
      return Reject(a, match.status().WithContext("target " + a.target_name + " is not signed"));
    }
    return Fail(a, "download", match.status());
  }
  auto verdict = [&](const Status& s) -> Result<StepResult> {
    if (IsRefusal(s)) return Reject(a, s);
    return Fail(a, "download", s);
  };
  FW_ASSIGN_OR_RETURN(install::StatusReport st, install::GetStatus(terminal_, OperatorName(), 0));
  auto source = OpenTarget(a.target_name);
  if (!source.ok()) return verdict(source.status());
  bundle::ReaderOptions ro;
  ro.metadata_dir = terminal_.TufDir();
  ro.policy.hardware_id = terminal_.hardware_id;
  ro.policy.installed_security_counter = st.min_security_counter;
  ro.clock = &floor_;
  auto reader = bundle::BundleReader::Open(**source, ro);
  if (!reader.ok()) return verdict(reader.status());
  auto head = (*reader)->ReadHead();
  if (!head.ok()) return verdict(head.status());
  const tuf::FirmwareFacts& facts = head->bundle.facts;
  auto to = SemVer::Parse(facts.version);
  if (!to.ok()) return verdict(Corrupt("target " + a.target_name + ": signed version: " + to.status().message()));
  const uint8_t run = st.booted_slot != boot::kNoSlot ? st.booted_slot : st.active_slot;
  auto from = SemVer::Parse(st.slots[run].version);
  if (from.ok() && a.kind == "install" && *to < *from) {
    return verdict(FailedPrecondition("target " + a.target_name + " holds version " + facts.version +
                                      ", older than the running " + st.slots[run].version + " (a downgrade)"));
  }
  if (from.ok() && *to == *from && st.slots[run].state == "confirmed") {
    return verdict(FailedPrecondition("version " + facts.version + " is already running, confirmed"));
  }
  a.target_version = facts.version;
  Event e;
  if (a.type == "download-only") {
    e.total = static_cast<int64_t>(head->bundle.target.length);
    auto read = (*reader)->ReadImage([](uint64_t, ByteSpan) { return Status::Ok(); });
    if (!read.ok()) return verdict(read.status());
    e.bytes = e.total;
    FW_RETURN_IF_ERROR(Emit(a, "downloaded", step::kClosed, e));
    return StepResult::kDone;
  }
  FW_RETURN_IF_ERROR(Emit(a, "downloaded", step::kDownloaded, e));
  return StepResult::kContinue;
}

// The action's window (terminal local time, config time zone) and no open payment (Commands::IsIdle).
// `emit`: report waiting_window (only before backup_done: the server's states only move forward).
Result<StepResult> AgentImpl::AwaitWindowAndIdle(ActionRecord& a, bool emit) {
  if (a.window) {
    auto w = ParseWindow(*a.window);
    if (!w.ok()) return Fail(a, "plan", w.status());
    auto wait = SecondsUntilWindow(*w, floor_.WallSeconds(), config_.time_zone);
    if (!wait.ok()) return Fail(a, "plan", wait.status());
    if (*wait > 0) {
      if (emit && a.step != step::kWaitingWindow) FW_RETURN_IF_ERROR(Emit(a, "waiting_window", step::kWaitingWindow));
      WakeIn(*wait * 1000);
      return StepResult::kWait;
    }
  }
  auto idle = commands_.IsIdle();
  if (!idle.ok() || !*idle) {
    Note("action " + std::to_string(a.id) + ": the terminal is busy (" +
         (idle.ok() ? std::string("a payment is open") : idle.status().message()) + "); asking again later");
    WakeIn(config_.idle_poll_s * 1000);
    return StepResult::kWait;
  }
  return StepResult::kContinue;
}

// Uploads the journal records the server does not hold yet (from the check-in's journal_upload, or
// after what it verified), until its verified_seq reaches the head read now. `backed_up` = that head.
Result<StepResult> AgentImpl::UploadJournal(ActionRecord& a, JournalHead* backed_up) {
  auto head = ReadJournalHead(terminal_.journal_path, terminal_.lock_timeout_ms);
  if (!head.ok()) return Fail(a, "backup", head.status());
  FW_ASSIGN_OR_RETURN(int64_t verified, store_.GetInt(kVerifiedSeqKey, 0));
  FW_ASSIGN_OR_RETURN(int64_t epoch, store_.GetInt(kEpochKey, 1));
  const auto& ju = reply_ ? reply_->journal_upload : std::nullopt;
  if (ju) {
    if (ju->epoch != epoch) {
      // The server started over (a new witness epoch): what it verified before counts no more.
      Note("journal: the server started witness epoch " + std::to_string(ju->epoch) + "; uploading from seq " +
           std::to_string(ju->from_seq));
      verified = 0;
      FW_RETURN_IF_ERROR(store_.SetInt(kVerifiedSeqKey, 0));
    }
    epoch = ju->epoch;
    FW_RETURN_IF_ERROR(store_.SetInt(kEpochKey, epoch));
  }
  // What the server holds: below its upload request, or all we reported when it asked for nothing.
  const int64_t server_has = ju ? ju->from_seq - 1 : checkin_last_seq_;
  verified = std::max(verified, server_has);
  if (verified < head->last_seq) {
    auto segments = BuildJournalSegments(terminal_.journal_path, verified + 1, head->last_seq, epoch);
    if (!segments.ok()) return Fail(a, "backup", segments.status());
    for (const std::string& segment : *segments) {
      auto answer = transport_.UploadSegment(segment);
      if (!answer.ok()) return Fail(a, "backup", answer.status());
      if (!answer->ok()) {
        const ServerError& e = answer->error;
        // card_data: a record the server must not hold (never goes away); bad_segment: our bug; the
        // rest (conflict: the next check-in says what to send; 5xx) goes away.
        const Status s = e.code == "card_data"     ? VerificationFailed("journal upload: " + e.Describe())
                         : e.code == "bad_segment" ? Internal("journal upload: " + e.Describe())
                                                   : IoError("journal upload: " + e.Describe());
        etag_.clear();  // a full check-in next time
        // A conflict: the server holds less than this agent thinks (e.g. its database was restored from
        // an older backup): the next check-in's upload request is the truth, not the local mark.
        if (e.code == "journal_conflict") FW_RETURN_IF_ERROR(store_.SetInt(kVerifiedSeqKey, 0));
        return Fail(a, "backup", s);
      }
      verified = std::max(verified, answer->value->verified_seq);
      if (const auto& r = answer->value->receipt) {
        FW_RETURN_IF_ERROR(
            store_.Set(kReceiptKey, nlohmann::json{{"epoch", r->epoch}, {"seq", r->seq}, {"mac", r->mac}}.dump()));
      }
    }
  }
  if (verified < head->last_seq) {
    return Fail(a, "backup",
                IoError("journal upload: the server verified records up to " + std::to_string(verified) + " of " +
                        std::to_string(head->last_seq)));
  }
  FW_RETURN_IF_ERROR(store_.SetInt(kVerifiedSeqKey, verified));
  FW_RETURN_IF_ERROR(store_.Set(kVerifiedHeadKey, head->head));
  *backed_up = *head;
  return StepResult::kContinue;
}

// The receipt the server gave with the last accepted segment (none before the first, or from older servers).
Result<std::optional<WitnessReceipt>> AgentImpl::LoadReceipt() {
  FW_ASSIGN_OR_RETURN(auto text, store_.Get(kReceiptKey));
  if (!text) return std::optional<WitnessReceipt>();
  const auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("epoch") || !j["epoch"].is_number_integer() || !j.contains("seq") ||
      !j["seq"].is_number_integer() || !j.contains("mac") || !j["mac"].is_string()) {
    return std::optional<WitnessReceipt>();  // only a hint to the server: a damaged copy is dropped
  }
  return std::optional<WitnessReceipt>(
      WitnessReceipt{j["epoch"].get<int64_t>(), j["seq"].get<int64_t>(), j["mac"].get<std::string>()});
}

// The journal backup before every install (and the whole of a journal_backup action): upload, then
// `backup_done` {"last_seq","head"}. Skipped only when the action says backup_required=false.
Result<StepResult> AgentImpl::BackupJournal(ActionRecord& a, bool emit) {
  if (!a.backup_required && a.kind != "journal_backup") {
    if (emit) {
      a.step = step::kBackupDone;
      FW_RETURN_IF_ERROR(store_.PutAction(a));
      Note("action " + std::to_string(a.id) + ": journal backup waived by the action (backup_required=false)");
    }
    return StepResult::kContinue;
  }
  JournalHead head;
  FW_ASSIGN_OR_RETURN(StepResult r, UploadJournal(a, &head));
  if (r != StepResult::kContinue || !emit) return r;
  Event e;
  e.detail = nlohmann::json{{"last_seq", head.last_seq}, {"head", head.head}}.dump();
  FW_RETURN_IF_ERROR(Emit(a, "backup_done", a.kind == "journal_backup" ? step::kClosed : step::kBackupDone, e));
  a.transient_failures = 0;
  FW_RETURN_IF_ERROR(store_.PutAction(a));
  return a.closed() ? StepResult::kDone : StepResult::kContinue;
}

// The install: only after the server acknowledged backup_done (the outbox holds nothing of this action),
// streaming the target into the inactive bank through install::Install's full plan.
Result<StepResult> AgentImpl::InstallTarget(ActionRecord& a) {
  const std::string id = "action " + std::to_string(a.id);
  if (a.transient_failures > 0) {
    // A retry: inside the window, idle, and the journal backed up again (records written since).
    FW_ASSIGN_OR_RETURN(StepResult w, AwaitWindowAndIdle(a, false));
    if (w != StepResult::kContinue) return w;
    FW_ASSIGN_OR_RETURN(StepResult b, BackupJournal(a, false));
    if (b != StepResult::kContinue) return b;
  }
  FW_RETURN_IF_ERROR(FlushOutbox());
  FW_ASSIGN_OR_RETURN(int64_t unsent, store_.OutboxCount(a.id));
  if (a.backup_required && unsent > 0) {
    Note(id + ": waiting for the server to acknowledge the journal backup before writing");
    WakeIn(config_.retry_initial_s * 1000);
    return StepResult::kWait;
  }
  FW_RETURN_IF_ERROR(Emit(a, "installing", step::kInstalling));
  Status tap_error = Status::Ok();
  InstallTap tap(config_.progress, clock_, [&](uint64_t done, uint64_t total) {
    Event e;
    e.state = "installing";
    e.bytes = static_cast<int64_t>(done);
    e.total = static_cast<int64_t>(total);
    auto r = store_.Emit(a, e, step::kInstalling);
    if (!r.ok() && tap_error.ok()) tap_error = r.status();
  });
  install::InstallOptions o;
  const std::string target = a.target_name;
  bool source_failed = false;
  o.open_bundle = [this, target, &source_failed]() -> Result<std::unique_ptr<bundle::BundleSource>> {
    auto source = OpenTarget(target);
    if (!source.ok()) {
      source_failed = true;
      return source.status();
    }
    return std::unique_ptr<bundle::BundleSource>(std::make_unique<WatchedSource>(std::move(*source), &source_failed));
  };
  o.operator_name = OperatorName();
  o.tries = config_.tries;
  o.allow_downgrade = a.kind == "rollback";
  o.progress = &tap;
  o.clock = &floor_;
  auto result = install::Install(terminal_, o);
  FW_RETURN_IF_ERROR(tap_error);
  FW_RETURN_IF_ERROR(FlushOutbox());
  if (!result.ok()) {
    // Nothing confirmed was touched; the target bank is unbootable. Retry from the backup.
    // The network source failed (after HttpStream's own retries): a download failure, whatever stage the
    // installer was in; a chunk that stayed corrupt is kVerificationFailed there → exit 3 → `verify`.
    const std::string stage = source_failed ? "download" : tap.stage().empty() ? "lock" : tap.stage();
    a.step = step::kBackupDone;
    return Fail(a, stage, result.status());
  }
  Note(id + ": installed " + result->to_version + " into slot " + std::string(1, "AB"[result->target_slot]) +
       " (trial, " + std::to_string(result->tries) + " tries)");
  FW_RETURN_IF_ERROR(Emit(a, "trial_set", step::kTrialSet));
  return StepResult::kContinue;
}

// Commands::Reboot() returning means the (simulated) terminal was reset: recover as a fresh start.
Result<StepResult> AgentImpl::RebootTerminal(ActionRecord& a) {
  FW_RETURN_IF_ERROR(FlushOutbox());
  Status s = commands_.Reboot();
  if (!s.ok()) {
    Note("action " + std::to_string(a.id) + ": reboot failed: " + s.message() + "; trying again later");
    WakeIn(config_.retry_initial_s * 1000);
    return StepResult::kWait;
  }
  if (report_) report_->rebooted = true;
  recovered_ = false;
  FW_RETURN_IF_ERROR(Recover());
  return StepResult::kDone;
}

// On the trial: install::Confirm with Commands::Health. confirmed → `confirmed` (never before);
// unhealthy or journal records lost → `failed{health|journal_check}` (Confirm reverted the trial and
// kept every record), then a reset into the confirmed firmware.
Status AgentImpl::ConfirmTrial(ActionRecord& a) {
  Status health = Status::Ok();
  bool health_ran = false;
  install::ConfirmOptions o = config_.confirm_template;
  o.health_check = [&]() {
    health_ran = true;
    health = commands_.Health();
    return health;
  };
  o.health_timeout_s = config_.health_timeout_s;
  o.progress = config_.progress;
  auto r = install::Confirm(terminal_, o);
  Event e;
  if (!r.ok()) {
    e.exit_code = cli::ExitCodeFor(r.status());
    e.error_kind = KindText(r.status());
    if (Classify("confirm", *e.exit_code, e.error_kind) == Disposition::kTransient) {
      Note("action " + std::to_string(a.id) + ": confirm postponed: " + r.status().message());
      recovered_ = false;  // the next cycle recovers (and confirms) again
      WakeIn(config_.retry_initial_s * 1000);
      return Status::Ok();
    }
    e.stage = "confirm";
    e.detail = r.status().message();
    return Emit(a, "failed", step::kClosed, e);
  }
  if (r->confirmed) return Emit(a, "confirmed", step::kClosed);
  e.stage = health_ran && !health.ok() ? "health" : "journal_check";
  e.exit_code = 1;  // fwupdate confirm's "negative result": not healthy, trial reverted
  e.detail = "trial " + r->version + " reverted: " + r->reason;
  FW_RETURN_IF_ERROR(Emit(a, "failed", step::kClosed, e));
  if (Status s = commands_.Reboot(); !s.ok()) {
    Note("reset into the confirmed firmware failed: " + s.message());
  } else if (report_) {
    report_->rebooted = true;
    recovered_ = false;
  }
  return Status::Ok();
}

}  // namespace fw::agent
