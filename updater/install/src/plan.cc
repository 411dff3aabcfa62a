#include "plan.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "free_space.h"
#include "fw/encoding.h"
#include "fw/image_format.h"
#include "fw/journal/journal.h"
#include "installer_common.h"
#include "slot_firmware.h"

namespace fw::install {

namespace fs = std::filesystem;

namespace {

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

// Bundle metadata against the device's trusted root, the chunk index, the image
// entry's tar header (regular file, expected name, exactly the signed length) and
// the image's first chunk (verified): everything decidable before the first write.
Status ReadBundleHead(Terminal& t, const InstallOptions& o, Plan& plan) {
  if (!o.open_bundle) return InvalidArgument("no bundle to install");
  FW_ASSIGN_OR_RETURN(plan.source, o.open_bundle());
  bundle::ReaderOptions ro;
  ro.metadata_dir = t.TufDir();
  ro.policy.hardware_id = t.hardware_id;
  ro.policy.installed_security_counter = plan.bc.min_security_counter;
  ro.clock = o.clock;
  FW_ASSIGN_OR_RETURN(plan.reader, bundle::BundleReader::Open(*plan.source, ro));
  FW_ASSIGN_OR_RETURN(bundle::BundleHead head, plan.reader->ReadHead());
  plan.bundle = head.bundle;
  const auto& facts = plan.bundle.facts;
  auto version = SemVer::Parse(facts.version);
  if (!version.ok()) return Corrupt("bundle: signed firmware version: " + version.status().message());
  plan.to_version = *version;
  FW_RETURN_IF_ERROR(CheckImageHeaderMatchesMetadata(head, plan.to_version, t.hardware_id));
  auto it = plan.bundle.target.hashes.find("sha256");
  if (it == plan.bundle.target.hashes.end()) return VerificationFailed("bundle: the target has no sha256 hash");
  plan.image_sha256 = it->second;
  return Status::Ok();
}

// The journal opens, passes its integrity check and its chain verifies.
Status CheckJournalHealthy(Terminal& t) {
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
  return Status::Ok();
}

// Room for the snapshot (the copy plus its temporary) on the data area and the host.
Status CheckRoomForSnapshot(Terminal& t, const InstallOptions& o) {
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
  return Status::Ok();
}

}  // namespace

Result<Plan> MakePlan(Terminal& t, const InstallOptions& o) {
  Plan plan;
  FW_ASSIGN_OR_RETURN(plan.bc, ReadBootState(t));
  const BootState& bc = plan.bc;
  if (o.tries == 0 || o.tries > t.boot->max_tries()) {
    return InvalidArgument("--tries " + std::to_string(o.tries) + " must be 1.." + std::to_string(t.boot->max_tries()) +
                           " with the " + std::string(t.boot->type()) + " boot-state backend");
  }
  if (!bc.stored_valid) {
    return FailedPrecondition(
        "no valid copy of the boot state (" + std::string(t.boot->type()) +
        ": both copies lost or never written); run 'fwupdate boot repair --device LAYOUT' to rewrite it from the flash "
        "history before installing");
  }
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
  FW_RETURN_IF_ERROR(ReadBundleHead(t, o, plan));

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
  FW_RETURN_IF_ERROR(CheckBankFit(plan.bundle.target.length, *t.banks[plan.target], plan.target));
  FW_RETURN_IF_ERROR(CheckJournalHealthy(t));
  // Journal schema: movable into the firmware's signed range, and back after a revert (docs/journal.md).
  FW_RETURN_IF_ERROR(CheckJournalSchemaFits(t, bc, plan.bundle));
  FW_RETURN_IF_ERROR(CheckRoomForSnapshot(t, o));
  return plan;
}

}  // namespace fw::install
