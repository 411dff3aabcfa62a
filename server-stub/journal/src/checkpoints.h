// Checkpoint bookkeeping shared by the check-in and segment paths (internal).
// Thread safety: functions on caller-owned values.
#pragma once

#include <string>
#include <string_view>

#include "fw/server/journal_witness.h"

namespace fw::server::witness::internal {

// Largest sequence number accepted anywhere (keeps seq + count arithmetic far from overflow).
inline constexpr int64_t kMaxSeq = int64_t{1} << 53;

// The checkpoint at `seq`, or nullptr.
const Checkpoint* FindCheckpoint(const State& state, int64_t seq);

// The hash the server knows for `seq`: verified_head at verified_seq, else a checkpoint's head
// (verified ones preferred); "" when it knows none. `*verified` tells which kind it is.
std::string KnownHead(const State& state, int64_t seq, bool* verified);

// Inserts or refreshes (seq, head) as the most recent checkpoint. A verified checkpoint is
// never replaced by an unverified head; `verified` upgrades an existing one. Evicts the
// oldest entries beyond kMaxCheckpoints.
void PutCheckpoint(State& state, int64_t seq, const std::string& head_hex, bool verified);

// The first 16 hex digits and an ellipsis, for messages.
std::string Short(std::string_view hex);

}  // namespace fw::server::witness::internal
