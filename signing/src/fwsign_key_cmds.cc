// fwsign's token commands and options (docs/signing-hsm.md):
//  - `--pkcs11-module M` on every command that opens private keys (those with --passphrase-file,
//    but key generate): the module for pkcs11: URIs without module-path. It becomes the process
//    default (SetDefaultPkcs11Module), so every key path (OpenSigner, LoadAnyPublicKey) sees it.
//  - `key show pkcs11:...`: type, key id, token, label, id and mechanism of a token key.
//  - `key list --module M --token T [--serial S] [--json]`: the objects on a token.
#include <cstdlib>
#include <iostream>

#include "fw/cli.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/open_signer.h"
#include "fw/pkcs11_token.h"
#include "fw/pkcs11_uri.h"
#include "fwsign_key_cmds.h"

namespace fw {
namespace {

using cli::Invocation;
namespace po = cli::po;

int TokenKeyShow(const Invocation& inv, const std::string& spec) {
  auto signer = OpenSigner(spec, {});
  if (!signer.ok()) return cli::Fail(inv, signer.status());
  const auto* token = dynamic_cast<const TokenSigner*>(signer->get());
  if (token == nullptr) return cli::Fail(inv, Internal("a pkcs11: URI opened a signer that is not a token's"));
  if (auto pub_out = cli::OptionalString(inv.vm, "pub-out")) {
    Status s = WriteFileAtomic(*pub_out, token->public_key().ToPem(), 0644);
    if (!s.ok()) return cli::Fail(inv, s.WithContext("--pub-out"));
  }
  const std::string key_id = HexEncode(token->public_key().KeyId());
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"type", KeyTypeName(token->type())},
                    {"key_id", key_id},
                    {"token", token->token_label()},
                    {"label", token->object_label()},
                    {"id", HexEncode(token->object_id())},
                    {"mechanism", token->mechanism_name()}});
  } else {
    std::cout << "type:      " << KeyTypeName(token->type()) << "\nkey id:    " << key_id
              << "\ntoken:     " << token->token_label() << "\nlabel:     " << token->object_label()
              << "\nid:        " << HexEncode(token->object_id()) << "\nmechanism: " << token->mechanism_name() << "\n";
  }
  return cli::kExitOk;
}

Result<std::optional<TokenPin>> ListPin(const po::variables_map& vm) {
  if (auto file = cli::OptionalString(vm, "pin-file")) {
    FW_ASSIGN_OR_RETURN(std::string pin, cli::ReadPassphraseFile(*file));
    return std::optional<TokenPin>(TokenPin{std::move(pin), "--pin-file"});
  }
  if (const char* env = std::getenv(kPinEnvironmentVariable)) {
    return std::optional<TokenPin>(TokenPin{env, kPinEnvironmentVariable});
  }
  return std::optional<TokenPin>();
}

int KeyList(const Invocation& inv) {
  const auto& vm = inv.vm;
  TokenModule module{vm.count("module") ? vm["module"].as<std::string>() : "", "--module"};
  if (module.path.empty()) {
    const char* env = std::getenv(kModuleEnvironmentVariable);
    if (env == nullptr || *env == '\0') {
      return cli::Fail(inv, InvalidArgument("no PKCS#11 module: give --module or set PKCS11_MODULE"));
    }
    module = {env, kModuleEnvironmentVariable};
  }
  Pkcs11Uri selector;
  selector.token = vm["token"].as<std::string>();
  selector.serial = cli::OptionalString(vm, "serial");
  auto pin = ListPin(vm);
  if (!pin.ok()) return cli::Fail(inv, pin.status());
  auto listing = ListTokenObjects(selector, module, *pin);
  if (!listing.ok()) return cli::Fail(inv, listing.status().WithContext("key list"));
  if (inv.json) {
    nlohmann::json objects = nlohmann::json::array();
    for (const auto& o : listing->objects) {
      nlohmann::json j = {{"class", o.object_class}, {"label", o.label}, {"id", HexEncode(o.id)}, {"uri", o.uri}};
      if (!o.key_type.empty()) j["key_type"] = o.key_type;
      if (o.key_id) j["key_id"] = HexEncode(*o.key_id);
      objects.push_back(j);
    }
    cli::PrintJson({{"ok", true},
                    {"token",
                     {{"label", listing->label},
                      {"manufacturer", listing->manufacturer},
                      {"model", listing->model},
                      {"serial", listing->serial}}},
                    {"logged_in", listing->logged_in},
                    {"objects", objects}});
    return cli::kExitOk;
  }
  std::cout << "token " << listing->label << " (" << listing->manufacturer << ", " << listing->model << ", serial "
            << listing->serial << "): " << listing->objects.size() << " objects"
            << (listing->logged_in ? "" : " (not logged in: private objects hidden; set FW_PKCS11_PIN)") << "\n";
  for (const auto& o : listing->objects) {
    std::cout << "  " << o.object_class << (o.key_type.empty() ? "" : " " + o.key_type) << "  " << o.uri;
    if (o.key_id) std::cout << "\n      key id " << HexEncode(*o.key_id);
    std::cout << "\n";
  }
  return cli::kExitOk;
}

// Adds --pkcs11-module to a command that opens private keys, and exports it for the run.
void AddModuleOption(cli::Subcommand& c) {
  auto options = c.options;
  c.options = [options](po::options_description& o, po::positional_options_description& pos) {
    options(o, pos);
    o.add_options()("pkcs11-module", po::value<std::string>(),
                    "PKCS#11 module for pkcs11: key URIs without module-path (default: $PKCS11_MODULE)");
  };
  auto run = c.run;
  c.run = [run](const Invocation& inv) {
    SetDefaultPkcs11Module(cli::OptionalString(inv.vm, "pkcs11-module"));
    return run(inv);
  };
}

bool OpensPrivateKeys(const cli::Subcommand& c) {
  if (c.name == "key generate") return false;
  po::options_description o;
  po::positional_options_description pos;
  c.options(o, pos);
  return o.find_nothrow("passphrase-file", false) != nullptr;
}

}  // namespace

void AddTokenKeyCommands(cli::Program& p) {
  for (auto& c : p.commands) {
    if (OpensPrivateKeys(c)) AddModuleOption(c);
    if (c.name == "key show") {
      auto options = c.options;
      c.options = [options](po::options_description& o, po::positional_options_description& pos) {
        options(o, pos);
        o.add_options()("pub-out", po::value<std::string>(), "write a pkcs11: key's public key (PEM) to this file");
      };
      auto file_show = c.run;
      c.run = [file_show](const Invocation& inv) {
        const std::string spec = inv.vm["key"].as<std::string>();
        if (IsTokenKeySpec(spec)) return TokenKeyShow(inv, spec);
        if (inv.vm.count("pub-out")) {
          return cli::Fail(inv,
                           InvalidArgument("--pub-out is for pkcs11: keys; a key file's public key is its .pub.pem"));
        }
        return file_show(inv);
      };
    }
  }
  p.commands.push_back({"key list", "list the objects on a PKCS#11 token (PIN from FW_PKCS11_PIN or --pin-file)",
                        "--module MODULE --token LABEL [--serial S]",
                        [](po::options_description& o, po::positional_options_description&) {
                          o.add_options()("module", po::value<std::string>(),
                                          "PKCS#11 module (.so; default: $PKCS11_MODULE)")(
                              "token", po::value<std::string>()->required(), "token label")(
                              "serial", po::value<std::string>(), "token serial (when labels repeat)")(
                              "pin-file", po::value<std::string>(), "file holding the user PIN (first line)");
                        },
                        KeyList});
}

}  // namespace fw
