// AES-256-GCM (fw::Aes256GcmSeal/Open) and base64 of the common library.
#include <gtest/gtest.h>

#include <set>

#include "fw/crypto.h"
#include "fw/encoding.h"

namespace fw {
namespace {

Bytes Hex(std::string_view h) { return HexDecode(h).value(); }

// NIST GCM specification, test case 16 (AES-256, 96-bit IV, associated data).
TEST(Aes256GcmTest, OpensTheNistVector) {
  const Bytes key = Hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const Bytes aad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const Bytes plain = Hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de6"
      "57ba637b39");
  const Bytes sealed =
      Hex("cafebabefacedbaddecaf888"
          "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba"
          "7a0abcc9f662"
          "76fc6ece0f4e1768cddf8853bb2d551b");
  auto opened = Aes256GcmOpen(key, sealed, aad);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(*opened, plain);
}

TEST(Aes256GcmTest, RoundTripWithFreshNoncesAndEveryTamperRefused) {
  const Bytes key = RandomBytes(32).value();
  const std::string text = "{\"seq\":1,\"event\":\"boot\"}\n";
  std::set<Bytes> seen;
  for (int i = 0; i < 4; ++i) {
    auto sealed = Aes256GcmSeal(key, AsBytes(text), AsBytes("TERM-1:1:9"));
    ASSERT_TRUE(sealed.ok()) << sealed.status().message();
    EXPECT_EQ(sealed->size(), text.size() + 28);
    seen.insert(*sealed);
    auto opened = Aes256GcmOpen(key, *sealed, AsBytes("TERM-1:1:9"));
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    EXPECT_EQ(std::string(opened->begin(), opened->end()), text);
  }
  EXPECT_EQ(seen.size(), 4u);  // a new nonce every time
  const Bytes sealed = *seen.begin();
  EXPECT_EQ(Aes256GcmOpen(key, sealed, AsBytes("TERM-1:1:8")).status().code(), ErrorCode::kVerificationFailed);
  const Bytes other_key = RandomBytes(32).value();
  EXPECT_EQ(Aes256GcmOpen(other_key, sealed, AsBytes("TERM-1:1:9")).status().code(), ErrorCode::kVerificationFailed);
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes flipped = sealed;
    flipped[i] ^= 0x01;
    EXPECT_EQ(Aes256GcmOpen(key, flipped, AsBytes("TERM-1:1:9")).status().code(), ErrorCode::kVerificationFailed)
        << "byte " << i;
  }
  const Bytes shortened(sealed.begin(), sealed.begin() + 27);
  EXPECT_EQ(Aes256GcmOpen(key, shortened, AsBytes("TERM-1:1:9")).status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(Aes256GcmSeal(Bytes(16, 1), AsBytes(text), {}).status().code(), ErrorCode::kInvalidArgument);
  // The empty text seals to nonce + tag and opens again.
  auto empty = Aes256GcmSeal(key, {}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 28u);
  EXPECT_EQ(Aes256GcmOpen(key, *empty, {}).value(), Bytes{});
}

// RFC 4648 section 10.
TEST(Base64Test, RfcVectorsAndStrictDecoding) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    auto d = Base64Decode(encoded);
    ASSERT_TRUE(d.ok()) << encoded;
    EXPECT_EQ(std::string(d->begin(), d->end()), plain);
  }
  const Bytes all = [] {
    Bytes b;
    for (int i = 0; i < 256; ++i) b.push_back(static_cast<uint8_t>(i));
    return b;
  }();
  EXPECT_EQ(Base64Decode(Base64Encode(all)).value(), all);
  for (const char* bad : {"Zg=", "Zg", "Zh==", "Zm9=", "Z===", "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm-v", "=Zm9"}) {
    EXPECT_EQ(Base64Decode(bad).status().code(), ErrorCode::kCorrupt) << bad;
  }
}

}  // namespace
}  // namespace fw
