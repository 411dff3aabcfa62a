// fw_server_identity: certificates signed through fw::Signer verify with the real `openssl verify`
// and through DeviceCertVerifier::Inspect; every way a client certificate can be wrong gets the
// right state and problem; CSRs from outside are refused unless well-formed P-256 and self-signed.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fw/clock.h"
#include "fw/encoding.h"
#include "fw/server/issuer_service.h"
#include "identity_fixture.h"

namespace fw::server {
namespace {

using fw::testing::ReadFile;
using fw::testing::RunCommand;
using fw::testing::WriteFile;
using testing::kDay;
using testing::OpensslVerify;
using testing::TestCa;
using CertState = Peer::CertState;

TEST(ServerIdentity, DeviceCertVerifiesWithOpensslAndInspect) {
  TestCa ca;
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  auto csr = MakeCsrPem(*key, "whatever-the-terminal-asked");
  ASSERT_TRUE(csr.ok());
  auto info = ParseCsr(*csr);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->common_name, "whatever-the-terminal-asked");
  EXPECT_EQ(info->spki_sha256_hex, HexEncode(key->public_key().KeyId()));

  auto cert = ca.Issuer()->IssueDeviceCert(*csr, "POS-X1.0042_a", ca.now - 60, ca.now + 30 * kDay);
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(cert->chain_pem, ca.issuing_pem + ca.root_pem);
  EXPECT_EQ(cert->spki_sha256_hex, info->spki_sha256_hex);
  EXPECT_EQ(cert->cert_serial_hex.size(), 32u);  // 128-bit serial number

  auto v = OpensslVerify(ca, cert->pem, "sslclient");
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(OpensslVerify(ca, cert->pem, "sslserver").exit_code, 0) << "a device cert must not be a server cert";
  WriteFile(ca.d("dev.pem"), cert->pem);
  auto text = RunCommand({"openssl", "x509", "-in", ca.d("dev.pem"), "-noout", "-text"});
  ASSERT_EQ(text.exit_code, 0);
  for (const char* want : {"Subject: CN = POS-X1.0042_a", "CA:FALSE", "Digital Signature",
                           "TLS Web Client Authentication", "ecdsa-with-SHA256", "NIST CURVE: P-256"}) {
    EXPECT_NE(text.out.find(want), std::string::npos) << want << "\n" << text.out;
  }
  EXPECT_EQ(text.out.find("Server Authentication"), std::string::npos);

  const Peer peer = ca.Inspect(cert->pem, ca.now);
  EXPECT_EQ(peer.cert, CertState::kValid) << peer.problem;
  EXPECT_EQ(peer.serial, "POS-X1.0042_a");
  EXPECT_EQ(peer.spki_sha256_hex, info->spki_sha256_hex);
  EXPECT_EQ(peer.cert_serial_hex, cert->cert_serial_hex);
  EXPECT_EQ(peer.not_after_s, ca.now + 30 * kDay);
  EXPECT_EQ(cert->not_after_s, ca.now + 30 * kDay);

  // Two issues of the same request get different serial numbers.
  auto again = ca.Issuer()->IssueDeviceCert(*csr, "POS-X1.0042_a", ca.now - 60, ca.now + 30 * kDay);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->cert_serial_hex, cert->cert_serial_hex);
}

