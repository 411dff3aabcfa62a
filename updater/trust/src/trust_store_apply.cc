#include "fw/trust_store_apply.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "fw/boot/device.h"
#include "fw/boot/host_crypto.h"
#include "fw/file_io.h"
#include "fw/flash_history.h"
#include "fw/install/terminal_lock.h"
#include "fw/trust_store_update.h"
#include "fw/tuf_trusted_set.h"

namespace fw::trust {
namespace {

namespace fs = std::filesystem;

std::set<std::string> KeyIds(const std::vector<PublicKey>& keys) {
  std::set<std::string> out;
  for (const PublicKey& k : keys) out.insert(BootKeyId(k));
  return out;
}

// The terminal's trusted TUF root (the TUF client's, advanced only by signed root updates).
Result<tuf::Root> TrustedRoot(const std::string& data_dir) {
  const std::string path = data_dir + "/tuf/root.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return FailedPrecondition("the terminal trusts no TUF root yet (" + path +
                              " is missing); run 'fwupdate init' first");
  }
  FW_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, tuf::kMaxRootBytes));
  auto set = tuf::TrustedSet::Create(bytes, 0);
  if (!set.ok()) return set.status().WithContext("the terminal's trusted root " + path);
  return set->root().signed_;
}

// Why the image in `slot` would not verify with `keys` at the next boot ("" if it would).
std::string BankProblem(boot::Device& dev, uint8_t slot, const std::vector<PublicKey>& keys, uint32_t min_counter) {
  boot::HostHash hash;
  boot::HostKeyRing ring(keys);
  std::vector<uint8_t> scratch(boot::kVerifyBufferSize);
  boot::BankEnv env;
  env.bank = &dev.region(slot == 0 ? boot::RegionId::kBankA : boot::RegionId::kBankB);
  env.hash = &hash;
  env.keys = &ring;
  env.hardware_id = dev.trust().hardware_id.c_str();
  env.scratch = scratch.data();
  env.scratch_size = scratch.size();
  boot::BankCheck c = boot::VerifyBank(env, min_counter, nullptr);
  return c.ok() ? "" : boot::BankCheckStatus(c).message();
}

// Step 5: the active confirmed firmware must still boot; other slots only warn.
Status CheckSlots(boot::Device& dev, const std::vector<PublicKey>& keys, ApplyResult& out) {
  FW_ASSIGN_OR_RETURN(boot::BootState st, dev.backend().ReadState().WithContext("reading boot control"));
  for (uint8_t slot = 0; slot < boot::kSlotCount; ++slot) {
    const auto state = st.slots[slot].state;
    const bool active = slot == st.active_slot && state == boot::SlotState::kConfirmed;
    if (!active && state != boot::SlotState::kConfirmed && state != boot::SlotState::kTrial) continue;
    const std::string problem = BankProblem(dev, slot, keys, st.min_security_counter);
    if (problem.empty()) continue;
    if (active) {
      return FailedPrecondition("the new boot keys do not verify the confirmed firmware in slot " +
                                boot::SlotName(slot) + " (" + problem +
                                "): the terminal would not boot; install firmware signed by a new key first");
    }
    out.warnings.push_back("slot " + boot::SlotName(slot) + " (" +
                           (state == boot::SlotState::kTrial ? "trial" : "fallback") +
                           ") does not verify with the new keys (" + problem + "); it will not boot");
  }
  return Status::Ok();
}

