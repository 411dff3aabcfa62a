// The operator port: the dashboard under /ui, the operator API for the rest (fw/server/dashboard.h).
// SKELETON: the CORE helper builds routing, login, sessions, CSRF, the layout and the headers.
#include "fw/server/dashboard.h"

#include "fw/server/operator_messages.h"

namespace fw::server {
namespace {

class OperatorPort final : public RequestHandler {
 public:
  OperatorPort(std::unique_ptr<OperatorApiHandler> api, const DashboardConfig& config, Clock& clock)
      : api_(std::move(api)), config_(config), clock_(clock) {}

  Response Handle(const Request& request) override {
    const std::string path = SplitTarget(request.target).first;
    if (path == "/ui" || path.starts_with("/ui/")) {
      Response r;
      r.status = 404;
      r.body = "the dashboard is not built yet\n";
      r.Header("Content-Type", "text/plain; charset=utf-8");
      return r;
    }
    return api_->Handle(request);
  }
  uint64_t MaxBodyBytes(const std::string& method, const std::string& target) const override {
    return api_->MaxBodyBytes(method, target);
  }

 private:
  std::unique_ptr<OperatorApiHandler> api_;
  DashboardConfig config_;
  Clock& clock_;
};

}  // namespace

std::unique_ptr<RequestHandler> MakeOperatorPort(std::unique_ptr<OperatorApiHandler> api, const DashboardConfig& config,
                                                 Clock& clock) {
  return std::make_unique<OperatorPort>(std::move(api), config, clock);
}

}  // namespace fw::server
