// U-Boot environment codec (uboot_env.h): round trips, the exact on-disk bytes, every
// bad-input case, and libubootenv's copy-selection rules.
#include "fw/boot/uboot_env.h"

#include <gtest/gtest.h>

#include <string>

#include "fw/boot/boot_control.h"

namespace fw::boot::uenv {
namespace {

Env Make(std::initializer_list<std::pair<std::string, std::string>> vars) {
  Env env;
  for (const auto& [n, v] : vars) EXPECT_TRUE(env.Set(n, v).ok()) << n;
  return env;
}

// A copy of `size` bytes whose data section is exactly `data` (then 0xFF padding) and
// whose CRC is correct — so the parser, not the CRC check, has to find what is wrong.
Bytes RawCopy(std::string_view data, size_t size, bool redundant, uint8_t flags = 1, uint8_t pad = 0xFF) {
  const size_t h = HeaderSize(redundant);
  Bytes out(size, pad);
  std::copy(data.begin(), data.end(), out.begin() + static_cast<ptrdiff_t>(h));
  // The core's bitwise CRC-32: an independent implementation of the same zlib CRC.
  uint32_t crc = fw::boot::Crc32(out.data() + h, size - h);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(crc >> (8 * i));
  if (redundant) out[4] = flags;
  return out;
}

// The decoding error of `bytes` (fails the test when it decodes, or is not kCorrupt).
std::string DecodeError(const Bytes& bytes, bool redundant) {
  auto r = DecodeCopy(bytes, redundant);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << r.status().message();
  return r.status().message();
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "in: " << (haystack)

TEST(UbootEnv, RoundTripsSingleAndRedundantWithBothPaddings) {
  Env env = Make({{"BOOT_ORDER", "B A"}, {"bootcmd", "run distro_bootcmd; echo ü€😀"}, {"empty", ""}});
  for (bool redundant : {false, true}) {
    for (uint8_t pad : {uint8_t{0xFF}, uint8_t{0x00}}) {
      auto bytes = EncodeCopy(env, 0x4000, redundant, 0x7E, pad);
      ASSERT_TRUE(bytes.ok()) << bytes.status().message();
      ASSERT_EQ(bytes->size(), 0x4000u);
      EXPECT_EQ(bytes->back(), pad);
      auto back = DecodeCopy(*bytes, redundant);
      ASSERT_TRUE(back.ok()) << back.status().message();
      EXPECT_EQ(back->env, env);
      EXPECT_EQ(back->flags, redundant ? 0x7E : 0);
    }
  }
}

TEST(UbootEnv, WritesTheDocumentedBytes) {
  Env env = Make({{"b", "2"}, {"a", "1"}});
  auto bytes = EncodeCopy(env, 32, true, 0x05);
  ASSERT_TRUE(bytes.ok());
  // Sorted by name, NUL after each entry, one more NUL, then padding; CRC over bytes 5..31.
  EXPECT_EQ(*bytes, RawCopy(std::string("a=1\0b=2\0\0", 9), 32, true, 0x05));
  const uint8_t* p = bytes->data();
  uint32_t crc = uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
  EXPECT_EQ(crc, fw::boot::Crc32(p + 5, 27));   // little-endian, flags byte not covered
  EXPECT_EQ(EncodeData(Env{}), (Bytes{0, 0}));  // an empty environment is "\0\0"
  auto empty = EncodeCopy(Env{}, 6, false, 0);
  ASSERT_TRUE(empty.ok());
  auto back = DecodeCopy(*empty, false);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->env.vars().empty());
}

TEST(UbootEnv, RefusesAnEnvironmentThatDoesNotFit) {
  Env env = Make({{"a", "1"}});  // data "a=1\0\0" = 5 bytes
  EXPECT_TRUE(EncodeCopy(env, 4 + 5, false, 0).ok());
  EXPECT_TRUE(EncodeCopy(env, 5 + 5, true, 0).ok());
  auto r = EncodeCopy(env, 5 + 4, true, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_CONTAINS(r.status().message(), "does not fit in a copy of 9 bytes");
  EXPECT_FALSE(EncodeCopy(env, kMaxEnvSize + 1, false, 0).ok());
  EXPECT_FALSE(EncodeCopy(Env{}, 5, false, 0).ok());  // below header + 2
  EXPECT_FALSE(EncodeCopy(env, 64, false, 0, 0x55).ok());
}

TEST(UbootEnv, SetValidatesNames) {
  Env env;
  EXPECT_TRUE(env.Set(std::string(64, 'n'), "x").ok());
  struct Case {
    std::string name, message;
  } cases[] = {
      {"", "empty variable name"},
      {std::string(65, 'n'), "longer than 64"},
      {"a=b", "byte 0x3d at position 1"},
      {"a b", "byte 0x20 at position 1"},
      {"tab\t", "byte 0x09 at position 3"},
      {"del\x7f", "byte 0x7f"},
      {"\xc3\xbc", "byte 0xc3 at position 0"},
  };
  for (const auto& c : cases) {
    Status s = env.Set(c.name, "v");
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_CONTAINS(s.message(), c.message);
  }
  EXPECT_EQ(env.vars().size(), 1u);  // nothing refused was stored
}

TEST(UbootEnv, SetValidatesValues) {
  Env env;
  EXPECT_TRUE(env.Set("ok", "plain ASCII, Grüße, €, 😀, U+00A0:\xc2\xa0").ok());
  EXPECT_TRUE(env.Set("max", std::string(kMaxValueSize, 'v')).ok());
  struct Case {
    std::string value, message;
  } cases[] = {
      {std::string(kMaxValueSize + 1, 'v'), "4097 bytes, longer than 4096"},
      {"line\nbreak", "control character U+000a at byte 4"},
      {"tab\there", "control character U+0009 at byte 3"},
      {"del\x7f", "control character U+007f"},
      {"c1 \xc2\x85", "control character U+0085 at byte 3"},
      {"overlong \xc0\x80", "not valid UTF-8 at byte 9"},
      {"lone \x80", "not valid UTF-8 at byte 5"},
      {"truncated \xe2\x82", "not valid UTF-8 at byte 10"},
      {"surrogate \xed\xa0\x80", "not valid UTF-8"},
      {"too big \xf4\x90\x80\x80", "not valid UTF-8"},
      {"latin1 \xfc", "not valid UTF-8"},
  };
  for (const auto& c : cases) {
    Status s = env.Set("name", c.value);
    ASSERT_FALSE(s.ok()) << c.message;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_CONTAINS(s.message(), c.message);
    EXPECT_CONTAINS(s.message(), "'name'");
  }
  EXPECT_FALSE(env.Get("name"));
}

TEST(UbootEnv, GetSetEraseKeepNamesSorted) {
  Env env = Make({{"z", "1"}, {"a", "2"}, {"m", "3"}});
  ASSERT_TRUE(env.Set("a", "4").ok());
  env.Erase("m");
  env.Erase("missing");
  EXPECT_EQ(env.Get("a"), "4");
  EXPECT_FALSE(env.Get("m"));
  std::string order;
  for (const auto& [n, v] : env.vars()) order += n;
  EXPECT_EQ(order, "az");
}

TEST(UbootEnv, DecodeRefusesBadSizes) {
  EXPECT_CONTAINS(DecodeError(RawCopy("", 5, false), false), "5 bytes is shorter than its header (4) + 2");
  EXPECT_CONTAINS(DecodeError(RawCopy("", 6, true), true), "shorter than its header (5) + 2");
  EXPECT_TRUE(DecodeCopy(RawCopy(std::string(2, '\0'), 6, false), false).ok());
  EXPECT_TRUE(DecodeCopy(RawCopy(std::string(2, '\0'), 7, true), true).ok());
  EXPECT_CONTAINS(DecodeError(Bytes(kMaxEnvSize + 1, 0), false), "larger than the limit of 1048576");
  EXPECT_CONTAINS(DecodeError(Bytes{}, true), "0 bytes");
}

TEST(UbootEnv, DecodeChecksTheCrcOverDataAndPadding) {
  Bytes good = RawCopy(std::string("a=1\0\0", 5), 64, true, 3);
  ASSERT_TRUE(DecodeCopy(good, true).ok());
  Bytes bad_data = good;
  bad_data[6] ^= 0x01;
  EXPECT_CONTAINS(DecodeError(bad_data, true), "crc mismatch");
  Bytes bad_pad = good;
  bad_pad[63] = 0x00;  // padding is covered
  EXPECT_CONTAINS(DecodeError(bad_pad, true), "crc mismatch");
  Bytes bad_crc = good;
  bad_crc[0] ^= 0x80;
  EXPECT_CONTAINS(DecodeError(bad_crc, true), "crc mismatch");
  Bytes other_flags = good;
  other_flags[4] = 0xAA;  // the flags byte is not
  auto r = DecodeCopy(other_flags, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->flags, 0xAA);
  // A single copy read as redundant (or back) fails its CRC: the header sizes differ.
  EXPECT_CONTAINS(DecodeError(RawCopy(std::string("a=1\0\0", 5), 64, false), true), "crc mismatch");
  EXPECT_CONTAINS(DecodeError(Bytes(64, 0xFF), false), "crc mismatch");  // erased flash
}

TEST(UbootEnv, DecodeRefusesMalformedData) {
  using namespace std::string_literals;
  struct Case {
    std::string data, message;
  } cases[] = {
      {"a=1\0"s, "no terminating empty string (the entry at byte 8 runs to the end"},
      {"a=1\0b=2"s + std::string(100, 'x'), "no terminating empty string"},
      {"a=1\0noequals\0\0"s, "entry 'noequals' at byte 8 has no '='"},
      {"=x\0\0"s, "entry at byte 4 has an empty name"},
      {"a=1\0a=2\0\0"s, "duplicate variable 'a' at byte 8"},
      {"a=1\0b b=2\0\0"s, "entry at byte 8: variable name 'b b' has byte 0x20"},
      {"\xff\xff=1\0\0"s, "variable name '\\xff\\xff' has byte 0xff at position 0"},
      {std::string(65, 'n') + "=1\0\0"s, "longer than 64"},
      {"v=bad\xc3\0\0"s, "value of 'v' is not valid UTF-8 at byte 3"},
      {"v=a\nb\0\0"s, "value of 'v' has control character U+000a at byte 1"},
      {"v=" + std::string(kMaxValueSize + 1, 'x') + "\0\0"s, "longer than 4096"},
  };
  // The last entry's NUL is the copy's last byte: no room for the empty string.
  EXPECT_CONTAINS(DecodeError(RawCopy("a=1\0"s, 8, false), false), "the data runs to the end of the copy");
  for (const auto& c : cases) {
    for (bool redundant : {false, true}) {
      size_t size = HeaderSize(redundant) + c.data.size() + 16;  // 16 bytes of 0xFF padding
      std::string msg = DecodeError(RawCopy(c.data, size, redundant), redundant);
      std::string expected = c.message;
      if (redundant) {  // positions are offsets in the copy: one more with the flags byte
        for (auto [from, to] : {std::pair{"byte 8", "byte 9"}, {"byte 4", "byte 5"}}) {
          if (auto at = expected.find(from); at != std::string::npos) expected.replace(at, 6, to);
        }
      }
      EXPECT_CONTAINS(msg, expected);
    }
  }
}

TEST(UbootEnv, TheFirstEmptyStringEndsTheData) {
  using namespace std::string_literals;
  // After "\0\0" anything may follow (it is padding, covered by the CRC only).
  auto r = DecodeCopy(RawCopy("a=1\0\0garbage=\xff\0"s, 64, false), false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->env, Make({{"a", "1"}}));
  // 0x00 padding right after the last entry's NUL is the terminator.
  auto z = DecodeCopy(RawCopy("a=1\0"s, 64, false, 0, 0x00), false);
  ASSERT_TRUE(z.ok()) << z.status().message();
  EXPECT_EQ(z->env, Make({{"a", "1"}}));
}

struct SelectCase {
  bool valid0, valid1;
  uint8_t flags0, flags1;
  int expected;  // -1: none
};

void ExpectSelect(FlagsRule rule, const SelectCase& c) {
  const bool valid[2] = {c.valid0, c.valid1};
  const uint8_t flags[2] = {c.flags0, c.flags1};
  auto got = SelectCopy(rule, valid, flags);
  EXPECT_EQ(got ? int{*got} : -1, c.expected)
      << FlagsRuleName(rule) << " valid " << c.valid0 << c.valid1 << " flags " << int{c.flags0} << "/" << int{c.flags1};
}

TEST(UbootEnv, IncrementalRuleIsLibubootenvs) {
  const SelectCase cases[] = {
      {true, true, 1, 2, 1},       {true, true, 2, 1, 0},       {true, true, 0xFF, 0x00, 1},
      {true, true, 0x00, 0xFF, 0}, {true, true, 5, 5, 0},       {true, true, 0xFE, 0xFF, 1},
      {true, true, 5, 200, 1},     {true, true, 0x00, 0x01, 1}, {true, false, 0x00, 0xFF, 0},
      {false, true, 9, 1, 1},      {false, false, 1, 2, -1},
  };
  for (const auto& c : cases) ExpectSelect(FlagsRule::kIncremental, c);
}

TEST(UbootEnv, BooleanRuleIsLibubootenvs) {
  const SelectCase cases[] = {
      {true, true, 1, 0, 0},    {true, true, 0, 1, 1},    {true, true, 1, 1, 0},       {true, true, 0, 0, 0},
      {true, true, 0xFF, 1, 0}, {true, true, 1, 0xFF, 1}, {true, true, 0xFF, 0xFF, 1}, {true, true, 0x00, 0xFF, 1},
      {true, false, 0, 1, 0},   {false, true, 1, 0, 1},   {false, false, 1, 0, -1},
  };
  for (const auto& c : cases) ExpectSelect(FlagsRule::kBoolean, c);
}

TEST(UbootEnv, ParsesFlagsRuleNames) {
  EXPECT_EQ(*ParseFlagsRule("incremental"), FlagsRule::kIncremental);
  EXPECT_EQ(*ParseFlagsRule("boolean"), FlagsRule::kBoolean);
  auto bad = ParseFlagsRule("Boolean");
  ASSERT_FALSE(bad.ok());
  EXPECT_CONTAINS(bad.status().message(), "'Boolean'");
  EXPECT_STREQ(FlagsRuleName(FlagsRule::kBoolean), "boolean");
}

}  // namespace
}  // namespace fw::boot::uenv
