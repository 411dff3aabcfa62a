// fwserver's fleet CA commands (identity; docs/fleet-ca.md): ca init, ca show, ca issue-device, and
// the issuer process (`fwserver issuer`). Key options are fw::OpenSigner specs (a PEM file or a
// pkcs11: URI).
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "fw/clock.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/open_signer.h"
#include "fw/server/cert_issuer.h"
#include "fw/server/fleet_ca.h"
#include "fw/server/issuer_service.h"

namespace fw::server {
namespace {

namespace fs = std::filesystem;
namespace po = cli::po;
using cli::Invocation;

constexpr uint64_t kMaxPemFile = 1 << 20;

struct Paths {
  explicit Paths(const std::string& data) : dir(data) {}
  std::string dir;
  std::string root() const { return dir + "/ca/root.pem"; }
  std::string issuing() const { return dir + "/ca/issuing.pem"; }
  std::string chain() const { return dir + "/ca/chain.pem"; }
  std::string issuing_key() const { return dir + "/issuer/issuing.key"; }
  std::string tls_cert() const { return dir + "/tls/server.pem"; }
  std::string tls_key() const { return dir + "/tls/server.key"; }
  std::string socket() const { return dir + "/issuer.sock"; }
};

Status MakeDir(const std::string& path, unsigned mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return IoError("creating " + path + ": " + ec.message());
  if (::chmod(path.c_str(), mode) != 0) return IoError("chmod " + path + ": " + ErrnoText(errno));
  return Status::Ok();
}

// A signer for a key option, or a fresh P-256 key (whose PEM is returned in *generated_pem).
Result<std::unique_ptr<Signer>> KeyOrGenerate(const std::optional<std::string>& spec, const char* what,
                                              std::string* generated_pem) {
  if (spec) {
    auto signer = OpenSigner(*spec, {});
    if (!signer.ok()) return signer.status().WithContext(what);
    return signer;
  }
  FW_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::Generate(KeyType::kEcdsaP256));
  FW_ASSIGN_OR_RETURN(*generated_pem, key.ToPem());
  return std::unique_ptr<Signer>(new KeySigner(std::move(key), std::string("generated ") + what));
}

struct InitPlan {
  std::string root_key_pem;     // generated root key (written only to --root-key-out)
  std::string issuing_key_pem;  // DIR/issuer/issuing.key ("" for a token key)
  FleetCa ca;
  TlsServerCert tls;
  std::string root_key_id, issuing_key_id;
};

Result<InitPlan> PlanInit(const po::variables_map& vm) {
  InitPlan plan;
  const auto root_spec = cli::OptionalString(vm, "root-key");
  const auto issuing_spec = cli::OptionalString(vm, "issuing-key");
  FW_ASSIGN_OR_RETURN(auto root, KeyOrGenerate(root_spec, "root key", &plan.root_key_pem));
  FW_ASSIGN_OR_RETURN(auto issuing, KeyOrGenerate(issuing_spec, "issuing key", &plan.issuing_key_pem));
  if (issuing_spec && !IsTokenKeySpec(*issuing_spec)) {
    FW_ASSIGN_OR_RETURN(plan.issuing_key_pem, ReadFileToString(*issuing_spec, 64 * 1024));
  }
  FleetCaOptions options;
  options.name = vm["name"].as<std::string>();
  options.now_s = SystemClock().WallSeconds();
  options.issuing_days = vm["issuing-days"].as<int>();
  options.root_days = vm["root-days"].as<int>();
  FW_ASSIGN_OR_RETURN(plan.ca, MakeFleetCa(*root, *issuing, options));
  std::vector<std::string> hosts;
  if (vm.count("host")) hosts = vm["host"].as<std::vector<std::string>>();
  FW_ASSIGN_OR_RETURN(plan.tls,
                      MakeTlsServerCert(*issuing, plan.ca.issuing_pem, hosts, options.now_s, vm["days"].as<int>()));
  plan.root_key_id = HexEncode(root->public_key().KeyId());
  plan.issuing_key_id = HexEncode(issuing->public_key().KeyId());
  return plan;
}

Status WriteInit(const InitPlan& plan, const Paths& paths, const std::optional<std::string>& root_key_out) {
  FW_RETURN_IF_ERROR(MakeDir(paths.dir + "/ca", 0755));
  FW_RETURN_IF_ERROR(MakeDir(paths.dir + "/tls", 0700));
  if (!plan.issuing_key_pem.empty()) {
    FW_RETURN_IF_ERROR(MakeDir(paths.dir + "/issuer", 0700));
    FW_RETURN_IF_ERROR(WriteFileAtomic(paths.issuing_key(), plan.issuing_key_pem, 0600));
  }
  if (root_key_out) FW_RETURN_IF_ERROR(WriteFileAtomic(*root_key_out, plan.root_key_pem, 0600));
  FW_RETURN_IF_ERROR(WriteFileAtomic(paths.tls_key(), plan.tls.key_pem, 0600));
  FW_RETURN_IF_ERROR(WriteFileAtomic(paths.tls_cert(), plan.tls.cert_pem, 0644));
  FW_RETURN_IF_ERROR(WriteFileAtomic(paths.issuing(), plan.ca.issuing_pem, 0644));
  FW_RETURN_IF_ERROR(WriteFileAtomic(paths.chain(), plan.ca.chain_pem, 0644));
  // root.pem last: its presence is what marks the CA as made.
  return WriteFileAtomic(paths.root(), plan.ca.root_pem, 0644);
}

int CaInit(const Invocation& inv) {
  const Paths paths(inv.vm["data"].as<std::string>());
  const auto root_key_out = cli::OptionalString(inv.vm, "root-key-out");
  if (root_key_out && inv.vm.count("root-key")) {
    return cli::Fail(inv,
                     InvalidArgument("--root-key-out writes a generated root key; --root-key names an existing one"));
  }
  for (const std::string& p : {paths.root(), paths.issuing_key(), root_key_out.value_or("")}) {
    if (!p.empty() && fs::exists(p)) {
      return cli::Fail(inv, FailedPrecondition(p + " already exists; not replacing a fleet CA or key"));
    }
  }
  auto plan = PlanInit(inv.vm);
  if (!plan.ok()) return cli::Fail(inv, plan.status().WithContext("ca init"));
  Status s = WriteInit(*plan, paths, root_key_out);
  if (!s.ok()) return cli::Fail(inv, s.WithContext("ca init"));
  const std::string issuing_key =
      plan->issuing_key_pem.empty() ? inv.vm["issuing-key"].as<std::string>() : paths.issuing_key();
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"root", paths.root()},
                    {"issuing", paths.issuing()},
                    {"chain", paths.chain()},
                    {"issuing_key", issuing_key},
                    {"tls_cert", paths.tls_cert()},
                    {"root_key_id", plan->root_key_id},
                    {"issuing_key_id", plan->issuing_key_id},
                    {"root_key_kept", root_key_out.has_value() || inv.vm.count("root-key") > 0}});
  } else {
    std::cout << "fleet CA made in " << paths.dir << "/ca (root key id " << plan->root_key_id << ")\n"
              << "issuing key: " << issuing_key << " (key id " << plan->issuing_key_id << ")\n"
              << "device port TLS certificate: " << paths.tls_cert() << "\n";
    if (!root_key_out && !inv.vm.count("root-key")) {
      std::cout << "the root key was not kept (give --root-key-out FILE to keep it offline)\n";
    }
  }
  return cli::kExitOk;
}

