// SKELETON: written by the helper that owns it (/work/wt/ROLLOUT-CONTRACT.md).
#include "rollout_internal.h"

namespace fw::server::rollout {}
