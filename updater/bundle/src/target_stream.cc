// SKELETON (issue 17, helper "tufstream"): a bundle assembled from a TUF repository.
#include "fw/net_sources.h"

namespace fw::bundle {

Result<std::unique_ptr<BundleSource>> OpenTargetStream(const TargetStreamSpec& spec, TargetStreamStats*) {
  return Unsupported("SKELETON: OpenTargetStream(" + spec.target_path + ")");
}

}  // namespace fw::bundle