nlohmann::json SummaryJson(const CertSummary& s) {
  return {{"subject", s.subject},
          {"issuer", s.issuer},
          {"serial", s.serial_hex},
          {"key_id", s.key_id},
          {"key_type", s.key_type},
          {"not_before", IsoTimeUtc(s.not_before_s)},
          {"not_after", IsoTimeUtc(s.not_after_s)},
          {"ca", s.is_ca},
          {"extended_key_usage", s.extended_key_usage},
          {"subject_alt_names", s.subject_alt_names}};
}

int CaShow(const Invocation& inv) {
  const Paths paths(inv.vm["data"].as<std::string>());
  nlohmann::json doc = {{"ok", true}};
  for (const auto& [name, path] : std::vector<std::pair<std::string, std::string>>{
           {"root", paths.root()}, {"issuing", paths.issuing()}, {"tls_server", paths.tls_cert()}}) {
    auto pem = ReadFileToString(path, kMaxPemFile);
    if (!pem.ok()) return cli::Fail(inv, pem.status().WithContext("ca show: " + path));
    auto certs = DescribeCerts(*pem);
    if (!certs.ok()) return cli::Fail(inv, certs.status().WithContext("ca show: " + path));
    const CertSummary& s = certs->front();
    doc[name] = SummaryJson(s);
    if (!inv.json) {
      std::cout << name << ": " << s.subject << "\n  issuer     " << s.issuer << "\n  valid      "
                << IsoTimeUtc(s.not_before_s) << " .. " << IsoTimeUtc(s.not_after_s) << "\n  key        " << s.key_type
                << ", key id " << s.key_id << "\n  serial     " << s.serial_hex << "\n";
      for (const auto& san : s.subject_alt_names) std::cout << "  SAN        " << san << "\n";
    }
  }
  doc["issuing_key_file"] = fs::exists(paths.issuing_key());
  if (inv.json) cli::PrintJson(doc);
  return cli::kExitOk;
}

