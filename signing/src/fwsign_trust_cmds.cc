// fwsign trust-store create|sign|show (manifests/docs/trust-store-update.md).
#include "fwsign_trust_cmds.h"

#include <iostream>

#include "fw/clock.h"
#include "fw/file_io.h"
#include "fw/key_files.h"
#include "fw/open_signer.h"
#include "fw/trust_store_update.h"
#include "fw/tuf_metadata.h"

namespace fw {
namespace {

using cli::Invocation;
namespace po = cli::po;

Status WriteOut(const std::string& path, const std::string& text) {
  FW_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Create(path));
  FW_RETURN_IF_ERROR(out.Write(text));
  return out.Commit();
}

Result<trust::SignedTrustStoreUpdate> ReadDoc(const std::string& path) {
  FW_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, trust::kMaxUpdateBytes));
  return trust::ParseUpdate(bytes);
}

nlohmann::json Summary(const trust::SignedTrustStoreUpdate& d) {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : d.update.boot_keys) {
    keys.push_back({{"key_id", trust::BootKeyId(k)}, {"type", KeyTypeName(k.type())}});
  }
  nlohmann::json sigs = nlohmann::json::array();
  for (const auto& s : d.signatures) sigs.push_back(s.keyid);
  return {{"version", d.update.version},
          {"hardware_id", d.update.hardware_id},
          {"expires", d.update.expires},
          {"boot_keys", keys},
          {"signatures", sigs}};
}

void PrintSummary(const nlohmann::json& s) {
  std::cout << "trust-store update version " << s["version"] << " for hardware id "
            << s["hardware_id"].get<std::string>() << ", expires " << s["expires"].get<std::string>() << "\n"
            << "boot keys (the whole set a terminal will trust):\n";
  for (const auto& k : s["boot_keys"]) {
    std::cout << "  " << k["type"].get<std::string>() << " " << k["key_id"].get<std::string>() << "\n";
  }
  std::cout << "signatures by TUF key ids:";
  for (const auto& k : s["signatures"]) std::cout << " " << k.get<std::string>();
  std::cout << (s["signatures"].empty() ? " none\n" : "\n");
}

int Create(const Invocation& inv) {
  const auto& vm = inv.vm;
  trust::TrustStoreUpdate u;
  u.version = vm["version"].as<uint64_t>();
  u.hardware_id = vm["hardware-id"].as<std::string>();
  u.SetExpires(SystemClock().WallSeconds() + static_cast<int64_t>(vm["expires-days"].as<uint32_t>()) * 86400);
  for (const auto& path : vm["boot-key"].as<std::vector<std::string>>()) {
    auto key = LoadAnyPublicKey(path, std::nullopt);
    if (!key.ok()) return cli::Fail(inv, key.status().WithContext("--boot-key " + path));
    u.boot_keys.push_back(std::move(*key));
  }
  auto doc = trust::MakeUnsignedUpdate(u);
  if (!doc.ok()) return cli::Fail(inv, doc.status().WithContext("trust-store create"));
  const std::string out = vm["output"].as<std::string>();
  if (Status s = WriteOut(out, trust::SerializeUpdate(*doc)); !s.ok()) return cli::Fail(inv, s);
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"output", out}, {"update", Summary(*doc)}});
  } else {
    PrintSummary(Summary(*doc));
    std::cout << "wrote unsigned update " << out << "; sign it with the root keys (fwsign trust-store sign)\n";
  }
  return cli::kExitOk;
}

