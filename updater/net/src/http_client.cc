#include "fw/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "curl_common.h"

namespace fw::net {
namespace {

using internal::CurlPtr;
using internal::SlistPtr;

struct Received {
  HttpReply reply;
  uint64_t max_bytes = 0;
  bool over_cap = false;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* r = static_cast<Received*>(user);
  const size_t n = size * nmemb;
  if (r->reply.body.size() + n > r->max_bytes) {
    r->over_cap = true;
    return 0;  // aborts with CURLE_WRITE_ERROR
  }
  r->reply.body.append(data, n);
  return n;
}

std::string Trim(std::string s) {
  const auto space = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && space(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// One header line at a time; a status line (also of an interim 1xx response) starts a new set.
size_t OnHeader(char* data, size_t size, size_t nitems, void* user) {
  auto* r = static_cast<Received*>(user);
  const size_t n = size * nitems;
  const std::string line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    r->reply.headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0) return n;  // the blank line ending the header
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  r->reply.headers[name] = Trim(line.substr(colon + 1));
  return n;
}

bool IsToken(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

Status CheckCall(const HttpCall& call) {
  if (!IsToken(call.method)) return InvalidArgument("HTTP method \"" + call.method + "\" is not a token");
  const bool https = call.url.rfind("https://", 0) == 0;
  const bool http = call.url.rfind("http://", 0) == 0;
  if (!https && !(http && call.allow_plain_http)) {
    return InvalidArgument(call.url + ": only https:// URLs are allowed" +
                           (http ? std::string(" (plain http is off)") : std::string()));
  }
  for (const auto& [name, value] : call.headers) {
    if (!IsToken(name)) return InvalidArgument("HTTP header name \"" + name + "\" is not a token");
    if (value.find_first_of("\r\n") != std::string::npos || value.find('\0') != std::string::npos) {
      return InvalidArgument("HTTP header " + name + " has a line break or NUL in its value");
    }
  }
  if (call.max_response_bytes == 0) return InvalidArgument("max_response_bytes 0: no reply could be read");
  return Status::Ok();
}

bool HasHeader(const HttpCall& call, std::string_view lower) {
  return std::any_of(call.headers.begin(), call.headers.end(), [&](const auto& h) {
    if (h.first.size() != lower.size()) return false;
    for (size_t i = 0; i < lower.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(h.first[i])) != lower[i]) return false;
    }
    return true;
  });
}

// Request line, headers and body of `call` on handle `c`; `list` keeps the header list alive.
bool SetRequest(CURL* c, const HttpCall& call, SlistPtr& list) {
  const bool has_body = !call.body.empty() || call.method == "POST" || call.method == "PUT";
  bool ok = true;
  if (call.method == "HEAD") {
    ok = curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK;
  } else if (has_body) {
    ok = curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size())) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data()) == CURLE_OK;
  } else {
    ok = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK;
  }
  if (ok && call.method != "GET" && call.method != "HEAD" && !(has_body && call.method == "POST")) {
    ok = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method.c_str()) == CURLE_OK;
  }
  curl_slist* l = nullptr;
  const auto add = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(l, line.c_str());
    if (next == nullptr) return false;
    l = next;
    return true;
  };
  for (const auto& [name, value] : call.headers) ok = ok && add(name + (value.empty() ? ";" : ": " + value));
  // libcurl's own additions for a body: no "Expect: 100-continue" wait, and no form content type
  // the caller did not ask for.
  if (has_body) ok = ok && add("Expect:");
  if (has_body && !HasHeader(call, "content-type")) ok = ok && add("Content-Type:");
  list.reset(l);
  return ok && curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get()) == CURLE_OK;
}

}  // namespace

Result<HttpReply> Call(const HttpCall& call, const HttpOptions& options) {
  FW_RETURN_IF_ERROR_CTX(options.Validate(), "HTTP options");
  FW_RETURN_IF_ERROR(CheckCall(call));
  internal::GlobalInit();
  CurlPtr curl(curl_easy_init());
  if (!curl) return Internal("curl_easy_init failed");
  CURL* c = curl.get();
  Received r;
  r.max_bytes = call.max_response_bytes;
  char errbuf[CURL_ERROR_SIZE] = {0};
  SlistPtr headers;
  const auto announced_cap = static_cast<curl_off_t>(std::min<uint64_t>(call.max_response_bytes, INT64_MAX));
  bool ok = curl_easy_setopt(c, CURLOPT_URL, call.url.c_str()) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, call.allow_plain_http ? "http,https" : "https") == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &r) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_HEADERDATA, &r) == CURLE_OK &&
            curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, announced_cap) == CURLE_OK &&
            internal::ApplyBounds(c, options, errbuf) && SetRequest(c, call, headers);
  if (!ok) return Internal(call.method + " " + call.url + ": cannot configure libcurl");

  const CURLcode rc = curl_easy_perform(c);
  const std::string what = call.method + " " + call.url;
  if (rc == CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    r.reply.status = static_cast<int>(code);
    return std::move(r.reply);
  }
  const std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (r.over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
    return ResourceExhausted(what + ": reply larger than " + std::to_string(call.max_response_bytes) + " bytes");
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Timeout(what + ": " + detail + " (" + internal::TimeoutDetail(options) + ")");
  }
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) return InvalidArgument(what + ": " + detail);
  return IoError(what + ": " + detail);
}

}  // namespace fw::net
