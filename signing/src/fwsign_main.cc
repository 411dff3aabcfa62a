// fwsign — the vendor's signing tool: keys, signed firmware images, TUF repositories and bundles.
#include <filesystem>
#include <iostream>

#include "fw/bundle_format.h"
#include "fw/bundle_writer.h"
#include "fw/cli.h"
#include "fw/clock.h"
#include "fw/encoding.h"
#include "fw/image.h"
#include "fw/key_files.h"
#include "fw/open_signer.h"
#include "fw/tuf_repo.h"
#include "fwsign_key_cmds.h"
#include "fwsign_offline_cmds.h"
#include "fwsign_trust_cmds.h"

namespace fw {
namespace {

using cli::Invocation;
namespace po = cli::po;

Result<std::optional<std::string>> Passphrase(const po::variables_map& vm) {
  auto file = cli::OptionalString(vm, "passphrase-file");
  if (!file) return std::optional<std::string>();
  FW_ASSIGN_OR_RETURN(std::string p, cli::ReadPassphraseFile(*file));
  return std::optional<std::string>(std::move(p));
}

std::vector<const Signer*> Borrow(const std::vector<std::unique_ptr<Signer>>& signers) {
  std::vector<const Signer*> out;
  for (const auto& s : signers) out.push_back(s.get());
  return out;
}

int KeyGenerate(const Invocation& inv) {
  const auto& vm = inv.vm;
  auto type = ParseKeyType(vm["type"].as<std::string>());
  if (!type.ok()) return cli::Fail(inv, type.status());
  auto pass = Passphrase(vm);
  if (!pass.ok()) return cli::Fail(inv, pass.status());
  auto key = GenerateKeyFiles(*type, vm["out"].as<std::string>(), cli::OptionalString(vm, "pub-out"), *pass,
                              vm.count("force") > 0);
  if (!key.ok()) return cli::Fail(inv, key.status());
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"type", KeyTypeName(key->type)},
                    {"key_id", HexEncode(key->key_id)},
                    {"private_key", key->private_path},
                    {"public_key", key->public_path},
                    {"encrypted", pass->has_value()}});
  } else {
    std::cout << "generated " << KeyTypeName(key->type) << " key " << HexEncode(key->key_id) << "\n"
              << "  private: " << key->private_path << (pass->has_value() ? " (encrypted)" : "") << "\n"
              << "  public:  " << key->public_path << "\n";
  }
  return cli::kExitOk;
}

int KeyShow(const Invocation& inv) {
  auto pass = Passphrase(inv.vm);
  if (!pass.ok()) return cli::Fail(inv, pass.status());
  auto key = LoadAnyPublicKey(inv.vm["key"].as<std::string>(), *pass);
  if (!key.ok()) return cli::Fail(inv, key.status());
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"type", KeyTypeName(key->type())}, {"key_id", HexEncode(key->KeyId())}});
  } else {
    std::cout << "type:   " << KeyTypeName(key->type()) << "\nkey id: " << HexEncode(key->KeyId()) << "\n";
  }
  return cli::kExitOk;
}

int ImageSign(const Invocation& inv) {
  const auto& vm = inv.vm;
  auto version = SemVer::Parse(vm["version"].as<std::string>());
  if (!version.ok()) return cli::Fail(inv, version.status());
  auto pass = Passphrase(vm);
  if (!pass.ok()) return cli::Fail(inv, pass.status());
  std::vector<std::unique_ptr<Signer>> keys;
  for (const auto& key_spec : vm["key"].as<std::vector<std::string>>()) {
    auto key = OpenSigner(key_spec, SignerOptions{*pass});
    if (!key.ok()) return cli::Fail(inv, key.status());
    keys.push_back(std::move(*key));
  }
  ImageSpec spec;
  spec.version = *version;
  spec.security_counter = vm["security-counter"].as<uint32_t>();
  spec.hardware_id = vm["hardware-id"].as<std::string>();
  spec.description = cli::OptionalString(vm, "description");
  const std::string out = vm["output"].as<std::string>();
  Status s = SignImageFile(vm["payload"].as<std::string>(), spec, Borrow(keys), out);
  if (!s.ok()) return cli::Fail(inv, s);
  auto info = InspectImageFile(out);
  if (!info.ok()) return cli::Fail(inv, info.status());
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"image", out}, {"sha256", HexEncode(info->hash)}, {"size", info->image_size}});
  } else {
    std::cout << "signed " << out << ": version " << spec.version.ToString() << ", security counter "
              << spec.security_counter << ", hardware " << spec.hardware_id << ", " << keys.size()
              << (keys.size() == 1 ? " signature" : " signatures") << "\n  sha256 " << HexEncode(info->hash) << "\n";
  }
  return cli::kExitOk;
}