// Steps 3-4 on the parsed document. Sets already_installed when nothing is to be written.
Status CheckDocument(const SignedTrustStoreUpdate& doc, const boot::TrustStore& installed, const tuf::Root& root,
                     const ApplyOptions& o, ApplyResult& out) {
  FW_RETURN_IF_ERROR(VerifyUpdate(doc, root));
  const TrustStoreUpdate& u = doc.update;
  if (u.hardware_id != installed.hardware_id) {
    return VerificationFailed("trust-store update is for hardware id " + u.hardware_id + ", this terminal is " +
                              installed.hardware_id);
  }
  if (u.IsExpiredAt(o.now)) return VerificationFailed("trust-store update expired at " + u.expires);
  const bool same = KeyIds(u.boot_keys) == KeyIds(installed.boot_keys);
  if (u.version < installed.version || (u.version == installed.version && !same)) {
    return FailedPrecondition("trust-store update version " + std::to_string(u.version) +
                              (u.version < installed.version ? " is older than" : " differs from") +
                              " the installed version " + std::to_string(installed.version) +
                              "; a trust store is never rolled back or replaced at the same version");
  }
  out.already_installed = u.version == installed.version;
  return Status::Ok();
}

Status Install(boot::Device& dev, const boot::TrustStore& installed, const TrustStoreUpdate& u, const ApplyOptions& o,
               const install::TerminalLock& lock) {
  (void)lock;  // held by the caller: the one writer of this terminal
  boot::TrustStore next;
  next.hardware_id = u.hardware_id;
  next.boot_keys = u.boot_keys;
  boot::Flash& region = dev.region(boot::RegionId::kTrustStore);
  FW_RETURN_IF_ERROR(next.CheckWritable(region, installed));  // a refusal records nothing
  FW_ASSIGN_OR_RETURN(auto history, history::FlashHistory::Open(dev.layout().data_dir + "/history.db"));
  history::Intent intent;
  intent.operation = "trust-store";
  intent.operator_name = o.operator_name;
  intent.from_version = std::to_string(installed.version);
  intent.to_version = std::to_string(u.version);
  FW_ASSIGN_OR_RETURN(int64_t id, history.RecordIntent(intent));
  Status s = next.WriteVersion(region, installed, u.version);
  Status h = history.RecordOutcome(id, s.ok() ? history::Outcome::kSucceeded : history::Outcome::kFailed,
                                   s.ok() ? "trust store version " + std::to_string(u.version) : s.message());
  FW_RETURN_IF_ERROR(s);
  return h;
}

}  // namespace

Result<ApplyResult> ApplyTrustStoreUpdate(const std::string& layout_path, std::string_view document,
                                          const ApplyOptions& o) {
  FW_ASSIGN_OR_RETURN(SignedTrustStoreUpdate doc, ParseUpdate(document));
  FW_ASSIGN_OR_RETURN(auto dev, boot::Device::Open(layout_path));
  const std::string data_dir = dev->layout().data_dir;
  if (data_dir.empty()) return InvalidArgument("layout " + layout_path + " has no \"data_dir\"");
  std::error_code ec;
  if (!fs::is_directory(data_dir, ec)) {
    return FailedPrecondition("data directory " + data_dir + " does not exist; run 'fwupdate init' first");
  }
  FW_ASSIGN_OR_RETURN(auto lock, install::TerminalLock::Acquire(data_dir, "trust-store", o.lock_timeout_ms));
  // Under the lock, read again from the medium: what Device::Open saw may be stale.
  FW_ASSIGN_OR_RETURN(boot::TrustStore installed, boot::TrustStore::Read(dev->region(boot::RegionId::kTrustStore)));
  FW_ASSIGN_OR_RETURN(tuf::Root root, TrustedRoot(data_dir));
  ApplyResult out;
  out.old_version = installed.version;
  out.new_version = doc.update.version;
  out.hardware_id = installed.hardware_id;
  out.copy = installed.copy;
  FW_RETURN_IF_ERROR(CheckDocument(doc, installed, root, o, out));
  if (out.already_installed) return out;
  const auto before = KeyIds(installed.boot_keys), after = KeyIds(doc.update.boot_keys);
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(out.added));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(out.removed));
  FW_RETURN_IF_ERROR(CheckSlots(*dev, doc.update.boot_keys, out));
  FW_RETURN_IF_ERROR(Install(*dev, installed, doc.update, o, lock));
  out.copy = 1 - installed.copy;
  return out;
}

}  // namespace fw::trust
