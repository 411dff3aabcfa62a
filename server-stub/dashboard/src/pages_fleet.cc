// The fleet overview and the terminal list (pages.h). SKELETON: the FLEETPAGES helper builds these.
#include "pages.h"

namespace fw::server::dash {

Page FleetPage(UiApi& /*api*/, const PageContext& /*ctx*/) {
  Page p;
  p.title = "Fleet";
  p.body.Element("p", "not built yet");
  return p;
}

Page DevicesPage(UiApi& /*api*/, const PageContext& /*ctx*/) {
  Page p;
  p.title = "Terminals";
  p.body.Element("p", "not built yet");
  return p;
}

}  // namespace fw::server::dash
