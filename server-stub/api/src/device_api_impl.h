// The device API handler (fw/server/device_api.h), split over device_api.cc (routing,
// authentication, enrolment, renewal) and device_routes.cc (check-in, events, segments).
// Internal to fw_server_api. Thread safety: one instance per thread (see device_api.h).
#pragma once

#include <memory>
#include <random>
#include <string>
#include <variant>

#include "fw/server/device_api.h"
#include "fw/server/store.h"
#include "last_seen.h"

namespace fw::server {

// {"error": code, "message": message} with `status` (docs/fleet-protocol.md, "Errors").
Response ErrorResponse(int status, std::string_view code, std::string_view message);
// A store failure: 503 busy + Retry-After 1 for a lock timeout, 503 store_unavailable + Retry-After
// kStoreRetryAfterSeconds for an unreachable database (kIoError), 500 internal otherwise. The response
// carries kStoreErrorHeader (the store's error code name, for the metrics); Handle() takes it off.
Response StoreErrorResponse(const Status& status);
inline constexpr const char* kStoreErrorHeader = "x-fw-store-error";
inline constexpr int kStoreRetryAfterSeconds = 5;
// "timeout" | "io_error" | "resource_exhausted" | "corrupt" | "failed_precondition" | "internal" | "other".
std::string_view StoreErrorCodeName(ErrorCode code);
// Removes kStoreErrorHeader from `response`; its value ("" when absent).
std::string TakeStoreErrorMark(Response& response);
Response JsonResponse(int status, const std::string& body);

class DeviceApi final : public RequestHandler {
 public:
  DeviceApi(const DeviceApiConfig& config, std::unique_ptr<Store> store, CertIssuer& issuer, Clock& clock);
  ~DeviceApi() override;

  Response Handle(const Request& request) override;
  uint64_t MaxBodyBytes(const std::string& method, const std::string& target) const override;

 private:
  // The device behind a request's client certificate, or the error response.
  std::variant<Device, Response> Authenticate(const Peer& peer, bool allow_expired);
  Response Enrol(const Request& request);
  Response Renew(const Request& request);
  Response Checkin(const Request& request);
  Response Events(const Request& request, const std::string& id_text);
  Response Segments(const Request& request);
  Response Ready();
  Result<std::string> ReceiptKey();  // restored_backup.h, cached
  Result<bool> ActionIdFloorDue(int64_t max_action_id);
  Response IssueError(const Status& status);
  void NoteSeen(const std::string& serial, bool checkin = false);  // checkin: a successful check-in
  void FlushSeen(const LastSeenBuffer::Batch& batch);
  int64_t NowS() const { return clock_.WallSeconds(); }

  DeviceApiConfig config_;
  std::unique_ptr<Store> store_;
  CertIssuer& issuer_;
  Clock& clock_;
  std::shared_ptr<LastSeenBuffer> last_seen_;
  std::mt19937_64 rng_;
  std::string receipt_key_;           // "" until first needed
  int64_t next_action_id_known_ = 0;  // Store::NextActionId() as last read
  int64_t next_action_id_checked_ms_ = 0;
};

}  // namespace fw::server
