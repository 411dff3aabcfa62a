#include "slot_firmware.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/boot/device.h"
#include "fw/bundle_reader.h"
#include "fw/file_io.h"
#include "fw/image.h"
#include "fw/install/journal_align.h"

namespace fw::install {

namespace fs = std::filesystem;

namespace {

std::string SlotDir(const Terminal& t, uint8_t slot) {
  return t.data_dir + "/slots/" + std::string(1, boot::SlotLetter(slot));
}
std::string AlignStatePath(const Terminal& t) { return t.data_dir + "/slots/journal-align.json"; }

SemVer SlotSemVer(const boot::BootState& bc, uint8_t slot) {
  const auto& v = bc.slots[slot].version;
  return SemVer{v.major, v.minor, v.patch, v.build};
}

Result<boot::BootState> ReadBc(Terminal& t) { return t.boot->ReadState().WithContext("reading boot control"); }

}  // namespace

Status SaveSlotFirmware(const Terminal& t, uint8_t slot, const bundle::VerifiedBundle& vb) {
  const std::string dir = SlotDir(t, slot);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  // The name last: a record is complete only with both, and the pair is re-verified when read.
  FW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/targets.json", vb.targets, 0644));
  nlohmann::json j = {{"target", vb.target_path}};
  return WriteFileAtomic(dir + "/target.json", j.dump() + "\n", 0644);
}

Result<std::optional<SlotFirmware>> LoadSlotFirmware(const Terminal& t, uint8_t slot, const boot::BootState& bc) {
  const std::string dir = SlotDir(t, slot);
  const std::string what = "slot " + std::string(1, boot::SlotLetter(slot)) + " firmware record " + dir;
  std::error_code ec;
  if (!fs::exists(dir + "/target.json", ec) || !fs::exists(dir + "/targets.json", ec)) {
    return std::optional<SlotFirmware>();
  }
  FW_ASSIGN_OR_RETURN(std::string name_text, ReadFileToString(dir + "/target.json", 64 * 1024).WithContext(what));
  auto nj = nlohmann::json::parse(name_text, nullptr, false);
  if (nj.is_discarded() || !nj.is_object() || !nj.contains("target") || !nj["target"].is_string()) {
    return Corrupt(what + ": target.json is malformed");
  }
  SlotFirmware out;
  out.target_name = nj["target"].get<std::string>();
  FW_ASSIGN_OR_RETURN(std::string targets_bytes,
                      ReadFileToString(dir + "/targets.json", tuf::kMaxTargetsBytes).WithContext(what));
  FW_ASSIGN_OR_RETURN(std::string root_bytes,
                      ReadFileToString(t.TufDir() + "/root.json", tuf::kMaxRootBytes).WithContext(what));
  FW_ASSIGN_OR_RETURN(auto root, tuf::ParseMetadata<tuf::Root>(root_bytes, tuf::kMaxRootBytes).WithContext(what));
  FW_ASSIGN_OR_RETURN(auto targets,
                      tuf::ParseMetadata<tuf::Targets>(targets_bytes, tuf::kMaxTargetsBytes).WithContext(what));
  auto role = root.signed_.roles.find("targets");
  if (role == root.signed_.roles.end()) return Corrupt(what + ": the trusted root has no targets role");
  FW_RETURN_IF_ERROR_CTX(
      tuf::VerifyThreshold("targets", targets.signed_bytes, targets.signatures, root.signed_.keys, role->second), what);
  auto it = targets.signed_.targets.find(out.target_name);
  if (it == targets.signed_.targets.end()) {
    return VerificationFailed(what + ": the signed targets metadata does not list " + out.target_name);
  }
  tuf::FirmwarePolicy policy;
  policy.hardware_id = t.hardware_id;
  FW_ASSIGN_OR_RETURN(out.facts, tuf::CheckFirmwarePolicy(out.target_name, it->second, policy).WithContext(what));
  FW_ASSIGN_OR_RETURN(SemVer signed_version, SemVer::Parse(out.facts.version).WithContext(what));
  if (signed_version != SlotSemVer(bc, slot) || out.facts.security_counter != bc.slots[slot].security_counter) {
    // A record of an earlier firmware in this slot (a later install failed before its trial).
    return std::optional<SlotFirmware>();
  }
  return std::optional<SlotFirmware>(std::move(out));
}

Status CheckJournalSchemaFits(const Terminal& t, const boot::BootState& bc, const bundle::VerifiedBundle& vb) {
  journal::SchemaRange range{static_cast<int>(vb.facts.journal_schema_min),
                             static_cast<int>(vb.facts.journal_schema_max)};
  std::optional<journal::SchemaRange> fallback;
  auto confirmed = LoadSlotFirmware(t, bc.active_slot, bc);
  if (confirmed.ok() && *confirmed) fallback = (*confirmed)->schema();
  return journal::CheckSchemaPlan(t.journal_path, range, fallback, vb.facts.version, t.lock_timeout_ms, t.sqlite_vfs);
}

Result<AlignResult> AlignJournal(Terminal& t) {
  // The caller (fwupdate journal align) holds the terminal lock (docs/install.md, "Lock protocol").
  AlignResult res;
  FW_ASSIGN_OR_RETURN(boot::BootState bc, ReadBc(t));
  if (bc.booted_slot == boot::kNoSlot || bc.booted_slot >= boot::kSlotCount) {
    return FailedPrecondition("no slot has been booted (boot control records none); nothing to align the journal to");
  }
  res.slot = bc.booted_slot;
  res.firmware_version = SlotSemVer(bc, res.slot).ToString();
  std::error_code ec;
  if (!fs::exists(t.journal_path, ec)) {
    res.journal_exists = false;
    res.range_source = "unknown";
    return res;
  }
  // A record that exists but does not verify is hostile or damaged: nothing is moved (exit 3).
  FW_ASSIGN_OR_RETURN(auto rec,
                      LoadSlotFirmware(t, res.slot, bc).WithContext("journal align refused, journal untouched"));
  if (rec) {
    res.range = rec->schema();
    res.range_source = "signed";
  } else {
    // No usable signed record (e.g. the factory firmware): go back to the version the
    // journal had before another slot's firmware moved it, if one did.
    auto state_text = ReadFileToString(AlignStatePath(t), 64 * 1024);
    if (state_text.ok()) {
      auto sj = nlohmann::json::parse(*state_text, nullptr, false);
      if (!sj.is_discarded() && sj.is_object() && sj.value("slot", "") != std::string(1, boot::SlotLetter(res.slot)) &&
          sj.contains("from") && sj["from"].is_number_integer()) {
        int from = sj["from"].get<int>();
        if (from >= 1) {
          res.range = journal::SchemaRange{from, from};
          res.range_source = "previous";
        }
      }
    }
    if (!res.range) res.range_source = "unknown";
  }
  journal::OpenOptions jo;
  jo.lock_timeout_ms = t.lock_timeout_ms;
  jo.vfs = t.sqlite_vfs;
  // Read the version whatever it is: a newer schema than this code knows is moved down here.
  jo.max_schema_version = 1 << 20;
  FW_ASSIGN_OR_RETURN(journal::Journal j, journal::Journal::Open(t.journal_path, jo));
  FW_ASSIGN_OR_RETURN(res.from, j.SchemaVersion());
  res.to = res.from;
  if (!res.range) return res;
  const int target = journal::AlignedVersion(res.from, *res.range);
  if (target == res.from) return res;
  auto refuse = [&](const std::string& why) {
    return FailedPrecondition("journal " + t.journal_path + " has schema v" + std::to_string(res.from) + ", firmware " +
                              res.firmware_version + " in slot " + std::string(1, boot::SlotLetter(res.slot)) +
                              " reads journal schema " + res.range->Text() + ": " + why);
  };
  if (target > journal::kCurrentSchemaVersion) {
    return refuse("this updater knows migrations up to v" + std::to_string(journal::kCurrentSchemaVersion));
  }
  auto steps = j.MigrateTo(target);
  if (!steps.ok()) {
    if (steps.status().code() == ErrorCode::kTimeout) return steps.status();
    return refuse(steps.status().message());
  }
  res.steps = std::move(*steps);
  res.to = target;
  nlohmann::json state = {{"slot", std::string(1, boot::SlotLetter(res.slot))},
                          {"firmware_version", res.firmware_version},
                          {"from", res.from},
                          {"to", res.to}};
  fs::create_directories(t.data_dir + "/slots", ec);
  FW_RETURN_IF_ERROR_CTX(WriteFileAtomic(AlignStatePath(t), state.dump() + "\n", 0644), "journal align");
  return res;
}

}  // namespace fw::install
