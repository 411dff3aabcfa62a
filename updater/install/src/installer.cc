#include "fw/install/installer.h"

#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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
#include "read_behind.h"
#include "slot_firmware.h"

namespace fw::install {

namespace fs = std::filesystem;
using boot::BootState;
using boot::SlotState;

namespace {

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

Result<std::vector<std::string>> RecoverWith(Terminal& t, history::FlashHistory& history);

Result<TerminalLock> LockTerminal(Terminal& t, const std::string& operation) {
  return TerminalLock::Acquire(t.data_dir, operation, t.terminal_lock_timeout_ms);
}

// Free bytes on the file system holding `dir`.
Result<uint64_t> FreeBytes(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return IoError("cannot stat file system of " + dir + ": " + ErrnoText(errno));
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

uint64_t FileSizeOrZero(const std::string& path) {
  std::error_code ec;
  uint64_t n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

// Runs `cmd` with /bin/sh -c, bounded by `timeout_s`. OK when it exits 0.
Status RunHealthCommand(const std::string& cmd, int timeout_s) {
  pid_t pid = ::fork();
  if (pid < 0) return IoError("cannot start the health check: " + ErrnoText(errno));
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int waited_ms = 0;; waited_ms += 50) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
      if (WIFEXITED(status)) {
        return VerificationFailed("health check '" + cmd + "' failed with exit code " +
                                  std::to_string(WEXITSTATUS(status)));
      }
      return VerificationFailed("health check '" + cmd + "' was killed by signal " + std::to_string(WTERMSIG(status)));
    }
    if (r < 0) return IoError("waiting for the health check: " + ErrnoText(errno));
    if (waited_ms >= timeout_s * 1000) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return Timeout("health check '" + cmd + "' did not finish within " + std::to_string(timeout_s) + " s");
    }
    ::usleep(50 * 1000);
  }
}

// The newest install in the history (any outcome), if any.
Result<std::optional<history::Entry>> LastInstall(history::FlashHistory& h) {
  FW_ASSIGN_OR_RETURN(auto entries, h.List(50));
  for (auto& e : entries) {
    if (e.intent.operation == "install") return std::optional<history::Entry>(std::move(e));
  }
  return std::optional<history::Entry>();
}

// Persists the metadata a bundle brought, once the install is committed.
Status PersistTufMetadata(const Terminal& t, const bundle::VerifiedBundle& vb) {
  const std::string dir = t.TufDir();
  if (!vb.new_roots.empty()) FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/root.json", vb.new_roots.back()));
  if (!vb.timestamp.empty()) FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/timestamp.json", vb.timestamp));
  if (!vb.snapshot.empty()) FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/snapshot.json", vb.snapshot));
  if (!vb.targets.empty()) FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/targets.json", vb.targets));
  return Status::Ok();
}

// A plan: everything checked, nothing written.
struct Plan {
  BootState bc;
  uint8_t target = 0;
  bundle::VerifiedBundle bundle;
  SemVer to_version;
  std::string from_version;
  std::string image_sha256;
};

// The image must fit the bank once its length is rounded up to the write alignment,
// with every step overflow-checked (a signed length near 2^64 must not wrap).
Status CheckBankFit(uint64_t length, const boot::Flash& bank, uint8_t slot) {
  const uint64_t align = std::max<uint64_t>(1, bank.WriteAlignment());
  uint64_t rounded = 0;
  const bool overflow = __builtin_add_overflow(length, (align - length % align) % align, &rounded);
  if (overflow || rounded > bank.Size()) {
    return FailedPrecondition("image of " + std::to_string(length) + " bytes does not fit bank " + SlotText(slot) +
                              " (" + std::to_string(bank.Size()) + " bytes)");
  }
  return Status::Ok();
}