Result<std::unique_ptr<CertIssuer>> OpenIssuer(const po::variables_map& vm, const Paths& paths, int64_t max_days) {
  const auto key = cli::OptionalString(vm, "key");
  if (!key) return ConnectIssuer(cli::OptionalString(vm, "socket").value_or(paths.socket()));
  auto signer = OpenSigner(*key, {});
  if (!signer.ok()) return signer.status().WithContext("--key");
  FW_ASSIGN_OR_RETURN(std::string issuing, ReadFileToString(paths.issuing(), kMaxPemFile));
  FW_ASSIGN_OR_RETURN(std::string root, ReadFileToString(paths.root(), kMaxPemFile));
  IssuerPolicy policy;
  policy.max_validity_s = max_days * 86400;
  return MakeSignerIssuer(std::move(*signer), issuing, root, policy);
}

int CaIssueDevice(const Invocation& inv) {
  const Paths paths(inv.vm["data"].as<std::string>());
  auto csr = ReadFileToString(inv.vm["csr"].as<std::string>(), kMaxCsrBytes + 1);
  if (!csr.ok()) return cli::Fail(inv, csr.status().WithContext("--csr"));
  auto issuer = OpenIssuer(inv.vm, paths, IssuerPolicy{}.max_validity_s / 86400);
  if (!issuer.ok()) return cli::Fail(inv, issuer.status().WithContext("ca issue-device"));
  const int64_t now = SystemClock().WallSeconds();
  const int64_t not_before = now - 300;  // clock skew
  auto cert = (*issuer)->IssueDeviceCert(*csr, inv.vm["serial"].as<std::string>(), not_before,
                                         not_before + int64_t{inv.vm["days"].as<int>()} * 86400);
  if (!cert.ok()) return cli::Fail(inv, cert.status().WithContext("ca issue-device"));
  if (auto out = cli::OptionalString(inv.vm, "out")) {
    Status s = WriteFileAtomic(*out, cert->pem, 0644);
    if (!s.ok()) return cli::Fail(inv, s.WithContext("-o"));
  } else if (!inv.json) {
    std::cout << cert->pem;
  }
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"cert", cert->pem},
                    {"cert_serial", cert->cert_serial_hex},
                    {"spki_sha256", cert->spki_sha256_hex},
                    {"not_after", IsoTimeUtc(cert->not_after_s)}});
  }
  return cli::kExitOk;
}

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