nlohmann::json ImageJson(const ImageInfo& info) {
  nlohmann::json sigs = nlohmann::json::array();
  for (const auto& s : info.signatures) {
    sigs.push_back(
        {{"type", KeyTypeName(s.type)}, {"key_id", HexEncode(s.key_id)}, {"signature", HexEncode(s.signature)}});
  }
  nlohmann::json tlvs = nlohmann::json::array();
  for (const auto& t : info.other_tlvs) {
    tlvs.push_back({{"type", t.type}, {"protected", t.is_protected}, {"length", t.value.size()}});
  }
  nlohmann::json j = {{"format_version", info.format_version},
                      {"version", info.version.ToString()},
                      {"security_counter", info.security_counter},
                      {"hardware_id", info.hardware_id},
                      {"flags", info.flags},
                      {"payload_offset", info.payload_offset},
                      {"payload_size", info.payload_size},
                      {"hashed_size", info.hashed_size},
                      {"image_size", info.image_size},
                      {"sha256", HexEncode(info.hash)},
                      {"signatures", sigs},
                      {"other_tlvs", tlvs}};
  if (info.description) j["description"] = *info.description;
  if (info.signer_key_id) j["verified_by"] = HexEncode(*info.signer_key_id);
  return j;
}

void PrintImageText(const ImageInfo& info) {
  std::cout << "format:           " << info.format_version << "\n"
            << "version:          " << info.version.ToString() << "\n"
            << "security counter: " << info.security_counter << "\n"
            << "hardware id:      " << info.hardware_id << "\n"
            << "payload:          " << info.payload_size << " bytes at offset " << info.payload_offset << "\n"
            << "hashed region:    " << info.hashed_size << " bytes\n"
            << "image size:       " << info.image_size << " bytes\n"
            << "sha256:           " << HexEncode(info.hash) << "\n";
  if (info.description) std::cout << "description:      " << *info.description << "\n";
  for (const auto& s : info.signatures) {
    std::cout << "signature:        " << KeyTypeName(s.type) << " by key " << HexEncode(s.key_id) << "\n";
  }
}

int ImageInspect(const Invocation& inv) {
  auto info = InspectImageFile(inv.vm["image"].as<std::string>());
  if (!info.ok()) return cli::Fail(inv, info.status());
  if (inv.json) {
    auto j = ImageJson(*info);
    j["ok"] = true;
    cli::PrintJson(j);
  } else {
    PrintImageText(*info);
  }
  return cli::kExitOk;
}

int ImageVerify(const Invocation& inv) {
  const auto& vm = inv.vm;
  std::vector<PublicKey> trusted;
  for (const auto& path : vm["pubkey"].as<std::vector<std::string>>()) {
    auto key = LoadAnyPublicKey(path, std::nullopt);
    if (!key.ok()) return cli::Fail(inv, key.status());
    trusted.push_back(std::move(*key));
  }
  ImagePolicy policy;
  policy.hardware_id = cli::OptionalString(vm, "hardware-id");
  policy.min_security_counter = vm["min-security-counter"].as<uint32_t>();
  const std::string path = vm["image"].as<std::string>();
  auto info = VerifyImageFile(path, trusted, policy);
  if (!info.ok()) return cli::Fail(inv, info.status());
  if (inv.json) {
    auto j = ImageJson(*info);
    j["ok"] = true;
    j["verified"] = true;
    cli::PrintJson(j);
  } else {
    std::cout << path << ": OK — version " << info->version.ToString() << " for " << info->hardware_id
              << ", signed by key " << HexEncode(*info->signer_key_id) << "\n";
  }
  return cli::kExitOk;
}

// ---- TUF repository (fwsign repo ...) ----------------------------------------

