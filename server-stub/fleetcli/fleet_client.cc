// fwfleet's connection, requests and HTTP-status mapping (fleet_client.h).
#include "fleet_client.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "fleet_table.h"
#include "fw/file_io.h"

namespace fw::fleet {
namespace {

std::string ModeText(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

}  // namespace

std::optional<std::string> ProcessEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

Result<std::string> CheckServerUrl(const std::string& url) {
  if (url.rfind("http://", 0) == 0) {
    return InvalidArgument("server URL '" + Sanitize(url) + "': the operator port speaks HTTPS only (https://)");
  }
  if (url.rfind("https://", 0) != 0) {
    return InvalidArgument("server URL '" + Sanitize(url) + "' is not an https:// URL");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
      return InvalidArgument("server URL '" + Sanitize(url) +
                             "' holds a space, a control character, a query or a fragment");
    }
  }
  std::string out = url;
  while (out.size() > 8 && out.back() == '/') out.pop_back();
  if (out.size() <= 8 || out[8] == '/') return InvalidArgument("server URL '" + Sanitize(url) + "' names no host");
  return out;
}

Result<TokenFile> ReadTokenFile(const std::string& path) {
  TokenFile out;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    out.warning = "token file " + path + " is readable or writable by group/others (mode " + ModeText(st.st_mode) +
                  "): chmod 600 " + path;
  }
  auto text = ReadFileToString(path, kMaxTokenFileBytes);
  if (!text.ok()) return text.status().WithContext("token file " + path);
  std::string token = *text;
  if (auto nl = token.find_first_of("\r\n"); nl != std::string::npos) token.resize(nl);
  if (token.empty()) return InvalidArgument("token file " + path + ": its first line is empty");
  if (token.size() > kMaxTokenBytes) {
    return InvalidArgument("token file " + path + ": the token is longer than " + std::to_string(kMaxTokenBytes) +
                           " bytes");
  }
  for (unsigned char c : token) {
    if (c <= 0x20 || c >= 0x7f) {
      return InvalidArgument("token file " + path + ": the token holds a space or a non-printable character");
    }
  }
  out.token = std::move(token);
  return out;
}

Result<Connection> ResolveConnection(const ConnectionArgs& args, const EnvLookup& env, std::string* warning) {
  Connection c;
  std::optional<std::string> server = args.server ? args.server : env("FWFLEET_SERVER");
  if (!server) return InvalidArgument("no server: give --server https://HOST:PORT or set FWFLEET_SERVER");
  FW_ASSIGN_OR_RETURN(c.server, CheckServerUrl(*server));
  std::optional<std::string> token_file = args.token_file ? args.token_file : env("FWFLEET_TOKEN_FILE");
  if (!token_file) {
    return InvalidArgument("no token: give --token-file FILE or set FWFLEET_TOKEN_FILE (never the token itself)");
  }
  FW_ASSIGN_OR_RETURN(TokenFile token, ReadTokenFile(*token_file));
  c.token = std::move(token.token);
  if (warning != nullptr) *warning = token.warning;
  if (auto ca = args.ca_file ? args.ca_file : env("FWFLEET_CA")) c.http.ca_file = *ca;
  c.http.deadline_seconds = args.timeout_seconds;
  c.http.connect_timeout_seconds = std::min<uint32_t>(args.timeout_seconds, 10);
  c.http.min_speed_window_seconds = std::min<uint32_t>(args.timeout_seconds, 30);
  FW_RETURN_IF_ERROR(c.http.Validate());
  return c;
}

std::string PercentEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

std::string Query(const std::vector<std::pair<std::string, std::optional<std::string>>>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!value) continue;
    out += (out.empty() ? "?" : "&") + PercentEncode(name) + "=" + PercentEncode(*value);
  }
  return out;
}