TEST(ServerIdentity, ExpiredNotYetValidAndWrongCa) {
  TestCa ca;
  const IssuedCert old_cert = ca.IssueFor("T1", ca.now - 10 * kDay, ca.now - kDay);
  Peer p = ca.Inspect(old_cert.pem, ca.now);
  EXPECT_EQ(p.cert, CertState::kExpired) << p.problem;
  EXPECT_EQ(p.serial, "T1");
  EXPECT_EQ(p.not_after_s, ca.now - kDay);
  EXPECT_EQ(ca.Inspect(old_cert.pem, ca.now - 2 * kDay).cert, CertState::kValid);
  // A cached valid answer does not outlive the certificate: the second before, at and after notAfter.
  EXPECT_EQ(ca.Inspect(old_cert.pem, ca.now - kDay - 1).cert, CertState::kValid);
  EXPECT_EQ(ca.Inspect(old_cert.pem, ca.now - kDay).cert, CertState::kValid);
  EXPECT_EQ(ca.Inspect(old_cert.pem, ca.now - kDay + 1).cert, CertState::kExpired);
  EXPECT_EQ(ca.Inspect(old_cert.pem, ca.now - 10 * kDay - 1).cert, CertState::kInvalid);  // before notBefore
  EXPECT_NE(OpensslVerify(ca, old_cert.pem, "sslclient").exit_code, 0);

  const IssuedCert future = ca.IssueFor("T2", ca.now + kDay, ca.now + 10 * kDay);
  p = ca.Inspect(future.pem, ca.now);
  EXPECT_EQ(p.cert, CertState::kInvalid);
  EXPECT_NE(p.problem.find("not yet valid"), std::string::npos) << p.problem;

  // An expired leaf from another CA is invalid, not expired.
  TestCa other("Other");
  const IssuedCert foreign = other.IssueFor("T3", ca.now - 60, ca.now + kDay);
  p = ca.Inspect(foreign.pem, ca.now);
  EXPECT_EQ(p.cert, CertState::kInvalid);
  EXPECT_NE(p.problem.find("does not verify to the fleet CA"), std::string::npos) << p.problem;
  EXPECT_EQ(p.serial, "T3");  // filled whenever the leaf parses
  const IssuedCert foreign_old = other.IssueFor("T4", ca.now - 10 * kDay, ca.now - kDay);
  EXPECT_EQ(ca.Inspect(foreign_old.pem, ca.now).cert, CertState::kInvalid);
  EXPECT_NE(OpensslVerify(ca, foreign.pem, "sslclient").exit_code, 0);

  // The issuing CA itself expired: the leaf is invalid, not expired.
  TestCa short_ca("Short", 31);  // the issuing CA expires a day from now
  const IssuedCert leaf = short_ca.IssueFor("T5", short_ca.now - 60, short_ca.now + kDay / 2);
  EXPECT_EQ(short_ca.Inspect(leaf.pem, short_ca.now + 2 * kDay).cert, CertState::kInvalid);
}

TEST(ServerIdentity, LeavesThatAreNotDeviceCertsAreInvalid) {
  TestCa ca;
  const std::string client =
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
      "extendedKeyUsage=clientAuth";
  struct Case {
    const char* name;
    std::vector<std::string> keygen;  // openssl req -newkey arguments
    std::string subject;
    std::string extensions;
    const char* problem;  // substring of Peer::problem
  };
  const std::vector<Case> cases = {
      {"control", {"ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"}, "/CN=GOOD-1", client, nullptr},
      {"server-auth only",
       {"ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"},
       "/CN=GOOD-1",
       "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth",
       "purpose"},
      {"no EKU",
       {"ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"},
       "/CN=GOOD-1",
       "basicConstraints=CA:FALSE",
       "extendedKeyUsage"},
      {"RSA", {"rsa:2048"}, "/CN=GOOD-1", client, "not P-256"},
      {"Ed25519", {"ed25519"}, "/CN=GOOD-1", client, "not P-256"},
      {"P-384", {"ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"}, "/CN=GOOD-1", client, "not P-256"},
      {"CA:TRUE",
       {"ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"},
       "/CN=GOOD-1",
       "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\nextendedKeyUsage=clientAuth",
       "CA"},
      {"bad CN", {"ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"}, "/CN=POS 1\\/x", client, "CN"},
      {"two CNs", {"ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"}, "/CN=A1/CN=B2", client, "CN"},
      {"no CN", {"ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"}, "/O=Acme", client, "CN"},
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string base = ca.d("odd" + std::to_string(++n));
    std::vector<std::string> argv = {"openssl", "req",         "-new",  "-nodes",  "-keyout", base + ".key",
                                     "-out",    base + ".csr", "-subj", c.subject, "-newkey"};
    argv.insert(argv.end(), c.keygen.begin(), c.keygen.end());
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string pem = ca.OpensslIssue(base + ".csr", c.extensions);
    ASSERT_FALSE(pem.empty());
    const Peer p = ca.Inspect(pem, ca.now + 60);
    if (c.problem == nullptr) {
      EXPECT_EQ(p.cert, CertState::kValid) << p.problem;
      continue;
    }
    EXPECT_EQ(p.cert, CertState::kInvalid);
    EXPECT_NE(p.problem.find(c.problem), std::string::npos) << p.problem;
  }
}

