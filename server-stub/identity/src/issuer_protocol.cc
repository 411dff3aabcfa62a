// The issuer protocol's frames (fw/server/issuer_service.h): 4-byte big-endian length + JSON.
#include <nlohmann/json.hpp>

#include "fw/server/issuer_service.h"

namespace fw::server {
namespace {

using nlohmann::json;

constexpr int64_t kMaxTime = 253402300799;  // 9999-12-31T23:59:59Z

Bytes Frame(const std::string& payload) {
  Bytes out(4 + payload.size());
  const auto n = static_cast<uint32_t>(payload.size());
  out[0] = static_cast<uint8_t>(n >> 24);
  out[1] = static_cast<uint8_t>(n >> 16);
  out[2] = static_cast<uint8_t>(n >> 8);
  out[3] = static_cast<uint8_t>(n);
  std::copy(payload.begin(), payload.end(), out.begin() + 4);
  return out;
}

// The JSON object of a whole frame, with v == 1.
Result<json> Unframe(ByteSpan frame) {
  if (frame.size() < 4) return Corrupt("issuer frame shorter than its 4-byte length");
  const uint32_t n = (uint32_t{frame[0]} << 24) | (uint32_t{frame[1]} << 16) | (uint32_t{frame[2]} << 8) | frame[3];
  if (n == 0 || n > kMaxIssuerFrameBytes) {
    return Corrupt("issuer frame length " + std::to_string(n) + " out of range (1.." +
                   std::to_string(kMaxIssuerFrameBytes) + ")");
  }
  if (frame.size() - 4 != n) return Corrupt("issuer frame length does not match its payload");
  const auto* p = reinterpret_cast<const char*>(frame.data() + 4);
  json doc = json::parse(p, p + n, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Corrupt("issuer frame payload is not a JSON object");
  const auto v = doc.find("v");
  if (v == doc.end() || !v->is_number_unsigned() || v->get<uint64_t>() != 1) {
    return Corrupt("issuer frame: missing or unsupported \"v\" (1 expected)");
  }
  return doc;
}

Result<std::string> StringField(const json& doc, const char* name, size_t max) {
  const auto it = doc.find(name);
  if (it == doc.end() || !it->is_string())
    return Corrupt(std::string("issuer frame: \"") + name + "\" is not a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) return Corrupt(std::string("issuer frame: \"") + name + "\" is too long");
  return s;
}

Result<int64_t> TimeField(const json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end() || !it->is_number_integer()) {
    return Corrupt(std::string("issuer frame: \"") + name + "\" is not an integer");
  }
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(kMaxTime)) return Corrupt(std::string("issuer frame: \"") + name + "\" out of range");
    return static_cast<int64_t>(v);
  }
  return Corrupt(std::string("issuer frame: \"") + name + "\" is negative");
}

std::optional<ErrorCode> CodeFromName(std::string_view name) {
  for (ErrorCode c :
       {ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kCorrupt, ErrorCode::kVerificationFailed,
        ErrorCode::kIoError, ErrorCode::kFailedPrecondition, ErrorCode::kResourceExhausted, ErrorCode::kUnsupported,
        ErrorCode::kTimeout, ErrorCode::kInternal}) {
    if (ErrorCodeName(c) == name) return c;
  }
  return std::nullopt;
}

}  // namespace

Bytes EncodeIssuerRequest(const IssuerRequest& request) {
  const json doc = {{"v", 1},
                    {"op", "issue_device"},
                    {"csr", request.csr_pem},
                    {"serial", request.serial},
                    {"not_before", request.not_before_s},
                    {"not_after", request.not_after_s}};
  return Frame(doc.dump(-1, ' ', false, json::error_handler_t::replace));
}

Result<IssuerRequest> ParseIssuerRequest(ByteSpan frame) {
  FW_ASSIGN_OR_RETURN(json doc, Unframe(frame));
  for (const auto& [key, value] : doc.items()) {
    (void)value;
    if (key != "v" && key != "op" && key != "csr" && key != "serial" && key != "not_before" && key != "not_after") {
      return Corrupt("issuer request: unknown field \"" + key.substr(0, 64) + "\"");
    }
  }
  FW_ASSIGN_OR_RETURN(std::string op, StringField(doc, "op", 64));
  if (op != "issue_device") return Corrupt("issuer request: unknown op (only \"issue_device\")");
  IssuerRequest r;
  FW_ASSIGN_OR_RETURN(r.csr_pem, StringField(doc, "csr", kMaxCsrBytes));
  FW_ASSIGN_OR_RETURN(r.serial, StringField(doc, "serial", 64));
  FW_ASSIGN_OR_RETURN(r.not_before_s, TimeField(doc, "not_before"));
  FW_ASSIGN_OR_RETURN(r.not_after_s, TimeField(doc, "not_after"));
  return r;
}

Bytes EncodeIssuerResponse(const Result<IssuedCert>& result) {
  json doc;
  if (result.ok()) {
    doc = {{"v", 1},
           {"ok", true},
           {"cert", result->pem},
           {"chain", result->chain_pem},
           {"cert_serial", result->cert_serial_hex},
           {"spki_sha256", result->spki_sha256_hex},
           {"not_after", result->not_after_s}};
  } else {
    std::string message = result.status().message();
    if (message.size() > 4096) message.resize(4096);
    doc = {{"v", 1}, {"ok", false}, {"code", ErrorCodeName(result.status().code())}, {"error", message}};
  }
  return Frame(doc.dump(-1, ' ', false, json::error_handler_t::replace));
}

Result<IssuedCert> ParseIssuerResponse(ByteSpan frame) {
  FW_ASSIGN_OR_RETURN(json doc, Unframe(frame));
  const auto ok = doc.find("ok");
  if (ok == doc.end() || !ok->is_boolean()) return Corrupt("issuer response: no \"ok\"");
  if (!ok->get<bool>()) {
    FW_ASSIGN_OR_RETURN(std::string code, StringField(doc, "code", 64));
    FW_ASSIGN_OR_RETURN(std::string error, StringField(doc, "error", 4096));
    const auto c = CodeFromName(code);
    return Status(c.value_or(ErrorCode::kInternal), "issuer: " + error);
  }
  IssuedCert out;
  FW_ASSIGN_OR_RETURN(out.pem, StringField(doc, "cert", kMaxIssuerFrameBytes));
  FW_ASSIGN_OR_RETURN(out.chain_pem, StringField(doc, "chain", kMaxIssuerFrameBytes));
  FW_ASSIGN_OR_RETURN(out.cert_serial_hex, StringField(doc, "cert_serial", 64));
  FW_ASSIGN_OR_RETURN(out.spki_sha256_hex, StringField(doc, "spki_sha256", 64));
  FW_ASSIGN_OR_RETURN(out.not_after_s, TimeField(doc, "not_after"));
  return out;
}

}  // namespace fw::server
