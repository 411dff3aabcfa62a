// The hostile server's PKI (hostile_pki.h): MakeTestPki plus two bad server certificates.
#include "hostile_pki.h"

#include <vector>

#include "testing.h"
#include "tls_testing.h"

namespace fw::testing {
namespace {

std::string Run(const std::vector<std::string>& argv) {
  const auto r = RunCommand(argv);
  if (r.exit_code == 0) return "";
  std::string line;
  for (const auto& a : argv) line += a + " ";
  return line + "-> exit " + std::to_string(r.exit_code) + ": " + r.err;
}

// A server certificate `name`.pem/.key for `san` by the CA `ca` in `dir`.
std::string IssueServerCert(const std::string& dir, const std::string& name, const std::string& cn,
                            const std::string& san, const std::string& ca) {
  const std::string base = dir + "/" + name;
  if (auto e =
          Run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", base + ".key"});
      !e.empty()) {
    return e;
  }
  if (auto e = Run({"openssl", "req", "-new", "-key", base + ".key", "-out", base + ".csr", "-subj", "/CN=" + cn});
      !e.empty()) {
    return e;
  }
  WriteFile(base + ".ext",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            "subjectAltName=" +
                san + "\n");
  return Run({"openssl", "x509", "-req", "-in", base + ".csr", "-CA", dir + "/" + ca + ".pem", "-CAkey",
              dir + "/" + ca + ".key", "-set_serial", std::to_string(2000 + name.size()), "-days", "365", "-extfile",
              base + ".ext", "-out", base + ".pem"});
}

}  // namespace

std::string MakeHostilePki(const std::string& dir) {
  if (auto e = fw::server::testing::MakeTestPki(dir); !e.empty()) return e;
  if (auto e = IssueServerCert(dir, "wrong_host_server", "wrong.example", "DNS:wrong.example", "issuing"); !e.empty()) {
    return e;
  }
  if (auto e = IssueServerCert(dir, "other_server", "localhost", "DNS:localhost,IP:127.0.0.1", "other_root");
      !e.empty()) {
    return e;
  }
  // Leaf + issuing CA, as a server sends its chain.
  for (const std::string name : {"server", "wrong_host_server"}) {
    WriteFile(dir + "/" + name + "_chain.pem", ReadFile(dir + "/" + name + ".pem") + ReadFile(dir + "/issuing.pem"));
  }
  WriteFile(dir + "/other_server_chain.pem", ReadFile(dir + "/other_server.pem"));
  return "";
}

}  // namespace fw::testing
