#include "fw/install/installer.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <system_error>
#include <thread>

#include "fw/boot/bank_writer.h"
#include "fw/boot/device.h"
#include "fw/bundle_reader.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/image.h"
#include "fw/image_format.h"
#include "fw/journal/journal.h"
#include "fw/journal/snapshot.h"
#include "fw/tuf_trusted_set.h"
#include "fw/tuf_updater.h"
#include "installer_common.h"
#include "plan.h"
#include "read_behind.h"
#include "slot_firmware.h"

namespace fw::install {

namespace fs = std::filesystem;

std::string VersionText(const boot::SlotVersion& v) { return SemVer{v.major, v.minor, v.patch, v.build}.ToString(); }

std::string SlotText(uint8_t slot) { return std::string(1, boot::SlotLetter(slot)); }

Result<BootState> ReadBootState(Terminal& t) { return t.boot->ReadState().WithContext("reading boot control"); }

// For writers, under the terminal lock: opening an existing history writes nothing.
Result<history::FlashHistory> OpenHistory(Terminal& t, const TerminalLock& lock) {
  (void)lock;  // proof that the caller is the one writer
  std::error_code ec;
  if (!fs::is_directory(t.data_dir, ec)) {
    return FailedPrecondition("data directory " + t.data_dir +
                              " does not exist; run 'fwupdate init' to set up the updater's data area");
  }
  return history::FlashHistory::Open(t.HistoryPath());
}

// For readers: creates nothing, writes nothing.
Result<history::FlashHistory> OpenHistoryReadOnly(Terminal& t) {
  std::error_code ec;
  if (!fs::is_directory(t.data_dir, ec)) {
    return FailedPrecondition("data directory " + t.data_dir +
                              " does not exist; run 'fwupdate init' to set up the updater's data area");
  }
  return history::FlashHistory::OpenReadOnly(t.HistoryPath());
}

Result<TerminalLock> LockTerminal(Terminal& t, const std::string& operation) {
  return TerminalLock::Acquire(t.data_dir, operation, t.terminal_lock_timeout_ms);
}

namespace {

// Persists the metadata a bundle brought, once the install is committed.
Status PersistTufMetadata(const Terminal& t, const bundle::VerifiedBundle& vb) {
  const std::string dir = t.TufDir();
  if (!vb.new_roots.empty()) FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/root.json", vb.new_roots.back()));
  if (!vb.timestamp.empty()) FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/timestamp.json", vb.timestamp));
  if (!vb.snapshot.empty()) FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/snapshot.json", vb.snapshot));
  if (!vb.targets.empty()) FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/targets.json", vb.targets));
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------- OpenedTerminal

OpenedTerminal::~OpenedTerminal() = default;

Result<std::unique_ptr<OpenedTerminal>> OpenedTerminal::Open(const std::string& layout_path,
                                                             const std::optional<std::string>& journal_path) {
  FW_ASSIGN_OR_RETURN(auto device, boot::Device::Open(layout_path));
  if (device->layout().data_dir.empty()) {
    return InvalidArgument("layout " + layout_path +
                           " has no \"data_dir\": the updater needs the directory where the data partition is mounted");
  }
  std::unique_ptr<OpenedTerminal> o(new OpenedTerminal());
  o->device_ = std::move(device);
  Terminal& t = o->terminal_;
  t.boot = &o->device_->backend();
  t.boot_keys = &o->device_->boot_keys();
  t.banks[0] = &o->device_->region(boot::RegionId::kBankA);
  t.banks[1] = &o->device_->region(boot::RegionId::kBankB);
  t.hardware_id = o->device_->trust().hardware_id;
  t.data_dir = o->device_->layout().data_dir;
  t.journal_path = journal_path.value_or(t.data_dir + "/journal.db");
  return o;
}

Status InitDataArea(Terminal& t, const std::string& tuf_root_path) {
  std::error_code ec;
  fs::create_directories(t.data_dir, ec);
  if (ec) return IoError("cannot create data directory " + t.data_dir + ": " + ec.message());
  FW_ASSIGN_OR_RETURN(TerminalLock lock, LockTerminal(t, "init"));
  FW_ASSIGN_OR_RETURN(std::string root, ReadFileToString(tuf_root_path, 1 << 20));
  const std::string stored_path = t.TufDir() + "/root.json";
  bool replacing_unusable = false;
  if (fs::exists(stored_path, ec)) {
    // A stored root that verifies against itself advances only through signed updates. One that
    // does not (stored by an older version that did not check) wedges the terminal: every install
    // fails against it, so it may be replaced — by a root that verifies (Updater::Init checks).
    auto stored = ReadFileToString(stored_path, 1 << 20);
    if (stored.ok() && tuf::TrustedSet::Create(*stored, 0).ok()) {
      return FailedPrecondition("the data area already trusts a TUF root (" + stored_path +
                                "); it advances only through signed updates");
    }
    replacing_unusable = true;
  }
  FW_RETURN_IF_ERROR(tuf::Updater::Init(t.TufDir(), root).WithContext("TUF root " + tuf_root_path));
  if (replacing_unusable) {
    // Metadata stored beside the unusable root was never verified against a usable one.
    for (const char* role : {"timestamp.json", "snapshot.json", "targets.json"})
      fs::remove(t.TufDir() + "/" + role, ec);
  }
  FW_ASSIGN_OR_RETURN(auto h, OpenHistory(t, lock));
  (void)h;
  // The snapshot store exists from the start, so that planning an install creates nothing.
  fs::create_directories(t.SnapshotDir(), ec);
  if (ec) return IoError("cannot create the snapshot store " + t.SnapshotDir() + ": " + ec.message());
  return Status::Ok();
}

// ---------------------------------------------------------------- install

namespace {

// The core's whole-bank read-back (boot::ProveBank) on its own thread, with its own
// scratch buffer and hash engine, reading the bank through `bank` behind the
// writer. Finish() waits for it; destroying it unfinished aborts the reads.
class ReadBack {
 public:
  static Result<std::unique_ptr<ReadBack>> Start(const Terminal& t, uint8_t slot, ReadBehindBank& bank) {
    if (t.boot_keys == nullptr) return Internal("the terminal has no boot keys for the read-back");
    std::unique_ptr<ReadBack> r(new ReadBack(t, slot, bank));
    try {
      r->thread_ = std::thread([p = r.get()] { p->check_ = boot::ProveBank(p->env_, p->slot_, &p->proof_); });
    } catch (const std::system_error& e) {
      return Internal(std::string("cannot start the read-back thread: ") + e.what());
    }
    return r;
  }
  ReadBack(const ReadBack&) = delete;
  ReadBack& operator=(const ReadBack&) = delete;
  ~ReadBack() {
    if (thread_.joinable()) {
      bank_.Abort();
      thread_.join();
    }
  }

  // Waits for the read-back; every byte of the bank must have been published.
  boot::BankCheck Finish(boot::BankProof* proof) {
    thread_.join();
    *proof = proof_;
    return check_;
  }

 private:
  ReadBack(const Terminal& t, uint8_t slot, ReadBehindBank& bank)
      : bank_(bank), slot_(slot), hardware_id_(t.hardware_id), scratch_(boot::kVerifyBufferSize) {
    env_.bank = &bank_;
    env_.hash = &hash_;
    env_.keys = t.boot_keys;
    env_.hardware_id = hardware_id_.c_str();
    env_.scratch = scratch_.data();
    env_.scratch_size = scratch_.size();
  }

  ReadBehindBank& bank_;
  uint8_t slot_;
  std::string hardware_id_;
  boot::HostHash hash_;
  std::vector<uint8_t> scratch_;
  boot::BankEnv env_;
  boot::BankProof proof_;
  boot::BankCheck check_;
  std::thread thread_;
};

boot::OpResult VerifyFailed(const boot::BankCheck& c) {
  boot::OpResult r;
  const bool power_lost = c.code == boot::BankError::kFlash && c.flash == boot::FlashError::kPowerLost;
  r.code = power_lost ? boot::OpError::kFlash : boot::OpError::kVerifyFailed;
  r.flash = power_lost ? c.flash : boot::FlashError::kOk;
  r.bank = c;
  return r;
}

// The plan as a progress stage; a refusal says "install refused".
Result<Plan> PlanStage(Terminal& t, const InstallOptions& o, Progress& progress) {
  progress.BeginStage("plan", "Checking the bundle, the device and the journal", 0);
  FW_ASSIGN_OR_RETURN(Plan plan, MakePlan(t, o).WithContext("install refused"));
  progress.EndStage();
  return plan;
}

// The flash history, after recovery (the writer's first writes), each finding noted.
Result<history::FlashHistory> OpenHistoryAndRecover(Terminal& t, const TerminalLock& lock, Progress& progress) {
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  FW_ASSIGN_OR_RETURN(auto notes, RecoverWith(t, history));
  for (const auto& n : notes) progress.Note(n);
  return history;
}

// The row an install records before it writes (invariant 10).
history::Intent InstallIntent(const InstallOptions& o, const Plan& plan) {
  history::Intent intent;
  intent.operation = "install";
  intent.operator_name = o.operator_name;
  intent.bundle = plan.source->Name();
  intent.image_sha256 = plan.image_sha256;
  intent.from_version = plan.from_version;
  intent.to_version = plan.to_version.ToString();
  intent.target_slot = SlotText(plan.target);
  return intent;
}

// The verified journal snapshot taken before the bank is touched (invariant 4), recorded
// in the install's history row `id` (a failure too).
Result<journal::SnapshotInfo> SnapshotJournal(Terminal& t, const InstallOptions& o, const Plan& plan,
                                              history::FlashHistory& history, int64_t id, Progress& progress) {
  progress.BeginStage("snapshot", "Snapshotting the transaction journal", 0);
  FW_RETURN_IF_ERROR(history.SetStage(id, "snapshot"));
  journal::SnapshotStore store(t.SnapshotDir());
  journal::SnapshotOptions so;
  so.firmware_version = plan.from_version;
  so.lock_timeout_ms = t.lock_timeout_ms;
  so.vfs = t.sqlite_vfs;
  so.host_dir = o.host_snapshot_dir;
  so.keep = o.snapshot_keep;
  auto snap = store.Take(t.journal_path, so);
  if (!snap.ok()) {
    Status s = snap.status().WithContext("install: journal snapshot failed, nothing was flashed");
    history.RecordOutcome(id, history::Outcome::kFailed, s.message()).IgnoreError();
    return s;
  }
  FW_RETURN_IF_ERROR(history.SetSnapshot(id, snap->name));
  progress.Note("Journal snapshot " + snap->name + ": " + std::to_string(snap->descriptor.record_count) +
                " records, chain head " + HexEncode(snap->descriptor.chain_head).substr(0, 16) + "…");
  progress.EndStage();
  return snap;
}

// The rest of the planned bundle's stream: each verified chunk into the bank.
Result<bundle::VerifiedBundle> WriteImage(const InstallOptions& o, Plan& plan, boot::BankWriter& writer,
                                          Progress& progress) {
  return plan.reader->ReadImage([&](uint64_t offset, ByteSpan chunk) {
    FW_RETURN_IF_ERROR(writer.Append(offset, chunk));
    progress.Update(offset + chunk.size());
    if (o.write_delay_ms > 0) o.clock->SleepMs(o.write_delay_ms);
    return Status::Ok();
  });
}

InstallResult Summary(int64_t id, const InstallOptions& o, const Plan& plan, const journal::SnapshotInfo& snap) {
  InstallResult res;
  res.history_id = id;
  res.target_slot = plan.target;
  res.from_version = plan.from_version;
  res.to_version = plan.to_version.ToString();
  res.security_counter = plan.bundle.facts.security_counter;
  res.image_size = plan.bundle.target.length;
  res.snapshot_name = snap.name;
  res.snapshot_records = snap.descriptor.record_count;
  res.tries = o.tries;
  return res;
}

}  // namespace

Result<InstallResult> Install(Terminal& t, const InstallOptions& o) {
  NullProgress silent;
  Progress& progress = o.progress ? *o.progress : silent;
  // 0. The one writer (invariant 12): held until the install returns.
  FW_ASSIGN_OR_RETURN(TerminalLock lock, LockTerminal(t, "install"));

  // 1. Plan: every check before any write. A refused install writes nothing, not even recovery.
  FW_ASSIGN_OR_RETURN(Plan plan, PlanStage(t, o, progress));
  FW_ASSIGN_OR_RETURN(auto history, OpenHistoryAndRecover(t, lock, progress));
  progress.Note("Installing " + plan.to_version.ToString() + " into slot " + SlotText(plan.target) +
                " (running: " + plan.from_version + " in slot " + SlotText(plan.bc.active_slot) + ")");

  // 2. Intent (invariant 10).
  FW_ASSIGN_OR_RETURN(int64_t id, history.RecordIntent(InstallIntent(o, plan)));
  lock.SetHistoryId(id).IgnoreError();  // only informs readers
  auto fail = [&](const Status& s) -> Status {
    history.RecordOutcome(id, history::Outcome::kFailed, s.message()).IgnoreError();
    return s;
  };

  // 3. Verified journal snapshot (invariant 4).
  FW_ASSIGN_OR_RETURN(journal::SnapshotInfo snap, SnapshotJournal(t, o, plan, history, id, progress));

  // 4. Target unbootable before its first byte is written (invariant 2).
  FW_RETURN_IF_ERROR(history.SetStage(id, "prepare"));
  if (auto r = t.boot->PrepareInstall(plan.target); !r.ok()) {
    return fail(boot::OpStatus(r).WithContext("install: marking slot " + SlotText(plan.target) + " unbootable"));
  }

  // 5. Stream chunks verified against the signed chunk index into the bank (invariant 3),
  // while the bootloader core reads the bank back behind the writer (invariant 2; see
  // docs/install.md, "Read-back").
  FW_RETURN_IF_ERROR(history.SetStage(id, "write"));
  auto behind = ReadBehindBank::Start(*t.banks[plan.target], o.flush_window);
  if (!behind.ok()) return fail(behind.status().WithContext("install"));
  ReadBehindBank& bank = **behind;
  auto writer = boot::BankWriter::Create(bank, plan.bundle.target.length);
  if (!writer.ok()) return fail(writer.status().WithContext("install"));
  auto readback = ReadBack::Start(t, plan.target, bank);
  if (!readback.ok()) return fail(readback.status().WithContext("install"));
  progress.BeginStage("write", "Writing bank " + SlotText(plan.target), plan.bundle.target.length);
  auto written = WriteImage(o, plan, *writer, progress);
  if (!written.ok()) return fail(written.status().WithContext("install: writing bank " + SlotText(plan.target)));
  if (Status s = writer->Finish(); !s.ok()) return fail(s.WithContext("install"));
  bank.Complete();  // synced: the rest of the bank may be read back
  progress.EndStage();
  // The signed metadata that admitted this firmware, kept for its first boot ('fwupdate journal align').
  if (Status s = SaveSlotFirmware(t, plan.target, *written); !s.ok()) return fail(s.WithContext("install"));

  // 6. The core has read the whole bank back and verified the signed hash and a boot-key
  // signature; only then is the slot made a trial (hardware id and counter checked there).
  FW_RETURN_IF_ERROR(history.SetStage(id, "verify"));
  progress.BeginStage("verify", "Reading bank " + SlotText(plan.target) + " back and verifying its signature", 0);
  boot::BankProof proof;
  const boot::BankCheck check = (*readback)->Finish(&proof);
  const boot::OpResult trial = check.ok() ? t.boot->SetTrial(plan.target, o.tries, &proof) : VerifyFailed(check);
  progress.EndStage();
  if (auto& r = trial; !r.ok()) {
    Status s = boot::OpStatus(r).WithContext("install: setting slot " + SlotText(plan.target) +
                                             " as trial (read back: " + boot::ReadBackModeName(bank.mode()) + ")");
    // A storage error may come after the trial record reached the flash (e.g. power lost
    // before the sync returned): leave the row in-progress so recovery decides from boot
    // control (trial set → succeeded, else interrupted) instead of recording a false "failed".
    if (r.code == boot::OpError::kFlash) return s;
    return fail(s);
  }
  FW_RETURN_IF_ERROR(history.SetStage(id, "trial-set"));

  // 7. Commit the metadata the bundle brought, then the outcome.
  if (Status s = PersistTufMetadata(t, *written); !s.ok()) {
    progress.Note("warning: could not store the bundle's TUF metadata: " + s.message());
  }
  FW_RETURN_IF_ERROR(history.RecordOutcome(id, history::Outcome::kSucceeded,
                                           "trial set on slot " + SlotText(plan.target) + " with " +
                                               std::to_string(o.tries) +
                                               " tries; read back: " + boot::ReadBackModeName(bank.mode())));

  return Summary(id, o, plan, snap);
}

}  // namespace fw::install
