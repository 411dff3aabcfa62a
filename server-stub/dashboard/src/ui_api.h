// The dashboard's view of the operator API (internal to fw_server_dashboard): JSON in, JSON out, as
// the session's token. Pages take a UiApi& so that tests can give them the real API over a test store.
//
// Contract:
//  - Get(target) / Post(target, body): target is an operator API path with its query ("/v1/devices?limit=50");
//    the reply's status is the API's; body is the parsed JSON (null when the body was not JSON);
//    error/message are the API's {"error","message"} on a 4xx/5xx.
// Thread safety: one per request (the handler's thread).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fw/server/operator_api.h"

namespace fw::server::dash {

struct ApiReply {
  int status = 0;
  nlohmann::json body;
  std::string error;    // the API's error code ("" on success)
  std::string message;  // the API's message ("" on success)
  bool ok() const { return status >= 200 && status < 300; }
};

class UiApi {
 public:
  virtual ~UiApi() = default;
  virtual ApiReply Get(const std::string& target) = 0;
  virtual ApiReply Post(const std::string& target, const nlohmann::json& body) = 0;
};

// Over `api` as the token with id `token_id` (OperatorApiHandler::HandleAs). Borrows `api`.
std::unique_ptr<UiApi> MakeUiApi(OperatorApiHandler& api, int64_t token_id);

}  // namespace fw::server::dash
