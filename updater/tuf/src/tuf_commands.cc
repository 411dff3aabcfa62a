// fwupdate tuf … / fwupdate bundle verify: the TUF client and the bundle reader
// for technicians (JSON output, documented exit codes).
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "fw/bundle_reader.h"
#include "fw/http_fetcher.h"
#include "fw/tuf_updater.h"

namespace fw::updater {
namespace {

namespace po = cli::po;

void ClientOptions(po::options_description& o) {
  // The bounds are read as text and parsed by net::ParseHttpOption: Boost would wrap
  // "-5" or 4294967296 into a uint32_t instead of refusing it.
  o.add_options()("metadata-dir", po::value<std::string>()->required(), "trusted TUF metadata directory")(
      "metadata-url", po::value<std::string>()->required(), "repository metadata URL")(
      "ca", po::value<std::string>(), "CA bundle for HTTPS (default: system CAs)")(
      "deadline", po::value<std::string>()->default_value("600"), "per-request deadline, seconds (1..86400)")(
      "connect-timeout", po::value<std::string>()->default_value("30"),
      "connect timeout, seconds (1..86400; never longer than the deadline)")(
      "min-speed", po::value<std::string>()->default_value("1024"),
      "minimum bytes/second over the window (1..1073741824)")("min-speed-window",
                                                              po::value<std::string>()->default_value("30"),
                                                              "window of the minimum speed, seconds (1..3600)");
}

// --installed-security-counter: declared with cli::Int<uint32_t>, so "-1" or 2^32 is a usage
// error while parsing (Boost alone would wrap "-1" to 4294967295).
Result<uint32_t> SecurityCounter(const po::variables_map& vm) {
  return vm["installed-security-counter"].as<uint32_t>();
}

// Every bound is checked before any request; a bad one is a usage error (exit 2).
Result<net::HttpOptions> Http(const po::variables_map& vm) {
  net::HttpOptions h;
  if (auto ca = cli::OptionalString(vm, "ca")) h.ca_file = *ca;
  for (const char* name : {"deadline", "connect-timeout", "min-speed", "min-speed-window"}) {
    FW_RETURN_IF_ERROR(net::ParseHttpOption(h, std::string("--") + name, vm[name].as<std::string>()));
  }
  FW_RETURN_IF_ERROR(h.Validate());
  return h;
}

int Refresh(const cli::Invocation& inv) {
  tuf::UpdaterConfig c;
  c.metadata_dir = inv.vm["metadata-dir"].as<std::string>();
  c.metadata_base_url = inv.vm["metadata-url"].as<std::string>();
  auto http = Http(inv.vm);
  if (!http.ok()) return cli::Fail(inv, http.status());
  net::HttpFetcher fetcher(*http);
  tuf::Updater u(c, fetcher);
  Status s = u.Refresh();
  if (!s.ok()) return cli::Fail(inv, s);
  const auto& t = *u.trusted();
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"root_version", t.root().signed_.common.version},
                    {"timestamp_version", t.timestamp()->signed_.common.version},
                    {"targets", t.targets()->signed_.targets.size()}});
  } else {
    std::cout << "trusted: root " << t.root().signed_.common.version << ", timestamp "
              << t.timestamp()->signed_.common.version << ", " << t.targets()->signed_.targets.size() << " target(s)\n";
  }
  return cli::kExitOk;
}

