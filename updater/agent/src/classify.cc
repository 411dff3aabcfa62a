// Transient or permanent: docs/exit-codes.md "Retry or give up" as a function.
#include "fw/agent/agent.h"

namespace fw::agent {

Disposition Classify(const std::string& stage, int exit_code, const std::string& error_kind) {
  const bool exhausted = error_kind == "resource exhausted";
  switch (exit_code) {
    case 4:
      // A full disk or a size cap does not go away by itself; a missing or unreadable bundle or layout
      // at the plan is the device's configuration.
      if (exhausted) return Disposition::kPermanent;
      if (stage == "plan") return Disposition::kPermanent;
      // download, backup, lock: the network or another writer; snapshot, write, verify: once more
      // (nothing confirmed was touched), bounded by max_transient_attempts.
      return Disposition::kTransient;
    case 5:
      // Only "an operation is in progress" goes away by itself.
      return stage == "lock" ? Disposition::kTransient : Disposition::kPermanent;
    case 6:
      return Disposition::kTransient;  // a deadline, the minimum speed, the lock wait
    default:
      // 0 (not an error), 1 (negative verdict), 2 (the caller), 3 (same bytes, same answer), 70 (a bug).
      return Disposition::kPermanent;
  }
}

}  // namespace fw::agent
