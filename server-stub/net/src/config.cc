// fwserver.json (fw/server/config.h): a strict parser (unknown or repeated keys refused, types
// and bounds checked) and the defaults `fwserver init` writes. Fuzzed by tests/fuzz/config_fuzz.cc.
#include "fw/server/config.h"

#include <unistd.h>

#include <cerrno>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "fw/file_io.h"

namespace fw::server {
namespace {

using nlohmann::json;

constexpr int64_t kDay = 86400;

// Reads the members of one JSON object, refusing any key nobody asked for.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Status Int(const char* key, int64_t lo, int64_t hi, int64_t& out) {
    const json* v = Take(key);
    if (v == nullptr) return Status::Ok();
    const bool integer = v->is_number_integer();
    if (!integer || (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi)) ||
        v->get<int64_t>() < lo || v->get<int64_t>() > hi) {
      return Corrupt(Name(key) + ": must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    out = v->get<int64_t>();
    return Status::Ok();
  }
  template <typename T>
  Status Int(const char* key, int64_t lo, int64_t hi, T& out) {
    int64_t v = static_cast<int64_t>(out);
    FW_RETURN_IF_ERROR(Int(key, lo, hi, v));
    out = static_cast<T>(v);
    return Status::Ok();
  }
  Status String(const char* key, std::string& out) {
    const json* v = Take(key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_string()) return Corrupt(Name(key) + ": must be a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty() || s.size() > 4096 || s.find('\0') != std::string::npos) {
      return Corrupt(Name(key) + ": must be a non-empty string of at most 4096 bytes without NUL");
    }
    out = s;
    return Status::Ok();
  }
  Status Object(const char* key, const std::function<Status(ObjectReader&)>& read) {
    const json* v = Take(key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_object()) return Corrupt(Name(key) + ": must be an object");
    ObjectReader inner(*v, Name(key));
    FW_RETURN_IF_ERROR(read(inner));
    return inner.Finish();
  }
  bool Has(const char* key) const { return object_.contains(key); }
  Status Finish() const {
    for (const auto& [key, value] : object_.items()) {
      if (!taken_.count(key)) return Corrupt(Name(key) + ": unknown key");
    }
    return Status::Ok();
  }

 private:
  const json* Take(const char* key) {
    taken_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string Name(const std::string& key) const { return where_.empty() ? key : where_ + "." + key; }

  const json& object_;
  std::string where_;
  std::set<std::string> taken_;
};

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || path.rfind("pkcs11:", 0) == 0) return path;
  return dir + "/" + path;
}

// Parses JSON refusing repeated keys in any object (nlohmann keeps the last one silently).
Result<json> ParseStrictJson(std::string_view text) {
  std::vector<std::set<std::string>> keys;
  std::string repeated;
  json::parser_callback_t cb = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == json::parse_event_t::key && !keys.empty()) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(k).second && repeated.empty()) repeated = k;
    }
    return true;
  };
  json doc = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Corrupt("not valid JSON");
  if (!repeated.empty()) return Corrupt(repeated + ": repeated key");
  if (!doc.is_object()) return Corrupt("the configuration must be a JSON object");
  return doc;
}

Status ReadDevicePort(ObjectReader& r, ServerConfig& c) {
  FW_RETURN_IF_ERROR(r.String("address", c.listen_address));
  FW_RETURN_IF_ERROR(r.Int("port", 0, 65535, c.port));
  FW_RETURN_IF_ERROR(r.String("tls_cert", c.tls_cert));
  FW_RETURN_IF_ERROR(r.String("tls_key", c.tls_key));
  FW_RETURN_IF_ERROR(r.String("client_ca", c.client_ca));
  return r.Int("ticket_key_rotation_seconds", 60, kDay, c.ticket_key_rotation_seconds);
}

Status ReadRepository(ObjectReader& r, ServerConfig& c) {
  FW_RETURN_IF_ERROR(r.String("dir", c.repository_dir));
  return r.String("url", c.repository_url);
}

Status ReadIssuer(ObjectReader& r, ServerConfig& c) {
  if (r.Has("socket") == r.Has("key")) return Corrupt("issuer: give exactly one of \"socket\" and \"key\"");
  c.issuer_socket.clear();
  FW_RETURN_IF_ERROR(r.String("socket", c.issuer_socket));
  return r.String("key", c.issuer_key);
}

Status ReadDevices(ObjectReader& r, ServerConfig& c) {
  FW_RETURN_IF_ERROR(r.Int("poll_seconds", 10, kDay, c.poll_seconds));
  FW_RETURN_IF_ERROR(r.Int("poll_jitter_seconds", 0, kDay, c.poll_jitter_seconds));
  FW_RETURN_IF_ERROR(r.Int("cert_validity_seconds", 3600, 10 * 366 * kDay, c.cert_validity_seconds));
  return r.Int("renew_grace_seconds", 0, 366 * kDay, c.renew_grace_seconds);
}

