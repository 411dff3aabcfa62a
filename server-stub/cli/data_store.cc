// OpenDataStore, RedactDatabase, ScrubPassword (data_store.h).
#include "data_store.h"

#include <cctype>
#include <vector>

#include "fw/server/config.h"

namespace fw::server {
namespace {

// The passwords of a PostgreSQL URI as written (percent-encoded): the user-info one and the
// "password=" query parameters'. Each entry is {offset, length} into `uri`.
std::vector<std::pair<size_t, size_t>> PasswordSpans(std::string_view uri) {
  std::vector<std::pair<size_t, size_t>> spans;
  if (!IsPostgresDatabase(uri)) return spans;
  const size_t start = uri.find("://") + 3;
  const size_t end = uri.find_first_of("/?", start);
  const std::string_view authority = uri.substr(start, end == std::string_view::npos ? uri.npos : end - start);
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const size_t colon = authority.find(':');
    if (colon != std::string_view::npos && colon < at) spans.emplace_back(start + colon + 1, at - colon - 1);
  }
  const size_t query = uri.find('?');
  if (query == std::string_view::npos) return spans;
  for (size_t p = query + 1; p < uri.size();) {
    size_t amp = uri.find('&', p);
    if (amp == std::string_view::npos) amp = uri.size();
    constexpr std::string_view kKey = "password=";
    if (uri.substr(p, kKey.size()) == kKey) spans.emplace_back(p + kKey.size(), amp - p - kKey.size());
    p = amp + 1;
  }
  return spans;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void ReplaceAll(std::string& text, const std::string& what) {
  if (what.empty()) return;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 3))
    text.replace(p, what.size(), "***");
}

}  // namespace

std::string RedactDatabase(std::string_view database) {
  std::string out(database);
  const auto spans = PasswordSpans(database);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) out.replace(it->first, it->second, "***");
  return out;
}

Status ScrubPassword(const Status& status, std::string_view database) {
  if (status.ok()) return status;
  std::string message = status.message();
  for (const auto& [offset, length] : PasswordSpans(database)) {
    const std::string_view written = database.substr(offset, length);
    ReplaceAll(message, std::string(written));
    ReplaceAll(message, PercentDecode(written));
  }
  return Status(status.code(), message);
}

Result<std::unique_ptr<Store>> OpenDataStore(const std::string& data_dir) {
  auto config = LoadConfig(data_dir);
  if (!config.ok()) return config.status().WithContext("the data directory " + data_dir + " (made by 'fwserver init')");
  auto store = OpenStore(config->database, /*create=*/false);
  if (!store.ok()) {
    return ScrubPassword(store.status(), config->database)
        .WithContext("opening the store of " + data_dir + " (" + RedactDatabase(config->database) + ")");
  }
  return store;
}

Result<std::unique_ptr<Store>> OpenDataStore(const cli::Invocation& inv) {
  return OpenDataStore(inv.vm["data"].as<std::string>());
}

}  // namespace fw::server
