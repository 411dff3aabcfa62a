// Issue 19: a fleet database restored from an older backup (docs/fleet-protocol.md, "A restored
// database"). Internal to fw_server_api; used by the check-in and the segment routes.
//
// Contract:
//  - Action ids: a terminal reports the highest action id it has seen (max_action_id). When that id is
//    at or above Store::NextActionId(), this database never issued it (or lost it): RaiseActionIdFloor
//    raises the settings row kActionIdFloorSetting to it, in the caller's transaction, with an audit row
//    "action.id_floor", so CreateAction never hands the terminal an id it already finished.
//  - Witness receipts: every accepted segment's reply carries a receipt {epoch, seq, mac}, mac =
//    HMAC-SHA256 over (serial, epoch, seq) under the settings row "witness_receipt_key" (64 hex, made
//    once by PutSettingIfAbsent), 32 hex. A terminal echoes its last receipt at check-in. A receipt with
//    a valid mac that acknowledges more than the stored witness holds (a later epoch, or a higher
//    verified seq in the same epoch) proves the witness went backwards — the database was restored —
//    and the witness starts a new epoch instead of raising truncation alarms. Without a valid receipt
//    nothing changes: a terminal cannot reset its own witness by claiming a position.
// Thread safety: stateless functions over the caller's store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fw/server/device_messages.h"
#include "fw/server/journal_witness.h"
#include "fw/server/store.h"

namespace fw::server::restore {

inline constexpr const char* kReceiptKeySetting = "witness_receipt_key";
// A reported max_action_id this far (or further) above NextActionId() is not believed: no restore loses a
// million actions, and a compromised terminal must not exhaust the fleet's id space.
inline constexpr int64_t kMaxActionIdFloorJump = 1'000'000;

// The receipt key (64 lower-case hex), created when absent (the first writer wins).
Result<std::string> ReceiptKey(Store& store);
// 32 lower-case hex digits.
std::string ReceiptMac(std::string_view key_hex, std::string_view serial, int64_t epoch, int64_t seq);
// True when `receipt` carries a valid mac for `serial` and acknowledges more than `state` holds.
bool ReceiptAhead(std::string_view key_hex, std::string_view serial, const witness::State& state,
                  const WitnessReceiptReport& receipt);
// Starts the epoch that follows both the stored state and the receipt (witness::StartNewEpoch, with the
// epoch above the receipt's so no segment of the lost epoch can be mixed in).
void StartEpochAfterRestore(witness::State& state, const WitnessReceiptReport& receipt);

// Inside the caller's transaction: raises the floor to `seen` when NextActionId() <= seen < NextActionId() +
// kMaxActionIdFloorJump; true when it did (with its audit row, actor "system", object
// "setting:action_id_floor").
Result<bool> RaiseActionIdFloor(Store& store, int64_t seen, const std::string& serial, int64_t now_s);

}  // namespace fw::server::restore