// The image header (in the verified first chunk) must say what the signed metadata
// says: version, security counter, hardware id (issue 11, item 5a). The bootloader
// trusts the header; the plan decided on the metadata.
Status CheckImageHeaderMatchesMetadata(const bundle::BundleHead& head, const SemVer& signed_version,
                                       const std::string& device_hardware_id) {
  const auto& vb = head.bundle;
  const std::string what = "bundle: image \"" + vb.target_path + "\"";
  if (head.first_chunk.size() < image::kHeaderSize) {
    return Corrupt(what + ": " + std::to_string(vb.target.length) + " bytes is shorter than an image header");
  }
  image::Header h;
  const image::ErrorInfo e = image::DecodeHeader(head.first_chunk.data(), vb.target.length, &h);
  if (!e.ok()) return Corrupt(what + ": bad image header: " + image::ErrorName(e.code));
  const SemVer header_version{h.major, h.minor, h.patch, h.build};
  if (header_version != signed_version) {
    return VerificationFailed(what + ": the image header says version " + header_version.ToString() +
                              ", the signed metadata " + signed_version.ToString());
  }
  if (h.security_counter != vb.facts.security_counter) {
    return VerificationFailed(what + ": the image header says security counter " + std::to_string(h.security_counter) +
                              ", the signed metadata " + std::to_string(vb.facts.security_counter));
  }
  const std::string hw = h.hardware_id;
  const auto& ids = vb.facts.hardware_ids;
  if (std::find(ids.begin(), ids.end(), hw) == ids.end()) {
    std::string list;
    for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
    return VerificationFailed(what + ": the image header's hardware id \"" + hw +
                              "\" is not among the signed hardware ids (" + list + ")");
  }
  if (hw != device_hardware_id) {
    return VerificationFailed(what + ": the image is for hardware \"" + hw + "\", this terminal is \"" +
                              device_hardware_id + "\"");
  }
  return Status::Ok();
}

Result<Plan> MakePlan(Terminal& t, const InstallOptions& o) {
  Plan plan;
  FW_ASSIGN_OR_RETURN(plan.bc, ReadBootState(t));
  const BootState& bc = plan.bc;
  if (uint8_t trial = bc.TrialSlot(); trial != boot::kNoSlot) {
    return FailedPrecondition("a trial of version " + VersionText(bc.slots[trial].version) + " is pending in slot " +
                              SlotText(trial) +
                              ": reset the terminal and run 'fwupdate confirm', or 'fwupdate rollback', first");
  }
  if (bc.slots[bc.active_slot].state != SlotState::kConfirmed) {
    return FailedPrecondition("slot " + SlotText(bc.active_slot) +
                              " does not hold a confirmed firmware; boot the terminal ('fwboot boot') first");
  }
  plan.target = static_cast<uint8_t>(1 - bc.active_slot);  // never the confirmed bank (invariant 1)
  plan.from_version = VersionText(bc.slots[bc.active_slot].version);

  // Bundle metadata against the device's trusted root, the chunk index, the image
  // entry's tar header (regular file, expected name, exactly the signed length) and
  // the image's first chunk (verified): everything decidable before the first write.
  bundle::ReaderOptions ro;
  ro.metadata_dir = t.TufDir();
  ro.policy.hardware_id = t.hardware_id;
  ro.policy.installed_security_counter = bc.min_security_counter;
  ro.now = o.now;
  FW_ASSIGN_OR_RETURN(bundle::BundleHead head, bundle::ReadBundleHeadFile(o.bundle_path, ro));
  plan.bundle = head.bundle;
  const auto& facts = plan.bundle.facts;
  auto version = SemVer::Parse(facts.version);
  if (!version.ok()) return Corrupt("bundle: signed firmware version: " + version.status().message());
  plan.to_version = *version;
  FW_RETURN_IF_ERROR(CheckImageHeaderMatchesMetadata(head, plan.to_version, t.hardware_id));
  auto it = plan.bundle.target.hashes.find("sha256");
  if (it == plan.bundle.target.hashes.end()) return VerificationFailed("bundle: the target has no sha256 hash");
  plan.image_sha256 = it->second;

  // Version: no downgrade unless asked; the security counter was checked by the reader.
  const boot::SlotVersion& cur = bc.slots[bc.active_slot].version;
  SemVer current{cur.major, cur.minor, cur.patch, cur.build};
  if (plan.to_version < current && !o.allow_downgrade) {
    return FailedPrecondition("bundle holds version " + plan.to_version.ToString() + ", older than the installed " +
                              current.ToString() + "; pass --allow-downgrade to install it anyway");
  }
  if (plan.to_version == current) {
    return FailedPrecondition("version " + current.ToString() + " is already installed and confirmed");
  }
  // Size.
  FW_RETURN_IF_ERROR(CheckBankFit(plan.bundle.target.length, *t.banks[plan.target], plan.target));
  // Journal healthy.
  journal::OpenOptions jo;
  jo.read_only = true;
  jo.lock_timeout_ms = t.lock_timeout_ms;
  jo.vfs = t.sqlite_vfs;
  auto j = journal::Journal::Open(t.journal_path, jo);
  if (!j.ok()) return j.status().WithContext("journal " + t.journal_path);
  FW_ASSIGN_OR_RETURN(journal::VerifyReport vr, j->Verify());
  if (!vr.ok()) {
    std::string first = vr.problems.empty() ? vr.integrity_message : vr.problems.front().what;
    return Corrupt("journal " + t.journal_path + " is damaged (" + std::to_string(vr.problem_count) +
                   " problems; first: " + first + "); repair or restore it before updating");
  }
  // Journal schema: movable into the firmware's signed range, and back after a revert (docs/journal.md).
  FW_RETURN_IF_ERROR(CheckJournalSchemaFits(t, bc, plan.bundle));
  // Room for the snapshot (the copy plus its temporary) on the data area and the host.
  const uint64_t need = 2 * (FileSizeOrZero(t.journal_path) + FileSizeOrZero(t.journal_path + "-wal")) + (1 << 20);
  std::error_code ec;
  fs::create_directories(t.SnapshotDir(), ec);
  FW_ASSIGN_OR_RETURN(uint64_t free_data, FreeBytes(t.data_dir));
  if (free_data < need + o.min_free_bytes_margin) {
    return ResourceExhausted("not enough room for the journal snapshot on " + t.data_dir + ": " +
                             FormatBytes(free_data) + " free, " + FormatBytes(need) + " needed");
  }
  if (o.host_snapshot_dir) {
    fs::create_directories(*o.host_snapshot_dir, ec);
    FW_ASSIGN_OR_RETURN(uint64_t free_host, FreeBytes(*o.host_snapshot_dir));
    if (free_host < need + o.min_free_bytes_margin) {
      return ResourceExhausted("not enough room for the host copy of the snapshot in " + *o.host_snapshot_dir + ": " +
                               FormatBytes(free_host) + " free, " + FormatBytes(need) + " needed");
    }
  }
  return plan;
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

}  // namespace

