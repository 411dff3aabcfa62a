// Journal-schema ranges of firmware: can a journal be moved into a range (and back)?
#include <set>

#include "fw/journal/journal.h"
#include "fw/journal/migrations.h"

namespace fw::journal {

std::string SchemaRange::Text() const {
  return min == max ? "v" + std::to_string(min) : "v" + std::to_string(min) + "..v" + std::to_string(max);
}

std::string SchemaReach::Text() const {
  return "v" + std::to_string(current) + " (reachable with its stored migrations and this updater's: v" +
         std::to_string(lowest) + "..v" + std::to_string(highest) + ")";
}

namespace {

// Versions whose down SQL the journal stores.
Result<std::set<int>> StoredDowns(const std::string& path) {
  std::set<int> out;
  FW_ASSIGN_OR_RETURN(auto stored, ListStoredMigrations(path));
  for (const auto& m : stored) {
    if (m.has_down) out.insert(m.version);
  }
  return out;
}

// Lowest version reachable down from `from` with the down SQL in `downs`.
int LowestReach(int from, const std::set<int>& downs) {
  int v = from;
  while (v > 1 && downs.count(v)) --v;
  return v;
}

}  // namespace

Result<SchemaReach> ReachOf(const std::string& journal_path, int lock_timeout_ms, const std::string& vfs) {
  OpenOptions o;
  o.read_only = true;
  o.lock_timeout_ms = lock_timeout_ms;
  o.vfs = vfs;
  FW_ASSIGN_OR_RETURN(Journal j, Journal::Open(journal_path, o));
  SchemaReach r;
  FW_ASSIGN_OR_RETURN(r.current, j.SchemaVersion());
  FW_ASSIGN_OR_RETURN(auto downs, StoredDowns(journal_path));
  r.lowest = LowestReach(r.current, downs);
  r.highest = std::max(r.current, kCurrentSchemaVersion);
  return r;
}

Status CheckSchemaPlan(const std::string& journal_path, const SchemaRange& firmware,
                       const std::optional<SchemaRange>& fallback, const std::string& firmware_name,
                       int lock_timeout_ms, const std::string& vfs) {
  FW_ASSIGN_OR_RETURN(SchemaReach reach, ReachOf(journal_path, lock_timeout_ms, vfs).WithContext("journal schema"));
  auto refuse = [&](const std::string& why) {
    return FailedPrecondition("journal " + journal_path + " has schema " + reach.Text() + ", firmware " +
                              firmware_name + " reads journal schema " + firmware.Text() + ": " + why);
  };
  if (firmware.min > firmware.max || firmware.min < 1) return refuse("the signed range is empty");
  if (!(reach.lowest <= firmware.max && reach.highest >= firmware.min)) {
    return refuse("no stored or known migration brings it into that range");
  }
  if (!fallback) return Status::Ok();
  // After a revert: from the version the new firmware's first boot leaves it at, back into the
  // confirmed firmware's range. Down steps it will have applied store their down SQL
  // (this code's migrations); the ones already in the file are listed there.
  const int aligned = AlignedVersion(reach.current, firmware);
  FW_ASSIGN_OR_RETURN(auto downs, StoredDowns(journal_path));
  for (const auto& m : BuiltinMigrations()) {
    if (m.version > reach.current && m.version <= aligned && !m.down_sql.empty()) downs.insert(m.version);
  }
  const int back_lowest = LowestReach(aligned, downs);
  const int back_highest = std::max(aligned, kCurrentSchemaVersion);
  if (!(back_lowest <= fallback->max && back_highest >= fallback->min)) {
    return refuse("after a revert it could not be moved back into the confirmed firmware's range " + fallback->Text() +
                  " (it would be at v" + std::to_string(aligned) + ", reachable v" + std::to_string(back_lowest) +
                  "..v" + std::to_string(back_highest) + ")");
  }
  return Status::Ok();
}

}  // namespace fw::journal
