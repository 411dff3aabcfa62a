// fwserver.json (fw/server/config.h): a strict parser (unknown or repeated keys refused, types
// and bounds checked) and the defaults `fwserver init` writes. Fuzzed by tests/fuzz/config_fuzz.cc.
#include "fw/server/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
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
  // allow_empty: "" is accepted and means "the default" (documented per key).
  Status String(const char* key, std::string& out, bool allow_empty = false) {
    const json* v = Take(key);
    if (v == nullptr) return Status::Ok();
    return StringValue(*v, Name(key), allow_empty, out);
  }
  Status Bool(const char* key, bool& out) {
    const json* v = Take(key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_boolean()) return Corrupt(Name(key) + ": must be true or false");
    out = v->get<bool>();
    return Status::Ok();
  }
  // An array; `read` is called with each element and its dotted name ("key[i]").
  Status Array(const char* key, size_t max_items, const std::function<Status(const json&, const std::string&)>& read) {
    const json* v = Take(key);
    if (v == nullptr) return Status::Ok();
    if (!v->is_array()) return Corrupt(Name(key) + ": must be an array");
    if (v->size() > max_items) return Corrupt(Name(key) + ": at most " + std::to_string(max_items) + " items");
    for (size_t i = 0; i < v->size(); ++i) {
      FW_RETURN_IF_ERROR(read((*v)[i], Name(key) + "[" + std::to_string(i) + "]"));
    }
    return Status::Ok();
  }
  static Status StringValue(const json& v, const std::string& name, bool allow_empty, std::string& out) {
    if (!v.is_string()) return Corrupt(name + ": must be a string");
    const auto& s = v.get_ref<const std::string&>();
    if ((s.empty() && !allow_empty) || s.size() > 4096 || s.find('\0') != std::string::npos) {
      return Corrupt(name + ": must be a non-empty string of at most 4096 bytes without NUL");
    }
    out = s;
    return Status::Ok();
  }
  Status Object(const char* key, const std::function<Status(ObjectReader&)>& read) {
    const json* v = Take(key);
    if (v == nullptr) return Status::Ok();
    return ObjectValue(*v, Name(key), read);
  }
  static Status ObjectValue(const json& v, const std::string& name, const std::function<Status(ObjectReader&)>& read) {
    if (!v.is_object()) return Corrupt(name + ": must be an object");
    ObjectReader inner(v, name);
    FW_RETURN_IF_ERROR(read(inner));
    return inner.Finish();
  }
  bool Has(const char* key) const { return object_.contains(key); }
  // The value itself (nullptr when absent), for shapes the typed readers do not cover.
  const json* Raw(const char* key) { return Take(key); }
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

Status ReadOperatorPort(ObjectReader& r, OperatorPortConfig& o) {
  FW_RETURN_IF_ERROR(r.String("listen_address", o.listen_address));
  FW_RETURN_IF_ERROR(r.Int("port", 0, 65535, o.port));
  FW_RETURN_IF_ERROR(r.String("tls_cert", o.tls_cert, /*allow_empty=*/true));
  FW_RETURN_IF_ERROR(r.String("tls_key", o.tls_key, /*allow_empty=*/true));
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return Corrupt("operator.tls_cert, operator.tls_key: give both or neither (neither: the device port's)");
  }
  return r.Int("threads", 1, 64, o.threads);
}

Status ReadAudit(ObjectReader& r, AuditConfig& a) {
  FW_RETURN_IF_ERROR(r.String("heads_file", a.heads_file));
  return r.Int("export_interval_seconds", 10, kDay, a.export_interval_seconds);
}

bool ValidWebhookName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') return false;
  }
  return true;
}

// scheme://host... without spaces or control characters.
bool ValidUrl(const std::string& url, const std::string& scheme) {
  if (url.rfind(scheme, 0) != 0 || url.size() == scheme.size() || url.size() > 2048) return false;
  if (url[scheme.size()] == '/' || url[scheme.size()] == ':') return false;  // no host
  for (char ch : url) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) return false;
  }
  return true;
}

Status ReadKinds(const json& v, const std::string& name, std::vector<std::string>& kinds) {
  if (!v.is_array() || v.empty()) return Corrupt(name + ": must be a non-empty array of alert kinds or [\"*\"]");
  std::set<std::string> seen;
  for (const json& k : v) {
    const std::string kind = k.is_string() ? k.get<std::string>() : "";
    const auto& known = KnownAlertKinds();
    if (kind != "*" && std::find(known.begin(), known.end(), kind) == known.end()) {
      return Corrupt(name + ": unknown alert kind " + (k.is_string() ? "\"" + kind + "\"" : k.dump()) + " (known: " +
                     [&] {
                       std::string all;
                       for (const auto& x : known) all += (all.empty() ? "" : ", ") + x;
                       return all;
                     }() +
                     ", or \"*\")");
    }
    if (!seen.insert(kind).second) return Corrupt(name + ": \"" + kind + "\" given twice");
    kinds.push_back(kind);
  }
  if (seen.count("*") && kinds.size() > 1) return Corrupt(name + ": \"*\" already means every kind");
  return Status::Ok();
}