int Download(const cli::Invocation& inv) {
  const auto& vm = inv.vm;
  tuf::UpdaterConfig c;
  c.metadata_dir = vm["metadata-dir"].as<std::string>();
  c.metadata_base_url = vm["metadata-url"].as<std::string>();
  c.target_base_url = vm["target-base-url"].as<std::string>();
  auto http = Http(vm);
  if (!http.ok()) return cli::Fail(inv, http.status());
  auto counter = SecurityCounter(vm);
  if (!counter.ok()) return cli::Fail(inv, counter.status());
  net::HttpFetcher fetcher(*http);
  tuf::Updater u(c, fetcher);
  const std::string name = vm["target"].as<std::string>();
  auto info = u.GetTargetInfo(name);
  if (!info.ok()) return cli::Fail(inv, info.status());
  auto facts = tuf::CheckFirmwarePolicy(name, info->file, {vm["hardware-id"].as<std::string>(), *counter});
  if (!facts.ok()) return cli::Fail(inv, facts.status());
  const std::string dir = vm["target-dir"].as<std::string>();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto path = u.DownloadTarget(*info, dir);
  if (!path.ok()) return cli::Fail(inv, path.status());
  if (inv.json) {
    cli::PrintJson(
        {{"ok", true}, {"path", *path}, {"version", facts->version}, {"security_counter", facts->security_counter}});
  } else {
    std::cout << "downloaded " << name << " (version " << facts->version << ") to " << *path << "\n";
  }
  return cli::kExitOk;
}

int BundleVerify(const cli::Invocation& inv) {
  const auto& vm = inv.vm;
  bundle::ReaderOptions o;
  o.metadata_dir = vm["metadata-dir"].as<std::string>();
  auto counter = SecurityCounter(vm);
  if (!counter.ok()) return cli::Fail(inv, counter.status());
  o.policy = {vm["hardware-id"].as<std::string>(), *counter};
  uint64_t chunks = 0;
  auto r = bundle::ReadBundleFile(vm["bundle"].as<std::string>(), o, [&](uint64_t, ByteSpan) {
    ++chunks;
    return Status::Ok();
  });
  if (!r.ok()) return cli::Fail(inv, r.status());
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"target", r->target_path},
                    {"version", r->facts.version},
                    {"security_counter", r->facts.security_counter},
                    {"length", r->target.length},
                    {"chunks", chunks},
                    {"new_root_versions", r->new_roots.size()}});
  } else {
    std::cout << r->target_path << ": OK — version " << r->facts.version << ", " << r->target.length << " bytes in "
              << chunks << " verified chunks\n";
  }
  return cli::kExitOk;
}

}  // namespace

std::vector<cli::Subcommand> TufCommands() {
  std::vector<cli::Subcommand> c;
  c.push_back({"tuf refresh", "update trusted TUF metadata from a repository", "--metadata-dir D --metadata-url U",
               [](po::options_description& o, po::positional_options_description&) { ClientOptions(o); }, Refresh});
  c.push_back({"tuf download", "download a firmware target after TUF and device-policy checks",
               "--metadata-dir D --metadata-url U --target-base-url T --target P --hardware-id ID --target-dir O",
               [](po::options_description& o, po::positional_options_description&) {
                 ClientOptions(o);
                 o.add_options()("target-base-url", po::value<std::string>()->required(), "targets URL")(
                     "target", po::value<std::string>()->required(), "TUF target path")(
                     "target-dir", po::value<std::string>()->required(), "where to store it")(
                     "hardware-id", po::value<std::string>()->required(), "this terminal's hardware id")(
                     "installed-security-counter", cli::Int<uint32_t>()->default_value(0),
                     "refuse firmware with a lower counter");
               },
               Download});
  c.push_back({"bundle verify", "verify an offline bundle against trusted metadata (streaming, no install)",
               "--metadata-dir D --hardware-id ID BUNDLE",
               [](po::options_description& o, po::positional_options_description& pos) {
                 o.add_options()("metadata-dir", po::value<std::string>()->required(), "trusted TUF metadata")(
                     "hardware-id", po::value<std::string>()->required(), "this terminal's hardware id")(
                     "installed-security-counter", cli::Int<uint32_t>()->default_value(0),
                     "refuse firmware with a lower counter")("bundle", po::value<std::string>()->required(),
                                                             "bundle file");
                 pos.add("bundle", 1);
               },
               BundleVerify});
  return c;
}

}  // namespace fw::updater
