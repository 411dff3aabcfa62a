// Early-boot journal alignment (docs/journal.md, "Schema ranges"): before the payment
// application opens the journal, the booted firmware's signed journal-schema range
// is looked up and the journal migrated into it — up with this code's migrations
// after a new firmware's first boot, down with the down SQL stored in the journal
// after a revert. `fwupdate journal align --device LAYOUT` runs it.
//
// Thread safety: one call at a time per terminal.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fw/install/installer.h"
#include "fw/journal/journal.h"
#include "fw/journal/migrations.h"
#include "fw/status.h"

namespace fw::install {

struct AlignResult {
  uint8_t slot = boot::kNoSlot;  // the booted slot
  std::string firmware_version;  // of the booted slot (boot control)
  std::optional<journal::SchemaRange> range;
  // Where the range came from: "signed" (the targets metadata that admitted the slot's
  // firmware, re-verified against the trusted root), "previous" (the slot has no such
  // record: the version the journal had before another slot's firmware moved it), or
  // "unknown" (nothing is moved). A record that does not verify refuses the align
  // (kVerificationFailed / kCorrupt, exit 3) with the journal untouched.
  std::string range_source;
  std::string note;
  int from = 0;  // journal schema before and after
  int to = 0;
  std::vector<journal::Journal::MigrationStep> steps;
  bool journal_exists = true;
};

// Moves the journal into the booted firmware's journal-schema range. Refuses with
// kFailedPrecondition (exit 5) naming both when it cannot.
Result<AlignResult> AlignJournal(Terminal& t);

}  // namespace fw::install