Status ReadLimits(ObjectReader& r, ServerLimits& l) {
  FW_RETURN_IF_ERROR(r.Int("header_bytes", 1024, 65536, l.header_bytes));
  FW_RETURN_IF_ERROR(r.Int("max_body_bytes", 1024, 256 << 20, l.max_body_bytes));
  FW_RETURN_IF_ERROR(r.Int("handshake_timeout_ms", 100, 600000, l.handshake_timeout_ms));
  FW_RETURN_IF_ERROR(r.Int("header_timeout_ms", 100, 600000, l.header_timeout_ms));
  FW_RETURN_IF_ERROR(r.Int("body_timeout_ms", 100, 3600000, l.body_timeout_ms));
  FW_RETURN_IF_ERROR(r.Int("write_timeout_ms", 100, 3600000, l.write_timeout_ms));
  FW_RETURN_IF_ERROR(r.Int("idle_timeout_ms", 100, 3600000, l.idle_timeout_ms));
  FW_RETURN_IF_ERROR(r.Int("max_connections", 1, 1000000, l.max_connections));
  FW_RETURN_IF_ERROR(r.Int("retry_after_seconds", 1, 3600, l.retry_after_seconds));
  return r.Int("threads", 0, 256, l.threads);
}

// The sections in the order docs/fleet-server.md lists them.
Status ReadSections(ObjectReader& top, ServerConfig& c) {
  FW_RETURN_IF_ERROR(top.Object("device_port", [&](ObjectReader& r) { return ReadDevicePort(r, c); }));
  FW_RETURN_IF_ERROR(top.Object("repository", [&](ObjectReader& r) { return ReadRepository(r, c); }));
  FW_RETURN_IF_ERROR(top.String("database", c.database));
  FW_RETURN_IF_ERROR(top.Object("issuer", [&](ObjectReader& r) { return ReadIssuer(r, c); }));
  FW_RETURN_IF_ERROR(top.Object("devices", [&](ObjectReader& r) { return ReadDevices(r, c); }));
  return top.Object("limits", [&](ObjectReader& r) { return ReadLimits(r, c.limits); });
}

}  // namespace

Result<ServerConfig> ParseConfig(std::string_view json_text, const std::string& data_dir) {
  if (json_text.size() > kMaxConfigBytes) return Corrupt("the configuration exceeds 64 KiB");
  FW_ASSIGN_OR_RETURN(json doc, ParseStrictJson(json_text));
  ServerConfig c;
  c.data_dir = data_dir;
  c.tls_cert = "tls/server.pem";
  c.tls_key = "tls/server.key";
  c.client_ca = "ca/chain.pem";
  c.repository_dir = "repo";
  c.database = "server.db";
  c.issuer_socket = "issuer.sock";
  ObjectReader top(doc, "");
  FW_RETURN_IF_ERROR(ReadSections(top, c));
  FW_RETURN_IF_ERROR(top.Finish());
  if (c.poll_jitter_seconds >= c.poll_seconds)
    return Corrupt("devices.poll_jitter_seconds: must be below poll_seconds");
  if (c.repository_url[0] != '/' && c.repository_url.rfind("https://", 0) != 0) {
    return Corrupt("repository.url: must be a path (\"/repo/\") or an https:// URL");
  }
  for (std::string* p : {&c.tls_cert, &c.tls_key, &c.client_ca, &c.repository_dir, &c.database, &c.issuer_socket}) {
    *p = Resolve(data_dir, *p);
  }
  return c;
}

Result<ServerConfig> LoadConfig(const std::string& data_dir) {
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) return InvalidArgument("--data: empty directory name");
  if (dir[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == nullptr) return IoError("getcwd: " + ErrnoText(errno));
    dir = std::string(cwd) + "/" + dir;
  }
  const std::string path = dir + "/fwserver.json";
  FW_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxConfigBytes));
  return ParseConfig(text, dir).WithContext(path);
}

std::string DefaultConfigJson() {
  const ServerConfig d;
  const ServerLimits& l = d.limits;
  json doc = {
      {"device_port",
       {{"address", d.listen_address},
        {"port", d.port},
        {"tls_cert", "tls/server.pem"},
        {"tls_key", "tls/server.key"},
        {"client_ca", "ca/chain.pem"},
        {"ticket_key_rotation_seconds", d.ticket_key_rotation_seconds}}},
      {"repository", {{"dir", "repo"}, {"url", d.repository_url}}},
      {"database", "server.db"},
      {"issuer", {{"socket", "issuer.sock"}}},
      {"devices",
       {{"poll_seconds", d.poll_seconds},
        {"poll_jitter_seconds", d.poll_jitter_seconds},
        {"cert_validity_seconds", d.cert_validity_seconds},
        {"renew_grace_seconds", d.renew_grace_seconds}}},
      {"limits",
       {{"header_bytes", l.header_bytes},
        {"max_body_bytes", l.max_body_bytes},
        {"handshake_timeout_ms", l.handshake_timeout_ms},
        {"header_timeout_ms", l.header_timeout_ms},
        {"body_timeout_ms", l.body_timeout_ms},
        {"write_timeout_ms", l.write_timeout_ms},
        {"idle_timeout_ms", l.idle_timeout_ms},
        {"max_connections", l.max_connections},
        {"retry_after_seconds", l.retry_after_seconds},
        {"threads", l.threads}}},
  };
  return doc.dump(2) + "\n";
}

}  // namespace fw::server
