// The operator API's request parsers (fw/server/operator_messages.h) and base64url (fw/encoding.h).
#include <gtest/gtest.h>

#include <vector>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/operator_messages.h"

namespace fw::server {
namespace {

const std::vector<QueryParamSpec> kSpecs = {{"label", 8}, {"limit", 4}, {"cursor", 64}};

TEST(OperatorMessages, QueryStringsAreDecodedStrictlyAndEachNameOnce) {
  auto q = ParseQuery("label=a%2Fb+c&limit=20", kSpecs);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->at("label"), "a/b c");
  EXPECT_EQ(q->at("limit"), "20");
  EXPECT_TRUE(ParseQuery("", kSpecs)->empty());
  EXPECT_EQ(ParseQuery("label=", kSpecs)->at("label"), "");
  EXPECT_EQ(ParseQuery("label=x&", kSpecs)->size(), 1u);
  for (const char* bad : {"colour=red", "label=a&label=b", "label=%", "label=%4", "label=%zz", "label=%00", "label=%0a",
                          "label=123456789", "%6c%61bel=1&label=2"}) {
    auto r = ParseQuery(bad, kSpecs);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
  auto unknown = ParseQuery("limit=1&colour=red", kSpecs);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("colour"), std::string::npos);
  EXPECT_FALSE(ParseQuery(std::string(kMaxQueryBytes + 1, 'a'), kSpecs).ok());
  EXPECT_EQ(SplitTarget("/v1/devices?limit=3").second, "limit=3");
  EXPECT_EQ(SplitTarget("/v1/devices").first, "/v1/devices");
}

TEST(OperatorMessages, DecimalsAndBooleans) {
  EXPECT_EQ(*ParseDecimal("n", "0", 0, 10), 0);
  EXPECT_EQ(*ParseDecimal("n", "10", 0, 10), 10);
  EXPECT_EQ(*ParseDecimal("n", "-5", -10, 10), -5);
  for (const char* bad : {"", "-", "11", "-1", "+1", "01", "1x", " 1", "99999999999999999999"}) {
    EXPECT_FALSE(ParseDecimal("n", bad, 0, 10).ok()) << bad;
  }
  EXPECT_TRUE(*ParseBoolText("open", "true"));
  EXPECT_FALSE(*ParseBoolText("open", "false"));
  EXPECT_FALSE(ParseBoolText("open", "1").ok());
}

TEST(OperatorMessages, CursorsRoundTripOnlyForTheirListAndFilters) {
  const std::string c = EncodeCursor("devices", "east", "T-0042");
  EXPECT_EQ(*DecodeCursor(c, "devices", "east"), "T-0042");
  EXPECT_FALSE(DecodeCursor(c, "devices", "west").ok());
  EXPECT_FALSE(DecodeCursor(c, "actions", "east").ok());
  for (size_t i = 0; i < c.size(); ++i) {
    std::string t = c;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(DecodeCursor(t, "devices", "east").ok()) << i;
  }
  EXPECT_FALSE(DecodeCursor(c.substr(0, c.size() - 1), "devices", "east").ok());
  EXPECT_FALSE(DecodeCursor("", "devices", "east").ok());
  EXPECT_FALSE(DecodeCursor("v1:T-0042", "devices", "east").ok());
}

TEST(OperatorMessages, Base64UrlIsStrict) {
  for (size_t n = 0; n < 40; ++n) {
    std::vector<uint8_t> data(n);
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 37 + 250);
    const std::string text = Base64UrlEncode(data);
    EXPECT_EQ(text.find('='), std::string::npos);
    auto back = Base64UrlDecode(text);
    ASSERT_TRUE(back.ok()) << n;
    EXPECT_EQ(*back, data);
  }
  EXPECT_EQ(Base64UrlEncode(AsBytes(std::string_view("\xfb\xff"))), "-_8");
  EXPECT_FALSE(Base64UrlDecode("-_9").ok());    // non-zero trailing bits
  EXPECT_FALSE(Base64UrlDecode("abcde").ok());  // impossible length
  EXPECT_FALSE(Base64UrlDecode("ab+/").ok());
  EXPECT_FALSE(Base64UrlDecode("ab==").ok());
}

