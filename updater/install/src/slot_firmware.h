// Internal to fw_install: the durable record, per slot, of the signed metadata that
// admitted the slot's firmware (its journal-schema range), and the plan's schema check.
#pragma once

#include <optional>
#include <string>

#include "fw/boot/boot_backend.h"
#include "fw/install/installer.h"
#include "fw/journal/migrations.h"
#include "fw/status.h"
#include "fw/tuf_metadata.h"

namespace fw::bundle {
struct VerifiedBundle;
}

namespace fw::install {

// DATA_DIR/slots/<A|B>/targets.json (the signed targets metadata, bytes as the bundle
// brought them) and target.json ({"target": NAME}). Written before the slot becomes a
// trial; a record that does not match the slot's boot-control version is ignored.
Status SaveSlotFirmware(const Terminal& t, uint8_t slot, const bundle::VerifiedBundle& vb);

struct SlotFirmware {
  std::string target_name;
  tuf::FirmwareFacts facts;
  journal::SchemaRange schema() const {
    return {static_cast<int>(facts.journal_schema_min), static_cast<int>(facts.journal_schema_max)};
  }
};

// The slot's record, re-verified: the targets metadata carries a threshold of
// signatures of the targets role of the trusted root (DATA_DIR/tuf/root.json), lists the
// target, and its firmware facts match the slot in boot control (version, security
// counter, hardware id). nullopt when the slot has no record; an error when it has
// one that does not verify.
Result<std::optional<SlotFirmware>> LoadSlotFirmware(const Terminal& t, uint8_t slot, const boot::BootState& bc);

// The plan's journal-schema rule (journal::CheckSchemaPlan) for the bundle's signed
// range, with the confirmed slot's signed range as the revert target when known.
Status CheckJournalSchemaFits(const Terminal& t, const boot::BootState& bc, const bundle::VerifiedBundle& vb);

}  // namespace fw::install
