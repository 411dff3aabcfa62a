// The dashboard's request parsers (forms.h): form bodies and queries, the Cookie header, the /ui/
// paths a browser may be sent back to.
#include <gtest/gtest.h>

#include "forms.h"
#include "ui_session.h"

namespace fw::server::dash {
namespace {

TEST(DashboardForms, ParsesFormBodies) {
  auto f = ParseUrlEncoded("csrf=abc&reason=canary+looks+bad%21&return=%2Fui%2Frollouts%2F7", 8, 512);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->at("csrf"), "abc");
  EXPECT_EQ(f->at("reason"), "canary looks bad!");
  EXPECT_EQ(f->at("return"), "/ui/rollouts/7");
  EXPECT_TRUE(ParseUrlEncoded("", 8, 512).ok());
  EXPECT_EQ(ParseUrlEncoded("flag", 8, 512)->at("flag"), "");
  EXPECT_EQ(ParseUrlEncoded("reason=", 8, 512)->at("reason"), "");
}

TEST(DashboardForms, RefusesHostileForms) {
  for (const char* bad :
       {"a=1&a=2", "a=1&&b=2", "&", "a=1&", "=x", "A=1", "na%20me=1", "a=%zz", "a=%0a", "a=%00", "a=%4",
        "x="
        "12345678901"}) {
    EXPECT_FALSE(ParseUrlEncoded(bad, 8, 10).ok()) << bad;
  }
  EXPECT_FALSE(ParseUrlEncoded("a=1&b=2&c=3", 2, 10).ok());
  EXPECT_FALSE(ParseUrlEncoded(std::string(33, 'n') + "=1", 8, 10).ok());
}

TEST(DashboardForms, CookieValueTakesOnlyAnUnambiguousCookie) {
  EXPECT_EQ(CookieValue("a=1; __Host-fwsession=xyz; b=2", "__Host-fwsession"), "xyz");
  EXPECT_EQ(CookieValue("__Host-fwsession=\"xyz\"", "__Host-fwsession"), "xyz");
  EXPECT_EQ(CookieValue("  __Host-fwsession = xyz ;", "__Host-fwsession"), "xyz");
  EXPECT_FALSE(CookieValue("a=1", "__Host-fwsession"));
  EXPECT_FALSE(CookieValue("", "__Host-fwsession"));
  EXPECT_FALSE(CookieValue("x__Host-fwsession=1", "__Host-fwsession"));
  EXPECT_FALSE(CookieValue("__Host-fwsession=1; __Host-fwsession=2", "__Host-fwsession"));  // ambiguous
  EXPECT_FALSE(CookieValue("__Host-fwsession=1; " + std::string(kMaxCookieHeaderBytes, 'a'), "__Host-fwsession"));
}

TEST(DashboardForms, SafeUiPathKeepsRedirectsOnTheDashboard) {
  for (const char* good : {"/ui", "/ui/", "/ui/rollouts/7", "/ui/devices?state=quarantined&label=a%20b",
                           "/ui/devices/T-0001", "/ui/audit?after=3"}) {
    EXPECT_EQ(SafeUiPath(good), good) << good;
  }
  for (const char* bad : {"", "/", "/v1/tokens", "//evil.example", "/ui//evil", "https://evil.example/ui/", "/uix",
                          "/ui/../v1", "/ui/./x", "/ui/%2e%2e/v1", "/ui/%2E./v1", "/ui/a b", "/ui/\\evil", "/ui/a\"b",
                          "/ui/<x>", "/ui/x#frag", "/ui/\r\nLocation: x", "javascript:1", "/ui/\xc3\xa9"}) {
    EXPECT_FALSE(SafeUiPath(bad)) << bad;
  }
  EXPECT_FALSE(SafeUiPath("/ui/" + std::string(kMaxUiPathBytes, 'a')));
}

TEST(DashboardSession, SecretsHashesAndCsrfTokens) {
  auto a = NewCookieSecret();
  auto b = NewCookieSecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(WellFormedSecret(*a));
  EXPECT_FALSE(WellFormedSecret(a->substr(1)));
  EXPECT_FALSE(WellFormedSecret(std::string(42, 'A') + "="));
  EXPECT_EQ(SessionHash(*a).size(), 64u);
  EXPECT_NE(SessionHash(*a), SessionHash(*b));
  EXPECT_EQ(CsrfToken(*a), CsrfToken(*a));
  EXPECT_NE(CsrfToken(*a), CsrfToken(*b));
  EXPECT_NE(CsrfToken(*a), *a);
  EXPECT_TRUE(SafeEqual("abc", "abc"));
  EXPECT_FALSE(SafeEqual("abc", "abd"));
  EXPECT_FALSE(SafeEqual("abc", "ab"));
  EXPECT_EQ(SetCookie(kSessionCookie, "v", 60),
            "__Host-fwsession=v; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=60");
  EXPECT_EQ(ClearCookie(kLoginCookie), "__Host-fwlogin=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
}

}  // namespace
}  // namespace fw::server::dash
