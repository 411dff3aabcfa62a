// The fleet CLI's client side (server-stub/fleetcli, lib fw_fleetcli, used by the fwfleet binary and
// its tests only): where the server, the token and the CA come from, one operator API request
// over fw::net::Call, and what an HTTP answer means as an exit code (docs/exit-codes.md, "fwfleet").
//
// Contract:
//  - ResolveConnection(): --server, --token-file, --ca from the command line, else from the
//    environment (FWFLEET_SERVER, FWFLEET_TOKEN_FILE, FWFLEET_CA). The server must be an https://
//    URL (the operator port speaks TLS only); the token is the first line of the token file (never
//    on argv), printable ASCII without spaces, at most 1 KiB. A token file readable by group or
//    others is read but yields a warning text. Missing server/token file, a bad URL or an
//    unusable token: kInvalidArgument (exit 2); an unreadable token file: its I/O error (exit 4).
//  - FailureForReply(): a non-2xx answer -> Status whose code gives the documented exit code:
//    400/413/other 4xx -> kVerificationFailed (3, the server refused our input); 401/403/409 ->
//    kFailedPrecondition (5); 404/405 -> kNotFound (4); 408 -> kTimeout (6); 3xx/5xx ->
//    kIoError (4). The message is the server's "message" (control characters replaced), followed
//    by "(HTTP <status> <error>)". A 2xx body that is not the JSON expected: kCorrupt (3).
//  - Client::Send(): one request with "Authorization: Bearer"; transport errors keep their code
//    (kTimeout -> 6, kIoError -> 4). The last answer's HTTP status and error code stay readable
//    for the --json failure object. List() follows next_cursor when asked to (`--all`), refusing a
//    cursor that repeats (kCorrupt) and stopping at kMaxListItems (kResourceExhausted).
// This header is private to the fwfleet executable, like fw/cli.h, so nlohmann::json appears in it.
// Thread safety: a Client is used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fw/http_client.h"
#include "fw/status.h"

namespace fw::fleet {

using Json = nlohmann::json;

inline constexpr uint64_t kMaxTokenFileBytes = 4096;
inline constexpr size_t kMaxTokenBytes = 1024;
inline constexpr size_t kMaxListItems = 1000000;

struct Connection {
  std::string server;  // https://host[:port][/prefix], without a trailing '/'
  std::string token;
  net::HttpOptions http;
};

// What the command line gave (nullopt: not given); the environment fills the gaps.
struct ConnectionArgs {
  std::optional<std::string> server;
  std::optional<std::string> token_file;
  std::optional<std::string> ca_file;
  uint32_t timeout_seconds = 30;
};

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> ProcessEnv(const char* name);  // std::getenv; empty counts as unset

struct TokenFile {
  std::string token;
  std::string warning;  // "" when the file is private to its owner
};

// Checks and normalises a server URL (trailing '/' removed).
Result<std::string> CheckServerUrl(const std::string& url);
Result<TokenFile> ReadTokenFile(const std::string& path);
// `warning` receives the token file's warning (if any), for stderr.
Result<Connection> ResolveConnection(const ConnectionArgs& args, const EnvLookup& env, std::string* warning);

// Percent-encodes one path segment or query value (RFC 3986 unreserved characters kept).
std::string PercentEncode(std::string_view text);
// "?a=1&b=x" from the given parameters (nullopt ones left out); "" when none.
std::string Query(const std::vector<std::pair<std::string, std::optional<std::string>>>& params);

Status FailureForReply(int http_status, std::string_view body);

using Transport = std::function<Result<net::HttpReply>(const net::HttpCall&, const net::HttpOptions&)>;

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  Json json;  // parsed body (null when the body is not JSON, e.g. a journal segment)
};

class Client {
 public:
  explicit Client(Connection connection, Transport transport = net::Call);

  // METHOD server+path_and_query with `body` (JSON; sent when not null). 2xx -> the reply.
  Result<Reply> Send(const std::string& method, const std::string& path_and_query, const Json& body = nullptr,
                     uint64_t max_response_bytes = 4 << 20);
  Result<Json> Get(const std::string& path_and_query);  // 2xx with a JSON body
  Result<Json> Post(const std::string& path, const Json& body);

  // A list route: one page, or with `all` every page (the items joined, next_cursor null).
  // `params` must not hold "cursor"; `cursor` starts from a given page. Pages after a cursor leave
  // out an "after" parameter (the cursor holds the position).
  Result<Json> List(const std::string& path, std::vector<std::pair<std::string, std::optional<std::string>>> params,
                    bool all, std::optional<std::string> cursor = std::nullopt);

  // Of the last answer (0 / "" when there was none, e.g. a transport error).
  int last_http_status() const { return last_status_; }
  const std::string& last_error_code() const { return last_error_; }

 private:
  Connection connection_;
  Transport transport_;
  int last_status_ = 0;
  std::string last_error_;
};

}  // namespace fw::fleet
