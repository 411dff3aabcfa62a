// Signed image format: round trips and every bad input the parser must refuse.
#include "fw/image.h"

#include <gtest/gtest.h>

#include <cstring>

#include "fw/encoding.h"
#include "fw/image_format.h"
#include "testing.h"

namespace fw {
namespace {

namespace img = fw::image;
using testing::SourcePath;
using testing::TempDir;

KeySigner LoadKey(const std::string& name) {
  auto k = PrivateKey::LoadPemFile(SourcePath("tests/keys/" + name));
  if (!k.ok()) throw std::runtime_error(k.status().message());
  return KeySigner(std::move(*k));
}

PublicKey LoadPub(const std::string& name) {
  auto k = PublicKey::LoadPemFile(SourcePath("tests/keys/" + name));
  if (!k.ok()) throw std::runtime_error(k.status().message());
  return std::move(*k);
}

void Put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Get32(const std::vector<uint8_t>& b, size_t off) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(b[off + i]) << (8 * i);
  return v;
}

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_a_ = std::make_unique<KeySigner>(LoadKey("ed25519-a.pem"));
    payload_ = testing::PseudoRandomBytes(3000, 7);
    testing::WriteBytes(dir_ / "payload.bin", payload_);
    spec_.version = *SemVer::Parse("2.1.0+7");
    spec_.security_counter = 5;
    spec_.hardware_id = "POS-X1";
  }

  // Signs payload.bin with `keys` into `name` and returns its bytes.
  std::vector<uint8_t> Sign(const std::vector<const Signer*>& keys, const std::string& name = "fw.img") {
    Status s = SignImageFile(dir_ / "payload.bin", spec_, keys, dir_ / name);
    EXPECT_TRUE(s.ok()) << s.message();
    return testing::ReadBytes(dir_ / name);
  }

  Result<ImageInfo> VerifyBytes(const std::vector<uint8_t>& bytes, std::vector<PublicKey> trusted = {}) {
    if (trusted.empty()) trusted.push_back(LoadPub("ed25519-a.pub.pem"));
    testing::WriteBytes(dir_ / "check.img", bytes);
    return VerifyImageFile(dir_ / "check.img", trusted);
  }

  // Offset of the unprotected TLV area in an image.
  static size_t TlvArea(const std::vector<uint8_t>& b) {
    uint64_t payload = 0;
    for (int i = 0; i < 8; ++i) payload |= static_cast<uint64_t>(b[8 + i]) << (8 * i);
    return 64 + payload + Get32(b, 36);
  }

  // Appends a raw TLV to the unprotected area and fixes its size.
  static void AppendUnprotected(std::vector<uint8_t>& b, uint16_t type, const std::vector<uint8_t>& value) {
    size_t area = TlvArea(b);
    b.push_back(static_cast<uint8_t>(type));
    b.push_back(static_cast<uint8_t>(type >> 8));
    b.push_back(static_cast<uint8_t>(value.size()));
    b.push_back(static_cast<uint8_t>(value.size() >> 8));
    b.insert(b.end(), value.begin(), value.end());
    Put32(b, area + 4, static_cast<uint32_t>(b.size() - area));
  }

  TempDir dir_;
  std::unique_ptr<KeySigner> key_a_;
  std::vector<uint8_t> payload_;
  ImageSpec spec_;
};

TEST_F(ImageTest, SignedImageVerifiesAndReportsItsFields) {
  auto bytes = Sign({key_a_.get()});
  auto info = VerifyBytes(bytes);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->version.ToString(), "2.1.0+7");
  EXPECT_EQ(info->security_counter, 5u);
  EXPECT_EQ(info->hardware_id, "POS-X1");
  EXPECT_EQ(info->payload_size, payload_.size());
  EXPECT_EQ(info->signer_key_id, key_a_->public_key().KeyId());
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 64, bytes.begin() + 64 + 3000), payload_);
}

TEST_F(ImageTest, MultipleSignaturesMixedAlgorithms) {
  auto ecdsa = LoadKey("ecdsa-a.pem");
  auto bytes = Sign({key_a_.get(), &ecdsa});
  auto info = VerifyBytes(bytes, {LoadPub("ecdsa-a.pub.pem")});
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->signatures.size(), 2u);
  EXPECT_EQ(info->signer_key_id, ecdsa.public_key().KeyId());
}

