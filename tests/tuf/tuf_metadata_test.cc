// TUF metadata model: canonical JSON vectors, parsing, signing, thresholds, paths, firmware facts.
#include "fw/tuf_metadata.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "fw/canonical_json.h"
#include "fw/encoding.h"
#include "testing.h"

namespace fw::tuf {
namespace {

// Vector produced by tuf-js' @tufjs/canonical-json (an independent implementation).
TEST(CanonicalJson, MatchesTufJsVector) {
  const std::string input =
      R"({"z":[1,-2,{"\u00e9":"\u00fc\u0001\n\t","A":"q\"b\\s\/"}],"a":{"b":true,"a":null},"\u00e9":0,"_type":"x","ab":"","aa":9007199254740991})";
  const std::string want =
      "{\"_type\":\"x\",\"a\":{\"a\":null,\"b\":true},\"aa\":9007199254740991,\"ab\":\"\",\"z\":[1,-2,{"
      "\"A\":\"q\\\"b\\\\s/\",\"\xc3\xa9\":\"\xc3\xbc\x01\n\t\"}],\"\xc3\xa9\":0}";
  auto got = CanonicalizeJson(input);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, want);
  EXPECT_EQ(HexEncode(Sha256::Of(AsBytes(*got))), "2a136b0c6b9798de725b1909273ebc511d6516cacd5def0f0723dab40514212c");
}