Status ReadWebhook(const json& v, const std::string& name, WebhookConfig& w) {
  return ObjectReader::ObjectValue(v, name, [&](ObjectReader& r) -> Status {
    if (!r.Has("name") || !r.Has("url") || !r.Has("secret_file") || !r.Has("kinds")) {
      return Corrupt(name + ": name, url, secret_file and kinds are required");
    }
    FW_RETURN_IF_ERROR(r.String("name", w.name));
    FW_RETURN_IF_ERROR(r.String("url", w.url));
    FW_RETURN_IF_ERROR(r.String("secret_file", w.secret_file));
    if (!ValidWebhookName(w.name)) return Corrupt(name + ".name: 1-64 characters of A-Z a-z 0-9 - _ .");
    if (!ValidUrl(w.url, "https://") && !ValidUrl(w.url, "http://")) {
      return Corrupt(name + ".url: must be an https:// URL without spaces");
    }
    return ReadKinds(*r.Raw("kinds"), name + ".kinds", w.kinds);
  });
}

Status ReadAlerts(ObjectReader& r, AlertsConfig& a) {
  std::set<std::string> names;
  const auto read_webhook = [&](const json& v, const std::string& name) -> Status {
    WebhookConfig w;
    if (Status s = ReadWebhook(v, name, w); !s.ok()) return s;
    if (!names.insert(w.name).second) return Corrupt(name + ".name: \"" + w.name + "\" is used by another webhook");
    a.webhooks.push_back(std::move(w));
    return Status::Ok();
  };
  FW_RETURN_IF_ERROR(r.Array("webhooks", 32, read_webhook));
  FW_RETURN_IF_ERROR(r.String("ca_file", a.ca_file, /*allow_empty=*/true));
  FW_RETURN_IF_ERROR(r.Int("max_attempts", 1, 100, a.max_attempts));
  FW_RETURN_IF_ERROR(r.Int("backoff_seconds", 1, kDay, a.backoff_seconds));
  FW_RETURN_IF_ERROR(r.Int("max_backoff_seconds", 1, 7 * kDay, a.max_backoff_seconds));
  FW_RETURN_IF_ERROR(r.Bool("allow_plain_http", a.allow_plain_http));
  if (a.max_backoff_seconds < a.backoff_seconds) {
    return Corrupt("alerts.max_backoff_seconds: must be at least backoff_seconds");
  }
  for (size_t i = 0; i < a.webhooks.size(); ++i) {
    if (!a.allow_plain_http && a.webhooks[i].url.rfind("https://", 0) != 0) {
      return Corrupt("alerts.webhooks[" + std::to_string(i) +
                     "].url: must be https:// (http:// only with alerts.allow_plain_http, for tests)");
    }
  }
  return Status::Ok();
}

Status ReadJournal(ObjectReader& r, JournalConfig& j) {
  FW_RETURN_IF_ERROR(r.Int("retention_days", 0, 100 * 366, j.retention_days));
  FW_RETURN_IF_ERROR(r.String("encryption_key_file", j.encryption_key_file, /*allow_empty=*/true));
  FW_RETURN_IF_ERROR(r.String("readers", j.readers));
  if (j.readers != JournalConfig().readers) {
    return Corrupt("journal.readers: the only policy is \"" + JournalConfig().readers + "\"");
  }
  return Status::Ok();
}

// The sections in the order docs/fleet-server.md lists them.
Status ReadSections(ObjectReader& top, ServerConfig& c) {
  FW_RETURN_IF_ERROR(top.Object("device_port", [&](ObjectReader& r) { return ReadDevicePort(r, c); }));
  FW_RETURN_IF_ERROR(top.Object("repository", [&](ObjectReader& r) { return ReadRepository(r, c); }));
  FW_RETURN_IF_ERROR(top.String("database", c.database));
  FW_RETURN_IF_ERROR(top.Object("issuer", [&](ObjectReader& r) { return ReadIssuer(r, c); }));
  FW_RETURN_IF_ERROR(top.Object("devices", [&](ObjectReader& r) { return ReadDevices(r, c); }));
  FW_RETURN_IF_ERROR(top.Object("limits", [&](ObjectReader& r) { return ReadLimits(r, c.limits); }));
  FW_RETURN_IF_ERROR(top.Object("operator", [&](ObjectReader& r) { return ReadOperatorPort(r, c.operator_port); }));
  FW_RETURN_IF_ERROR(top.Object("audit", [&](ObjectReader& r) { return ReadAudit(r, c.audit); }));
  FW_RETURN_IF_ERROR(top.Object("alerts", [&](ObjectReader& r) { return ReadAlerts(r, c.alerts); }));
  FW_RETURN_IF_ERROR(top.Object("journal", [&](ObjectReader& r) { return ReadJournal(r, c.journal); }));
  return top.Int("cert_warn_days", 0, 366, c.cert_warn_days);
}

}  // namespace

