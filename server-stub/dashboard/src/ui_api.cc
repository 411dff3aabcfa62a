// The dashboard's view of the operator API (ui_api.h).
#include "ui_api.h"

namespace fw::server::dash {
namespace {

class InProcessApi final : public UiApi {
 public:
  InProcessApi(OperatorApiHandler& api, int64_t token_id) : api_(api), token_id_(token_id) {}

  ApiReply Get(const std::string& target) override { return Call("GET", target, ""); }
  ApiReply Post(const std::string& target, const nlohmann::json& body) override {
    return Call("POST", target, body.dump());
  }

 private:
  ApiReply Call(const char* method, const std::string& target, std::string body) {
    Request request;
    request.method = method;
    request.target = target;
    request.body = std::move(body);
    if (!request.body.empty()) request.headers["content-type"] = "application/json";
    const Response response = api_.HandleAs(request, token_id_);
    ApiReply reply;
    reply.status = response.status;
    reply.body = nlohmann::json::parse(response.body, nullptr, false);
    if (reply.body.is_discarded()) reply.body = nullptr;
    if (!reply.ok() && reply.body.is_object()) {
      reply.error = reply.body.value("error", "");
      reply.message = reply.body.value("message", "");
    }
    return reply;
  }

  OperatorApiHandler& api_;
  int64_t token_id_;
};

}  // namespace

std::unique_ptr<UiApi> MakeUiApi(OperatorApiHandler& api, int64_t token_id) {
  return std::make_unique<InProcessApi>(api, token_id);
}

}  // namespace fw::server::dash
