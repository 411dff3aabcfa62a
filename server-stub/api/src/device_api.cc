// The device API: routing, client-certificate authentication, enrolment and renewal
// (docs/fleet-protocol.md). Check-in, events and segments are in device_routes.cc.
#include <nlohmann/json.hpp>

#include "device_api_impl.h"
#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/device_messages.h"
#include "fw/server/journal_witness.h"

namespace fw::server {
namespace {

using Json = nlohmann::json;

std::string Path(const std::string& target) { return target.substr(0, target.find('?')); }

std::string TokenHash(std::string_view token) { return HexEncode(Sha256::Of(AsBytes(token))); }

}  // namespace

Response JsonResponse(int status, const std::string& body) {
  Response r;
  r.status = status;
  r.body = body;
  r.Header("Content-Type", "application/json").Header("Cache-Control", "no-store");
  return r;
}

Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  return JsonResponse(status, Json{{"error", code}, {"message", message}}.dump());
}

std::string_view StoreErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kIoError:
      return "io_error";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kInternal:
      return "internal";
    default:
      return "other";
  }
}

Response StoreErrorResponse(const Status& status) {
  Response r;
  if (status.code() == ErrorCode::kTimeout) {
    r = ErrorResponse(503, "busy", "the store is busy: " + status.message()).Header("Retry-After", "1");
  } else if (status.code() == ErrorCode::kIoError) {
    // The database is unreachable (PostgreSQL down, a lost connection, an I/O error): the terminal
    // comes back later; nothing it sent was taken.
    r = ErrorResponse(503, "store_unavailable", "the store is unavailable: " + status.message())
            .Header("Retry-After", std::to_string(kStoreRetryAfterSeconds));
  } else {
    r = ErrorResponse(500, "internal", "store: " + status.message());
  }
  r.Header(kStoreErrorHeader, std::string(StoreErrorCodeName(status.code())));
  return r;
}

std::string TakeStoreErrorMark(Response& response) {
  std::string code;
  auto& h = response.headers;
  for (auto it = h.begin(); it != h.end();) {
    if (it->first == kStoreErrorHeader) {
      code = it->second;
      it = h.erase(it);
    } else {
      ++it;
    }
  }
  return code;
}

DeviceApi::DeviceApi(const DeviceApiConfig& config, std::unique_ptr<Store> store, CertIssuer& issuer, Clock& clock)
    : config_(config),
      store_(std::move(store)),
      issuer_(issuer),
      clock_(clock),
      last_seen_(LastSeenBuffer::For(config.db_path)),
      rng_(std::random_device{}()) {}

DeviceApi::~DeviceApi() { FlushSeen(last_seen_->TakeAll(clock_.MonotonicMs())); }

void DeviceApi::NoteSeen(const std::string& serial, bool checkin) {
  FlushSeen(last_seen_->Note(serial, NowS(), clock_.MonotonicMs(), checkin));
}

void DeviceApi::FlushSeen(const LastSeenBuffer::Batch& batch) {
  // Best effort: last_seen and the check-in counts are informational; a failed batch is dropped,
  // never retried in a loop.
  if (!batch.seen.empty()) store_->TouchLastSeen(batch.seen).IgnoreError();
  if (!batch.checkins.empty()) store_->AddCheckinCounts(batch.checkins).IgnoreError();
}

uint64_t DeviceApi::MaxBodyBytes(const std::string& method, const std::string& target) const {
  if (method != "POST") return 0;
  const std::string path = Path(target);
  if (path == "/v1/enrol" || path == "/v1/renew") return kMaxEnrolBytes;
  if (path == "/v1/checkin") return kMaxCheckinBytes;
  if (path == "/v1/journal/segments") return witness::kMaxSegmentBytes;
  if (path.starts_with("/v1/actions/") && path.ends_with("/events")) return kMaxEventBytes;
  // An unknown route still gets its small body read, so the answer names the route (404), not the size.
  return kMaxEventBytes;
}

// The metrics route name of a device API path (fw/server/metrics.h: a fixed set).
static std::string_view MetricsRoute(const std::string& path, bool events) {
  if (path == "/v1/enrol") return "enrol";
  if (path == "/v1/renew") return "renew";
  if (path == "/v1/checkin") return "checkin";
  if (path == "/v1/journal/segments") return "segments";
  return events ? "events" : "other";
}

