// fwsign — the vendor's signing tool: keys and signed firmware images.
#include <iostream>

#include "fw/cli.h"
#include "fw/encoding.h"
#include "fw/image.h"
#include "fw/key_files.h"

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
  std::vector<PrivateKey> keys;
  for (const auto& path : vm["key"].as<std::vector<std::string>>()) {
    auto key = PrivateKey::LoadPemFile(path, *pass);
    if (!key.ok()) return cli::Fail(inv, key.status());
    keys.push_back(std::move(*key));
  }
  std::vector<const PrivateKey*> key_ptrs;
  for (const auto& k : keys) key_ptrs.push_back(&k);
  ImageSpec spec;
  spec.version = *version;
  spec.security_counter = vm["security-counter"].as<uint32_t>();
  spec.hardware_id = vm["hardware-id"].as<std::string>();
  spec.description = cli::OptionalString(vm, "description");
  const std::string out = vm["output"].as<std::string>();
  Status s = SignImageFile(vm["payload"].as<std::string>(), spec, key_ptrs, out);
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

cli::Program MakeProgram() {
  cli::Program p;
  p.name = "fwsign";
  p.summary = "vendor signing tool: keys and signed firmware images";
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
             "security-counter", po::value<uint32_t>()->required(), "anti-rollback counter (0..4294967295)")(
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
                              "min-security-counter", po::value<uint32_t>()->default_value(0),
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
  return p;
}

}  // namespace
}  // namespace fw

int main(int argc, char** argv) { return fw::cli::Run(fw::MakeProgram(), argc, argv); }
