#include "fw/open_signer.h"

#include <strings.h>

#include <cstdlib>
#include <mutex>

#include "fw/file_io.h"
#include "fw/pkcs11_token.h"
#include "fw/pkcs11_uri.h"

namespace fw {
namespace {

std::mutex g_default_module_mu;
std::optional<std::string>& DefaultModule() {
  static auto* m = new std::optional<std::string>();
  return *m;
}

Result<TokenModule> ResolveModule(const Pkcs11Uri& uri, const SignerOptions& options) {
  if (uri.module_path) return TokenModule{*uri.module_path, "the URI's module-path"};
  if (uri.module_name) {
    return InvalidArgument("module-name=" + *uri.module_name +
                           ": modules are not looked up by name; give module-path=/path/to/module.so");
  }
  if (options.pkcs11_module) return TokenModule{*options.pkcs11_module, "--pkcs11-module"};
  {
    std::lock_guard lock(g_default_module_mu);
    if (DefaultModule()) return TokenModule{*DefaultModule(), "--pkcs11-module"};
  }
  const char* env = std::getenv(kModuleEnvironmentVariable);
  if (env != nullptr && *env != '\0') return TokenModule{env, kModuleEnvironmentVariable};
  return InvalidArgument(
      std::string("no PKCS#11 module: add module-path=... to the URI, give --pkcs11-module or set ") +
      kModuleEnvironmentVariable);
}

Result<std::optional<TokenPin>> ResolvePin(const Pkcs11Uri& uri) {
  if (uri.pin_value) {
    return InvalidArgument(std::string("pin-value: a PIN in a key URI is refused (command lines are visible to "
                                       "every user); use pin-source=file:PATH or ") +
                           kPinEnvironmentVariable);
  }
  if (uri.pin_source) {
    std::string path = *uri.pin_source;
    if (path.rfind("file://", 0) == 0) {
      path.erase(0, 7);
    } else if (path.rfind("file:", 0) == 0) {
      path.erase(0, 5);
    } else if (path.find(':') != std::string::npos || path.rfind('|', 0) == 0) {
      return InvalidArgument("pin-source=" + *uri.pin_source + ": only file:PATH (or a plain path) is supported");
    }
    auto text = ReadFileToString(path, 4096);
    if (!text.ok()) return text.status().WithContext("pin-source=" + *uri.pin_source);
    std::string pin = text->substr(0, text->find('\n'));
    if (!pin.empty() && pin.back() == '\r') pin.pop_back();
    return std::optional<TokenPin>(TokenPin{std::move(pin), "pin-source=" + *uri.pin_source});
  }
  const char* env = std::getenv(kPinEnvironmentVariable);
  if (env != nullptr) return std::optional<TokenPin>(TokenPin{env, kPinEnvironmentVariable});
  return std::optional<TokenPin>();
}

}  // namespace

void SetDefaultPkcs11Module(std::optional<std::string> path) {
  std::lock_guard lock(g_default_module_mu);
  DefaultModule() = std::move(path);
}

bool IsTokenKeySpec(std::string_view spec) {
  constexpr std::string_view kPkcs11Scheme = "pkcs11:";
  return spec.size() >= kPkcs11Scheme.size() &&
         ::strncasecmp(spec.data(), kPkcs11Scheme.data(), kPkcs11Scheme.size()) == 0;
}

Result<std::unique_ptr<Signer>> OpenSigner(const std::string& spec, const SignerOptions& options) {
  if (IsTokenKeySpec(spec)) {
    // A spec with a PIN in it is never repeated in a message.
    const bool has_pin = spec.find("pin-value") != std::string::npos;
    FW_ASSIGN_OR_RETURN(Pkcs11Uri uri, Pkcs11Uri::Parse(spec).WithContext("key " + (has_pin ? "pkcs11:..." : spec)));
    FW_ASSIGN_OR_RETURN(TokenModule module, ResolveModule(uri, options).WithContext("key " + uri.ToString()));
    FW_ASSIGN_OR_RETURN(auto pin, ResolvePin(uri).WithContext("key " + uri.ToString()));
    FW_ASSIGN_OR_RETURN(auto signer, OpenTokenSigner(uri, module, pin).WithContext("key " + uri.ToString()));
    return std::unique_ptr<Signer>(std::move(signer));
  }
  FW_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::LoadPemFile(spec, options.passphrase));
  return std::unique_ptr<Signer>(std::make_unique<KeySigner>(std::move(key), "private key " + spec));
}

}  // namespace fw
