// `fwupdate install` over the network (docs/install.md, "Installing over the network"): the
// bundle openers for a bundle URL (`fwupdate install https://host/x.tar`) and for a target of a
// TUF repository (`--repository URL --target NAME`), and their command-line options.
//
// Both openers run when the installer calls them (the terminal lock held, a pending trial already
// refused); they verify nothing themselves: the bundle reader does, as for a file. The repository
// opener refreshes TUF metadata into a scratch directory (initialised from the terminal's trusted
// DATA_DIR/tuf/root.json, removed once the stream is assembled; the terminal's own metadata is
// only updated by the install, as for any bundle) and assembles the bundle with
// bundle::OpenTargetStream. Every network bound comes from the options and cannot be switched
// off. Failures: network kIoError/kTimeout (exit 4/6), metadata or bytes refused
// kCorrupt/kVerificationFailed (exit 3), bad options kInvalidArgument (exit 2).
// Thread safety: none (one command per process).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fw/bundle_source.h"
#include "fw/cli.h"
#include "fw/http_stream.h"
#include "fw/net_sources.h"

namespace fw::updater {

// What the network did during one install (summed over every stream opened).
struct NetInstallStats {
  uint64_t connections = 0, resumes = 0, restarts = 0, bytes_received = 0;
  bundle::TargetStreamStats target;
  nlohmann::json Json() const;
};

// --ca, --cert, --key, --deadline, --connect-timeout, --min-speed, --min-speed-window,
// --repository, --target.
void NetInstallOptions(cli::po::options_description& o);
// The stream options from the command line; --deadline bounds each request and the whole
// transfer (retries and backoffs included). InvalidArgument naming a bad option.
Result<net::StreamOptions> StreamOptionsFrom(const cli::po::variables_map& vm);

bool IsBundleUrl(const std::string& bundle);
bundle::SourceOpener UrlBundleOpener(std::string url, net::StreamOptions options,
                                     std::shared_ptr<NetInstallStats> stats);
bundle::SourceOpener RepositoryOpener(std::string tuf_dir, std::string repository, std::string target,
                                      net::StreamOptions options, std::shared_ptr<NetInstallStats> stats);

}  // namespace fw::updater
