// The dashboard's rollout, audit and alert pages (server-stub/dashboard/src/pages_rollouts.cc,
// pages_audit.cc) called directly with MakeUiApi over a real operator API on SQLite: rollouts made,
// started and paused through the API, members failing through the device API, so the pages render
// what the engine really decided. Checks the HTML the browser tests rely on (ids, data-op forms),
// the pause reason's words and numbers, buttons by role, fragment mode, audit chain verification
// before and after tampering, refusals shown as .api-error, and escaping.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>

#include "fw/server/alerts.h"
#include "fw/server/audit.h"
#include "fw/sqlite.h"
#include "pages.h"
#include "rollout_api_fixture.h"
#include "ui_api.h"

namespace fw::server::test {
namespace {

using dash::Page;
using dash::PageContext;
using dash::UiApi;

bool Has(const std::string& html, const std::string& needle) { return html.find(needle) != std::string::npos; }

// The text of the element with id="ID" up to its first closing tag, tags removed (enough for the
// short blocks checked here).
std::string TextOfId(const std::string& html, const std::string& id) {
  size_t at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  at = html.find('>', at);
  std::string text;
  int depth = 1;
  bool in_tag = false;
  for (size_t i = at + 1; i < html.size() && depth > 0; ++i) {
    const char c = html[i];
    if (c == '<') {
      in_tag = true;
      if (i + 1 < html.size() && html[i + 1] == '/') {
        --depth;
      } else if (html.compare(i, 4, "<wbr") != 0 && html.compare(i, 6, "<input") != 0) {
        ++depth;  // void elements (wbr, input) have no closing tag
      }
      continue;
    }
    if (c == '>') {
      in_tag = false;
      if (html[i - 1] == '/') --depth;
      continue;
    }
    if (!in_tag) text += c;
  }
  // The few entities Escape() writes.
  for (const auto& [entity, c] : std::map<std::string, std::string>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}}) {
    for (size_t i = text.find(entity); i != std::string::npos; i = text.find(entity, i + 1)) {
      text.replace(i, entity.size(), c);
    }
  }
  return text;
}

class RolloutPagesTest : public RolloutApiTest {
 protected:
  void SetUp() override {
    RolloutApiTest::SetUp();
    if (HasFatalFailure()) return;
    auto handler = OpenOperatorApiHandler(config_, metrics_, clock_);
    ASSERT_TRUE(handler.ok()) << handler.status().ToString();
    handler_ = std::move(*handler);
  }

  // The id of a token of `role` (made once per role).
  int64_t TokenIdFor(Role role) {
    const std::string name(RoleName(role));
    auto it = token_ids_.find(name);
    if (it != token_ids_.end()) return it->second;
    const std::string token = Token(name, false, "page-" + name);
    const Response r = Call("GET", "/v1/whoami", token);
    EXPECT_EQ(r.status, 200) << r.body;
    const int64_t id = Body(r)["id"].get<int64_t>();
    token_ids_[name] = id;
    tokens_[name] = token;
    return id;
  }
  std::string TokenOf(Role role) {
    TokenIdFor(role);
    return tokens_[std::string(RoleName(role))];
  }

  Page Render(Role role, const std::function<Page(UiApi&, const PageContext&)>& page, bool fragment = false,
              QueryValues query = {}) {
    auto api = dash::MakeUiApi(*handler_, TokenIdFor(role));
    PageContext ctx;
    ctx.token_name = "page-" + std::string(RoleName(role));
    ctx.role = role;
    ctx.csrf = "csrf-token-value";
    ctx.now_s = clock_.WallSeconds();
    ctx.fragment = fragment;
    ctx.query = std::move(query);
    return page(*api, ctx);
  }
  Page Rollout(Role role, int64_t id, bool fragment = false) {
    return Render(
        role, [id](UiApi& api, const PageContext& ctx) { return dash::RolloutPage(api, ctx, id); }, fragment);
  }