int Issuer(const Invocation& inv) {
  const Paths paths(inv.vm["data"].as<std::string>());
  const po::variables_map& vm = inv.vm;
  auto key = cli::OptionalString(vm, "key").value_or(paths.issuing_key());
  struct stat st {};
  if (!IsTokenKeySpec(key) && ::stat(key.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return cli::Fail(inv, FailedPrecondition("issuer key " + key + " is accessible to group or others (chmod 600)"));
  }
  auto signer = OpenSigner(key, {});
  if (!signer.ok()) return cli::Fail(inv, signer.status().WithContext("issuer key"));
  auto issuing = ReadFileToString(paths.issuing(), kMaxPemFile);
  auto root = ReadFileToString(paths.root(), kMaxPemFile);
  if (!issuing.ok() || !root.ok()) return cli::Fail(inv, (!issuing.ok() ? issuing.status() : root.status()));
  IssuerPolicy policy;
  policy.max_validity_s = int64_t{vm["max-days"].as<int>()} * 86400;
  auto issuer = MakeSignerIssuer(std::move(*signer), *issuing, *root, policy);
  if (!issuer.ok()) return cli::Fail(inv, issuer.status().WithContext("issuer"));
  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: poll() returns at once
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  IssuerServiceOptions options;
  options.socket_path = cli::OptionalString(vm, "socket").value_or(paths.socket());
  options.log = [](const std::string& line) { std::cerr << "fwserver issuer: " << line << std::endl; };
  options.ready = [&options] { std::cerr << "fwserver issuer: listening on " << options.socket_path << std::endl; };
  Status s = ServeIssuer(**issuer, options, g_stop);
  if (!s.ok()) return cli::Fail(inv, s.WithContext("issuer"));
  return cli::kExitOk;
}

void DataOption(po::options_description& o) {
  o.add_options()("data", po::value<std::string>()->required(), "the server's data directory");
}

}  // namespace

void AddCaCommands(cli::Program& p) {
  p.commands.push_back(
      {"ca init", "make the fleet CA (root + issuing CA, P-256) and the device port's TLS certificate",
       "--data DIR [--root-key SPEC] [--issuing-key SPEC] [--root-key-out FILE] [--host NAME...]",
       [](po::options_description& o, po::positional_options_description&) {
         DataOption(o);
         o.add_options()("root-key", po::value<std::string>(), "existing root key (PEM file or pkcs11: URI)")(
             "issuing-key", po::value<std::string>(),
             "existing issuing key (PEM file, copied to DIR/issuer, or pkcs11:)")(
             "root-key-out", po::value<std::string>(),
             "keep the generated root key in this file (0600; keep it offline)")(
             "host", po::value<std::vector<std::string>>()->composing()->multitoken(),
             "extra host name or IP for the TLS cert")("days", cli::Int<int>(1, 3650)->default_value(397),
                                                       "TLS server certificate lifetime in days")(
             "issuing-days", cli::Int<int>(1, 7300)->default_value(1825), "issuing CA lifetime in days")(
             "root-days", cli::Int<int>(1, 10950)->default_value(7300), "root CA lifetime in days")(
             "name", po::value<std::string>()->default_value("Fleet"), "CA name (\"<name> Root CA\")");
       },
       CaInit});
  p.commands.push_back(
      {"ca show", "show the fleet CA and TLS certificates (subjects, validity, key ids)", "--data DIR [--json]",
       [](po::options_description& o, po::positional_options_description&) { DataOption(o); }, CaShow});
  p.commands.push_back(
      {"ca issue-device", "issue a device certificate from a CSR (through the issuer socket, or --key)",
       "--data DIR --serial S --csr FILE [-o FILE]",
       [](po::options_description& o, po::positional_options_description&) {
         DataOption(o);
         o.add_options()("serial", po::value<std::string>()->required(), "the terminal's serial (the CN)")(
             "csr", po::value<std::string>()->required(), "PEM CSR (P-256)")(
             "out,o", po::value<std::string>(), "write the certificate here (default: stdout)")(
             "key", po::value<std::string>(), "sign in this process with this issuing key (PEM or pkcs11:)")(
             "socket", po::value<std::string>(), "issuer socket (default DIR/issuer.sock)")(
             "days", cli::Int<int>(1, 1095)->default_value(365), "certificate lifetime in days");
       },
       CaIssueDevice});
  p.commands.push_back(
      {"issuer", "run the issuer process: signs policy-conforming device certificates on DIR/issuer.sock",
       "--data DIR [--key SPEC]",
       [](po::options_description& o, po::positional_options_description&) {
         DataOption(o);
         o.add_options()("key", po::value<std::string>(), "issuing key (default DIR/issuer/issuing.key; or pkcs11:)")(
             "socket", po::value<std::string>(), "socket path (default DIR/issuer.sock)")(
             "max-days", cli::Int<int>(1, 3650)->default_value(1095), "longest device certificate lifetime");
       },
       Issuer});
}

}  // namespace fw::server