int Sign(const Invocation& inv) {
  const auto& vm = inv.vm;
  const std::string in = vm["update"].as<std::string>();
  auto doc = ReadDoc(in);
  if (!doc.ok()) return cli::Fail(inv, doc.status().WithContext(in));
  std::optional<std::string> pass;
  if (auto file = cli::OptionalString(vm, "passphrase-file")) {
    auto p = cli::ReadPassphraseFile(*file);
    if (!p.ok()) return cli::Fail(inv, p.status());
    pass = *p;
  }
  for (const auto& spec : vm["key"].as<std::vector<std::string>>()) {
    auto signer = OpenSigner(spec, SignerOptions{pass});
    if (!signer.ok()) return cli::Fail(inv, signer.status().WithContext(spec));
    if (Status s = trust::AddSignature(*doc, **signer); !s.ok()) return cli::Fail(inv, s.WithContext(spec));
  }
  const std::string out = cli::OptionalString(vm, "output").value_or(in);
  if (Status s = WriteOut(out, trust::SerializeUpdate(*doc)); !s.ok()) return cli::Fail(inv, s);
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"output", out}, {"update", Summary(*doc)}});
  } else {
    PrintSummary(Summary(*doc));
    std::cout << "wrote " << out << "\n";
  }
  return cli::kExitOk;
}

// With --root: also checks the signatures against that root's root role and threshold.
int Show(const Invocation& inv) {
  const std::string in = inv.vm["update"].as<std::string>();
  auto doc = ReadDoc(in);
  if (!doc.ok()) return cli::Fail(inv, doc.status().WithContext(in));
  nlohmann::json summary = Summary(*doc);
  if (auto root_path = cli::OptionalString(inv.vm, "root")) {
    auto bytes = ReadFileToString(*root_path, tuf::kMaxRootBytes);
    if (!bytes.ok()) return cli::Fail(inv, bytes.status());
    auto root = tuf::ParseMetadata<tuf::Root>(*bytes, tuf::kMaxRootBytes);
    if (!root.ok()) return cli::Fail(inv, root.status().WithContext(*root_path));
    if (Status s = trust::VerifyUpdate(*doc, root->signed_); !s.ok()) return cli::Fail(inv, s.WithContext(in));
    summary["verified_against_root_version"] = root->signed_.common.version;
  }
  if (inv.json) {
    summary["ok"] = true;
    cli::PrintJson(summary);
  } else {
    PrintSummary(summary);
    if (summary.contains("verified_against_root_version")) {
      std::cout << "signatures meet the root role's threshold of root version "
                << summary["verified_against_root_version"] << "\n";
    }
  }
  return cli::kExitOk;
}

}  // namespace

void AddTrustStoreCommands(cli::Program& p) {
  p.commands.push_back(
      {"trust-store create", "write an unsigned trust-store update: the whole new set of boot keys",
       "--version N --hardware-id ID --boot-key PUB [--boot-key PUB ...] -o UPDATE",
       [](po::options_description& o, po::positional_options_description&) {
         o.add_options()("version", cli::Int<uint64_t>(1, UINT32_MAX)->required(),
                         "trust-store version; must exceed the terminals' installed one")(
             "hardware-id", po::value<std::string>()->required(), "terminals it is for")(
             "boot-key", po::value<std::vector<std::string>>()->required(),
             "public (or private) key PEM of a boot key to trust; repeatable; keys left out are revoked")(
             "expires-days", cli::Int<uint32_t>(1, 3650)->default_value(30), "lifetime of the document")(
             "output,o", po::value<std::string>()->required(), "update document to write");
       },
       Create});
  p.commands.push_back({"trust-store sign", "add root-role signatures to a trust-store update",
                        "--key K [--key K2 ...] UPDATE [-o OUT]",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          o.add_options()("key,k", po::value<std::vector<std::string>>()->required(),
                                          "root private key (PEM file or pkcs11: URI); repeatable")(
                              "passphrase-file", po::value<std::string>(), "passphrase for encrypted keys")(
                              "output,o", po::value<std::string>(), "where to write (default: in place)")(
                              "update", po::value<std::string>()->required(), "trust-store update document");
                          pos.add("update", 1);
                        },
                        Sign});
  p.commands.push_back({"trust-store show", "print a trust-store update; with --root check its signatures",
                        "[--root ROOT.json] UPDATE",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          o.add_options()("root", po::value<std::string>(), "TUF root metadata to verify against")(
                              "update", po::value<std::string>()->required(), "trust-store update document");
                          pos.add("update", 1);
                        },
                        Show});
}

}  // namespace fw