Result<InstallResult> Install(Terminal& t, const InstallOptions& o) {
  NullProgress silent;
  Progress& progress = o.progress ? *o.progress : silent;
  // 0. The one writer (invariant 12): held until the install returns.
  FW_ASSIGN_OR_RETURN(TerminalLock lock, LockTerminal(t, "install"));

  // 1. Plan: every check before any write. A refused install writes nothing, not even recovery.
  progress.BeginStage("plan", "Checking the bundle, the device and the journal", 0);
  FW_ASSIGN_OR_RETURN(Plan plan, MakePlan(t, o).WithContext("install refused"));
  progress.EndStage();
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  FW_ASSIGN_OR_RETURN(auto notes, RecoverWith(t, history));
  for (const auto& n : notes) progress.Note(n);
  progress.Note("Installing " + plan.to_version.ToString() + " into slot " + SlotText(plan.target) +
                " (running: " + plan.from_version + " in slot " + SlotText(plan.bc.active_slot) + ")");

  // 2. Intent (invariant 10).
  history::Intent intent;
  intent.operation = "install";
  intent.operator_name = o.operator_name;
  intent.bundle = fs::absolute(o.bundle_path).string();
  intent.image_sha256 = plan.image_sha256;
  intent.from_version = plan.from_version;
  intent.to_version = plan.to_version.ToString();
  intent.target_slot = SlotText(plan.target);
  FW_ASSIGN_OR_RETURN(int64_t id, history.RecordIntent(intent));
  lock.SetHistoryId(id).IgnoreError();  // only informs readers
  auto fail = [&](const Status& s) -> Status {
    history.RecordOutcome(id, history::Outcome::kFailed, s.message()).IgnoreError();
    return s;
  };

  // 3. Verified journal snapshot (invariant 4).
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
  if (!snap.ok()) return fail(snap.status().WithContext("install: journal snapshot failed, nothing was flashed"));
  FW_RETURN_IF_ERROR(history.SetSnapshot(id, snap->name));
  progress.Note("Journal snapshot " + snap->name + ": " + std::to_string(snap->descriptor.record_count) +
                " records, chain head " + HexEncode(snap->descriptor.chain_head).substr(0, 16) + "…");
  progress.EndStage();

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
  bundle::ReaderOptions ro;
  ro.metadata_dir = t.TufDir();
  ro.policy.hardware_id = t.hardware_id;
  ro.policy.installed_security_counter = plan.bc.min_security_counter;
  ro.now = o.now;
  progress.BeginStage("write", "Writing bank " + SlotText(plan.target), plan.bundle.target.length);
  auto written = bundle::ReadBundleFile(
      o.bundle_path, ro,
      [&](uint64_t offset, ByteSpan chunk) {
        FW_RETURN_IF_ERROR(writer->Append(offset, chunk));
        progress.Update(offset + chunk.size());
        if (o.write_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.write_delay_ms));
        return Status::Ok();
      },
      [&](const bundle::VerifiedBundle& vb) {
        // The bundle must be the one that was planned.
        if (vb.target.hashes != plan.bundle.target.hashes || vb.target.length != plan.bundle.target.length) {
          return VerificationFailed("the bundle changed between planning and writing");
        }
        return Status::Ok();
      });
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

  InstallResult res;
  res.history_id = id;
  res.target_slot = plan.target;
  res.from_version = plan.from_version;
  res.to_version = plan.to_version.ToString();
  res.security_counter = plan.bundle.facts.security_counter;
  res.image_size = plan.bundle.target.length;
  res.snapshot_name = snap->name;
  res.snapshot_records = snap->descriptor.record_count;
  res.tries = o.tries;
  return res;
}