const std::vector<std::string>& KnownAlertKinds() {
  static const std::vector<std::string> kinds = {"journal_anomaly", "clone",      "quarantine",    "rollout_paused",
                                                 "cert_expiring",   "audit_head", "journal_check", "snapshot_failed"};
  return kinds;
}

Status LoadWebhookSecrets(ServerConfig& config) {
  constexpr uint64_t kMaxSecretBytes = 4096;
  for (size_t i = 0; i < config.alerts.webhooks.size(); ++i) {
    WebhookConfig& w = config.alerts.webhooks[i];
    const std::string key = "alerts.webhooks[" + std::to_string(i) + "].secret_file " + w.secret_file;
    struct stat st {};
    if (::stat(w.secret_file.c_str(), &st) != 0) {
      return (errno == ENOENT ? NotFound("does not exist") : IoError(ErrnoText(errno))).WithContext(key);
    }
    if (!S_ISREG(st.st_mode)) return Corrupt(key + ": not a regular file");
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      return FailedPrecondition(key + ": readable by group or others (chmod 600 it)");
    }
    auto text = ReadFileToString(w.secret_file, kMaxSecretBytes);
    if (!text.ok()) return text.status().WithContext(key);
    std::string secret = std::move(text).value();
    if (!secret.empty() && secret.back() == '\n') secret.pop_back();
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
    if (secret.empty())
      return Corrupt(key + ": empty (an HMAC key needs at least one byte; 32 random bytes are usual)");
    w.secret = std::move(secret);
  }
  return Status::Ok();
}

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
  c.audit.heads_file = "audit/heads.jsonl";
  ObjectReader top(doc, "");
  FW_RETURN_IF_ERROR(ReadSections(top, c));
  FW_RETURN_IF_ERROR(top.Finish());
  if (c.poll_jitter_seconds >= c.poll_seconds)
    return Corrupt("devices.poll_jitter_seconds: must be below poll_seconds");
  if (c.repository_url[0] != '/' && c.repository_url.rfind("https://", 0) != 0) {
    return Corrupt("repository.url: must be a path (\"/repo/\") or an https:// URL");
  }
  // A PostgreSQL connection URI (docs/deployment.md) is kept as written; anything else is an SQLite path.
  if (!c.database.starts_with("postgresql://") && !c.database.starts_with("postgres://")) {
    c.database = Resolve(data_dir, c.database);
  }
  for (std::string* p :
       {&c.tls_cert, &c.tls_key, &c.client_ca, &c.repository_dir, &c.issuer_socket, &c.operator_port.tls_cert,
        &c.operator_port.tls_key, &c.audit.heads_file, &c.alerts.ca_file, &c.journal.encryption_key_file}) {
    *p = Resolve(data_dir, *p);
  }
  for (WebhookConfig& w : c.alerts.webhooks) w.secret_file = Resolve(data_dir, w.secret_file);
  if (c.operator_port.tls_cert.empty()) {
    c.operator_port.tls_cert = c.tls_cert;
    c.operator_port.tls_key = c.tls_key;
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
  FW_ASSIGN_OR_RETURN(ServerConfig config, ParseConfig(text, dir).WithContext(path));
  FW_RETURN_IF_ERROR(LoadWebhookSecrets(config).WithContext(path));
  return config;
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
      {"operator",
       {{"listen_address", d.operator_port.listen_address},
        {"port", d.operator_port.port},
        {"tls_cert", ""},
        {"tls_key", ""},
        {"threads", d.operator_port.threads}}},
      {"audit", {{"heads_file", "audit/heads.jsonl"}, {"export_interval_seconds", d.audit.export_interval_seconds}}},
      {"alerts",
       {{"webhooks", json::array()},
        {"ca_file", ""},
        {"max_attempts", d.alerts.max_attempts},
        {"backoff_seconds", d.alerts.backoff_seconds},
        {"max_backoff_seconds", d.alerts.max_backoff_seconds},
        {"allow_plain_http", d.alerts.allow_plain_http}}},
      {"journal",
       {{"retention_days", d.journal.retention_days}, {"encryption_key_file", ""}, {"readers", d.journal.readers}}},
      {"cert_warn_days", d.cert_warn_days},
  };
  return doc.dump(2) + "\n";
}

}  // namespace fw::server