  // A running rollout over 4 fresh devices with the abort rule health_failed > 20% once 2 decided,
  // paused by the rule after two terminals report health failures.
  int64_t RulePaused(const std::string& name) {
    AddLabelled({"R-1", "R-2", "R-3", "R-4"}, "rule");
    const std::string op = TokenOf(Role::kOperator);
    const Json abort = Json::array({{{"class", "health_failed"}, {"max_percent", 20}, {"min_sample", 2}}});
    const Json groups = Json::array({{{"name", "all"}, {"percent", 100}}});
    const int64_t id = CreateRollout(op, Spec(name, "rule", groups, abort, /*per_minute=*/4));
    EXPECT_EQ(Call("POST", "/v1/rollouts/" + std::to_string(id) + "/start", op, "{}").status, 200);
    Tick();  // assigns the 4 members (other running rollouts of a test may be assigned too)
    const auto assigned = Members(id, "assigned");
    EXPECT_EQ(assigned.size(), 4u);
    for (size_t i = 0; i < 2 && i < assigned.size(); ++i) {
      const Response r =
          DevicePost(assigned[i].serial, "/v1/actions/" + std::to_string(assigned[i].action_id) + "/events",
                     R"({"attempt":1,"seq":1,"state":"failed","stage":"health","exit_code":1})");
      EXPECT_EQ(r.status, 200) << r.body;
    }
    const Json v = Show(id);
    EXPECT_EQ(v["state"], "paused") << v.dump();
    EXPECT_EQ(v["pause_kind"], "rule") << v.dump();
    return id;
  }