// Signers for every value of a repeatable key option, each through OpenSigner.
Result<std::vector<std::unique_ptr<Signer>>> OpenSigners(const po::variables_map& vm, const char* option) {
  std::vector<std::unique_ptr<Signer>> keys;
  if (!vm.count(option)) return keys;
  FW_ASSIGN_OR_RETURN(auto pass, Passphrase(vm));
  for (const auto& key_spec : vm[option].as<std::vector<std::string>>()) {
    auto key = OpenSigner(key_spec, SignerOptions{pass});
    if (!key.ok()) return key.status().WithContext(key_spec);
    keys.push_back(std::move(*key));
  }
  return keys;
}

std::string RepoArg(const Invocation& inv) { return inv.vm["repo"].as<std::string>(); }

int RepoInitCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  tuf::RepoInitOptions o;
  std::vector<std::unique_ptr<Signer>> keyring;
  struct RoleOpt {
    const char* option;
    std::vector<PublicKey>* keys;
  };
  for (RoleOpt r : {RoleOpt{"root-key", &o.root_keys}, RoleOpt{"targets-key", &o.targets_keys},
                    RoleOpt{"snapshot-key", &o.snapshot_keys}, RoleOpt{"timestamp-key", &o.timestamp_keys}}) {
    auto keys = OpenSigners(vm, r.option);
    if (!keys.ok()) return cli::Fail(inv, keys.status());
    for (auto& k : *keys) {
      r.keys->push_back(k->public_key());
      keyring.push_back(std::move(k));
    }
  }
  o.root_threshold = vm["root-threshold"].as<uint32_t>();
  o.targets_threshold = vm["targets-threshold"].as<uint32_t>();
  o.snapshot_threshold = vm["snapshot-threshold"].as<uint32_t>();
  o.timestamp_threshold = vm["timestamp-threshold"].as<uint32_t>();
  o.expiry.root_days = vm["root-expires-days"].as<uint32_t>();
  o.expiry.targets_days = vm["targets-expires-days"].as<uint32_t>();
  o.expiry.snapshot_days = vm["snapshot-expires-days"].as<uint32_t>();
  o.expiry.timestamp_days = vm["timestamp-expires-days"].as<uint32_t>();
  o.consistent_snapshot = vm.count("no-consistent-snapshot") == 0;
  Status s = tuf::RepoInit(RepoArg(inv), o, Borrow(keyring), SystemClock().WallSeconds());
  if (!s.ok()) return cli::Fail(inv, s.WithContext("repo init"));
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"repo", RepoArg(inv)}, {"root_version", 1}});
  } else {
    std::cout << "initialised TUF repository " << RepoArg(inv) << " (root version 1; serve " << RepoArg(inv)
              << "/metadata and /targets)\n";
  }
  return cli::kExitOk;
}

int RepoAddTargetCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  tuf::AddTargetOptions o;
  o.image_path = vm["image"].as<std::string>();
  o.target_name = vm.count("name") ? vm["name"].as<std::string>() : "";
  if (vm.count("name") && o.target_name.empty()) {
    return cli::Fail(inv, InvalidArgument("repo add-target: target name is empty (--name \"\")"));
  }
  o.chunk_size = vm["chunk-size"].as<uint32_t>();
  o.journal_schema_min = vm["journal-schema-min"].as<uint32_t>();
  o.journal_schema_max = vm["journal-schema-max"].as<uint32_t>();
  auto tf = tuf::RepoAddTarget(RepoArg(inv), o);
  if (!tf.ok()) return cli::Fail(inv, tf.status().WithContext("repo add-target"));
  auto facts = tf->Firmware();
  const std::string name =
      o.target_name.empty() ? std::filesystem::path(o.image_path).filename().string() : o.target_name;
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"target", name},
                    {"length", tf->length},
                    {"sha256", tf->hashes.at("sha256")},
                    {"custom", nlohmann::json::parse(tf->custom.value_or("{}"))},
                    {"staged", true}});
  } else {
    std::cout << "staged target " << name << " (" << tf->length << " bytes, sha256 " << tf->hashes.at("sha256")
              << "); run `fwsign repo publish` to sign it\n";
  }
  return cli::kExitOk;
}