Response DeviceApi::Handle(const Request& request) {
  const int64_t start_ms = clock_.MonotonicMs();
  const std::string path = Path(request.target);
  std::string action_id;
  const bool events = path.starts_with("/v1/actions/") && path.ends_with("/events") && path.size() > 19;
  if (events) action_id = path.substr(12, path.size() - 12 - 7);
  auto dispatch = [&]() -> Response {
    // Probes of an L4 balancer or an orchestrator: no certificate, no body (docs/fleet-server.md).
    if (path == "/livez" || path == "/readyz") {
      if (request.method != "GET" && request.method != "HEAD") {
        return ErrorResponse(405, "method_not_allowed", path + " takes GET").Header("Allow", "GET, HEAD");
      }
      return path == "/livez" ? JsonResponse(200, R"({"live":true})") : Ready();
    }
    const bool known =
        path == "/v1/enrol" || path == "/v1/renew" || path == "/v1/checkin" || path == "/v1/journal/segments" || events;
    if (!known) return ErrorResponse(404, "not_found", "no route " + path);
    if (request.method != "POST") {
      return ErrorResponse(405, "method_not_allowed", path + " takes POST").Header("Allow", "POST");
    }
    if (request.body.size() > MaxBodyBytes(request.method, request.target)) {
      return ErrorResponse(413, "too_large", "the body exceeds the route's cap");
    }
    try {
      if (path == "/v1/enrol") return Enrol(request);
      if (path == "/v1/renew") return Renew(request);
      if (path == "/v1/checkin") return Checkin(request);
      if (path == "/v1/journal/segments") return Segments(request);
      return Events(request, action_id);
    } catch (const std::exception& e) {  // a bug (e.g. bad_alloc): never let it reach the transport
      return ErrorResponse(500, "internal", e.what());
    }
  };
  Response response = dispatch();
  const std::string store_error = TakeStoreErrorMark(response);
  if (config_.metrics != nullptr) {
    if (!store_error.empty()) config_.metrics->ObserveStoreError("device", store_error);
    std::string code;  // an error's code, from the body ErrorResponse wrote
    if (response.status >= 400) {
      const Json body = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
      if (body.is_object() && body.contains("error") && body["error"].is_string()) code = body["error"];
    }
    config_.metrics->ObserveRequest("device", MetricsRoute(path, events), response.status, code,
                                    clock_.MonotonicMs() - start_ms);
  }
  return response;
}

// Ready when the store answers one round trip (bounded by the store's own timeouts).
Response DeviceApi::Ready() {
  const Status s = store_->Ping();
  if (!s.ok()) {
    return ErrorResponse(503, "not_ready", "store: " + s.message())
        .Header("Retry-After", std::to_string(kStoreRetryAfterSeconds))
        .Header(kStoreErrorHeader, std::string(StoreErrorCodeName(s.code())));
  }
  return JsonResponse(200, R"({"ready":true})");
}

std::variant<Device, Response> DeviceApi::Authenticate(const Peer& peer, bool allow_expired) {
  switch (peer.cert) {
    case Peer::CertState::kNone:
      return ErrorResponse(401, "certificate_required", "this route needs a fleet device certificate");
    case Peer::CertState::kInvalid:
      return ErrorResponse(401, "certificate_invalid", "client certificate refused: " + peer.problem);
    case Peer::CertState::kExpired:
      if (!allow_expired) return ErrorResponse(401, "certificate_expired", "the certificate has expired: renew it");
      if (NowS() - peer.not_after_s > config_.renew_grace_seconds) {
        return ErrorResponse(401, "certificate_expired",
                             "the certificate expired more than the renewal grace period ago: enrol again");
      }
      break;
    case Peer::CertState::kValid:
      break;
  }
  auto denied = store_->IsCertDenied(peer.cert_serial_hex);
  if (!denied.ok()) return StoreErrorResponse(denied.status());
  if (*denied) return ErrorResponse(403, "revoked", "certificate " + peer.cert_serial_hex + " is revoked");
  auto found = store_->GetDevice(peer.serial);
  if (!found.ok()) return StoreErrorResponse(found.status());
  if (!found->has_value()) {
    // First contact of a certificate the fleet CA issued: the device is created and bound to its key.
    Device d{peer.serial, peer.spki_sha256_hex, DeviceState::kActive, "", NowS(), NowS(), "", "", "", ""};
    Status s = store_->CreateDevice(d);
    if (!s.ok()) {
      auto again = store_->GetDevice(peer.serial);  // another thread's first contact won the race
      if (!again.ok() || !again->has_value()) return StoreErrorResponse(s);
      *found = std::move(*again);
    } else {
      return d;
    }
  }
  Device& d = **found;
  if (d.spki_sha256_hex != peer.spki_sha256_hex) {
    return ErrorResponse(409, "identity_conflict", "serial " + d.serial + " is bound to another key");
  }
  if (d.state == DeviceState::kRevoked) return ErrorResponse(403, "revoked", "device " + d.serial + " is revoked");
  return std::move(d);
}

