// Fuzz target: TUF metadata parsing, canonical JSON, key decoding (with the canonical
// DER used to count distinct keys) and threshold verification against the root in the
// input itself. Must never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "fw/canonical_json.h"
#include "fw/tuf_metadata.h"

namespace {

// Every key the parser accepts is decoded and put in canonical form, as threshold
// counting does for keys whose signature verified.
void DecodeKeys(const std::map<std::string, fw::tuf::Key>& keys) {
  for (const auto& [id, key] : keys) {
    if (auto pub = key.ToPublicKey(); pub.ok()) (void)pub->CanonicalDer();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)fw::CanonicalizeJson(bytes, 1 << 20);
  (void)fw::tuf::PeekRoleType(bytes, 1 << 20);
  if (auto root = fw::tuf::ParseMetadata<fw::tuf::Root>(bytes, fw::tuf::kMaxRootBytes); root.ok()) {
    const auto& r = root->signed_;
    DecodeKeys(r.keys);
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
      DecodeKeys(t->signed_.delegations->keys);
      for (const auto& role : t->signed_.delegations->roles) (void)role.MatchesTarget("fw/a.img");
    }
  }
  (void)fw::tuf::ParseMetadata<fw::tuf::Snapshot>(bytes, fw::tuf::kMaxSnapshotBytes);
  (void)fw::tuf::ParseMetadata<fw::tuf::Timestamp>(bytes, fw::tuf::kMaxTimestampBytes);
  return 0;
}