TEST(ServerIdentity, InspectOfNothingOrGarbage) {
  TestCa ca;
  EXPECT_EQ(ca.verifier->Inspect({}, ca.now).cert, CertState::kNone);
  const std::vector<Bytes> garbage = {Bytes{0x30, 0x03, 0x02, 0x01, 0x01}};
  const Peer p = ca.verifier->Inspect(garbage, ca.now);
  EXPECT_EQ(p.cert, CertState::kInvalid);
  EXPECT_FALSE(p.problem.empty());
  // A valid leaf with trailing bytes is refused.
  Bytes der = testing::PemToDer(ca.IssueFor("T9", ca.now - 60, ca.now + kDay).pem);
  der.push_back(0);
  EXPECT_EQ(ca.verifier->Inspect(std::vector<Bytes>{der}, ca.now).cert, CertState::kInvalid);
  // The verifier wants CA certificates: a device cert or a lone root is refused.
  EXPECT_FALSE(DeviceCertVerifier::Create(ca.root_pem).ok());
  EXPECT_FALSE(DeviceCertVerifier::Create(ca.IssueFor("T9", ca.now - 60, ca.now + kDay).pem + ca.root_pem).ok());
  EXPECT_FALSE(DeviceCertVerifier::Create("not pem").ok());
}