// ---------------------------------------------------------------- confirm / rollback

Result<ConfirmResult> Confirm(Terminal& t, const ConfirmOptions& o) {
  NullProgress silent;
  Progress& progress = o.progress ? *o.progress : silent;
  FW_ASSIGN_OR_RETURN(TerminalLock lock, LockTerminal(t, "confirm"));
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  // Every refusal below comes before the first write (recovery included).
  FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
  const uint8_t trial = bc.TrialSlot();
  if (trial == boot::kNoSlot) {
    return FailedPrecondition("there is no trial firmware to confirm (see 'fwupdate status')");
  }
  if (bc.booted_slot != trial) {
    return FailedPrecondition("the trial in slot " + SlotText(trial) +
                              " has not been booted yet: reset the terminal ('fwboot boot') and confirm on the new "
                              "firmware");
  }
  ConfirmResult res;
  res.slot = trial;
  res.version = VersionText(bc.slots[trial].version);
  FW_ASSIGN_OR_RETURN(auto last, LastInstall(history));
  if (!last || !last->intent.snapshot_id || last->intent.target_slot != SlotText(trial)) {
    return FailedPrecondition("the flash history has no install of slot " + SlotText(trial) +
                              " with a journal snapshot; roll back ('fwupdate rollback') and install again");
  }
  journal::SnapshotStore store(t.SnapshotDir());
  FW_ASSIGN_OR_RETURN(journal::SnapshotInfo snap, store.Find(*last->intent.snapshot_id).WithContext("confirm"));
  // The snapshot is evidence only through figures re-derived from its file; a file that
  // does not match its descriptor refuses the confirm (nothing confirmed, reverted or restored).
  FW_ASSIGN_OR_RETURN(journal::SnapshotEvidence evidence,
                      journal::DeriveSnapshotEvidence(snap, t.sqlite_vfs)
                          .WithContext("confirm refused, trial " + res.version + " left pending"));
  FW_ASSIGN_OR_RETURN(auto notes, RecoverWith(t, history));
  for (const auto& n : notes) progress.Note(n);

  history::Intent intent;
  intent.operation = "confirm";
  intent.operator_name = o.operator_name;
  intent.from_version = last->intent.from_version;
  intent.to_version = res.version;
  intent.target_slot = SlotText(trial);
  intent.snapshot_id = snap.name;
  FW_ASSIGN_OR_RETURN(res.history_id, history.RecordIntent(intent));
  lock.SetHistoryId(res.history_id).IgnoreError();

  // Health check, then the journal check against the pre-update snapshot (invariant 7).
  Status health = Status::Ok();
  if (o.health_cmd) {
    progress.BeginStage("health", "Running the health check", 0);
    health = RunHealthCommand(*o.health_cmd, o.health_timeout_s);
    progress.EndStage();
  }
  progress.BeginStage("journal-check", "Checking the journal against snapshot " + snap.name, 0);
  journal::GuardOptions go;
  go.lock_timeout_ms = t.lock_timeout_ms;
  go.vfs = t.sqlite_vfs;
  auto check = journal::Check(t.journal_path, snap, evidence, go);
  progress.EndStage();
  if (check.ok()) res.check = *check;
  const bool journal_ok = check.ok() && check->ok();

  if (health.ok() && journal_ok) {
    FW_RETURN_IF_ERROR(history.SetStage(res.history_id, "confirm"));
    if (auto r = t.boot->Confirm(); !r.ok()) {
      Status s = boot::OpStatus(r).WithContext("confirm");
      // A storage error may come after the record reached the flash: recovery decides from boot control.
      if (r.code == boot::OpError::kFlash) return s;
      history.RecordOutcome(res.history_id, history::Outcome::kFailed, s.message()).IgnoreError();
      return s;
    }
    FW_ASSIGN_OR_RETURN(BootState after, ReadBootState(t));
    res.confirmed = true;
    res.min_security_counter = after.min_security_counter;
    FW_RETURN_IF_ERROR(
        history.RecordOutcome(res.history_id, history::Outcome::kSucceeded,
                              "confirmed; security counter now " + std::to_string(after.min_security_counter)));
    return res;
  }

  // Not healthy: keep every record (restore if the journal lost any), then revert (invariants 7, 8).
  if (!health.ok()) res.reason = health.message();
  if (!check.ok()) {
    res.reason += (res.reason.empty() ? "" : "; ") + ("journal check failed: " + check.status().message());
  } else if (!check->ok()) {
    res.reason += (res.reason.empty() ? "" : "; ") + std::string("journal lost or changed records (") +
                  std::to_string(check->missing_count) + " missing, " + std::to_string(check->altered_count) +
                  " altered)";
    FW_RETURN_IF_ERROR(history.SetStage(res.history_id, "restore"));
    progress.BeginStage("restore", "Restoring the journal from snapshot " + snap.name, 0);
    auto restored = journal::Restore(t.journal_path, snap, go);
    progress.EndStage();
    if (!restored.ok()) {
      Status s = restored.status().WithContext("confirm: restoring the journal");
      history.RecordOutcome(res.history_id, history::Outcome::kFailed, res.reason + "; " + s.message()).IgnoreError();
      return s;
    }
    res.restore = *restored;
  }
  FW_RETURN_IF_ERROR(history.SetStage(res.history_id, "revert"));
  if (auto r = t.boot->MarkUnbootable(trial); !r.ok()) {
    Status s = boot::OpStatus(r).WithContext("confirm: reverting the trial");
    if (r.code == boot::OpError::kFlash) return s;  // recovery decides from boot control
    history.RecordOutcome(res.history_id, history::Outcome::kFailed, res.reason + "; " + s.message()).IgnoreError();
    return s;
  }
  FW_RETURN_IF_ERROR(
      history.RecordOutcome(res.history_id, history::Outcome::kFailed, "not confirmed, reverted: " + res.reason));
  return res;
}

