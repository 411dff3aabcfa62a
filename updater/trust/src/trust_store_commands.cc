// fwupdate trust-store apply|show — field updates of the boot keys (docs/install.md, "Trust store").
#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "fw/boot/device.h"
#include "fw/clock.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/trust_store_apply.h"
#include "fw/trust_store_update.h"

namespace fw::updater {
namespace {

using cli::Invocation;
namespace po = cli::po;

nlohmann::json Strings(const std::vector<std::string>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

int Apply(const Invocation& inv) {
  const auto& vm = inv.vm;
  const std::string path = vm["update"].as<std::string>();
  auto bytes = ReadFileToString(path, trust::kMaxUpdateBytes);
  if (!bytes.ok()) return cli::Fail(inv, bytes.status().WithContext("trust-store update " + path));
  trust::ApplyOptions o;
  o.now = SystemClock().WallSeconds();
  o.lock_timeout_ms = vm["lock-timeout"].as<int>() * 1000;
  o.operator_name = vm["operator"].as<std::string>();
  auto r = trust::ApplyTrustStoreUpdate(vm["device"].as<std::string>(), *bytes, o);
  if (!r.ok()) return cli::Fail(inv, r.status());
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"already_installed", r->already_installed},
                    {"old_version", r->old_version},
                    {"version", r->new_version},
                    {"hardware_id", r->hardware_id},
                    {"added", Strings(r->added)},
                    {"removed", Strings(r->removed)},
                    {"warnings", Strings(r->warnings)},
                    {"copy", r->copy}});
    return cli::kExitOk;
  }
  if (r->already_installed) {
    std::cout << "trust store version " << r->new_version << " is already installed; nothing written\n";
    return cli::kExitOk;
  }
  std::cout << "trust store version " << r->old_version << " -> " << r->new_version << " (copy " << r->copy << ")\n";
  for (const auto& k : r->added) std::cout << "  added   " << k << "\n";
  for (const auto& k : r->removed) std::cout << "  revoked " << k << "\n";
  for (const auto& w : r->warnings) std::cerr << "warning: " << w << "\n";
  return cli::kExitOk;
}

int Show(const Invocation& inv) {
  auto dev = boot::Device::Open(inv.vm["device"].as<std::string>());
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  const boot::TrustStore& ts = (*dev)->trust();
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : ts.boot_keys) keys.push_back({{"key_id", trust::BootKeyId(k)}, {"type", KeyTypeName(k.type())}});
  nlohmann::json copies = nlohmann::json::array();
  for (const auto& c : ts.copies) {
    copies.push_back({{"valid", c.valid}, {"legacy", c.legacy}, {"version", c.version}, {"problem", c.problem}});
  }
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"version", ts.version},
                    {"hardware_id", ts.hardware_id},
                    {"copy", ts.copy},
                    {"boot_keys", keys},
                    {"copies", copies}});
    return cli::kExitOk;
  }
  std::cout << "trust store version " << ts.version << " (copy " << ts.copy << "), hardware id " << ts.hardware_id
            << "\n";
  for (const auto& k : keys) {
    std::cout << "  " << k["type"].get<std::string>() << " " << k["key_id"].get<std::string>() << "\n";
  }
  for (size_t i = 0; i < 2; ++i) {
    const auto& c = ts.copies[i];
    std::cout << "  copy " << i << ": "
              << (c.valid ? "version " + std::to_string(c.version) + (c.legacy ? " (provisioned text)" : "")
                          : "unused (" + c.problem + ")")
              << "\n";
  }
  return cli::kExitOk;
}

std::string DefaultOperator() {
  const char* user = std::getenv("USER");
  return user && *user ? user : "technician";
}

}  // namespace

std::vector<cli::Subcommand> TrustStoreCommands() {
  std::vector<cli::Subcommand> c;
  c.push_back(
      {"trust-store apply", "install a trust-store update signed by the TUF root role (cut-safe)",
       "--device LAYOUT [options] UPDATE_FILE",
       [](po::options_description& o, po::positional_options_description& pos) {
         o.add_options()("device,d", po::value<std::string>()->required(), "layout file of the terminal (JSON)")(
             "operator", po::value<std::string>()->default_value(DefaultOperator()), "who runs this (flash history)")(
             "lock-timeout", cli::Int<int>(0, 86400)->default_value(10),
             "seconds to wait while another fwupdate command writes to the terminal (0-86400)")(
             "update", po::value<std::string>()->required(), "signed trust-store update (fwsign trust-store)");
         pos.add("update", 1);
       },
       Apply});
  c.push_back({"trust-store show", "print the installed trust store: version, hardware id, boot keys, copies",
               "--device LAYOUT [--json]",
               [](po::options_description& o, po::positional_options_description&) {
                 o.add_options()("device,d", po::value<std::string>()->required(),
                                 "layout file of the terminal (JSON)");
               },
               Show});
  return c;
}

}  // namespace fw::updater