TEST(OperatorMessages, BodiesAreStrict) {
  auto a = ParseActionBody(R"({"kind":"install","target":"x/fw.img","window":"22:00-04:00","deadline":5})");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->kind, "install");
  EXPECT_EQ(a->type, "forced");
  EXPECT_TRUE(a->backup_required);
  EXPECT_EQ(a->deadline_s, 5);
  for (const char* bad : {"", "[]", "{", R"({"target":"x"})", R"({"kind":1})", R"({"kind":"install","extra":1})",
                          R"({"kind":"install","kind":"rollback"})", R"({"kind":"install","deadline":-1})",
                          R"({"kind":"install","deadline":1.5})", R"({"kind":"install","backup_required":"no"})",
                          R"({"kind":"in\u0000stall"})", R"({"kind":{"a":{"b":{"c":{"d":1}}}}})"}) {
    EXPECT_FALSE(ParseActionBody(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseReasonBody(R"({"reason":"stolen"})")->reason, "stolen");
  EXPECT_FALSE(ParseReasonBody(R"({"reason":""})").ok());
  EXPECT_FALSE(ParseReasonBody("{}").ok());
  EXPECT_FALSE(ParseReasonBody(R"({"reason":")" + std::string(kMaxReasonBytes + 1, 'r') + "\"}").ok());
  // Rollout operations: start takes an empty body; the others need a reason; revert is stop's alone.
  EXPECT_TRUE(ParseRolloutOpBody("", /*reason_required=*/false, /*revert_allowed=*/false).ok());
  EXPECT_FALSE(ParseRolloutOpBody("{}", true, true).ok());
  EXPECT_FALSE(ParseRolloutOpBody(R"({"reason":""})", true, true).ok());
  EXPECT_EQ(ParseRolloutOpBody(R"({"reason":"canary bad","revert":true})", true, true)->revert, true);
  EXPECT_FALSE(ParseRolloutOpBody(R"({"reason":"x","revert":true})", true, false).ok());
  EXPECT_FALSE(ParseRolloutOpBody(R"({"reason":"x","revert":"yes"})", true, true).ok());
  EXPECT_FALSE(ParseRolloutOpBody(R"({"reason":"x","why":1})", true, true).ok());
  EXPECT_FALSE(ParseRolloutOpBody(R"({"reason":"x","reason":"y"})", true, true).ok());
  EXPECT_FALSE(ParseRolloutOpBody(R"({"reason":")" + std::string(kMaxReasonBytes + 1, 'r') + "\"}", true, true).ok());
  EXPECT_FALSE(ParseExpiresBody("")->expires_in.has_value());  // empty body = {}
  EXPECT_EQ(*ParseExpiresBody(R"({"expires_in":3600})")->expires_in, 3600);
  EXPECT_FALSE(ParseExpiresBody(R"({"expires_in":59})").ok());
  EXPECT_FALSE(ParseEnrolTokenBody(R"({"serial":"a/b"})").ok());
  EXPECT_EQ(ParseEnrolTokenBody(R"({"serial":"T-1"})")->serial, "T-1");
  auto t = ParseTokenBody(R"({"name":"ci","role":"operator","journal_read":true,"expires_in":86400})");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->journal_read);
  EXPECT_FALSE(ParseTokenBody(R"({"name":"ci","role":"superuser"})").ok());
  EXPECT_FALSE(ParseTokenBody(R"({"name":"","role":"viewer"})").ok());
  EXPECT_FALSE(ParseTokenBody(std::string(kMaxOperatorBodyBytes + 1, ' ')).ok());
}

TEST(OperatorMessages, PathPieces) {
  EXPECT_TRUE(IsValidLabel("store-7:east_1.a"));
  EXPECT_FALSE(IsValidLabel(""));
  EXPECT_FALSE(IsValidLabel("a b"));
  EXPECT_FALSE(IsValidLabel(std::string(65, 'a')));
  EXPECT_TRUE(IsValidSerialText("T-0001"));
  EXPECT_FALSE(IsValidSerialText("T:1"));
  EXPECT_EQ(ParseSegmentRange("1-10")->second, 10);
  for (const char* bad : {"0-3", "3-1", "1-", "-3", "1-2-3", "a-b", "13"}) {
    EXPECT_FALSE(ParseSegmentRange(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace fw::server