Result<RollbackResult> Rollback(Terminal& t, const std::string& operator_name) {
  FW_ASSIGN_OR_RETURN(TerminalLock lock, LockTerminal(t, "rollback"));
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
  const uint8_t trial = bc.TrialSlot();
  if (trial == boot::kNoSlot) {
    return FailedPrecondition("there is no trial firmware to roll back; version " +
                              VersionText(bc.slots[bc.active_slot].version) +
                              " is confirmed and the anti-rollback counter forbids going back to older images");
  }
  FW_ASSIGN_OR_RETURN(auto notes, RecoverWith(t, history));
  RollbackResult res;
  res.slot = trial;
  res.version = VersionText(bc.slots[trial].version);
  history::Intent intent;
  intent.operation = "rollback";
  intent.operator_name = operator_name;
  intent.from_version = res.version;
  intent.to_version = VersionText(bc.slots[bc.active_slot].version);
  intent.target_slot = SlotText(trial);
  FW_ASSIGN_OR_RETURN(res.history_id, history.RecordIntent(intent));
  lock.SetHistoryId(res.history_id).IgnoreError();
  if (auto r = t.boot->MarkUnbootable(trial); !r.ok()) {
    Status s = boot::OpStatus(r).WithContext("rollback");
    history.RecordOutcome(res.history_id, history::Outcome::kFailed, s.message()).IgnoreError();
    return s;
  }
  FW_RETURN_IF_ERROR(history.RecordOutcome(res.history_id, history::Outcome::kSucceeded,
                                           "trial in slot " + SlotText(trial) + " marked unbootable on request"));
  return res;
}

