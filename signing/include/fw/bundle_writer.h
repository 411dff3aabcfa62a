// `fwsign bundle create`: an offline bundle (manifests/docs/bundle-format.md) from a
// published repository (fw/tuf_repo.h) and one of its targets.
#pragma once

#include <cstdint>
#include <string>

#include "fw/status.h"

namespace fw::bundle {

struct CreateOptions {
  std::string repo;
  std::string target;  // TUF target path
  std::string output;
  uint64_t root_from = 1;  // first root version to include (devices may lack later ones)
  bool with_timestamp_snapshot = true;
};

// Writes the bundle through OutputFile: nothing is left behind on failure.
Status CreateBundle(const CreateOptions& options);

}  // namespace fw::bundle