TEST(CanonicalJson, RefusesFloatsDeepNestingOversizeAndGarbage) {
  EXPECT_EQ(CanonicalizeJson(R"({"a":1.5})").status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(CanonicalizeJson(R"({"a":1e3})").status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(CanonicalizeJson(std::string(1000, '[') + std::string(1000, ']')).status().code(), ErrorCode::kCorrupt);
  EXPECT_TRUE(CanonicalizeJson(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')).ok());
  EXPECT_EQ(CanonicalizeJson(std::string(100, ' ') + "{}", 64).status().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(CanonicalizeJson("{\"a\":").status().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(CanonicalizeJson("\"\xff\"").status().code(), ErrorCode::kCorrupt);  // not UTF-8
}

TEST(TufKey, KeyIdIsSha256OfCanonicalKeyObjectLikeSecuresystemslib) {
  Key k;
  k.keytype = "ed25519";
  k.scheme = "ed25519";
  k.public_value = "4e1c37e5c1b4bf7b3d2f0f3a5a6f0e5d4c3b2a1908f7e6d5c4b3a29180706050";
  EXPECT_EQ(
      k.Canonical(),
      R"({"keytype":"ed25519","keyval":{"public":"4e1c37e5c1b4bf7b3d2f0f3a5a6f0e5d4c3b2a1908f7e6d5c4b3a29180706050"},"scheme":"ed25519"})");
  // Vector computed by tuf-js' canonicalizer + node's SHA-256.
  EXPECT_EQ(k.KeyId(), "32344602ac48a39673db8a131f001b087235371fffaeb0a735b16905a92fcf2f");
}

struct Signer {
  KeySigner key;
  Key tuf;
  std::string id;
};

Signer MakeSigner(KeyType type) {
  auto k = PrivateKey::Generate(type);
  EXPECT_TRUE(k.ok());
  auto t = Key::FromPublicKey(k->public_key());
  EXPECT_TRUE(t.ok());
  std::string id = t->KeyId();
  return Signer{KeySigner(std::move(*k)), *t, id};
}

Root MakeRoot(const std::vector<const Signer*>& signers, uint64_t threshold) {
  Root r;
  r.common.version = 1;
  r.common.SetExpires(4102444800);  // 2100-01-01
  for (const auto* s : signers) r.keys[s->id] = s->tuf;
  for (const char* role : {"root", "timestamp", "snapshot", "targets"}) {
    RoleKeys rk;
    for (const auto* s : signers) rk.keyids.push_back(s->id);
    rk.threshold = threshold;
    r.roles[role] = rk;
  }
  return r;
}

std::string SignedFile(const std::string& signed_bytes, const std::vector<const Signer*>& signers) {
  std::vector<Signature> sigs;
  for (const auto* s : signers) {
    auto sig = SignBytes(signed_bytes, s->key);
    EXPECT_TRUE(sig.ok());
    sigs.push_back(*sig);
  }
  return SerializeEnvelope(signed_bytes, sigs);
}

TEST(TufMetadata, RootRoundTripsAndVerifiesWithEd25519AndEcdsa) {
  Signer a = MakeSigner(KeyType::kEd25519), b = MakeSigner(KeyType::kEcdsaP256);
  Root root = MakeRoot({&a, &b}, 2);
  auto signed_bytes = SerializeSigned(root);
  ASSERT_TRUE(signed_bytes.ok());
  std::string file = SignedFile(*signed_bytes, {&a, &b});
  auto parsed = ParseMetadata<Root>(file, kMaxRootBytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->signed_bytes, *signed_bytes);
  EXPECT_EQ(parsed->signed_.keys.size(), 2u);
  EXPECT_EQ(parsed->signed_.keys.at(b.id).keytype, "ecdsa");
  EXPECT_EQ(parsed->signed_.keys.at(b.id).scheme, "ecdsa-sha2-nistp256");
  EXPECT_TRUE(parsed->signed_.keys.at(b.id).public_value.starts_with("-----BEGIN PUBLIC KEY-----"));
  const auto& r = parsed->signed_;
  EXPECT_TRUE(VerifyThreshold("root", parsed->signed_bytes, parsed->signatures, r.keys, r.roles.at("root")).ok());
  // One signature short of the threshold.
  auto one = ParseMetadata<Root>(SignedFile(*signed_bytes, {&a}), kMaxRootBytes);
  ASSERT_TRUE(one.ok());
  Status s = VerifyThreshold("root", one->signed_bytes, one->signatures, r.keys, r.roles.at("root"));
  EXPECT_EQ(s.code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(s.message().find("1 valid signature(s)"), std::string::npos) << s.message();
}

TEST(TufMetadata, OneKeyListedUnderTwoIdsCountsOnce) {
  Signer a = MakeSigner(KeyType::kEd25519);
  Root root = MakeRoot({&a}, 2);
  // The same key material again under a second key id (an extra, ignored member changes nothing).
  const std::string alias = std::string(64, 'a');
  root.keys[alias] = a.tuf;
  for (auto& [name, rk] : root.roles) rk.keyids.push_back(alias);
  auto signed_bytes = SerializeSigned(root);
  ASSERT_TRUE(signed_bytes.ok());
  auto sig = SignBytes(*signed_bytes, a.key);
  ASSERT_TRUE(sig.ok());
  Signature again = *sig;
  again.keyid = alias;
  auto parsed = ParseMetadata<Root>(SerializeEnvelope(*signed_bytes, {*sig, again}), kMaxRootBytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(VerifyThreshold("root", parsed->signed_bytes, parsed->signatures, parsed->signed_.keys,
                            parsed->signed_.roles.at("root"))
                .code(),
            ErrorCode::kVerificationFailed);
  // And the same key id twice in the signatures list is refused outright.
  EXPECT_EQ(ParseMetadata<Root>(SerializeEnvelope(*signed_bytes, {*sig, *sig}), kMaxRootBytes).status().code(),
            ErrorCode::kCorrupt);
}

// Issue 11 item 8: a key counts once toward a threshold however it is listed: under
// another key id (also the same id in upper case) and in every encoding the parser
// accepts. `aliases` are `key` re-encoded; `sig` is key's signature over `message`.
void ExpectEachAliasCountsOnce(const Key& key, const std::vector<Key>& aliases, const std::string& message,
                               const std::string& sig) {
  const std::string id = key.KeyId();
  for (size_t i = 0; i < aliases.size(); ++i) {
    SCOPED_TRACE("alias " + std::to_string(i) + ": " + aliases[i].keytype + " " + aliases[i].public_value);
    const std::string alias_id = "alias-" + std::to_string(i);
    std::map<std::string, Key> keys = {{id, key}, {alias_id, aliases[i]}};
    // The alias alone verifies the signature: it really is the same key.
    ASSERT_TRUE(VerifyThreshold("r", message, {{alias_id, sig}}, keys, RoleKeys{{alias_id}, 1, ""}).ok());
    Status s = VerifyThreshold("r", message, {{id, sig}, {alias_id, sig}}, keys, RoleKeys{{id, alias_id}, 2, ""});
    EXPECT_EQ(s.code(), ErrorCode::kVerificationFailed);
    EXPECT_NE(s.message().find("1 valid signature(s) from distinct keys, threshold is 2"), std::string::npos)
        << s.message();
  }
  // All of them at once still make one key.
  std::map<std::string, Key> keys = {{id, key}};
  RoleKeys role{{id}, 2, ""};
  std::vector<Signature> sigs = {{id, sig}};
  for (size_t i = 0; i < aliases.size(); ++i) {
    keys["alias-" + std::to_string(i)] = aliases[i];
    role.keyids.push_back("alias-" + std::to_string(i));
    sigs.push_back({"alias-" + std::to_string(i), sig});
  }
  EXPECT_FALSE(VerifyThreshold("r", message, sigs, keys, role).ok());
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST(TufThreshold, Ed25519KeyCountsOnceUnderUpperCaseIdHexAndPem) {
  Signer a = MakeSigner(KeyType::kEd25519), b = MakeSigner(KeyType::kEd25519);
  const std::string message = R"({"_type":"targets"})";
  auto sig = SignBytes(message, a.key);
  ASSERT_TRUE(sig.ok());
  Key upper_hex = a.tuf;
  upper_hex.public_value = Upper(a.tuf.public_value);
  ASSERT_NE(upper_hex.public_value, a.tuf.public_value);
  Key pem = a.tuf;
  pem.public_value = a.key.public_key().ToPem();
  ExpectEachAliasCountsOnce(a.tuf, {upper_hex, pem}, message, sig->sig);
  // The key id itself in upper case.
  std::map<std::string, Key> keys = {{a.id, a.tuf}, {Upper(a.id), a.tuf}};
  EXPECT_FALSE(
      VerifyThreshold("r", message, {*sig, {Upper(a.id), sig->sig}}, keys, RoleKeys{{a.id, Upper(a.id)}, 2, ""}).ok());
  // Control: two distinct keys do meet a threshold of two.
  auto sig_b = SignBytes(message, b.key);
  ASSERT_TRUE(sig_b.ok());
  keys[b.id] = b.tuf;
  EXPECT_TRUE(VerifyThreshold("r", message, {*sig, *sig_b}, keys, RoleKeys{{a.id, Upper(a.id), b.id}, 2, ""}).ok());
}

TEST(TufThreshold, EcdsaKeyCountsOnceUnderOtherKeytypePemLayoutAndCompressedPoint) {
  Signer a = MakeSigner(KeyType::kEcdsaP256), b = MakeSigner(KeyType::kEcdsaP256);
  const std::string message = R"({"_type":"targets"})";
  auto sig = SignBytes(message, a.key);
  ASSERT_TRUE(sig.ok());
  Key other_keytype = a.tuf;
  other_keytype.keytype = "ecdsa-sha2-nistp256";
  Key no_newline = a.tuf;
  while (!no_newline.public_value.empty() && no_newline.public_value.back() == '\n') no_newline.public_value.pop_back();
  Key crlf = a.tuf;
  crlf.public_value.clear();
  for (char c : a.tuf.public_value) {
    if (c == '\n') crlf.public_value += '\r';
    crlf.public_value += c;
  }
  // The same point, compressed (33 bytes instead of 65): another DER for the same key.
  testing::TempDir dir;
  testing::WriteFile(dir / "a.pub.pem", a.tuf.public_value);
  auto r = testing::RunCommand({"openssl", "ec", "-pubin", "-in", dir / "a.pub.pem", "-pubout", "-conv_form",
                                "compressed", "-out", dir / "c.pem"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Key compressed = a.tuf;
  compressed.public_value = testing::ReadFile(dir / "c.pem");
  auto compressed_key = compressed.ToPublicKey();
  ASSERT_TRUE(compressed_key.ok()) << compressed_key.status().message();
  ASSERT_NE(compressed_key->Der(), a.key.public_key().Der());
  ExpectEachAliasCountsOnce(a.tuf, {other_keytype, no_newline, crlf, compressed}, message, sig->sig);
  auto sig_b = SignBytes(message, b.key);
  ASSERT_TRUE(sig_b.ok());
  std::map<std::string, Key> keys = {{a.id, a.tuf}, {"c", compressed}, {b.id, b.tuf}};
  EXPECT_TRUE(
      VerifyThreshold("r", message, {*sig, {"c", sig->sig}, *sig_b}, keys, RoleKeys{{a.id, "c", b.id}, 2, ""}).ok());
}

TEST(TufThreshold, RsaKeyCountsOnceAlsoWhenTaggedRsassaPss) {
  testing::TempDir dir;
  auto pub = PublicKey::LoadPemFile(testing::SourcePath("tests/keys/rsa-2048.pub.pem"));
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  auto key = Key::FromPublicKey(*pub);
  ASSERT_TRUE(key.ok());
  const std::string message = R"({"_type":"targets"})";
  testing::WriteFile(dir / "msg", message);
  auto r = testing::RunCommand({"openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
                                "rsa_pss_saltlen:32", "-sign", testing::SourcePath("tests/keys/rsa-2048.pem"), "-out",
                                dir / "sig", dir / "msg"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sig = HexEncode(testing::ReadBytes(dir / "sig"));
  // The same modulus and exponent under the RSASSA-PSS algorithm identifier (no
  // parameters) instead of rsaEncryption: the SPKI bytes differ, the key does not.
  Bytes der = pub->Der();
  const Bytes rsa_alg = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
  const Bytes pss_alg = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
  ASSERT_GE(der.size(), 4 + rsa_alg.size());
  ASSERT_EQ(der[0], 0x30);
  ASSERT_EQ(der[1], 0x82);
  ASSERT_TRUE(std::equal(rsa_alg.begin(), rsa_alg.end(), der.begin() + 4));
  Bytes pss(der.begin(), der.begin() + 4);
  pss.insert(pss.end(), pss_alg.begin(), pss_alg.end());
  pss.insert(pss.end(), der.begin() + 4 + static_cast<std::ptrdiff_t>(rsa_alg.size()), der.end());
  const size_t body = pss.size() - 4;
  pss[2] = static_cast<uint8_t>(body >> 8);
  pss[3] = static_cast<uint8_t>(body & 0xff);
  auto pss_key = PublicKey::FromDer(pss);
  ASSERT_TRUE(pss_key.ok()) << pss_key.status().message();
  ASSERT_NE(pss_key->Der(), pub->Der());
  Key tagged = *key;
  tagged.public_value = pss_key->ToPem();
  ASSERT_NE(tagged.public_value, key->public_value);
  ExpectEachAliasCountsOnce(*key, {tagged}, message, sig);
}

TEST(TufMetadata, TamperedSignedPartFailsVerification) {
  Signer a = MakeSigner(KeyType::kEd25519);
  Root root = MakeRoot({&a}, 1);
  auto signed_bytes = SerializeSigned(root);
  ASSERT_TRUE(signed_bytes.ok());
  std::string file = SignedFile(*signed_bytes, {&a});
  std::string tampered = file;
  tampered.replace(tampered.find("\"version\":1"), 11, "\"version\":2");
  auto parsed = ParseMetadata<Root>(tampered, kMaxRootBytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->signed_.common.version, 2u);
  EXPECT_FALSE(VerifyThreshold("root", parsed->signed_bytes, parsed->signatures, parsed->signed_.keys,
                               parsed->signed_.roles.at("root"))
                   .ok());
}

TEST(TufMetadata, VerifiesRsaPssSignaturesMadeByOpenssl) {
  testing::TempDir dir;
  auto pub = PublicKey::LoadPemFile(testing::SourcePath("tests/keys/rsa-2048.pub.pem"));
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  auto key = Key::FromPublicKey(*pub);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->scheme, "rsassa-pss-sha256");
  const std::string message = R"({"_type":"x"})";
  testing::WriteFile(dir / "msg", message);
  auto r = testing::RunCommand({"openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
                                "rsa_pss_saltlen:32", "-sign", testing::SourcePath("tests/keys/rsa-2048.pem"), "-out",
                                dir / "sig", dir / "msg"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = key->KeyId();
  RoleKeys role{{id}, 1, ""};
  std::vector<Signature> sigs = {{id, HexEncode(testing::ReadBytes(dir / "sig"))}};
  EXPECT_TRUE(VerifyThreshold("targets", message, sigs, {{id, *key}}, role).ok());
  EXPECT_FALSE(VerifyThreshold("targets", message + " ", sigs, {{id, *key}}, role).ok());
}

TEST(TufMetadata, PreservesUnknownFieldsEverywhere) {
  const std::string signed_json =
      R"({"_type":"targets","spec_version":"1.0.31","version":3,"expires":"2100-01-01T00:00:00Z","x-top":{"k":[1,2]},)"
      R"("targets":{"fw.img":{"length":5,"hashes":{"sha256":"00"},"x-tf":true,"custom":{"vendor":"acme"}}},)"
      R"("delegations":{"keys":{},"roles":[{"name":"r","keyids":[],"threshold":1,"terminating":false,"paths":["a/*"],"x-role":1}],"x-del":"y"}})";
  std::string file = R"({"signatures":[],"signed":)" + signed_json + "}";
  auto parsed = ParseMetadata<Targets>(file, kMaxTargetsBytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto fw = parsed->signed_.targets.at("fw.img");
  FirmwareFacts facts{{"POS-X1", "POS-X2"}, "2.1.0", 7, 65536, std::string(64, '0'), 1, 3};
  ASSERT_TRUE(fw.SetFirmware(facts).ok());
  parsed->signed_.targets["fw.img"] = fw;
  auto again = SerializeSigned(parsed->signed_);
  ASSERT_TRUE(again.ok());
  for (const char* needle : {"\"x-top\":{\"k\":[1,2]}", "\"x-tf\":true", "\"vendor\":\"acme\"", "\"x-role\":1",
                             "\"x-del\":\"y\"", "\"security_counter\":7"}) {
    EXPECT_NE(again->find(needle), std::string::npos) << needle << " missing from " << *again;
  }
  auto back = fw.Firmware();
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->hardware_ids, facts.hardware_ids);
  EXPECT_EQ((*back)->journal_schema_max, 3u);
}

TEST(TufMetadata, StrictParsing) {
  auto targets = [](const std::string& signed_json) {
    return ParseMetadata<Targets>(R"({"signatures":[],"signed":)" + signed_json + "}", kMaxTargetsBytes).status();
  };
  const std::string ok =
      R"({"_type":"targets","spec_version":"1.0","version":1,"expires":"2100-01-01T00:00:00Z","targets":{}})";
  EXPECT_TRUE(targets(ok).ok());
  EXPECT_FALSE(
      targets(R"({"_type":"root","spec_version":"1.0","version":1,"expires":"2100-01-01T00:00:00Z","targets":{}})")
          .ok());
  EXPECT_FALSE(
      targets(R"({"_type":"targets","spec_version":"2.0","version":1,"expires":"2100-01-01T00:00:00Z","targets":{}})")
          .ok());
  EXPECT_FALSE(
      targets(R"({"_type":"targets","spec_version":"1.0","version":0,"expires":"2100-01-01T00:00:00Z","targets":{}})")
          .ok());
  EXPECT_FALSE(
      targets(R"({"_type":"targets","spec_version":"1.0","version":1.0,"expires":"2100-01-01T00:00:00Z","targets":{}})")
          .ok());
  EXPECT_FALSE(
      targets(R"({"_type":"targets","spec_version":"1.0","version":1,"expires":"2100-01-01 00:00:00","targets":{}})")
          .ok());
  EXPECT_FALSE(
      targets(
          R"({"_type":"targets","spec_version":"1.0","version":1,"expires":"2100-01-01T00:00:00Z","targets":{"a":{"length":1,"hashes":{}}}})")
          .ok());
  EXPECT_FALSE(
      targets(
          R"({"_type":"targets","spec_version":"1.0","version":1,"expires":"2100-01-01T00:00:00Z","targets":{"a":{"length":-1,"hashes":{"sha256":"00"}}}})")
          .ok());
  EXPECT_EQ(ParseMetadata<Targets>(std::string(kMaxTargetsBytes + 1, ' '), kMaxTargetsBytes).status().code(),
            ErrorCode::kResourceExhausted);
}

TEST(TufMetadata, TimeFormat) {
  EXPECT_EQ(*ParseTufTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTufTime("2100-01-01T00:00:00Z"), 4102444800);
  EXPECT_EQ(FormatTufTime(4102444800), "2100-01-01T00:00:00Z");
  EXPECT_EQ(FormatTufTime(951782400), "2000-02-29T00:00:00Z");
  EXPECT_FALSE(ParseTufTime("2001-02-29T00:00:00Z").ok());
  EXPECT_FALSE(ParseTufTime("2001-13-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseTufTime("2001-01-01T00:00:00+01:00").ok());
}

TEST(TufDelegation, PathPatternsNeverCrossSlashes) {
  DelegatedRole r;
  r.paths = std::vector<std::string>{"fw/*.img", "docs/?.txt"};
  EXPECT_TRUE(r.MatchesTarget("fw/a.img"));
  EXPECT_FALSE(r.MatchesTarget("fw/sub/a.img"));
  EXPECT_FALSE(r.MatchesTarget("other/a.img"));
  EXPECT_TRUE(r.MatchesTarget("docs/x.txt"));
  EXPECT_FALSE(r.MatchesTarget("docs/xy.txt"));
  DelegatedRole h;
  const std::string digest = HexEncode(Sha256::Of(AsBytes("fw/a.img")));
  h.path_hash_prefixes = std::vector<std::string>{digest.substr(0, 2)};
  EXPECT_TRUE(h.MatchesTarget("fw/a.img"));
  h.path_hash_prefixes = std::vector<std::string>{digest[0] == '0' ? "1" : "0"};
  EXPECT_FALSE(h.MatchesTarget("fw/a.img"));
}

TEST(TufFirmware, PolicyRefusesWrongHardwareAndLowerSecurityCounter) {
  TargetFile t;
  t.length = 1;
  t.hashes["sha256"] = "00";
  EXPECT_EQ(CheckFirmwarePolicy("fw", t, {"POS-X1", 0}).status().code(), ErrorCode::kVerificationFailed);
  ASSERT_TRUE(t.SetFirmware({{"POS-X1"}, "1.0.0", 5, 4096, std::string(64, '0'), 1, 1}).ok());
  EXPECT_TRUE(CheckFirmwarePolicy("fw", t, {"POS-X1", 5}).ok());
  auto hw = CheckFirmwarePolicy("fw", t, {"POS-Y9", 0});
  EXPECT_EQ(hw.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(hw.status().message().find("POS-Y9"), std::string::npos);
  auto sc = CheckFirmwarePolicy("fw", t, {"POS-X1", 6});
  EXPECT_EQ(sc.status().code(), ErrorCode::kVerificationFailed);
  EXPECT_NE(sc.status().message().find("security counter 5"), std::string::npos);
}

TEST(TufHashes, LengthAndHashChecks) {
  const std::string data = "hello";
  std::map<std::string, std::string> h = {{"sha256", HexEncode(Sha256::Of(AsBytes(data)))}};
  EXPECT_TRUE(VerifyLengthAndHashes("t", data, 5, h).ok());
  EXPECT_FALSE(VerifyLengthAndHashes("t", data, 4, h).ok());
  EXPECT_FALSE(VerifyLengthAndHashes("t", "hellO", 5, h).ok());
  EXPECT_FALSE(VerifyLengthAndHashes("t", data, 5, {{"md5", "00"}}).ok());
  // sha512 is understood too (python-tuf and tuf-js may use it).
  EXPECT_FALSE(VerifyLengthAndHashes("t", data, 5, {{"sha512", "00"}}).ok());
  HashVerifier v("t", 3, h);
  EXPECT_FALSE(v.Update(AsBytes(data)).ok());  // beyond the length as soon as it arrives
  EXPECT_EQ(PercentEncode("../a#b?c d/é"), "..%2Fa%23b%3Fc%20d%2F%C3%A9");
  EXPECT_EQ(PercentEncode("a/b c", true), "a/b%20c");
}

}  // namespace
}  // namespace fw::tuf