int RepoPublishCmd(const Invocation& inv) {
  auto keys = OpenSigners(inv.vm, "key");
  if (!keys.ok()) return cli::Fail(inv, keys.status());
  auto r = tuf::RepoPublish(RepoArg(inv), Borrow(*keys), SystemClock().WallSeconds());
  if (!r.ok()) return cli::Fail(inv, r.status().WithContext("repo publish"));
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"targets_version", r->targets_version},
                    {"snapshot_version", r->snapshot_version},
                    {"timestamp_version", r->timestamp_version}});
  } else {
    std::cout << "published targets " << r->targets_version << ", snapshot " << r->snapshot_version << ", timestamp "
              << r->timestamp_version << "\n";
  }
  return cli::kExitOk;
}

int RepoRotateCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  auto keys = OpenSigners(vm, "key");
  if (!keys.ok()) return cli::Fail(inv, keys.status());
  std::vector<PublicKey> new_keys;
  for (const auto& path : vm["new-key"].as<std::vector<std::string>>()) {
    auto k = LoadAnyPublicKey(path, std::nullopt);
    if (!k.ok()) return cli::Fail(inv, k.status().WithContext(path));
    new_keys.push_back(std::move(*k));
  }
  const std::string role = vm["role"].as<std::string>();
  auto v = tuf::RepoRotate(RepoArg(inv), role, new_keys, vm["threshold"].as<uint32_t>(), Borrow(*keys),
                           SystemClock().WallSeconds());
  if (!v.ok()) return cli::Fail(inv, v.status().WithContext("repo rotate"));
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"role", role}, {"root_version", *v}});
  } else {
    std::cout << "root version " << *v << " rotates the " << role << " keys"
              << (role == "root" ? "" : "; run `fwsign repo publish` with the new key") << "\n";
  }
  return cli::kExitOk;
}

int RepoResignCmd(const Invocation& inv) {
  auto keys = OpenSigners(inv.vm, "key");
  if (!keys.ok()) return cli::Fail(inv, keys.status());
  const int64_t within = static_cast<int64_t>(inv.vm["within-days"].as<uint32_t>()) * 86400;
  auto done = tuf::RepoResignExpiring(RepoArg(inv), within, Borrow(*keys), SystemClock().WallSeconds());
  if (!done.ok()) return cli::Fail(inv, done.status().WithContext("repo resign-expiring"));
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"resigned", *done}});
  } else if (done->empty()) {
    std::cout << "nothing expires within the window\n";
  } else {
    std::cout << "re-signed:";
    for (const auto& r : *done) std::cout << " " << r;
    std::cout << "\n";
  }
  return cli::kExitOk;
}

void RepoPositional(po::options_description& o, po::positional_options_description& pos) {
  o.add_options()("repo", po::value<std::string>()->required(), "repository directory");
  pos.add("repo", 1);
}

// Ranges of the repository's numeric options (usage errors, exit 2, before any file is read).
constexpr uint32_t kMaxDays = 36500;
cli::BoundedValue<uint32_t>* Threshold() { return cli::Int<uint32_t>(1, 256); }
cli::BoundedValue<uint32_t>* Days() { return cli::Int<uint32_t>(1, kMaxDays); }
cli::BoundedValue<uint32_t>* Schema() { return cli::Int<uint32_t>(1, 65535); }

