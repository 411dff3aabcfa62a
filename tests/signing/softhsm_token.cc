#include "softhsm_token.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace fw::testing {
namespace {

bool Run(const std::vector<std::string>& argv) {
  CommandResult r = RunCommand(argv);
  if (r.exit_code == 0) return true;
  std::string line;
  for (const auto& a : argv) line += a + " ";
  ADD_FAILURE() << line << "-> exit " << r.exit_code << "\n" << r.out << r.err;
  return false;
}

}  // namespace

void SuppressSoftHsmLeaksInChildren() {
  ::setenv("LSAN_OPTIONS", ("suppressions=" + SourcePath("tests/signing/softhsm.lsan.supp")).c_str(), 1);
  const char* asan = std::getenv("ASAN_OPTIONS");
  std::string options = asan != nullptr ? asan : "";
  if (options.find("fast_unwind_on_malloc") == std::string::npos) {
    options += std::string(options.empty() ? "" : ":") + "fast_unwind_on_malloc=0";
  }
  ::setenv("ASAN_OPTIONS", options.c_str(), 1);
}

SoftHsm::SoftHsm() {
  SuppressSoftHsmLeaksInChildren();
  EXPECT_TRUE(std::filesystem::exists(kModule)) << kModule << " is missing: run scripts/setup.sh (softhsm2)";
  std::filesystem::create_directories(dir_ / "tokens");
  WriteFile(dir_ / "softhsm2.conf",
            "directories.tokendir = " + (dir_ / "tokens") + "\nobjectstore.backend = file\nlog.level = ERROR\n");
  ::setenv("SOFTHSM2_CONF", (dir_ / "softhsm2.conf").c_str(), 1);
  ::setenv("PKCS11_MODULE", kModule, 1);
  ::setenv("FW_PKCS11_PIN", kPin, 1);
  ::setenv("GNUTLS_PIN", kPin, 1);  // p11tool's login
}

bool SoftHsm::InitToken(const std::string& label) {
  return Run({"softhsm2-util", "--init-token", "--free", "--label", label, "--pin", kPin, "--so-pin", kSoPin});
}

bool SoftHsm::GenerateKey(const std::string& token, const std::string& key_type, const std::string& label,
                          const std::string& id, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"pkcs11-tool", "--module", kModule, "--token-label", token,
                                   "--login",     "--pin",    kPin,    "--keypairgen",  "--key-type",
                                   key_type,      "--label",  label,   "--id",          id};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return Run(argv);
}

bool SoftHsm::ImportKey(const std::string& token, const std::string& private_pem, const std::string& public_pem,
                        const std::string& label, const std::string& id) {
  const std::string url = "pkcs11:token=" + token;
  return Run({"p11tool", "--provider", kModule, "--login", "--write", "--load-privkey", private_pem, "--label", label,
              "--id", id, url}) &&
         Run({"p11tool", "--provider", kModule, "--login", "--write", "--load-pubkey", public_pem, "--label", label,
              "--id", id, url});
}

}  // namespace fw::testing
