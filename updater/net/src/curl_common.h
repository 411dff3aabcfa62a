// libcurl plumbing shared by HttpFetcher and Call (fw_http internal; never installed, no other
// library includes it): the handle owner, one-time global init, and the bounds of HttpOptions
// applied to a handle the same way for both.
// Thread safety: GlobalInit is call_once; a handle belongs to one call.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "fw/http_fetcher.h"

namespace fw::net::internal {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

void GlobalInit();

// Sets the deadline, connect timeout, speed floor, peer verification (ca_file or system CAs),
// NOSIGNAL, the error buffer and the user agent. The options must have passed Validate().
// False when libcurl refused an option.
bool ApplyBounds(CURL* c, const HttpOptions& options, char* errbuf);

// The Timeout message for CURLE_OPERATION_TIMEDOUT, naming the bounds.
std::string TimeoutDetail(const HttpOptions& options);

}  // namespace fw::net::internal