// ---------------------------------------------------------------- recovery and status

namespace {

// One thing recovery does, decided from boot control and the history alone.
struct Finding {
  bool record_revert = false;  // else: close row `id`
  int64_t id = 0;
  history::Outcome outcome = history::Outcome::kInterrupted;
  std::string detail;  // for the row
  std::string note;    // for the operator
  history::Intent revert;
};

// `entries`: the newest rows, newest first.
std::vector<Finding> AnalyzeRecovery(const BootState& bc, const std::vector<history::Entry>& entries) {
  std::vector<Finding> out;
  for (const auto& e : entries) {
    if (e.outcome != history::Outcome::kInProgress) continue;
    // An install whose trial was already set completed: only its outcome was lost.
    bool done = false;
    if (e.intent.operation == "install" && e.intent.target_slot && e.intent.to_version) {
      for (uint8_t s = 0; s < boot::kSlotCount; ++s) {
        if (SlotText(s) == *e.intent.target_slot && bc.slots[s].state == SlotState::kTrial &&
            VersionText(bc.slots[s].version) == *e.intent.to_version) {
          done = true;
        }
      }
    }
    // A confirm whose boot-control write landed: confirmed, or (on the failure path) reverted.
    std::optional<SlotState> confirm_state;
    if (e.intent.operation == "confirm" && e.intent.target_slot) {
      const uint8_t s = *e.intent.target_slot == "A" ? 0 : 1;
      if (bc.slots[s].state == SlotState::kConfirmed && bc.active_slot == s) confirm_state = SlotState::kConfirmed;
      if (bc.slots[s].state == SlotState::kUnbootable && e.stage == "revert") confirm_state = SlotState::kUnbootable;
    }
    Finding f;
    f.id = e.id;
    if (done) {
      f.outcome = history::Outcome::kSucceeded;
      f.detail = "completed before an interruption (trial was set)";
      f.note = "install of " + *e.intent.to_version + " had completed before the interruption";
    } else if (confirm_state == SlotState::kConfirmed) {
      f.outcome = history::Outcome::kSucceeded;
      f.detail = "confirmed before an interruption (boot control shows it)";
      f.note = "confirm of " + e.intent.to_version.value_or("?") + " had completed";
    } else if (confirm_state == SlotState::kUnbootable) {
      f.outcome = history::Outcome::kFailed;
      f.detail = "not confirmed; the trial was reverted before an interruption";
      f.note = "trial " + e.intent.to_version.value_or("?") + " had been reverted";
    } else {
      f.outcome = history::Outcome::kInterrupted;
      f.detail = "interrupted at stage '" + e.stage + "'; the target slot was never marked bootable";
      f.note = e.intent.operation + " #" + std::to_string(e.id) + " was interrupted at stage '" + e.stage +
               "' (nothing half-written is bootable)";
    }
    out.push_back(std::move(f));
  }
  // A trial the bootloader reverted (tries ran out or it failed verification) is recorded once.
  const history::Entry* last = nullptr;
  for (const auto& e : entries) {
    if (e.intent.operation == "install") {
      last = &e;
      break;
    }
  }
  if (last && last->outcome == history::Outcome::kSucceeded && last->intent.target_slot) {
    bool closed = false;  // a later operation already concluded this install
    for (const auto& e : entries) {
      if (e.id <= last->id) break;
      if (e.intent.target_slot == last->intent.target_slot &&
          (e.intent.operation == "confirm" || e.intent.operation == "rollback" || e.intent.operation == "revert")) {
        closed = true;
      }
    }
    uint8_t slot = *last->intent.target_slot == "A" ? 0 : 1;
    if (!closed && bc.slots[slot].state == SlotState::kUnbootable) {
      Finding f;
      f.record_revert = true;
      f.revert.operation = "revert";
      f.revert.operator_name = "bootloader";
      f.revert.from_version = last->intent.to_version;
      f.revert.to_version = VersionText(bc.slots[bc.active_slot].version);
      f.revert.target_slot = last->intent.target_slot;
      f.revert.snapshot_id = last->intent.snapshot_id;
      f.outcome = history::Outcome::kSucceeded;
      f.detail = f.note = "the bootloader reverted trial " + last->intent.to_version.value_or("?") + " in slot " +
                          *last->intent.target_slot +
                          ": it was not confirmed within its tries (or failed verification)";
      out.push_back(std::move(f));
    }
  }
  return out;
}

// Applies the findings; the caller holds the terminal lock, so no row in progress is live.
Result<std::vector<std::string>> RecoverWith(Terminal& t, history::FlashHistory& history) {
  FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
  FW_ASSIGN_OR_RETURN(auto entries, history.List(50));
  std::vector<std::string> notes;
  for (const Finding& f : AnalyzeRecovery(bc, entries)) {
    if (f.record_revert) {
      FW_ASSIGN_OR_RETURN(int64_t id, history.RecordIntent(f.revert));
      FW_RETURN_IF_ERROR(history.RecordOutcome(id, f.outcome, f.detail));
      notes.push_back(f.note);
    } else {
      FW_RETURN_IF_ERROR(history.RecordOutcome(f.id, f.outcome, f.detail));
      notes.push_back("recovered: " + f.note);
    }
  }
  return notes;
}

}  // namespace

