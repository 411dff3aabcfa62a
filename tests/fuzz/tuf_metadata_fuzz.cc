// Fuzz target: TUF metadata parsing, canonical JSON and threshold verification
// against the root in the input itself. Must never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fw/canonical_json.h"
#include "fw/tuf_metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)fw::CanonicalizeJson(bytes, 1 << 20);
  (void)fw::tuf::PeekRoleType(bytes, 1 << 20);
  if (auto root = fw::tuf::ParseMetadata<fw::tuf::Root>(bytes, fw::tuf::kMaxRootBytes); root.ok()) {
    const auto& r = root->signed_;
    (void)fw::tuf::VerifyThreshold("root", root->signed_bytes, root->signatures, r.keys, r.roles.at("root"));
    (void)fw::tuf::SerializeSigned(r);
  }
  if (auto t = fw::tuf::ParseMetadata<fw::tuf::Targets>(bytes, fw::tuf::kMaxTargetsBytes); t.ok()) {
    (void)fw::tuf::SerializeSigned(t->signed_);
    for (const auto& [name, tf] : t->signed_.targets) {
      (void)tf.Firmware();
      (void)fw::tuf::CheckFirmwarePolicy(name, tf, {"FUZZ", 1});
    }
    if (t->signed_.delegations) {
      for (const auto& role : t->signed_.delegations->roles) (void)role.MatchesTarget("fw/a.img");
    }
  }
  (void)fw::tuf::ParseMetadata<fw::tuf::Snapshot>(bytes, fw::tuf::kMaxSnapshotBytes);
  (void)fw::tuf::ParseMetadata<fw::tuf::Timestamp>(bytes, fw::tuf::kMaxTimestampBytes);
  return 0;
}