Response DeviceApi::IssueError(const Status& status) {
  if (status.code() == ErrorCode::kIoError || status.code() == ErrorCode::kTimeout) {
    return ErrorResponse(503, "issuer_unavailable", status.message()).Header("Retry-After", "5");
  }
  if (status.code() == ErrorCode::kCorrupt || status.code() == ErrorCode::kVerificationFailed ||
      status.code() == ErrorCode::kUnsupported) {
    return ErrorResponse(400, "bad_csr", status.message());
  }
  return ErrorResponse(500, "internal", "issuing: " + status.message());
}

Response CertResponse(const IssuedCert& cert, const std::string& serial) {
  return JsonResponse(200, Json{{"serial", serial},
                                {"certificate", cert.pem},
                                {"chain", cert.chain_pem},
                                {"cert_serial", cert.cert_serial_hex},
                                {"not_after", cert.not_after_s}}
                               .dump());
}

Response DeviceApi::Enrol(const Request& request) {
  auto req = ParseEnrolRequest(request.body);
  if (!req.ok()) return ErrorResponse(400, "bad_request", req.status().message());
  const std::string hash = TokenHash(req->token);
  const int64_t now = NowS();
  auto token = store_->GetEnrolToken(hash);
  if (!token.ok()) return StoreErrorResponse(token.status());
  if (!token->has_value() || (*token)->serial != req->serial) {
    return ErrorResponse(403, "invalid_token", "no enrolment token for this serial matches");
  }
  if ((*token)->used_s) return ErrorResponse(409, "token_used", "the enrolment token was used already");
  if ((*token)->expires_s <= now) return ErrorResponse(403, "token_expired", "the enrolment token has expired");
  auto device = store_->GetDevice(req->serial);
  if (!device.ok()) return StoreErrorResponse(device.status());
  if (device->has_value() && (*device)->state == DeviceState::kRevoked) {
    return ErrorResponse(403, "revoked", "device " + req->serial + " is revoked");
  }
  auto cert = issuer_.IssueDeviceCert(req->csr_pem, req->serial, now, now + config_.cert_validity_seconds);
  if (!cert.ok()) return IssueError(cert.status());
  bool used = false;
  Status s = store_->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(bool consumed, store_->ConsumeEnrolToken(hash, now));
    if (!consumed) return used = true, FailedPrecondition("token used");
    const std::string actor = "device:" + req->serial;
    Json after{{"state", "active"}, {"spki_sha256", cert->spki_sha256_hex}, {"cert_serial", cert->cert_serial_hex}};
    if (!device->has_value()) {
      FW_RETURN_IF_ERROR(store_->CreateDevice(
          {req->serial, cert->spki_sha256_hex, DeviceState::kActive, "", now, now, "", "", "", ""}));
      FW_RETURN_IF_ERROR(Record(*store_, now, actor, "device.enrol", actor, "null", after.dump()).status());
    } else {
      // A token for an existing serial (the operator's re-enrol) rebinds it: the new key replaces the
      // old one, every earlier certificate is deny-listed, and the device is active again.
      const Device& d = **device;
      FW_ASSIGN_OR_RETURN(auto old, store_->ListCerts(req->serial));
      Json denied = Json::array();
      for (const auto& c : old) {
        FW_ASSIGN_OR_RETURN(bool already, store_->IsCertDenied(c.cert_serial_hex));
        if (already) continue;
        FW_RETURN_IF_ERROR(store_->DenyCert(c.cert_serial_hex, req->serial, "re-enrolled", now));
        denied.push_back(c.cert_serial_hex);
      }
      if (d.spki_sha256_hex != cert->spki_sha256_hex)
        FW_RETURN_IF_ERROR(store_->SetDeviceKey(req->serial, cert->spki_sha256_hex));
      if (d.state != DeviceState::kActive)
        FW_RETURN_IF_ERROR(store_->SetDeviceState(req->serial, DeviceState::kActive, ""));
      after["denied_certificates"] = denied;
      const Json before{
          {"state", DeviceStateName(d.state)}, {"reason", d.state_reason}, {"spki_sha256", d.spki_sha256_hex}};
      FW_RETURN_IF_ERROR(Record(*store_, now, actor, "device.re_enrol", actor, before.dump(), after.dump()).status());
    }
    return store_->AddCert({cert->cert_serial_hex, req->serial, cert->spki_sha256_hex, now, cert->not_after_s});
  });
  if (!s.ok()) {
    // The certificate exists but was not recorded: deny it so it can never be used.
    store_->DenyCert(cert->cert_serial_hex, req->serial, "enrolment not completed", now).IgnoreError();
    if (used) return ErrorResponse(409, "token_used", "the enrolment token was used already");
    return StoreErrorResponse(s);
  }
  return CertResponse(*cert, req->serial);
}

