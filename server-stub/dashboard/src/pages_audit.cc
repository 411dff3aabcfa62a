// The audit log and the alerts (pages.h). SKELETON: the ROLLOUTPAGES helper builds these.
#include "pages.h"

namespace fw::server::dash {

Page AuditPage(UiApi& /*api*/, const PageContext& /*ctx*/) {
  Page p;
  p.title = "Audit log";
  p.body.Element("p", "not built yet");
  return p;
}

Page AlertsPage(UiApi& /*api*/, const PageContext& /*ctx*/) {
  Page p;
  p.title = "Alerts";
  p.body.Element("p", "not built yet");
  return p;
}

}  // namespace fw::server::dash