Result<std::vector<std::string>> Recover(Terminal& t, const TerminalLock& lock, const std::string& operator_name) {
  (void)operator_name;
  FW_ASSIGN_OR_RETURN(auto history, OpenHistory(t, lock));
  return RecoverWith(t, history);
}

Result<LiveState> InspectLive(Terminal& t, history::FlashHistory& history) {
  // Probe, read, probe again: a writer that started in between is seen as running.
  for (int attempt = 0;; ++attempt) {
    FW_ASSIGN_OR_RETURN(auto before, TerminalLock::Probe(t.data_dir));
    FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
    FW_ASSIGN_OR_RETURN(auto entries, history.List(50));
    FW_ASSIGN_OR_RETURN(auto after, TerminalLock::Probe(t.data_dir));
    if (before.has_value() != after.has_value() && attempt < 3) continue;
    LiveState live;
    live.lock = after ? after : before;
    if (live.lock) {
      // The in-progress row belongs to the running writer: never call it interrupted.
      live.notes.push_back(live.lock->Describe());
      return live;
    }
    for (const auto& e : entries) {
      if (e.outcome != history::Outcome::kInProgress) continue;
      live.orphans.push_back(e);
      live.notes.push_back("operation " + std::to_string(e.id) + " (" + e.intent.operation +
                           ") was interrupted at stage '" + e.stage + "', recovered by the next writer");
    }
    for (const Finding& f : AnalyzeRecovery(bc, entries)) {
      if (f.record_revert) live.notes.push_back(f.note + " (recorded by the next writer)");
    }
    return live;
  }
}

Result<StatusReport> GetStatus(Terminal& t, const std::string& operator_name, size_t history_limit) {
  (void)operator_name;
  StatusReport r;
  FW_ASSIGN_OR_RETURN(BootState bc, ReadBootState(t));
  r.boot_control_valid = bc.stored_valid;
  for (uint8_t s = 0; s < boot::kSlotCount; ++s) {
    r.slots[s].name = SlotText(s);
    r.slots[s].state = boot::SlotStateName(bc.slots[s].state);
    r.slots[s].version = bc.slots[s].state == SlotState::kEmpty ? "" : VersionText(bc.slots[s].version);
    r.slots[s].security_counter = bc.slots[s].security_counter;
    r.slots[s].tries_remaining = bc.slots[s].tries_remaining;
  }
  r.active_slot = bc.active_slot;
  r.booted_slot = bc.booted_slot;
  r.min_security_counter = bc.min_security_counter;
  r.boot_counter = bc.boot_counter;
  FW_ASSIGN_OR_RETURN(auto history, OpenHistoryReadOnly(t));
  FW_ASSIGN_OR_RETURN(r.live, InspectLive(t, history));
  r.notes = r.live.notes;
  FW_ASSIGN_OR_RETURN(r.recent, history.List(history_limit));
  return r;
}

}  // namespace fw::install