void AddRepoCommands(cli::Program& p) {
  p.commands.push_back(
      {"repo init", "create a TUF repository (root v1, empty targets/snapshot/timestamp)",
       "REPO --root-key K --targets-key K --snapshot-key K --timestamp-key K [options]",
       [](po::options_description& o, po::positional_options_description& pos) {
         RepoPositional(o, pos);
         o.add_options()("root-key", po::value<std::vector<std::string>>()->required(), "root private key; repeatable")(
             "targets-key", po::value<std::vector<std::string>>()->required(), "targets private key; repeatable")(
             "snapshot-key", po::value<std::vector<std::string>>()->required(), "snapshot private key; repeatable")(
             "timestamp-key", po::value<std::vector<std::string>>()->required(), "timestamp private key; repeatable")(
             "root-threshold", Threshold()->default_value(1), "root signature threshold")(
             "targets-threshold", Threshold()->default_value(1), "targets signature threshold")(
             "snapshot-threshold", Threshold()->default_value(1), "snapshot signature threshold")(
             "timestamp-threshold", Threshold()->default_value(1), "timestamp signature threshold")(
             "root-expires-days", Days()->default_value(365), "root lifetime")(
             "targets-expires-days", Days()->default_value(90), "targets lifetime")(
             "snapshot-expires-days", Days()->default_value(7), "snapshot lifetime")(
             "timestamp-expires-days", Days()->default_value(1), "timestamp lifetime")(
             "no-consistent-snapshot", "write consistent_snapshot: false")("passphrase-file", po::value<std::string>(),
                                                                           "passphrase for encrypted keys");
       },
       RepoInitCmd});
  p.commands.push_back(
      {"repo add-target",
       "stage a signed image as a target (firmware facts from its header)",
       "REPO --image IMAGE [--name PATH] [options]",
       [](po::options_description& o, po::positional_options_description& pos) {
         RepoPositional(o, pos);
         o.add_options()("image", po::value<std::string>()->required(), "signed image (fwsign image sign)")(
             "name", po::value<std::string>(), "target path (default: the image's file name)")(
             "chunk-size", cli::Int<uint32_t>(bundle::kMinChunkSize, bundle::kMaxChunkSize)->default_value(64 * 1024),
             "chunk size of the chunk index")("journal-schema-min", Schema()->default_value(1),
                                              "oldest journal schema it reads")(
             "journal-schema-max", Schema()->default_value(1), "newest journal schema it reads");
       },
       RepoAddTargetCmd,
       {},
       [](const po::variables_map& vm) {
         if (vm["journal-schema-min"].as<uint32_t>() > vm["journal-schema-max"].as<uint32_t>()) {
           return InvalidArgument("--journal-schema-min must not be above --journal-schema-max");
         }
         return Status::Ok();
       }});
  p.commands.push_back({"repo publish", "sign staged targets, a new snapshot and timestamp",
                        "REPO --key K [--key K2 ...]",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          RepoPositional(o, pos);
                          o.add_options()("key,k", po::value<std::vector<std::string>>()->required(),
                                          "private keys; each role uses those it lists")(
                              "passphrase-file", po::value<std::string>(), "passphrase for encrypted keys");
                        },
                        RepoPublishCmd});
  p.commands.push_back(
      {"repo rotate", "new root version replacing a role's keys (signed by old and new root keys)",
       "REPO --role ROLE --new-key PUB [--new-key ...] [--threshold N] --key K ...",
       [](po::options_description& o, po::positional_options_description& pos) {
         RepoPositional(o, pos);
         o.add_options()("role", po::value<std::string>()->required(), "root | targets | snapshot | timestamp")(
             "new-key", po::value<std::vector<std::string>>()->required(), "the role's new public (or private) key")(
             "threshold", Threshold()->default_value(1), "the role's new threshold")(
             "key,k", po::value<std::vector<std::string>>()->required(),
             "root private keys: current and (for root rotation) new")("passphrase-file", po::value<std::string>(),
                                                                       "passphrase for encrypted keys");
       },
       RepoRotateCmd});
  p.commands.push_back({"repo resign-expiring", "re-sign every role that expires within a window",
                        "REPO --within-days D --key K ...",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          RepoPositional(o, pos);
                          o.add_options()("within-days", cli::Int<uint32_t>(0, kMaxDays)->required(), "the window")(
                              "key,k", po::value<std::vector<std::string>>()->required(), "private keys")(
                              "passphrase-file", po::value<std::string>(), "passphrase for encrypted keys");
                        },
                        RepoResignCmd});
}

int BundleCreateCmd(const Invocation& inv) {
  const auto& vm = inv.vm;
  bundle::CreateOptions o;
  o.repo = vm["repo"].as<std::string>();
  o.target = vm["target"].as<std::string>();
  o.output = vm["output"].as<std::string>();
  o.root_from = vm["root-from"].as<uint64_t>();
  o.with_timestamp_snapshot = vm.count("no-timestamp") == 0;
  Status s = bundle::CreateBundle(o);
  if (!s.ok()) return cli::Fail(inv, s.WithContext("bundle create"));
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"bundle", o.output}, {"target", o.target}});
  } else {
    std::cout << "wrote bundle " << o.output << " for " << o.target << "\n";
  }
  return cli::kExitOk;
}