TEST_F(ImageTest, OneBitFlippedAnywhereIsRejected) {
  auto bytes = Sign({key_a_.get()});
  // Every byte of the image, one bit each (the bit position rotates).
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto copy = bytes;
    copy[i] ^= static_cast<uint8_t>(1u << (i % 8));
    auto r = VerifyBytes(copy);
    ASSERT_FALSE(r.ok()) << "bit flip at byte " << i << " was accepted";
  }
}

TEST_F(ImageTest, SignatureOverModifiedPayloadIsRejectedAsHashMismatch) {
  auto bytes = Sign({key_a_.get()});
  bytes[64 + 1500] ^= 0x10;
  auto r = VerifyBytes(bytes);
  EXPECT_EQ(r.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(r.status().message().find("hash mismatch"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, ReplacedHashStillFailsTheSignature) {
  // An attacker rewrites the payload and the hash TLV to match: the signature must catch it.
  auto bytes = Sign({key_a_.get()});
  bytes[64] ^= 1;
  Digest d = Sha256::Of(ByteSpan(bytes.data(), TlvArea(bytes)));
  std::memcpy(bytes.data() + TlvArea(bytes) + 8 + 4, d.data(), 32);
  auto r = VerifyBytes(bytes);
  EXPECT_EQ(r.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(r.status().message().find("signature does not verify"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, SignatureByUnknownKeyIsRejectedNamingTheKey) {
  auto key_b = LoadKey("ed25519-b.pem");
  auto bytes = Sign({&key_b});
  auto r = VerifyBytes(bytes);
  EXPECT_EQ(r.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(r.status().message().find("no signature by a trusted key"), std::string::npos);
  EXPECT_NE(r.status().message().find(HexEncode(key_b.public_key().KeyId()).substr(0, 16)), std::string::npos);
}

TEST_F(ImageTest, SignatureTlvOfTheWrongKeyTypeIsRejected) {
  auto bytes = Sign({key_a_.get()});
  // Relabel the Ed25519 signature TLV as ECDSA: key id matches an Ed25519 key.
  size_t sig_tlv = TlvArea(bytes) + 8 + 4 + 32;
  ASSERT_EQ(bytes[sig_tlv], img::kTlvSigEd25519);
  bytes[sig_tlv] = img::kTlvSigEcdsaP256;
  auto r = VerifyBytes(bytes);
  EXPECT_EQ(r.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(r.status().message().find("does not match the trusted key's type"), std::string::npos)
      << r.status().message();
}

TEST_F(ImageTest, TruncatedImageIsRejected) {
  auto bytes = Sign({key_a_.get()});
  for (size_t len : {size_t{0}, size_t{10}, size_t{63}, size_t{64}, size_t{2000}, bytes.size() - 1}) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(len));
    auto r = VerifyBytes(cut);
    EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << len << ": " << r.status().message();
    EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << len << ": " << r.status().message();
  }
}

TEST_F(ImageTest, WrongMagicIsRejected) {
  auto bytes = Sign({key_a_.get()});
  bytes[0] = 'X';
  auto r = VerifyBytes(bytes);
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("wrong magic"), std::string::npos);
}

TEST_F(ImageTest, HeaderSizeFieldMustBe64) {
  auto bytes = Sign({key_a_.get()});
  bytes[6] = 0xff;
  bytes[7] = 0xff;
  auto r = VerifyBytes(bytes);
  EXPECT_NE(r.status().message().find("bad header size 65535"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, PayloadSizeBeyondFileIsRejected) {
  auto bytes = Sign({key_a_.get()});
  Put64(bytes, 8, 3000 + 5000);
  auto r = VerifyBytes(bytes);
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("beyond the end"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, TwoGibPayloadClaimIsRejectedWithoutReadingIt) {
  auto bytes = Sign({key_a_.get()});
  Put64(bytes, 8, uint64_t{2} << 30);
  auto r = VerifyBytes(bytes);
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("payload size 2147483648"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("exceeds the maximum"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, TlvLengthOverflowIsRejected) {
  auto bytes = Sign({key_a_.get()});
  size_t hash_tlv = TlvArea(bytes) + 8;
  bytes[hash_tlv + 2] = 0xff;
  bytes[hash_tlv + 3] = 0x7f;
  auto r = VerifyBytes(bytes);
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("TLV length runs beyond its area"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, DuplicateHashTlvIsRejected) {
  auto bytes = Sign({key_a_.get()});
  Digest d = Sha256::Of(ByteSpan(bytes.data(), TlvArea(bytes)));
  AppendUnprotected(bytes, img::kTlvSha256, std::vector<uint8_t>(d.begin(), d.end()));
  auto r = VerifyBytes(bytes);
  EXPECT_NE(r.status().message().find("duplicate hash TLV"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, UnknownCriticalTlvIsRejectedButNonCriticalIsSkipped) {
  auto bytes = Sign({key_a_.get()});
  auto tolerant = bytes;
  AppendUnprotected(tolerant, 0x0777, {1, 2, 3});
  EXPECT_TRUE(VerifyBytes(tolerant).ok());
  AppendUnprotected(bytes, 0x8777, {1, 2, 3});
  auto r = VerifyBytes(bytes);
  EXPECT_NE(r.status().message().find("unknown critical TLV type 0x8777"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, TrailingGarbageIsRejected) {
  auto bytes = Sign({key_a_.get()});
  bytes.push_back(0);
  auto r = VerifyBytes(bytes);
  EXPECT_NE(r.status().message().find("trailing data"), std::string::npos) << r.status().message();
}

TEST_F(ImageTest, EmptyPayloadIsRefusedAtSigningAndParsing) {
  testing::WriteFile(dir_ / "empty.bin", "");
  Status s = SignImageFile(dir_ / "empty.bin", spec_, {key_a_.get()}, dir_ / "out.img");
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("empty"), std::string::npos);
  EXPECT_FALSE(testing::Exists(dir_ / "out.img"));
  auto bytes = Sign({key_a_.get()});
  Put64(bytes, 8, 0);
  EXPECT_NE(VerifyBytes(bytes).status().message().find("payload is empty"), std::string::npos);
}

TEST_F(ImageTest, ProtectedDescriptionIsCoveredByTheHash) {
  spec_.description = "release 2.1.0 for POS-X1";
  auto bytes = Sign({key_a_.get()});
  auto info = VerifyBytes(bytes);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->description, "release 2.1.0 for POS-X1");
  bytes[64 + 3000 + 4] ^= 0x20;  // first character of the description
  EXPECT_NE(VerifyBytes(bytes).status().message().find("hash mismatch"), std::string::npos);
}

TEST_F(ImageTest, PolicyChecksHardwareAndSecurityCounter) {
  auto bytes = Sign({key_a_.get()});
  testing::WriteBytes(dir_ / "p.img", bytes);
  std::vector<PublicKey> trusted{LoadPub("ed25519-a.pub.pem")};
  auto wrong_hw = VerifyImageFile(dir_ / "p.img", trusted, ImagePolicy{"POS-X2", 0});
  EXPECT_NE(wrong_hw.status().message().find("for hardware 'POS-X1', this device is 'POS-X2'"), std::string::npos);
  auto rollback = VerifyImageFile(dir_ / "p.img", trusted, ImagePolicy{"POS-X1", 6});
  EXPECT_NE(rollback.status().message().find("rollback refused"), std::string::npos);
  EXPECT_TRUE(VerifyImageFile(dir_ / "p.img", trusted, ImagePolicy{"POS-X1", 5}).ok());
}

TEST_F(ImageTest, SpecValidation) {
  spec_.hardware_id = "has space";
  EXPECT_FALSE(ValidateImageSpec(spec_).ok());
  spec_.hardware_id = std::string(25, 'x');
  EXPECT_FALSE(ValidateImageSpec(spec_).ok());
  spec_.hardware_id = "";
  EXPECT_FALSE(ValidateImageSpec(spec_).ok());
}

TEST(SemVer, ParsesAndOrders) {
  EXPECT_EQ(SemVer::Parse("2.1.0")->ToString(), "2.1.0");
  EXPECT_EQ(SemVer::Parse("2.1.0+9")->build, 9u);
  EXPECT_LT(*SemVer::Parse("1.9.9"), *SemVer::Parse("1.10.0"));
  for (const char* bad : {"", "1", "1.2", "1.2.x", "1.2.3.4", "1.2.3+", "70000.0.0", "-1.0.0", "1.2.3 "}) {
    EXPECT_FALSE(SemVer::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace fw