Status FailureForReply(int http_status, std::string_view body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string code, message;
  if (j.is_object()) {
    if (j.contains("error") && j["error"].is_string()) code = j["error"].get<std::string>();
    if (j.contains("message") && j["message"].is_string()) message = j["message"].get<std::string>();
  }
  if (message.empty()) {
    message = body.empty() ? "no message" : std::string(body.substr(0, 200));
  }
  message =
      Sanitize(message) + " (HTTP " + std::to_string(http_status) + (code.empty() ? "" : " " + Sanitize(code)) + ")";
  if (http_status >= 300 && http_status < 400) return IoError("the server answered with a redirect: " + message);
  switch (http_status) {
    case 401:
    case 403:
    case 409:
      return FailedPrecondition(message);
    case 404:
    case 405:
      return NotFound(message);
    case 408:
      return Timeout(message);
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) return VerificationFailed(message);
  return IoError(message);
}

Client::Client(Connection connection, Transport transport)
    : connection_(std::move(connection)), transport_(std::move(transport)) {}

Result<Reply> Client::Send(const std::string& method, const std::string& path_and_query, const Json& body,
                           uint64_t max_response_bytes) {
  last_status_ = 0;
  last_error_.clear();
  net::HttpCall call;
  call.method = method;
  call.url = connection_.server + path_and_query;
  call.headers = {{"Authorization", "Bearer " + connection_.token}, {"Accept", "application/json"}};
  if (!body.is_null()) {
    call.headers.emplace_back("Content-Type", "application/json");
    call.body = body.dump();
  }
  call.max_response_bytes = max_response_bytes;
  auto r = transport_(call, connection_.http);
  if (!r.ok()) return r.status();  // its message names the method and URL
  last_status_ = r->status;
  Reply reply;
  reply.status = r->status;
  reply.body = std::move(r->body);
  if (auto it = r->headers.find("content-type"); it != r->headers.end()) reply.content_type = it->second;
  reply.json = Json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (reply.json.is_discarded()) reply.json = nullptr;
  if (r->status < 200 || r->status > 299) {
    if (reply.json.is_object() && reply.json.contains("error") && reply.json["error"].is_string()) {
      last_error_ = reply.json["error"].get<std::string>();
    }
    return FailureForReply(r->status, reply.body);
  }
  return reply;
}

Result<Json> Client::Get(const std::string& path_and_query) {
  FW_ASSIGN_OR_RETURN(Reply r, Send("GET", path_and_query));
  if (r.json.is_null()) return Corrupt("GET " + path_and_query + ": the server's answer is not JSON");
  return r.json;
}

Result<Json> Client::Post(const std::string& path, const Json& body) {
  FW_ASSIGN_OR_RETURN(Reply r, Send("POST", path, body.is_null() ? Json::object() : body));
  if (r.status == 204) return Json::object();
  if (r.json.is_null()) return Corrupt("POST " + path + ": the server's answer is not JSON");
  return r.json;
}

Result<Json> Client::List(const std::string& path,
                          std::vector<std::pair<std::string, std::optional<std::string>>> params, bool all,
                          std::optional<std::string> cursor) {
  Json items = Json::array();
  std::set<std::string> seen;
  params.emplace_back("cursor", std::nullopt);
  for (;;) {
    params.back().second = cursor;
    if (cursor) {  // the cursor carries the position: a keyset "after" would contradict it
      for (auto& [name, value] : params) {
        if (name == "after") value.reset();
      }
    }
    const std::string url = path + Query(params);
    FW_ASSIGN_OR_RETURN(Json page, Get(url));
    if (!page.is_object() || !page.contains("items") || !page["items"].is_array() || !page.contains("next_cursor") ||
        !(page["next_cursor"].is_null() || page["next_cursor"].is_string())) {
      return Corrupt("GET " + url + ": not a list ({\"items\":[...],\"next_cursor\":...})");
    }
    if (!all) return page;
    for (auto& item : page["items"]) items.push_back(std::move(item));
    if (items.size() > kMaxListItems) {
      return ResourceExhausted("GET " + path + ": more than " + std::to_string(kMaxListItems) + " items");
    }
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"].get<std::string>();
    if (!seen.insert(*cursor).second) return Corrupt("GET " + url + ": the server repeated a cursor");
  }
  return Json{{"items", std::move(items)}, {"next_cursor", nullptr}};
}

}  // namespace fw::fleet
