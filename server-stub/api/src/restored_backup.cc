// A database restored from an older backup: action id floor and witness receipts (restored_backup.h).
#include "restored_backup.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/hmac.h"
#include "fw/server/audit.h"

namespace fw::server::restore {

Result<std::string> ReceiptKey(Store& store) {
  FW_ASSIGN_OR_RETURN(auto existing, store.GetSetting(kReceiptKeySetting));
  if (existing && existing->size() == 64) return *existing;
  FW_ASSIGN_OR_RETURN(auto random, RandomBytes(32));
  return store.PutSettingIfAbsent(kReceiptKeySetting, HexEncode(random));
}

std::string ReceiptMac(std::string_view key_hex, std::string_view serial, int64_t epoch, int64_t seq) {
  const std::string data =
      "ptfw-witness-receipt-v1\n" + std::string(serial) + "\n" + std::to_string(epoch) + "\n" + std::to_string(seq);
  const Digest mac = HmacSha256(AsBytes(key_hex), AsBytes(data));
  return HexEncode(mac).substr(0, 32);
}

bool ReceiptAhead(std::string_view key_hex, std::string_view serial, const witness::State& state,
                  const WitnessReceiptReport& receipt) {
  const bool ahead = receipt.epoch > state.epoch || (receipt.epoch == state.epoch && receipt.seq > state.verified_seq);
  if (!ahead || receipt.mac.size() != 32) return false;
  const std::string want = ReceiptMac(key_hex, serial, receipt.epoch, receipt.seq);
  return ConstantTimeEqual(AsBytes(want), AsBytes(receipt.mac));
}

void StartEpochAfterRestore(witness::State& state, const WitnessReceiptReport& receipt) {
  const int64_t after = std::max(state.epoch, receipt.epoch);
  witness::StartNewEpoch(state);
  state.epoch = after + 1;
}

Result<bool> RaiseActionIdFloor(Store& store, int64_t seen, const std::string& serial, int64_t now_s) {
  FW_ASSIGN_OR_RETURN(int64_t next, store.NextActionId());
  if (seen < next) return false;
  // A lying terminal must not push the id space towards INT64_MAX for the whole fleet: a restore loses
  // the actions made since the backup, never a million more than the database has issued.
  if (seen - next >= kMaxActionIdFloorJump) return false;
  FW_RETURN_IF_ERROR(store.SetSetting(kActionIdFloorSetting, std::to_string(seen)));
  const nlohmann::json before = {{"next_action_id", next}};
  const nlohmann::json after = {{"next_action_id", seen + 1},
                                {"serial", serial},
                                {"reason", "terminal " + serial + " has seen action " + std::to_string(seen) +
                                               ", which this database never issued (restored from an older backup?)"}};
  FW_RETURN_IF_ERROR(Record(store, now_s, "system", "action.id_floor", std::string("setting:") + kActionIdFloorSetting,
                            before.dump(), after.dump())
                         .status());
  return true;
}

}  // namespace fw::server::restore
