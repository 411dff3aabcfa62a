// The rollout list and one rollout's page (pages.h). SKELETON: the ROLLOUTPAGES helper builds these.
#include "pages.h"

namespace fw::server::dash {

Page RolloutsPage(UiApi& /*api*/, const PageContext& /*ctx*/) {
  Page p;
  p.title = "Rollouts";
  p.body.Element("p", "not built yet");
  return p;
}

Page RolloutPage(UiApi& /*api*/, const PageContext& /*ctx*/, int64_t id) {
  Page p;
  p.title = "Rollout " + std::to_string(id);
  p.body.Element("p", "not built yet");
  return p;
}

}  // namespace fw::server::dash