  void Tamper(const std::string& sql) {
    auto db = sql::Database::Open(config_.db_path);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Status s = db->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::unique_ptr<OperatorApiHandler> handler_;
  std::map<std::string, int64_t> token_ids_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(RolloutPagesTest, ARulePausedRolloutNamesTheRuleTheClassAndTheNumbers) {
  const int64_t id = RulePaused("health rollout");
  const Page p = Rollout(Role::kViewer, id);
  ASSERT_EQ(p.status, 200);
  const std::string& html = p.body.str();
  EXPECT_EQ(TextOfId(html, "rollout-state"), "paused");
  const std::string why = TextOfId(html, "pause-reason");
  EXPECT_TRUE(Has(why, "rule: health_failed 2 of 2 decided (100%) > max 20% (min sample 2) in group 1 (all)")) << why;
  // The engine's own sentence, recorded when the second failure crossed the rule.
  EXPECT_TRUE(Has(why, "group 1 (all): health_failed 2 of 2 (100%) exceeds 20% (abort rule)")) << why;
  EXPECT_TRUE(Has(why, "Paused by the server (actor system)")) << why;
  EXPECT_TRUE(Has(why, "Resumed by an approver")) << why;
  // The groups table: one row per group with the counts by class.
  EXPECT_TRUE(Has(html, "<table id=\"groups\">")) << html;
  EXPECT_TRUE(Has(html, "<tr data-group=\"0\"")) << html;
  EXPECT_TRUE(Has(html, "data-class=\"health_failed\">2</td>")) << html;
  EXPECT_TRUE(Has(html, "data-class=\"download\">0</td>")) << html;
  EXPECT_TRUE(Has(html, "<svg class=\"progress-bar\"")) << html;
  EXPECT_FALSE(Has(html, "style=")) << "CSP forbids style attributes";
  // The failed members, each linking to its terminal, with its class.
  const auto failed = Members(id, "failed");
  ASSERT_EQ(failed.size(), 2u);
  for (const auto& m : failed) {
    EXPECT_TRUE(Has(html, "<a href=\"/ui/devices/" + m.serial + "\">" + m.serial + "</a>")) << html;
    EXPECT_EQ(m.failure_class, "health_failed");
  }
  EXPECT_TRUE(Has(html, "Failed members (2)")) << html;
  // The rule and the spec outside the live region.
  EXPECT_TRUE(Has(html, "<table id=\"abort-rules\">")) << html;
  EXPECT_TRUE(Has(html, "<details id=\"spec\">")) << html;
}

TEST_F(RolloutPagesTest, ButtonsFollowTheRoleAndTheState) {
  const int64_t running = MakeRollout("run", "running");
  // A viewer sees no form at all.
  std::string html = Rollout(Role::kViewer, running).body.str();
  EXPECT_FALSE(Has(html, "<form")) << html;
  EXPECT_TRUE(Has(html, "Your role (viewer) cannot change this rollout")) << html;
  // An operator pauses or stops a running rollout; forms carry the CSRF token and where to return.
  html = Rollout(Role::kOperator, running).body.str();
  const std::string path = "/ui/rollouts/" + std::to_string(running);
  EXPECT_TRUE(Has(html, "action=\"" + path + "/pause\" class=\"op-form\" data-op=\"pause\"")) << html;
  EXPECT_TRUE(Has(html, "data-op=\"stop\"")) << html;
  EXPECT_TRUE(Has(html, "name=\"revert\" value=\"1\"")) << html;
  EXPECT_TRUE(Has(html, "data-confirm=\"Stop rollout " + std::to_string(running) + "?")) << html;
  EXPECT_FALSE(Has(html, "data-op=\"resume\"")) << html;
  EXPECT_FALSE(Has(html, "data-op=\"approve\"")) << html;
  EXPECT_FALSE(Has(html, "data-op=\"start\"")) << html;
  EXPECT_TRUE(Has(html, "name=\"csrf\" value=\"csrf-token-value\"")) << html;
  EXPECT_TRUE(Has(html, "name=\"return\" value=\"" + path + "\"")) << html;

  // Paused by a rule: the operator may stop but not resume; the approver resumes or approves.
  const int64_t ruled = RulePaused("ruled");
  html = Rollout(Role::kOperator, ruled).body.str();
  EXPECT_FALSE(Has(html, "data-op=\"resume\"")) << html;
  EXPECT_FALSE(Has(html, "data-op=\"pause\"")) << html;
  EXPECT_TRUE(Has(html, "data-op=\"stop\"")) << html;
  EXPECT_TRUE(Has(html, "A rule pause is resumed by an approver; your role is operator.")) << html;
  html = Rollout(Role::kApprover, ruled).body.str();
  EXPECT_TRUE(Has(html, "data-op=\"resume\"")) << html;
  EXPECT_TRUE(Has(html, "data-op=\"approve\"")) << html;
  EXPECT_FALSE(Has(html, "data-op=\"pause\"")) << html;

  // An operator's own pause is the operator's to resume (no approve: not an approval pause).
  const int64_t paused = MakeRollout("opp", "paused");
  html = Rollout(Role::kOperator, paused).body.str();
  EXPECT_TRUE(Has(html, "data-op=\"resume\"")) << html;
  EXPECT_FALSE(Has(html, "data-op=\"approve\"")) << html;
  EXPECT_TRUE(Has(TextOfId(html, "pause-reason"), "operator: paused by an operator")) << html;
  EXPECT_TRUE(Has(TextOfId(html, "pause-reason"), "made paused")) << html;
  // Who paused: the approver's page names the token from the audit log; the operator's cannot read it.
  EXPECT_TRUE(Has(TextOfId(html, "pause-reason"), "Paused by an operator token (the audit log")) << html;
  const std::string approver_view = TextOfId(Rollout(Role::kApprover, paused).body.str(), "pause-reason");
  EXPECT_TRUE(Has(approver_view, "Paused by token:")) << approver_view;
  EXPECT_TRUE(Has(approver_view, ":rollout-maker at ")) << approver_view;

  // Created: start for an operator, no revert box on stop (nothing to revert).
  const int64_t created = MakeRollout("new", "created");
  html = Rollout(Role::kOperator, created).body.str();
  EXPECT_TRUE(Has(html, "data-op=\"start\"")) << html;
  EXPECT_FALSE(Has(html, "name=\"revert\"")) << html;

  // Stopped: nothing for anyone.
  ASSERT_EQ(Call("POST", "/v1/rollouts/" + std::to_string(running) + "/stop", TokenOf(Role::kOperator),
                 R"({"reason":"done"})")
                .status,
            200);
  html = Rollout(Role::kAdmin, running).body.str();
  EXPECT_EQ(TextOfId(html, "rollout-state"), "stopped");
  EXPECT_FALSE(Has(html, "<form")) << html;
}

// Stop with revert: the two pages link to each other and the revert names what it does.
TEST_F(RolloutPagesTest, ARevertRolloutAndItsOriginalLinkToEachOther) {
  const int64_t id = MakeRollout("rev", "running");
  const Response r = Call("POST", "/v1/rollouts/" + std::to_string(id) + "/stop", TokenOf(Role::kOperator),
                          R"({"reason":"bad build","revert":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  const int64_t revert = Body(r)["revert_rollout"].get<int64_t>();
  ASSERT_GT(revert, 0) << r.body;
  std::string html = Rollout(Role::kOperator, id).body.str();
  EXPECT_TRUE(Has(html, "<dt>reverted by</dt><dd><a href=\"/ui/rollouts/" + std::to_string(revert) + "\">")) << html;
  html = Rollout(Role::kOperator, revert).body.str();
  EXPECT_TRUE(Has(html, "<dt>reverts</dt><dd><a href=\"/ui/rollouts/" + std::to_string(id) + "\">")) << html;
  EXPECT_TRUE(Has(html, "revert of rollout " + std::to_string(id) + ": each member back to its version")) << html;
  // Nothing had succeeded: the revert has no members and finished at once.
  EXPECT_EQ(TextOfId(html, "rollout-state"), "finished");
  EXPECT_FALSE(Has(html, "<form")) << html;
}

// The pause's audit row is found by time among many rows before and after it.
TEST_F(RolloutPagesTest, AnApproverSeesWhichTokenPausedAmongManyAuditRows) {
  const int64_t t = clock_.WallSeconds();
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(
        Record(*store_, t - 1000 + i, "cli:test", "token.create", "token:" + std::to_string(i), "null", "{}").ok());
  }
  const int64_t id = MakeRollout("many", "paused");
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(
        Record(*store_, t + 10 + i, "cli:test", "token.create", "token:" + std::to_string(i), "null", "{}").ok());
  }
  const std::string why = TextOfId(Rollout(Role::kApprover, id).body.str(), "pause-reason");
  EXPECT_TRUE(Has(why, ":rollout-maker at ")) << why;
}

TEST_F(RolloutPagesTest, AnApprovalPauseSaysWhichGroupIsDoneAndWhatApprovalStarts) {
  const int64_t id = MakeRollout("appr", "approval");
  const std::string html = Rollout(Role::kApprover, id).body.str();
  const std::string why = TextOfId(html, "pause-reason");
  EXPECT_TRUE(Has(why,
                  "approval: group 1 (canary) done, 0 of 0 decided succeeded (0%); an approver's approve starts "
                  "group 2 (rest)"))
      << why;
  EXPECT_TRUE(Has(html, "data-op=\"approve\"")) << html;
  EXPECT_TRUE(Has(html, "<tr data-group=\"1\"")) << html;
}

// Two members fail their health check with no abort rule: the group completes below its success
// threshold, a rule pause that names the threshold and the tally.
TEST_F(RolloutPagesTest, ABelowThresholdPauseNamesTheThresholdAndTheTally) {
  AddLabelled({"S-1", "S-2"}, "thr");
  const std::string op = TokenOf(Role::kOperator);
  const int64_t id = CreateRollout(op, Spec("thr", "thr", Json::array({{{"name", "all"}, {"percent", 100}}})));
  ASSERT_EQ(Call("POST", "/v1/rollouts/" + std::to_string(id) + "/start", op, "{}").status, 200);
  Tick();
  for (const auto& m : Members(id, "assigned")) {
    const Response r = DevicePost(m.serial, "/v1/actions/" + std::to_string(m.action_id) + "/events",
                                  R"({"attempt":1,"seq":1,"state":"failed","stage":"health","exit_code":1})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  const std::string html = Rollout(Role::kApprover, id).body.str();
  const std::string why = TextOfId(html, "pause-reason");
  EXPECT_TRUE(Has(why, "rule: success threshold: group 1 (all) 0 of 2 decided succeeded (0%) < 95% required")) << why;
  EXPECT_TRUE(Has(why, "below its success threshold 95%")) << why;  // the engine's sentence
  EXPECT_TRUE(Has(html, "<tr data-group=\"0\" class=\"group-done current\">")) << html;
  EXPECT_TRUE(Has(html, "<td class=\"threshold below bad\">0% of 2 decided / ≥ 95%</td>")) << html;
}

// A journal_check failure pauses every running rollout (kind fleet): the page says so, names the
// terminal through the engine's sentence, and only an approver may resume (no approve for a fleet pause).
TEST_F(RolloutPagesTest, AFleetPauseNamesTheTerminalAndOnlyAnApproverResumes) {
  AddLabelled({"J-1", "J-2"}, "jc");
  const std::string op = TokenOf(Role::kOperator);
  const int64_t id = CreateRollout(op, Spec("jc", "jc", Json::array({{{"name", "all"}, {"percent", 100}}})));
  ASSERT_EQ(Call("POST", "/v1/rollouts/" + std::to_string(id) + "/start", op, "{}").status, 200);
  Tick();
  const auto assigned = Members(id, "assigned");
  ASSERT_FALSE(assigned.empty());
  const Response r = DevicePost(assigned[0].serial, "/v1/actions/" + std::to_string(assigned[0].action_id) + "/events",
                                R"({"attempt":1,"seq":1,"state":"failed","stage":"journal_check","exit_code":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string html = Rollout(Role::kOperator, id).body.str();
  const std::string why = TextOfId(html, "pause-reason");
  EXPECT_EQ(why.rfind("fleet: a terminal reported journal_check", 0), 0u) << why;
  EXPECT_TRUE(Has(why, "journal_check on terminal " + assigned[0].serial)) << why;
  EXPECT_FALSE(Has(html, "data-op=\"resume\"")) << html;
  EXPECT_TRUE(Has(html, "A fleet pause is resumed by an approver; your role is operator.")) << html;
  EXPECT_TRUE(Has(html, "data-class=\"journal_check\">1</td>")) << html;
  html = Rollout(Role::kApprover, id).body.str();
  EXPECT_TRUE(Has(html, "data-op=\"resume\"")) << html;
  EXPECT_FALSE(Has(html, "data-op=\"approve\"")) << html;
}

TEST_F(RolloutPagesTest, FragmentModeReturnsOnlyTheLiveRegion) {
  const int64_t id = RulePaused("fragment");
  const std::string full = Rollout(Role::kViewer, id).body.str();
  EXPECT_TRUE(Has(full, "<div id=\"live\" data-refresh=\"/ui/rollouts/" + std::to_string(id) + "?fragment=1\""))
      << full;
  const Page fragment = Rollout(Role::kViewer, id, /*fragment=*/true);
  const std::string& html = fragment.body.str();
  EXPECT_FALSE(Has(html, "id=\"live\"")) << html;
  EXPECT_FALSE(Has(html, "id=\"spec\"")) << html;
  EXPECT_TRUE(Has(html, "id=\"rollout-state\"")) << html;
  EXPECT_TRUE(Has(html, "id=\"pause-reason\"")) << html;
  EXPECT_TRUE(Has(html, "id=\"groups\"")) << html;
  // The fragment is exactly the live region's inner HTML of the full page.
  EXPECT_TRUE(Has(full, html));
}

TEST_F(RolloutPagesTest, NamesAndReasonsAreEscaped) {
  AddLabelled({"E-1"}, "esc");
  const std::string op = TokenOf(Role::kOperator);
  const int64_t id =
      CreateRollout(op, Spec("<script>alert(1)</script>", "esc", Json::array({{{"name", "all"}, {"percent", 100}}})));
  const std::string path = "/v1/rollouts/" + std::to_string(id);
  ASSERT_EQ(Call("POST", path + "/start", op, "{}").status, 200);
  ASSERT_EQ(Call("POST", path + "/pause", op, R"({"reason":"<script>alert(2)</script>"})").status, 200);
  std::string html = Rollout(Role::kOperator, id).body.str();
  EXPECT_FALSE(Has(html, "<script")) << html;
  EXPECT_TRUE(Has(html, "&lt;script&gt;alert(2)&lt;/script&gt;")) << html;  // the reason
  EXPECT_TRUE(Has(html, "&lt;script&gt;alert(1)&lt;/script&gt;")) << html;  // the spec's name
  html = Render(Role::kViewer, dash::RolloutsPage).body.str();
  EXPECT_FALSE(Has(html, "<script")) << html;
  EXPECT_TRUE(Has(html, "&lt;script&gt;alert(1)&lt;/script&gt;")) << html;
  html = Render(Role::kAdmin, dash::AuditPage).body.str();
  EXPECT_FALSE(Has(html, "<script")) << html;
  html = Render(Role::kViewer, dash::AlertsPage).body.str();
  EXPECT_FALSE(Has(html, "<script")) << html;
  EXPECT_TRUE(Has(html, "rollout_paused")) << html;
}

// What a terminal reports is hostile input: its failure detail is text on the page.
TEST_F(RolloutPagesTest, ATerminalsFailureDetailIsEscaped) {
  AddLabelled({"X-1"}, "hostile");
  const std::string op = TokenOf(Role::kOperator);
  const Json abort = Json::array({{{"class", "any"}, {"max_percent", 0}, {"min_sample", 1}}});
  const int64_t id =
      CreateRollout(op, Spec("hostile", "hostile", Json::array({{{"name", "all"}, {"percent", 100}}}), abort));
  ASSERT_EQ(Call("POST", "/v1/rollouts/" + std::to_string(id) + "/start", op, "{}").status, 200);
  Tick();
  const auto assigned = Members(id, "assigned");
  ASSERT_EQ(assigned.size(), 1u);
  const Response r = DevicePost("X-1", "/v1/actions/" + std::to_string(assigned[0].action_id) + "/events",
                                R"({"attempt":1,"seq":1,"state":"failed","stage":"download","exit_code":1,)"
                                R"("detail":"<img src=x onerror=alert(1)>"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string html = Rollout(Role::kViewer, id).body.str();
  EXPECT_FALSE(Has(html, "<img")) << html;
  EXPECT_TRUE(Has(html, "<td class=\"detail\">&lt;img src=x onerror=alert(1)&gt;</td>")) << html;
  EXPECT_TRUE(Has(html, "data-class=\"plan_refused\">1</td>")) << html;  // download + exit 1: a final class
  EXPECT_TRUE(Has(TextOfId(html, "pause-reason"), "rule: any 1 of 1 decided (100%) > max 0% (min sample 1)")) << html;
}

TEST_F(RolloutPagesTest, TheRolloutListShowsStateAndProgressAndAnUnknownRolloutIs404) {
  const int64_t ruled = RulePaused("listed");
  const int64_t created = MakeRollout("fresh", "created");
  const Page p = Render(Role::kViewer, dash::RolloutsPage);
  ASSERT_EQ(p.status, 200);
  const std::string& html = p.body.str();
  EXPECT_TRUE(Has(html, "<a href=\"/ui/rollouts/" + std::to_string(ruled) + "\">listed</a>")) << html;
  EXPECT_TRUE(Has(html, "<a href=\"/ui/rollouts/" + std::to_string(created) + "\">fresh</a>")) << html;
  EXPECT_TRUE(Has(html, "badge state state-paused")) << html;
  EXPECT_TRUE(Has(html, " (rule)")) << html;
  EXPECT_TRUE(Has(html, "0 ok / 2 failed / 4 members")) << html;
  // Newest first within the page.
  EXPECT_LT(html.find("/ui/rollouts/" + std::to_string(created) + "\""),
            html.find("/ui/rollouts/" + std::to_string(ruled) + "\""));

  const Page missing = Rollout(Role::kViewer, 999);
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(Has(missing.body.str(), "class=\"api-error\"")) << missing.body.str();
}

// The list reads one API page (25 rollouts) and links to the next with the API's cursor.
TEST_F(RolloutPagesTest, TheRolloutListPagesWithTheApiCursorAndRefreshesAsAFragment) {
  const std::string op = TokenOf(Role::kOperator);
  for (int i = 1; i <= 27; ++i) {
    CreateRollout(op, Spec("r" + std::to_string(i), "none", Json::array({{{"name", "all"}, {"percent", 100}}})));
  }
  const std::string first = Render(Role::kViewer, dash::RolloutsPage).body.str();
  EXPECT_TRUE(Has(first, "<a href=\"/ui/rollouts/25\">r25</a>")) << first;
  EXPECT_FALSE(Has(first, "<a href=\"/ui/rollouts/26\">")) << first;
  const std::string link = "<a href=\"/ui/rollouts?cursor=";
  const size_t at = first.find(link);
  ASSERT_NE(at, std::string::npos) << first;
  const size_t end = first.find('"', at + link.size());
  const std::string cursor = first.substr(at + link.size(), end - at - link.size());
  EXPECT_TRUE(Has(first.substr(end), ">next page</a>")) << first;
  // The cursor is percent-encoded in the link; the page gets it decoded (as CORE's query parser does).
  std::string decoded;
  for (size_t i = 0; i < cursor.size(); ++i) {
    if (cursor[i] == '%' && i + 2 < cursor.size()) {
      decoded += static_cast<char>(std::stoi(cursor.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      decoded += cursor[i];
    }
  }
  const Page second = Render(Role::kViewer, dash::RolloutsPage, false, {{"cursor", decoded}});
  ASSERT_EQ(second.status, 200) << second.body.str();
  EXPECT_TRUE(Has(second.body.str(), "<a href=\"/ui/rollouts/27\">r27</a>")) << second.body.str();
  EXPECT_FALSE(Has(second.body.str(), "<a href=\"/ui/rollouts/25\">")) << second.body.str();
  EXPECT_TRUE(Has(second.body.str(), "data-refresh=\"/ui/rollouts?cursor=" + cursor + "&amp;fragment=1\""))
      << second.body.str();
  EXPECT_FALSE(Has(second.body.str(), ">next page</a>")) << second.body.str();
  // Fragment mode: the table alone.
  const Page fragment = Render(Role::kViewer, dash::RolloutsPage, true);
  EXPECT_TRUE(Has(fragment.body.str(), "<table id=\"rollouts\">")) << fragment.body.str();
  EXPECT_FALSE(Has(fragment.body.str(), "id=\"live\"")) << fragment.body.str();
  // A cursor the API did not make is its 400, shown.
  const Page bad = Render(Role::kViewer, dash::RolloutsPage, false, {{"cursor", "forged"}});
  EXPECT_TRUE(Has(bad.body.str(), "class=\"api-error\"")) << bad.body.str();
}

TEST_F(RolloutPagesTest, TheAuditPageVerifiesTheChainAndShowsTampering) {
  const int64_t id = RulePaused("audited");
  Page p = Render(Role::kApprover, dash::AuditPage);
  ASSERT_EQ(p.status, 200);
  std::string html = p.body.str();
  auto rows = store_->ListAudit(0, 100000);
  ASSERT_TRUE(rows.ok());
  ASSERT_FALSE(rows->empty());
  const std::string verify = TextOfId(html, "audit-verify");
  const std::string want = "chain verified: " + std::to_string(rows->size()) + " rows, head seq " +
                           std::to_string(rows->back().seq) + " hash " + rows->back().hash_hex;
  EXPECT_EQ(verify.rfind(want, 0), 0u) << verify;
  EXPECT_TRUE(Has(html, "<wbr>")) << "the 64-hex hash may wrap on a phone";
  EXPECT_TRUE(Has(html, "<table id=\"audit\">")) << html;
  EXPECT_TRUE(Has(html, "rollout.pause")) << html;
  const std::string object = "rollout:" + std::to_string(id);
  EXPECT_TRUE(Has(html, "<a href=\"/ui/rollouts/" + std::to_string(id) + "\">" + object + "</a>")) << html;

  Tamper("UPDATE audit_log SET actor = 'cli:mallory' WHERE seq = 2");
  p = Render(Role::kApprover, dash::AuditPage);
  html = p.body.str();
  const std::string broken = TextOfId(html, "audit-verify");
  EXPECT_EQ(broken.rfind("CHAIN BROKEN at seq 2: hash: ", 0), 0u) << broken;
  EXPECT_TRUE(Has(html, "class=\"verify-broken panel bad\" role=\"alert\"")) << html;
  EXPECT_TRUE(Has(html, "<tr data-seq=\"2\" class=\"untrusted\">")) << html;
  // The newest rows are still listed (the page found the log's end past the broken row).
  EXPECT_TRUE(Has(html, "<tr data-seq=\"" + std::to_string(rows->back().seq) + "\"")) << html;
}

TEST_F(RolloutPagesTest, ViewersAndOperatorsGetTheRefusalNotAnEmptyAuditTable) {
  for (Role role : {Role::kViewer, Role::kOperator}) {
    const Page p = Render(role, dash::AuditPage);
    EXPECT_EQ(p.status, 200);
    EXPECT_TRUE(Has(p.body.str(), "class=\"api-error\"")) << p.body.str();
    EXPECT_TRUE(Has(p.body.str(), "Your token&#39;s role cannot see the audit log")) << p.body.str();
    EXPECT_FALSE(Has(p.body.str(), "id=\"audit\"")) << p.body.str();
  }
}

TEST_F(RolloutPagesTest, TheAuditPageOpensOnTheNewestRowsAndLinksToOlderOnes) {
  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(Record(*store_, clock_.WallSeconds(), "cli:test", "token.create", "token:" + std::to_string(i), "null",
                       "{\"n\":" + std::to_string(i) + "}")
                    .ok());
  }
  auto rows = store_->ListAudit(0, 100000);
  ASSERT_TRUE(rows.ok());
  const int64_t head = rows->back().seq;
  ASSERT_GE(head, 150);
  std::string html = Render(Role::kApprover, dash::AuditPage).body.str();
  EXPECT_TRUE(Has(html, "<tr data-seq=\"" + std::to_string(head) + "\"")) << html;
  EXPECT_TRUE(Has(html, "<tr data-seq=\"" + std::to_string(head - 99) + "\"")) << html;
  EXPECT_FALSE(Has(html, "<tr data-seq=\"" + std::to_string(head - 100) + "\"")) << html;
  EXPECT_LT(html.find("data-seq=\"" + std::to_string(head) + "\""),
            html.find("data-seq=\"" + std::to_string(head - 1) + "\""));  // newest first
  const std::string older = "/ui/audit?after=" + std::to_string(std::max<int64_t>(0, head - 100 - 100));
  EXPECT_TRUE(Has(html, "<a href=\"" + older + "\">older</a>")) << html;
  EXPECT_FALSE(Has(html, ">newer</a>")) << html;
  // The oldest page, and a bad `after`.
  html = Render(Role::kApprover, dash::AuditPage, false, {{"after", "0"}}).body.str();
  EXPECT_TRUE(Has(html, "<tr data-seq=\"1\"")) << html;
  EXPECT_TRUE(Has(html, ">newer</a>")) << html;
  const Page bad = Render(Role::kApprover, dash::AuditPage, false, {{"after", "1e3"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(Has(bad.body.str(), "class=\"api-error\"")) << bad.body.str();
}

TEST_F(RolloutPagesTest, TheAlertsPageOpensOnTheNewestAlertsWithTheirDeliveries) {
  AlertPolicy policy;
  for (int i = 1; i <= 60; ++i) {
    ASSERT_TRUE(RaiseAlert(*store_, policy, clock_.WallSeconds(), "quarantine", "device:Q-" + std::to_string(i),
                           R"({"actor":"system","reason":"tamper )" + std::to_string(i) + R"(","serial":"Q"})")
                    .ok());
  }
  const Page p = Render(Role::kViewer, dash::AlertsPage);
  ASSERT_EQ(p.status, 200);
  const std::string& html = p.body.str();
  EXPECT_TRUE(Has(html, "<table id=\"alerts\">")) << html;
  EXPECT_TRUE(Has(html, "<tr data-alert=\"60\"")) << html;
  EXPECT_TRUE(Has(html, "<tr data-alert=\"11\"")) << html;
  EXPECT_FALSE(Has(html, "<tr data-alert=\"10\"")) << html;
  EXPECT_TRUE(Has(html, "<a href=\"/ui/devices/Q-60\">device:Q-60</a>")) << html;
  EXPECT_TRUE(Has(html, "tamper 60")) << html;
  EXPECT_TRUE(Has(html, "no webhook subscribes")) << html;
  EXPECT_TRUE(Has(html, "<a href=\"/ui/alerts?after=0\">older</a>")) << html;
}

}  // namespace
}  // namespace fw::server::test