cli::Program MakeProgram() {
  cli::Program p;
  p.name = "fwsign";
  p.summary = "vendor signing tool: keys, signed firmware images, TUF repositories, bundles";
  p.commands.push_back(
      {"key generate", "generate a signing key pair (private PEM + public PEM)", "--type TYPE --out KEY [options]",
       [](po::options_description& o, po::positional_options_description&) {
         o.add_options()("type", po::value<std::string>()->default_value("ed25519"), "ed25519 | ecdsa-p256")(
             "out,o", po::value<std::string>()->required(), "private key file to write (mode 0600)")(
             "pub-out", po::value<std::string>(), "public key file (default: KEY with .pem -> .pub.pem)")(
             "passphrase-file", po::value<std::string>(), "encrypt the private key with the passphrase in this file")(
             "force", "overwrite existing key files");
       },
       KeyGenerate});
  p.commands.push_back({"key show", "print a key's type and key id", "[options] KEY",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          o.add_options()("key", po::value<std::string>()->required(), "public or private PEM file")(
                              "passphrase-file", po::value<std::string>(), "passphrase for an encrypted private key");
                          pos.add("key", 1);
                        },
                        KeyShow});
  p.commands.push_back(
      {"image sign", "sign a firmware payload into a signed image",
       "--key KEY --version X.Y.Z --security-counter N --hardware-id ID PAYLOAD -o IMAGE",
       [](po::options_description& o, po::positional_options_description& pos) {
         o.add_options()("key,k", po::value<std::vector<std::string>>()->required(),
                         "private key PEM; repeat to add more signatures")("passphrase-file", po::value<std::string>(),
                                                                           "passphrase for encrypted keys")(
             "version", po::value<std::string>()->required(), "firmware version MAJOR.MINOR.PATCH[+BUILD]")(
             "security-counter", cli::Int<uint32_t>()->required(), "anti-rollback counter (0..4294967295)")(
             "hardware-id", po::value<std::string>()->required(), "hardware id the image is for (1-24 chars)")(
             "description", po::value<std::string>(), "free text stored in a protected TLV")(
             "output,o", po::value<std::string>()->required(), "signed image to write")(
             "payload", po::value<std::string>()->required(), "firmware payload file");
         pos.add("payload", 1);
       },
       ImageSign});
  p.commands.push_back({"image verify", "verify an image's structure, hash and signature",
                        "--pubkey PUB [options] IMAGE",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          o.add_options()("pubkey,p", po::value<std::vector<std::string>>()->required(),
                                          "trusted public key PEM; repeatable")("hardware-id", po::value<std::string>(),
                                                                                "also require this hardware id")(
                              "min-security-counter", cli::Int<uint32_t>()->default_value(0),
                              "also require a security counter at least this high")(
                              "image", po::value<std::string>()->required(), "signed image file");
                          pos.add("image", 1);
                        },
                        ImageVerify});
  p.commands.push_back({"image inspect", "print an image's header and TLVs (no verification)", "[options] IMAGE",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          o.add_options()("image", po::value<std::string>()->required(), "signed image file");
                          pos.add("image", 1);
                        },
                        ImageInspect});
  AddRepoCommands(p);
  AddOfflineSigningCommands(p);
  p.commands.push_back({"bundle create", "write an offline bundle (metadata, chunk index, image) for one target",
                        "REPO --target PATH -o BUNDLE [options]",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          RepoPositional(o, pos);
                          o.add_options()("target", po::value<std::string>()->required(), "TUF target path")(
                              "output,o", po::value<std::string>()->required(), "bundle file to write")(
                              "root-from", cli::Int<uint64_t>(1, UINT32_MAX)->default_value(1),
                              "first root version to include")(
                              "no-timestamp", "leave timestamp/snapshot out (targets checked against root only)");
                        },
                        BundleCreateCmd});
  AddTrustStoreCommands(p);
  AddTokenKeyCommands(p);  // last: it adds --pkcs11-module to the commands above
  return p;
}

}  // namespace
}  // namespace fw

int main(int argc, char** argv) { return fw::cli::Run(fw::MakeProgram(), argc, argv); }
