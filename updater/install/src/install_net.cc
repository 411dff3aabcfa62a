#include "install_net.h"

#include <stdlib.h>

#include <filesystem>

#include "fw/file_io.h"
#include "fw/http_fetcher.h"
#include "fw/tuf_metadata.h"
#include "fw/tuf_updater.h"

namespace fw::updater {
namespace {

namespace po = cli::po;

// An HttpStream whose counters are added to the install's when the stream is done with.
class CountedStream : public net::ByteStream {
 public:
  CountedStream(std::unique_ptr<net::HttpStream> s, std::shared_ptr<NetInstallStats> total)
      : s_(std::move(s)), total_(std::move(total)) {}
  ~CountedStream() override {
    const net::StreamStats& st = s_->stats();
    total_->connections += st.connections;
    total_->resumes += st.resumes;
    total_->restarts += st.restarts;
    total_->bytes_received += st.bytes_received;
  }
  Result<size_t> Read(std::span<uint8_t> buf) override { return s_->Read(buf); }
  Status Seek(uint64_t offset) override { return s_->Seek(offset); }
  std::optional<uint64_t> Size() const override { return s_->Size(); }
  uint64_t Offset() const override { return s_->Offset(); }
  const std::string& Name() const override { return s_->Name(); }

 private:
  std::unique_ptr<net::HttpStream> s_;
  std::shared_ptr<NetInstallStats> total_;
};

bundle::StreamOpener CountedOpener(net::StreamOptions options, std::shared_ptr<NetInstallStats> stats) {
  return [options, stats](const std::string& url) -> Result<std::unique_ptr<net::ByteStream>> {
    FW_ASSIGN_OR_RETURN(auto s, net::HttpStream::Open(url, options));
    return std::unique_ptr<net::ByteStream>(new CountedStream(std::move(s), stats));
  };
}

// A private metadata directory for one refresh, removed with this object.
class ScratchDir {
 public:
  static Result<ScratchDir> Make() {
    std::error_code ec;
    std::string pattern = (std::filesystem::temp_directory_path(ec) / "fwupdate-tuf.XXXXXX").string();
    if (ec) pattern = "/tmp/fwupdate-tuf.XXXXXX";
    if (!::mkdtemp(pattern.data()))
      return IoError("cannot create a scratch directory " + pattern + ": " + ErrnoText(errno));
    return ScratchDir(pattern);
  }
  ScratchDir(ScratchDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  ScratchDir(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

std::string WithoutSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Result<std::unique_ptr<bundle::BundleSource>> OpenRepositoryTarget(const std::string& tuf_dir,
                                                                   const std::string& repository,
                                                                   const std::string& target,
                                                                   const net::StreamOptions& options,
                                                                   const std::shared_ptr<NetInstallStats>& stats) {
  // The terminal's trusted root: where the refresh starts and which roots the stream must carry.
  const std::string root_path = tuf_dir + "/root.json";
  FW_ASSIGN_OR_RETURN(std::string root_bytes, ReadFileToString(root_path, tuf::kMaxRootBytes));
  auto root = tuf::ParseMetadata<tuf::Root>(root_bytes, tuf::kMaxRootBytes);
  if (!root.ok()) return root.status().WithContext(root_path);
  FW_ASSIGN_OR_RETURN(ScratchDir scratch, ScratchDir::Make());
  FW_RETURN_IF_ERROR(tuf::Updater::Init(scratch.path(), root_bytes));
  const std::string base = WithoutSlash(repository);
  tuf::UpdaterConfig c;
  c.metadata_dir = scratch.path();
  c.metadata_base_url = base + "/metadata/";
  net::HttpFetcher fetcher(options.http);
  tuf::Updater updater(c, fetcher);
  FW_RETURN_IF_ERROR_CTX(updater.Refresh(), "repository " + base);
  bundle::TargetStreamSpec spec;
  spec.metadata_dir = scratch.path();
  spec.device_root_version = static_cast<uint32_t>(root->signed_.common.version);
  spec.target_path = target;
  spec.target_base_url = base + "/targets/";
  spec.open = CountedOpener(options, stats);
  return bundle::OpenTargetStream(spec, &stats->target);  // the metadata is in memory from here on
}

}  // namespace

nlohmann::json NetInstallStats::Json() const {
  return {{"connections", connections},
          {"resumes", resumes},
          {"restarts", restarts},
          {"bytes_received", bytes_received},
          {"chunks_refetched", target.chunks_refetched}};
}

void NetInstallOptions(po::options_description& o) {
  // Bounds are read as text and parsed by net::ParseHttpOption (Boost would wrap "-5").
  o.add_options()("repository", po::value<std::string>(),
                  "TUF repository URL (serving metadata/ and targets/ as `fwsign repo` lays them out); with --target")(
      "target", po::value<std::string>(), "the TUF target to install from --repository")(
      "ca", po::value<std::string>(), "CA bundle for HTTPS (default: system CAs)")(
      "cert", po::value<std::string>(), "client certificate (PEM) for HTTPS; with --key")(
      "key", po::value<std::string>(), "the client certificate's private key (PEM)")(
      "deadline", po::value<std::string>()->default_value("3600"),
      "bound on each request and on the whole transfer, retries included, seconds (1..86400)")(
      "connect-timeout", po::value<std::string>()->default_value("30"), "connect timeout, seconds (1..86400)")(
      "min-speed", po::value<std::string>()->default_value("1024"),
      "minimum bytes/second over the window, else the connection is retried (1..1073741824)")(
      "min-speed-window", po::value<std::string>()->default_value("30"),
      "window of the minimum speed, seconds (1..3600)")(
      "max-connections", cli::Int<uint32_t>(1, 1000)->default_value(64),
      "connections per file, resumes included, before the transfer gives up (1..1000)");
}

Result<net::StreamOptions> StreamOptionsFrom(const po::variables_map& vm) {
  net::StreamOptions s;
  if (auto ca = cli::OptionalString(vm, "ca")) s.http.ca_file = *ca;
  if (auto cert = cli::OptionalString(vm, "cert")) s.http.client_cert_file = *cert;
  if (auto key = cli::OptionalString(vm, "key")) s.http.client_key_file = *key;
  for (const char* name : {"deadline", "connect-timeout", "min-speed", "min-speed-window"}) {
    FW_RETURN_IF_ERROR(net::ParseHttpOption(s.http, std::string("--") + name, vm[name].as<std::string>()));
  }
  if (s.http.connect_timeout_seconds > s.http.deadline_seconds)
    s.http.connect_timeout_seconds = s.http.deadline_seconds;
  s.overall_deadline_ms = uint64_t{s.http.deadline_seconds} * 1000;
  s.max_attempts = vm["max-connections"].as<uint32_t>();
  FW_RETURN_IF_ERROR(s.http.Validate());
  FW_RETURN_IF_ERROR(s.Validate());
  return s;
}

bool IsBundleUrl(const std::string& bundle) { return bundle.starts_with("https://") || bundle.starts_with("http://"); }

bundle::SourceOpener UrlBundleOpener(std::string url, net::StreamOptions options,
                                     std::shared_ptr<NetInstallStats> stats) {
  return [url, options, stats]() -> Result<std::unique_ptr<bundle::BundleSource>> {
    FW_ASSIGN_OR_RETURN(auto stream, CountedOpener(options, stats)(url));
    auto source = bundle::StreamBundleSource(std::move(stream));
    if (!source) return Internal("no bundle source for " + url);
    return source;
  };
}

bundle::SourceOpener RepositoryOpener(std::string tuf_dir, std::string repository, std::string target,
                                      net::StreamOptions options, std::shared_ptr<NetInstallStats> stats) {
  return [=]() { return OpenRepositoryTarget(tuf_dir, repository, target, options, stats); };
}

}  // namespace fw::updater
