// Fuzz target: offline role files (fw/tuf_offline.h) — the file a signing holder or the
// merge step receives: parsing, the holder's summary (with and without a published
// root to compare with), signature checks, threshold counts and merging two copies.
// Must never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "fw/tuf_offline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto role = fw::tuf::ParseOfflineRole(bytes);
  if (!role.ok()) return 0;
  (void)fw::tuf::ParseOfflineRole(role->Serialize());
  fw::tuf::OfflineContext none;
  (void)fw::tuf::DescribeOfflineRole(*role, none, 0);
  fw::tuf::OfflineContext self;
  if (role->root) self.previous_root = *role->root;  // the role as its own predecessor
  if (role->targets) self.published_targets = *role->targets;
  (void)fw::tuf::DescribeOfflineRole(*role, self, 0);
  (void)fw::tuf::CheckSignatures(*role, self, "fuzz");
  (void)fw::tuf::CountThresholds(*role, self);
  std::vector<std::pair<std::string, fw::tuf::OfflineRole>> copies = {{"a", *role}, {"b", *role}};
  (void)fw::tuf::MergeOfflineRoles(copies, none);
  return 0;
}
