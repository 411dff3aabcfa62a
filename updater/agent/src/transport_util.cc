// Internal helpers of fw_agent_client (transport_util.h).
#include "transport_util.h"

#include "fw/file_io.h"

namespace fw::agent::internal {
namespace {

bool PlainUrlText(const std::string& s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\') return false;
  }
  return true;
}

}  // namespace

Result<std::string> ServerBase(const std::string& url, bool allow_plain_http) {
  const bool https = url.starts_with("https://");
  const bool http = url.starts_with("http://");
  if (!https && !(http && allow_plain_http)) {
    return InvalidArgument("server URL '" + url + "' must start with https://");
  }
  std::string base = url;
  while (base.ends_with("/")) base.pop_back();
  const size_t host = base.find("://") + 3;
  if (base.size() <= host || !PlainUrlText(base) || base.find_first_of("?@", host) != std::string::npos) {
    return InvalidArgument("server URL '" + url + "' is not https://HOST[:PORT]");
  }
  return base;
}

Result<std::string> ResolveUrl(const std::string& base, const std::string& repository, bool allow_plain_http) {
  if (repository.empty()) return Corrupt("the check-in reply names no repository");
  if (repository.size() > 2048 || !PlainUrlText(repository)) {
    return Corrupt("repository '" + repository.substr(0, 64) + "' is not a URL or path");
  }
  std::string url;
  if (repository.starts_with("https://") || (allow_plain_http && repository.starts_with("http://"))) {
    if (repository.size() <= repository.find("://") + 3) return Corrupt("repository '" + repository + "' has no host");
    url = repository;
  } else if (repository[0] == '/' && !repository.starts_with("//")) {
    url = base + repository;
  } else {
    return Corrupt("repository '" + repository + "' is neither a path on the server nor an https:// URL");
  }
  if (!url.ends_with("/")) url += '/';
  return url;
}

std::string HeaderOf(const net::HttpReply& reply, const std::string& lower_name) {
  auto it = reply.headers.find(lower_name);
  return it == reply.headers.end() ? "" : it->second;
}

int64_t HeaderInt(const net::HttpReply& reply, const std::string& lower_name) {
  const std::string v = HeaderOf(reply, lower_name);
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(v);
}

Status WriteIdentity(const std::string& cert_file, const std::string& key_file, const CertificateReply& cert,
                     const std::string& key_pem) {
  std::string pem = cert.certificate;
  if (!pem.empty() && pem.back() != '\n') pem += '\n';
  pem += cert.chain;
  // Both temporaries are complete before either is renamed: the window in which a power cut leaves a
  // new key beside the old certificate is two renames long.
  FW_ASSIGN_OR_RETURN(auto out, OutputFile::Create(cert_file, 0644));
  FW_RETURN_IF_ERROR_CTX(out.Write(pem), "writing " + cert_file);
  if (!key_pem.empty()) {
    FW_ASSIGN_OR_RETURN(auto key, OutputFile::Create(key_file, 0600));
    FW_RETURN_IF_ERROR_CTX(key.Write(key_pem), "writing " + key_file);
    FW_RETURN_IF_ERROR_CTX(key.Commit(), "writing " + key_file);
  }
  FW_RETURN_IF_ERROR_CTX(out.Commit(), "writing " + cert_file);
  return Status::Ok();
}

}  // namespace fw::agent::internal