Response DeviceApi::Renew(const Request& request) {
  auto auth = Authenticate(request.peer, /*allow_expired=*/true);
  if (auto* r = std::get_if<Response>(&auth)) return std::move(*r);
  Device& d = std::get<Device>(auth);
  auto req = ParseRenewRequest(request.body);
  if (!req.ok()) return ErrorResponse(400, "bad_request", req.status().message());
  const int64_t now = NowS();
  auto cert = issuer_.IssueDeviceCert(req->csr_pem, d.serial, now, now + config_.cert_validity_seconds);
  if (!cert.ok()) return IssueError(cert.status());
  Status s = store_->Atomically([&]() -> Status {
    // A renewal may bring a new key (key rotation): the holder of the bound key asked for it.
    if (cert->spki_sha256_hex != d.spki_sha256_hex)
      FW_RETURN_IF_ERROR(store_->SetDeviceKey(d.serial, cert->spki_sha256_hex));
    FW_RETURN_IF_ERROR(
        store_->AddCert({cert->cert_serial_hex, d.serial, cert->spki_sha256_hex, now, cert->not_after_s}));
    const std::string actor = "device:" + d.serial;
    const Json before{{"spki_sha256", d.spki_sha256_hex}, {"cert_serial", request.peer.cert_serial_hex}};
    const Json after{{"spki_sha256", cert->spki_sha256_hex},
                     {"cert_serial", cert->cert_serial_hex},
                     {"not_after", cert->not_after_s}};
    return Record(*store_, now, actor, "device.renew", actor, before.dump(), after.dump()).status();
  });
  if (!s.ok()) {
    store_->DenyCert(cert->cert_serial_hex, d.serial, "renewal not completed", now).IgnoreError();
    return StoreErrorResponse(s);
  }
  NoteSeen(d.serial);
  return CertResponse(*cert, d.serial);
}

Result<std::unique_ptr<RequestHandler>> OpenDeviceApi(const DeviceApiConfig& config, CertIssuer& issuer, Clock& clock) {
  FW_ASSIGN_OR_RETURN(auto store, OpenStore(config.db_path, /*create=*/true));
  return OpenDeviceApi(config, std::move(store), issuer, clock);
}

Result<std::unique_ptr<RequestHandler>> OpenDeviceApi(const DeviceApiConfig& config, std::unique_ptr<Store> store,
                                                      CertIssuer& issuer, Clock& clock) {
  if (store == nullptr) return InvalidArgument("device API: no store");
  return std::unique_ptr<RequestHandler>(new DeviceApi(config, std::move(store), issuer, clock));
}

}  // namespace fw::server