TEST(ServerIdentity, CsrRefusals) {
  TestCa ca;
  // Other curve, RSA: real openssl CSRs.
  for (const std::vector<std::string>& keygen :
       {std::vector<std::string>{"ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"}, {"rsa:2048"}}) {
    std::vector<std::string> argv = {"openssl", "req",         "-new",  "-nodes", "-keyout", ca.d("k.pem"),
                                     "-out",    ca.d("c.csr"), "-subj", "/CN=X1", "-newkey"};
    argv.insert(argv.end(), keygen.begin(), keygen.end());
    ASSERT_EQ(RunCommand(argv).exit_code, 0);
    auto r = ParseCsr(ReadFile(ca.d("c.csr")));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
    EXPECT_NE(r.status().message().find("P-256"), std::string::npos) << r.status().message();
  }
  auto ed = PrivateKey::Generate(KeyType::kEd25519);
  auto ed_csr = MakeCsrPem(*ed, "X1");
  ASSERT_TRUE(ed_csr.ok());
  EXPECT_EQ(ParseCsr(*ed_csr).status().code(), ErrorCode::kCorrupt);

  // A bad self-signature: the last byte of the DER (inside the ECDSA signature) flipped.
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  const std::string good = *MakeCsrPem(*key, "X1");
  WriteFile(ca.d("good.csr"), good);
  ASSERT_EQ(
      RunCommand({"openssl", "req", "-in", ca.d("good.csr"), "-outform", "DER", "-out", ca.d("good.der")}).exit_code,
      0);
  auto der = fw::testing::ReadBytes(ca.d("good.der"));
  der.back() ^= 0x01;
  fw::testing::WriteBytes(ca.d("bad.der"), der);
  ASSERT_EQ(RunCommand({"openssl", "req", "-inform", "DER", "-in", ca.d("bad.der"), "-out", ca.d("bad.csr")}).exit_code,
            0);
  auto bad = ParseCsr(ReadFile(ca.d("bad.csr")));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("self-signature"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(ca.Issuer()->IssueDeviceCert(ReadFile(ca.d("bad.csr")), "X1", ca.now, ca.now + kDay).ok());

  // Oversize (a valid CSR padded past 16 KiB), garbage, two CSRs, a certificate instead.
  EXPECT_TRUE(ParseCsr(good + std::string(100, '\n')).ok());
  auto big = ParseCsr(good + std::string(kMaxCsrBytes, '\n'));
  EXPECT_EQ(big.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(big.status().message().find("at most"), std::string::npos);
  EXPECT_FALSE(ParseCsr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n").ok());
  EXPECT_FALSE(ParseCsr(good + good).ok());
  EXPECT_FALSE(ParseCsr(ca.root_pem).ok());
  EXPECT_FALSE(ParseCsr("").ok());
}

TEST(ServerIdentity, SignerIssuerPolicyAndKeyMatch) {
  TestCa ca;
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  const std::string csr = *MakeCsrPem(*key, "");
  auto issuer = ca.Issuer(IssuerPolicy{10 * kDay});
  EXPECT_TRUE(issuer->IssueDeviceCert(csr, "S1", ca.now, ca.now + 10 * kDay).ok());
  for (const auto& [serial, nb, na] : std::vector<std::tuple<std::string, int64_t, int64_t>>{
           {"S1", ca.now, ca.now + 10 * kDay + 1},        // longer than the policy
           {"S1", ca.now, ca.now},                        // empty validity
           {"", ca.now, ca.now + kDay},                   // no serial
           {"S 1", ca.now, ca.now + kDay},                // bad serial characters
           {std::string(65, 'a'), ca.now, ca.now + kDay}  // too long
       }) {
    auto r = issuer->IssueDeviceCert(csr, serial, nb, na);
    ASSERT_FALSE(r.ok()) << serial;
    EXPECT_EQ(r.status().code(), ErrorCode::kVerificationFailed) << r.status().message();
  }
  // Past the issuing CA's notAfter.
  auto long_issuer = ca.Issuer(IssuerPolicy{100000 * kDay});
  EXPECT_EQ(long_issuer->IssueDeviceCert(csr, "S1", ca.now, ca.now + 2000 * kDay).status().code(),
            ErrorCode::kVerificationFailed);
  EXPECT_EQ(long_issuer->IssueDeviceCert(csr, "S1", ca.now - 100 * kDay, ca.now - 50 * kDay).status().code(),
            ErrorCode::kVerificationFailed);

  // A signer that does not hold the issuing CA's key, an Ed25519 signer.
  auto wrong = PrivateKey::Generate(KeyType::kEcdsaP256);
  auto r = MakeSignerIssuer(std::make_unique<KeySigner>(std::move(*wrong)), ca.issuing_pem, ca.root_pem);
  EXPECT_EQ(r.status().code(), ErrorCode::kVerificationFailed);
  auto ed = PrivateKey::Generate(KeyType::kEd25519);
  r = MakeSignerIssuer(std::make_unique<KeySigner>(std::move(*ed)), ca.issuing_pem, ca.root_pem);
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  // The root as "issuing" CA with the issuing key: key mismatch.
  auto key2 = PrivateKey::FromPem(ReadFile(ca.issuing_key_file));
  r = MakeSignerIssuer(std::make_unique<KeySigner>(std::move(*key2)), ca.root_pem, ca.root_pem);
  EXPECT_FALSE(r.ok());
  // An Ed25519 key cannot sign X.509 here.
  auto ed_root = PrivateKey::Generate(KeyType::kEd25519);
  auto p256 = PrivateKey::Generate(KeyType::kEcdsaP256);
  KeySigner ed_signer(std::move(*ed_root)), p_signer(std::move(*p256));
  FleetCaOptions o;
  o.now_s = ca.now;
  EXPECT_EQ(MakeFleetCa(ed_signer, p_signer, o).status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(MakeFleetCa(p_signer, ed_signer, o).status().code(), ErrorCode::kUnsupported);
}

// Figures for the bench and the enrolment route: in-process issuing (build + sign + self-check) and
// Inspect per handshake. Printed; the bound only catches a pathological slowdown.
TEST(ServerIdentity, IssueAndInspectRates) {
  TestCa ca;
  auto issuer = ca.Issuer();
  auto key = PrivateKey::Generate(KeyType::kEcdsaP256);
  const std::string csr = *MakeCsrPem(*key, "");
  constexpr int kN = 200;
  const int64_t t0 = SystemClock().MonotonicMs();
  std::vector<Bytes> ders;
  for (int i = 0; i < kN; ++i) {
    auto cert = issuer->IssueDeviceCert(csr, "R" + std::to_string(i), ca.now - 60, ca.now + kDay);
    ASSERT_TRUE(cert.ok());
    ders.push_back(testing::PemToDer(cert->pem));
  }
  auto verifier = DeviceCertVerifier::Create(ca.chain_pem);  // a fresh one: nothing cached
  ASSERT_TRUE(verifier.ok());
  const int64_t t1 = SystemClock().MonotonicMs();
  for (const Bytes& der : ders) {
    ASSERT_EQ((*verifier)->Inspect(std::span<const Bytes>(&der, 1), ca.now).cert, CertState::kValid);
  }
  const int64_t t2 = SystemClock().MonotonicMs();
  for (int round = 0; round < 10; ++round) {
    for (const Bytes& der : ders) {
      ASSERT_EQ((*verifier)->Inspect(std::span<const Bytes>(&der, 1), ca.now).cert, CertState::kValid);
    }
  }
  const int64_t t3 = SystemClock().MonotonicMs();
  std::printf("issue: %d certs in %lld ms; inspect: %d first sight in %lld ms, %d cached in %lld ms\n", kN,
              static_cast<long long>(t1 - t0), kN, static_cast<long long>(t2 - t1), 10 * kN,
              static_cast<long long>(t3 - t2));
  EXPECT_LT(t3 - t0, 20000);
}

// Inspect is const and shared by the transport's I/O threads.
TEST(ServerIdentity, InspectFromSeveralThreads) {
  TestCa ca;
  const std::vector<Bytes> valid = {testing::PemToDer(ca.IssueFor("V1", ca.now - 60, ca.now + kDay).pem)};
  const std::vector<Bytes> expired = {testing::PemToDer(ca.IssueFor("E1", ca.now - 2 * kDay, ca.now - kDay).pem)};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (ca.verifier->Inspect(valid, ca.now).cert != CertState::kValid) ++wrong;
        if (ca.verifier->Inspect(expired, ca.now).cert != CertState::kExpired) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// The device_cert_fuzz seeds stay meaningful: the seed device certificate is valid for the fuzz
// target's fixed CA at its fixed time, and the CA:TRUE seed is refused for the right reason.
TEST(ServerIdentity, FuzzSeedsVerify) {
  auto v = DeviceCertVerifier::Create(ReadFile(fw::testing::SourcePath("tests/fuzz/device_cert_ca/chain.pem")));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const int64_t seed_time = 1795753637 + 3600;  // as in tests/fuzz/device_cert_fuzz.cc
  const std::string corpus = fw::testing::SourcePath("tests/fuzz/corpus/device_cert/");
  const std::vector<Bytes> device = {fw::testing::ReadBytes(corpus + "device.der")};
  const Peer p = (*v)->Inspect(device, seed_time);
  EXPECT_EQ(p.cert, CertState::kValid) << p.problem;
  EXPECT_EQ(p.serial, "POS-0001");
  const std::vector<Bytes> ca_leaf = {fw::testing::ReadBytes(corpus + "ca_true_leaf.der")};
  EXPECT_NE((*v)->Inspect(ca_leaf, seed_time).problem.find("CA"), std::string::npos);
  EXPECT_TRUE(ParseCsr(ReadFile(fw::testing::SourcePath("tests/fuzz/corpus/csr/p256.csr"))).ok());
  EXPECT_TRUE(
      ParseIssuerRequest(fw::testing::ReadBytes(fw::testing::SourcePath("tests/fuzz/corpus/issuer_frame/request.bin")))
          .ok());
}

}  // namespace
}  // namespace fw::server
