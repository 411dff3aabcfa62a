#include "fw/crypto.h"

#include <gtest/gtest.h>

#include "fw/encoding.h"
#include "testing.h"

namespace fw {
namespace {

using testing::RunCommand;
using testing::SourcePath;
using testing::TempDir;

TEST(Sha256, KnownAnswer) {
  EXPECT_EQ(HexEncode(Sha256::Of(AsBytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update(AsBytes("a"));
  h.Update(AsBytes("bc"));
  EXPECT_EQ(HexEncode(h.Finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class SignVerify : public ::testing::TestWithParam<KeyType> {};

TEST_P(SignVerify, RoundTripAndTamperDetection) {
  auto key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(key.ok()) << key.status().message();
  auto sig = key->Sign(AsBytes("firmware digest"));
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(key->public_key().Verify(AsBytes("firmware digest"), *sig).ok());
  EXPECT_EQ(key->public_key().Verify(AsBytes("firmware digesT"), *sig).code(), ErrorCode::kVerificationFailed);
  Bytes bad = *sig;
  bad[bad.size() / 2] ^= 1;
  EXPECT_FALSE(key->public_key().Verify(AsBytes("firmware digest"), bad).ok());
  auto other = PrivateKey::Generate(GetParam());
  EXPECT_FALSE(other->public_key().Verify(AsBytes("firmware digest"), *sig).ok());
}

TEST_P(SignVerify, PemRoundTripKeepsKeyId) {
  auto key = PrivateKey::Generate(GetParam());
  auto pem = key->ToPem("secret");
  ASSERT_TRUE(pem.ok());
  EXPECT_NE(pem->find("ENCRYPTED PRIVATE KEY"), std::string::npos);
  auto back = PrivateKey::FromPem(*pem, std::string("secret"));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->public_key().KeyId(), key->public_key().KeyId());
  auto wrong = PrivateKey::FromPem(*pem, std::string("not it"));
  EXPECT_EQ(wrong.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(wrong.status().message().find("wrong passphrase"), std::string::npos);
  auto none = PrivateKey::FromPem(*pem);
  EXPECT_NE(none.status().message().find("passphrase"), std::string::npos);
  auto pub = PublicKey::FromPem(key->public_key().ToPem());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->KeyId(), key->public_key().KeyId());
}

INSTANTIATE_TEST_SUITE_P(Types, SignVerify, ::testing::Values(KeyType::kEd25519, KeyType::kEcdsaP256));

TEST(KeyId, IsSha256OfDerSubjectPublicKeyInfoAsOpensslComputesIt) {
  TempDir dir;
  auto r = RunCommand({"openssl", "pkey", "-pubin", "-in", SourcePath("tests/keys/ecdsa-a.pub.pem"), "-outform", "DER",
                       "-out", dir / "pub.der"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto der = testing::ReadBytes(dir / "pub.der");
  auto key = PublicKey::LoadPemFile(SourcePath("tests/keys/ecdsa-a.pub.pem"));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->KeyId(), Sha256::Of(der));
  EXPECT_EQ(key->Der(), der);
}

TEST(Keys, UnsupportedTypesAreNamed) {
  auto rsa = PrivateKey::LoadPemFile(SourcePath("tests/keys/rsa-2048.pem"));
  EXPECT_EQ(rsa.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(rsa.status().message().find("RSA"), std::string::npos);
  auto p384 = PrivateKey::LoadPemFile(SourcePath("tests/keys/ecdsa-p384.pem"));
  EXPECT_EQ(p384.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(p384.status().message().find("secp384r1"), std::string::npos);
  auto priv_as_pub = PublicKey::LoadPemFile(SourcePath("tests/keys/ed25519-a.pem"));
  EXPECT_NE(priv_as_pub.status().message().find("private key"), std::string::npos);
  EXPECT_EQ(PublicKey::FromPem("garbage").status().code(), ErrorCode::kCorrupt);
}

TEST(Keys, RsaPssSignatureFromOpensslVerifies) {
  TempDir dir;
  testing::WriteFile(dir / "msg", "signed metadata");
  auto r = RunCommand({"openssl", "dgst", "-sha256", "-sign", SourcePath("tests/keys/rsa-2048.pem"), "-sigopt",
                       "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", "-out", dir / "sig", dir / "msg"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto key = PublicKey::LoadPemFile(SourcePath("tests/keys/rsa-2048.pub.pem"));
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key->type(), KeyType::kRsaPss);
  auto sig = testing::ReadBytes(dir / "sig");
  EXPECT_TRUE(key->Verify(AsBytes("signed metadata"), sig).ok());
  EXPECT_FALSE(key->Verify(AsBytes("signed metadatA"), sig).ok());
}

TEST(Keys, RawEd25519RoundTrip) {
  auto key = PrivateKey::Generate(KeyType::kEd25519);
  Bytes raw = key->public_key().RawEd25519();
  ASSERT_EQ(raw.size(), 32u);
  auto pub = PublicKey::FromRawEd25519(raw);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->KeyId(), key->public_key().KeyId());
  EXPECT_FALSE(PublicKey::FromRawEd25519(Bytes(31)).ok());
}

TEST(Hex, RoundTripAndErrors) {
  EXPECT_EQ(HexEncode(Bytes{0x00, 0xab, 0xff}), "00abff");
  EXPECT_EQ(*HexDecode("00ABff"), (Bytes{0x00, 0xab, 0xff}));
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

}  // namespace
}  // namespace fw
