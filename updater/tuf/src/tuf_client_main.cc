// fwtuf-client: the TUF client behind the tuf-conformance CLIENT-CLI protocol.
//
//   fwtuf-client --metadata-dir D init ROOT
//   fwtuf-client --metadata-dir D --metadata-url U refresh
//   fwtuf-client --metadata-dir D --metadata-url U --target-name P [--target-name P2 ...]
//                --target-base-url T --target-dir O download
// Extensions (optional): --ca FILE, --min-speed BYTES_PER_S, --min-speed-window S,
// --deadline S, --connect-timeout S, --max-root-rotations N. Every bound must be at
// least 1 (none can be switched off) and at most its limit (fw/http_fetcher.h).
//
// Exit status is exactly 0 (success) or 1 (any failure, including usage errors),
// as the protocol requires; a message goes to stderr. See manifests/docs/tuf.md.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "fw/file_io.h"
#include "fw/http_fetcher.h"
#include "fw/tuf_updater.h"

namespace fw::tuf {
namespace {

struct Args {
  std::optional<std::string> metadata_dir, metadata_url, target_base_url, target_dir, ca;
  std::vector<std::string> target_names;
  std::vector<std::string> positional;
  net::HttpOptions http;
  uint32_t max_root_rotations = 32;
};

constexpr uint32_t kMaxRootRotationsLimit = 1024;

// A whole number in 1..max, checked before any narrowing (no wrap-around).
Result<uint32_t> Number(const std::string& flag, const std::string& text, uint32_t max) {
  const std::string range = " (1.." + std::to_string(max) + ")";
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(flag + " needs a whole number" + range + ", got \"" + text + "\"");
  }
  uint64_t value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > max) return InvalidArgument(flag + " " + text + " is out of range" + range);
  }
  if (value < 1) return InvalidArgument(flag + " " + text + " is out of range" + range);
  return static_cast<uint32_t>(value);
}

Result<Args> ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return InvalidArgument(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--metadata-dir") {
      FW_ASSIGN_OR_RETURN(a.metadata_dir, value());
    } else if (arg == "--metadata-url") {
      FW_ASSIGN_OR_RETURN(a.metadata_url, value());
    } else if (arg == "--target-name") {
      FW_ASSIGN_OR_RETURN(std::string v, value());
      a.target_names.push_back(v);
    } else if (arg == "--target-base-url") {
      FW_ASSIGN_OR_RETURN(a.target_base_url, value());
    } else if (arg == "--target-dir") {
      FW_ASSIGN_OR_RETURN(a.target_dir, value());
    } else if (arg == "--ca") {
      FW_ASSIGN_OR_RETURN(a.http.ca_file, value());
    } else if (arg == "--min-speed" || arg == "--min-speed-window" || arg == "--deadline" ||
               arg == "--connect-timeout") {
      FW_ASSIGN_OR_RETURN(std::string v, value());
      FW_RETURN_IF_ERROR(net::ParseHttpOption(a.http, arg, v));
    } else if (arg == "--max-root-rotations") {
      FW_ASSIGN_OR_RETURN(std::string v, value());
      FW_ASSIGN_OR_RETURN(a.max_root_rotations, Number(arg, v, kMaxRootRotationsLimit));
    } else if (arg.starts_with("--")) {
      return InvalidArgument("unknown option " + arg);
    } else {
      a.positional.push_back(arg);
    }
  }
  if (a.positional.empty()) return InvalidArgument("missing command (init, refresh or download)");
  if (!a.metadata_dir) return InvalidArgument("--metadata-dir is required");
  FW_RETURN_IF_ERROR(a.http.Validate());
  return a;
}

Status Run(const Args& a) {
  const std::string& cmd = a.positional[0];
  if (cmd == "init") {
    if (a.positional.size() != 2) return InvalidArgument("usage: --metadata-dir D init TRUSTED_ROOT");
    FW_ASSIGN_OR_RETURN(std::string root, ReadFileToString(a.positional[1], kMaxRootBytes));
    return Updater::Init(*a.metadata_dir, root);
  }
  if (cmd != "refresh" && cmd != "download") return InvalidArgument("unknown command \"" + cmd + "\"");
  if (a.positional.size() != 1) return InvalidArgument(cmd + " takes no arguments");
  if (!a.metadata_url) return InvalidArgument("--metadata-url is required");
  UpdaterConfig config;
  config.metadata_dir = *a.metadata_dir;
  config.metadata_base_url = *a.metadata_url;
  config.max_root_rotations = a.max_root_rotations;
  if (cmd == "download") {
    if (a.target_names.empty() || !a.target_base_url || !a.target_dir) {
      return InvalidArgument("download needs --target-name, --target-base-url and --target-dir");
    }
    config.target_base_url = *a.target_base_url;
  }
  net::HttpFetcher fetcher(a.http);
  Updater updater(config, fetcher);
  FW_RETURN_IF_ERROR(updater.Refresh());
  if (cmd == "refresh") return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(*a.target_dir, ec);
  if (ec) return IoError("cannot create " + *a.target_dir + ": " + ec.message());
  for (const auto& name : a.target_names) {
    FW_ASSIGN_OR_RETURN(TargetMatch info, updater.GetTargetInfo(name));
    FW_ASSIGN_OR_RETURN(auto cached, updater.FindCachedTarget(info, *a.target_dir));
    if (cached) continue;  // already downloaded with matching hashes
    FW_RETURN_IF_ERROR(updater.DownloadTarget(info, *a.target_dir).status());
  }
  return Status::Ok();
}

}  // namespace
}  // namespace fw::tuf

int main(int argc, char** argv) {
  try {
    auto args = fw::tuf::ParseArgs(argc, argv);
    fw::Status s = args.ok() ? fw::tuf::Run(*args) : args.status();
    if (!s.ok()) {
      std::cerr << "fwtuf-client: error: " << s.message() << "\n";
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fwtuf-client: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "fwtuf-client: internal error\n";
  }
  return 1;
}
