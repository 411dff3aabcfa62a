// One terminal's page (pages.h). SKELETON: the FLEETPAGES helper builds it.
#include "pages.h"

namespace fw::server::dash {

Page DevicePage(UiApi& /*api*/, const PageContext& /*ctx*/, const std::string& serial) {
  Page p;
  p.title = "Terminal " + serial;
  p.body.Element("p", "not built yet");
  return p;
}

}  // namespace fw::server::dash
