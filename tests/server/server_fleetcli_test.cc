// fwfleet's pure parts (server-stub/fleetcli): tables, sanitising, the HTTP-status -> exit-code
// mapping, the connection options (server URL, token file, environment), the option checks, and the
// client's requests and pagination over a scripted transport. The binary's usage errors are run
// as processes: they must exit 2 before any file is read or any request is sent.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <sstream>

#include "fleet_client.h"
#include "fleet_cmds.h"
#include "fleet_table.h"
#include "testing.h"

namespace fw::fleet {
namespace {

using fw::testing::RunCommand;
using fw::testing::WriteFile;

TEST(FleetTable, ColumnsAreAlignedToTheWidestCellAndTrailingSpacesTrimmed) {
  Table t{{"SERIAL", "STATE", "LABELS"}, {{"POS-0001", "active", "shop-7,north"}, {"P2", "quarantined", "-"}}};
  EXPECT_EQ(Render(t),
            "SERIAL    STATE        LABELS\n"
            "POS-0001  active       shop-7,north\n"
            "P2        quarantined  -\n");
  EXPECT_EQ(Render(Table{{"A", "B"}, {}}), "A  B\n(none)\n");
  // Width counts code points, not bytes.
  EXPECT_EQ(Render(Table{{"N", "X"}, {{"Zürich", "1"}, {"Bern", "2"}}}), "N       X\nZürich  1\nBern    2\n");
}

TEST(FleetTable, ServerTextCannotDriveTheTerminal) {
  EXPECT_EQ(Sanitize("ok\x1b[2Jx\n\r\t\x7f"), "ok?[2Jx????");
  EXPECT_EQ(Sanitize("a\xc2\x9b"
                     "31mb"),
            "a?31mb");  // C1 CSI
  EXPECT_EQ(Sanitize("Zürich"), "Zürich");
  nlohmann::json items = {{{"serial", "S1"}, {"reason", "evil\x1b]0;title\x07"}}};
  const std::string out = Render(ColumnsTable(items, {{"SERIAL", "serial"}, {"REASON", "reason"}}));
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
}

TEST(FleetTable, CellsFormatTimesListsBooleansAndMissingValues) {
  nlohmann::json items = {{{"id", 7},
                           {"last_seen", 1700000000},
                           {"labels", {"a", "b"}},
                           {"journal_read", true},
                           {"firmware", {{"version", "1.3.0"}}},
                           {"sha256", std::string(64, 'f')}},
                          {{"id", 8}, {"last_seen", 0}, {"labels", nlohmann::json::array()}, {"journal_read", false}}};
  Table t = ColumnsTable(items, {{"ID", "id"},
                                 {"SEEN", "last_seen"},
                                 {"LABELS", "labels"},
                                 {"J", "journal_read"},
                                 {"V", "firmware.version"},
                                 {"SHA", "sha256", 8}});
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"7", "2023-11-14T22:13:20Z", "a,b", "yes", "1.3.0", "ffffffff"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"8", "-", "-", "no", "-", "-"}));
}

TEST(FleetTable, DescribeFlattensObjectsAndTabulatesArraysOfObjects) {
  nlohmann::json device = {{"serial", "POS-1"},
                           {"manifest", {{"running", {{"version", "1.0.0"}}}}},
                           {"events", {{{"seq", 1}, {"state", "accepted"}}, {{"seq", 2}, {"state", "installing"}}}}};
  const std::string out = Describe(device);
  EXPECT_NE(out.find("manifest.running.version  1.0.0"), std::string::npos) << out;
  EXPECT_NE(out.find("events:\nSEQ  STATE\n1    accepted\n2    installing\n"), std::string::npos) << out;
}

// The contract's exit codes: 3 the server refused our input, 4 transport/404/5xx, 5 refused by
// state (401, 403, 409), 6 timeout; the message is the server's.
TEST(FleetClient, HttpStatusesMapToTheDocumentedExitCodes) {
  const std::map<int, int> expected = {{400, 3}, {413, 3}, {422, 3}, {401, 5}, {403, 5}, {409, 5},
                                       {404, 4}, {405, 4}, {408, 6}, {500, 4}, {503, 4}, {302, 4}};
  for (const auto& [http, exit_code] : expected) {
    Status s = FailureForReply(http, R"({"error":"x","message":"why"})");
    EXPECT_EQ(cli::ExitCodeFor(s), exit_code) << http;
    EXPECT_NE(s.message().find("why"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("HTTP " + std::to_string(http) + " x"), std::string::npos) << s.message();
  }
  Status s = FailureForReply(403, R"({"error":"forbidden","message":"role viewer may not create actions"})");
  EXPECT_EQ(s.message(), "role viewer may not create actions (HTTP 403 forbidden)");
  // Not JSON: the body's start, sanitised.
  s = FailureForReply(502, "<html>\x1b[1mbad gateway");
  EXPECT_EQ(s.message(), "<html>?[1mbad gateway (HTTP 502)");
}

struct FakeServer {
  std::vector<net::HttpCall> calls;
  std::vector<net::HttpReply> replies;
  Transport transport() {
    return [this](const net::HttpCall& call, const net::HttpOptions&) -> Result<net::HttpReply> {
      calls.push_back(call);
      if (replies.empty()) return IoError("no more replies");
      net::HttpReply r = replies.front();
      replies.erase(replies.begin());
      return r;
    };
  }
};

Connection TestConnection() { return Connection{"https://fleet.example:9443", "tok123", {}}; }

TEST(FleetClient, SendsTheBearerTokenAndJsonBodyAndReportsTheServersError) {
  FakeServer fake;
  fake.replies = {{201, {{"content-type", "application/json"}}, R"({"id":5})"},
                  {403, {}, R"({"error":"forbidden","message":"no"})"}};
  Client c(TestConnection(), fake.transport());
  auto j = c.Post("/v1/devices/POS%201/actions", {{"kind", "install"}});
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["id"], 5);
  ASSERT_EQ(fake.calls.size(), 1u);
  EXPECT_EQ(fake.calls[0].method, "POST");
  EXPECT_EQ(fake.calls[0].url, "https://fleet.example:9443/v1/devices/POS%201/actions");
  EXPECT_EQ(fake.calls[0].body, R"({"kind":"install"})");
  bool auth = false;
  for (const auto& [k, v] : fake.calls[0].headers) auth |= k == "Authorization" && v == "Bearer tok123";
  EXPECT_TRUE(auth);
  EXPECT_FALSE(fake.calls[0].allow_plain_http);
  auto denied = c.Get("/v1/tokens");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(cli::ExitCodeFor(denied.status()), 5);
  EXPECT_EQ(c.last_http_status(), 403);
  EXPECT_EQ(c.last_error_code(), "forbidden");
}

TEST(FleetClient, MalformedJsonFromTheServerIsExit3AndTransportErrorsKeepTheirCode) {
  FakeServer fake;
  fake.replies = {{200, {}, "{not json"}, {200, {}, R"({"items":5})"}};
  Client c(TestConnection(), fake.transport());
  auto j = c.Get("/v1/whoami");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(cli::ExitCodeFor(j.status()), 3);
  auto list = c.List("/v1/devices", {}, false);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(cli::ExitCodeFor(list.status()), 3) << list.status().ToString();
  Client timeout(TestConnection(), [](const net::HttpCall&, const net::HttpOptions&) -> Result<net::HttpReply> {
    return Timeout("GET x: deadline 30 s passed");
  });
  EXPECT_EQ(cli::ExitCodeFor(timeout.Get("/v1/whoami").status()), 6);
  EXPECT_EQ(timeout.last_http_status(), 0);
}

TEST(FleetClient, AllFollowsNextCursorAndEncodesTheFilters) {
  FakeServer fake;
  fake.replies = {{200, {}, R"({"items":[{"serial":"A"},{"serial":"B"}],"next_cursor":"c 1"})"},
                  {200, {}, R"({"items":[{"serial":"C"}],"next_cursor":"c2"})"},
                  {200, {}, R"({"items":[],"next_cursor":null})"}};
  Client c(TestConnection(), fake.transport());
  auto all = c.List("/v1/devices", {{"label", "shop 7&x"}, {"state", std::nullopt}, {"limit", "2"}}, true);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["items"].size(), 3u);
  EXPECT_TRUE((*all)["next_cursor"].is_null());
  ASSERT_EQ(fake.calls.size(), 3u);
  EXPECT_EQ(fake.calls[0].url, "https://fleet.example:9443/v1/devices?label=shop%207%26x&limit=2");
  EXPECT_EQ(fake.calls[1].url, "https://fleet.example:9443/v1/devices?label=shop%207%26x&limit=2&cursor=c%201");
  EXPECT_EQ(fake.calls[2].url, "https://fleet.example:9443/v1/devices?label=shop%207%26x&limit=2&cursor=c2");
  // One page without --all: the server's answer as is.
  fake.calls.clear();
  fake.replies = {{200, {}, R"({"items":[{"serial":"A"}],"next_cursor":"n"})"}};
  auto one = c.List("/v1/devices", {}, false);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)["next_cursor"], "n");
  EXPECT_EQ(fake.calls.size(), 1u);
}

TEST(FleetClient, PagesAfterACursorDropTheKeysetAfter) {
  FakeServer fake;
  fake.replies = {{200, {}, R"({"items":[{"seq":11}],"next_cursor":"k12"})"},
                  {200, {}, R"({"items":[{"seq":12}],"next_cursor":null})"}};
  Client c(TestConnection(), fake.transport());
  auto all = c.List("/v1/audit", {{"after", "10"}, {"limit", "1"}}, true);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["items"].size(), 2u);
  ASSERT_EQ(fake.calls.size(), 2u);
  EXPECT_EQ(fake.calls[0].url, "https://fleet.example:9443/v1/audit?after=10&limit=1");
  EXPECT_EQ(fake.calls[1].url, "https://fleet.example:9443/v1/audit?limit=1&cursor=k12");
}

TEST(FleetClient, ARepeatedCursorStopsTheWalk) {
  FakeServer fake;
  for (int i = 0; i < 5; ++i) fake.replies.push_back({200, {}, R"({"items":[{"id":1}],"next_cursor":"same"})"});
  Client c(TestConnection(), fake.transport());
  auto all = c.List("/v1/actions", {}, true);
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(cli::ExitCodeFor(all.status()), 3);
  EXPECT_NE(all.status().message().find("repeated a cursor"), std::string::npos);
  EXPECT_EQ(fake.calls.size(), 2u);
}

class FleetConnection : public ::testing::Test {
 protected:
  std::string TokenFile(const std::string& text, mode_t mode) {
    const std::string path = tmp_ / ("token" + std::to_string(++n_));
    WriteFile(path, text);
    ::chmod(path.c_str(), mode);
    return path;
  }
  fw::testing::TempDir tmp_;
  int n_ = 0;
};

TEST_F(FleetConnection, CommandLineBeatsTheEnvironment) {
  const std::string a = TokenFile("from-argv\n", 0600), b = TokenFile("from-env\nsecond line\n", 0600);
  std::map<std::string, std::string> env = {
      {"FWFLEET_SERVER", "https://env:1/"}, {"FWFLEET_TOKEN_FILE", b}, {"FWFLEET_CA", "/env/ca.pem"}};
  EnvLookup lookup = [&](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  std::string warning = "unset";
  auto c = ResolveConnection(ConnectionArgs{}, lookup, &warning);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://env:1");
  EXPECT_EQ(c->token, "from-env");
  EXPECT_EQ(c->http.ca_file, "/env/ca.pem");
  EXPECT_EQ(warning, "");
  c = ResolveConnection(ConnectionArgs{"https://argv:2", a, "/argv/ca.pem", 5}, lookup, &warning);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://argv:2");
  EXPECT_EQ(c->token, "from-argv");
  EXPECT_EQ(c->http.ca_file, "/argv/ca.pem");
  EXPECT_EQ(c->http.deadline_seconds, 5u);
  EXPECT_LE(c->http.connect_timeout_seconds, 5u);
  // Neither: usage errors naming the option and the variable.
  auto none = ResolveConnection(
      ConnectionArgs{}, [](const char*) { return std::nullopt; }, &warning);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(cli::ExitCodeFor(none.status()), 2);
  EXPECT_NE(none.status().message().find("FWFLEET_SERVER"), std::string::npos);
  none = ResolveConnection(
      ConnectionArgs{"https://h:1", std::nullopt, std::nullopt, 30}, [](const char*) { return std::nullopt; },
      &warning);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("FWFLEET_TOKEN_FILE"), std::string::npos);
}

TEST_F(FleetConnection, TokenFileRules) {
  auto t = ReadTokenFile(TokenFile("abc.DEF-123\r\nignored", 0600));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "abc.DEF-123");
  EXPECT_EQ(t->warning, "");
  t = ReadTokenFile(TokenFile("abc\n", 0644));
  ASSERT_TRUE(t.ok());
  EXPECT_NE(t->warning.find("mode 0644"), std::string::npos) << t->warning;
  EXPECT_NE(t->warning.find("chmod 600"), std::string::npos) << t->warning;
  for (const std::string& bad : {std::string("\nsecond"), std::string("has space"), std::string("ctl\x01"),
                                 std::string(kMaxTokenBytes + 1, 'a')}) {
    auto r = ReadTokenFile(TokenFile(bad, 0600));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(cli::ExitCodeFor(r.status()), 2) << r.status().ToString();
  }
  auto missing = ReadTokenFile(tmp_ / "absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(cli::ExitCodeFor(missing.status()), 4);
}

TEST(FleetOptions, ServerUrls) {
  EXPECT_EQ(*CheckServerUrl("https://h:9443/"), "https://h:9443");
  EXPECT_EQ(*CheckServerUrl("https://h/fleet//"), "https://h/fleet");
  for (const char* bad : {"http://h:9443", "h:9443", "https://", "https:///x", "https://h/ x", "https://h/?a=1",
                          "https://h/#f", "ftp://h"}) {
    EXPECT_FALSE(CheckServerUrl(bad).ok()) << bad;
  }
}

TEST(FleetOptions, TimesDurationsSegmentsAndWindows) {
  EXPECT_EQ(*ParseWhen("deadline", "1700000000"), 1700000000);
  EXPECT_EQ(*ParseWhen("deadline", "2023-11-14T22:13:20Z"), 1700000000);
  for (const char* bad :
       {"", "-5", "2023-11-14 22:13:20Z", "2023-13-14T22:13:20Z", "2023-11-14T22:13:20", "yesterday"}) {
    EXPECT_FALSE(ParseWhen("deadline", bad).ok()) << bad;
  }
  EXPECT_EQ(*ParseDuration("x", "90"), 90);
  EXPECT_EQ(*ParseDuration("x", "90m"), 5400);
  EXPECT_EQ(*ParseDuration("x", "12h"), 43200);
  EXPECT_EQ(*ParseDuration("x", "30d"), 30 * 86400);
  for (const char* bad : {"", "0", "d", "-1d", "1w", "99999999999d", "3661d"}) {
    EXPECT_FALSE(ParseDuration("x", bad).ok()) << bad;
  }
  EXPECT_EQ(*ParseSegmentRange("1-200"), std::make_pair(int64_t{1}, int64_t{200}));
  for (const char* bad : {"0-5", "5-4", "5", "a-b", "-5", "1-", "1--2"})
    EXPECT_FALSE(ParseSegmentRange(bad).ok()) << bad;
  EXPECT_TRUE(IsValidWindow("02:00-04:00"));
  EXPECT_TRUE(IsValidWindow("23:30-00:30"));
  for (const char* bad : {"02:00-02:00", "24:00-01:00", "2:00-04:00", "02:60-03:00", "02:00 04:00", "+2:00-04:00"}) {
    EXPECT_FALSE(IsValidWindow(bad)) << bad;
  }
}

TEST(FleetOptions, ActionBodies) {
  auto b = ActionBody({"install", "fw-1.3.0.img", "soft", "02:00-04:00", "2023-11-14T22:13:20Z", false});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b, (nlohmann::json{{"kind", "install"},
                                {"target", "fw-1.3.0.img"},
                                {"type", "soft"},
                                {"window", "02:00-04:00"},
                                {"deadline", 1700000000},
                                {"backup_required", true}}));
  b = ActionBody({"journal_backup", std::nullopt, std::nullopt, std::nullopt, std::nullopt, true});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (nlohmann::json{{"kind", "journal_backup"}, {"backup_required", false}}));
  const std::vector<ActionOptions> bad = {{"install", std::nullopt, std::nullopt, std::nullopt, std::nullopt, false},
                                          {"journal_backup", "fw.img", std::nullopt, std::nullopt, std::nullopt, false},
                                          {"upgrade", "fw.img", std::nullopt, std::nullopt, std::nullopt, false},
                                          {"install", "fw.img", "later", std::nullopt, std::nullopt, false},
                                          {"install", "fw.img", std::nullopt, "2-4", std::nullopt, false},
                                          {"install", "fw.img", std::nullopt, std::nullopt, "tomorrow", false},
                                          {"install", "", std::nullopt, std::nullopt, std::nullopt, false}};
  for (const auto& o : bad) {
    auto r = ActionBody(o);
    EXPECT_FALSE(r.ok()) << o.kind;
    if (!r.ok()) {
      EXPECT_EQ(cli::ExitCodeFor(r.status()), 2);
    }
  }
}

// The binary: every usage error is exit 2 and is found before the token file is read or a request
// is sent (the token file named does not exist: reading it would be exit 4; the server port is
// closed: a request would be exit 4).
TEST(FleetBinary, UsageErrorsComeBeforeAnyFileOrRequest) {
  const std::vector<std::string> conn = {"--server", "https://127.0.0.1:1", "--token-file", "/nonexistent/token"};
  const std::vector<std::vector<std::string>> cases = {
      {"action", "create", "POS-1", "--kind", "install"},
      {"action", "create", "POS-1", "--kind", "install", "--target", "t", "--window", "25:00-01:00"},
      {"action", "create", "POS-1", "--kind", "install", "--target", "t", "--type", "now"},
      {"action", "cancel", "0", "--reason", "x"},
      {"action", "cancel", "4"},
      {"devices", "--limit", "0"},
      {"devices", "--limit", "501"},
      {"devices", "--seen-after", "last week"},
      {"devices", "--state", "broken"},
      {"tokens", "create", "--name", "ci", "--role", "root"},
      {"tokens", "create", "--name", "ci", "--role", "viewer", "--expires-in", "0"},
      {"journal", "POS-1", "--segment", "9-3"},
      {"journal", "POS-1", "-o", "/tmp/x"},
      {"quarantine", "POS-1"},
      {"devices", "--timeout", "0"},
      {"devices", "--bogus"},
      {"audit", "list", "--after", "3", "--cursor", "x"},
      {"nonsense"},
  };
  for (auto args : cases) {
    args.insert(args.end(), conn.begin(), conn.end());
    args.insert(args.begin(), FWFLEET_PATH);
    auto r = RunCommand(args);
    std::string line;
    for (const auto& a : args) line += a + " ";
    EXPECT_EQ(r.exit_code, 2) << line << "\n" << r.err;
  }
  // The same with --json: a failure object on stdout.
  auto r = RunCommand({FWFLEET_PATH, "devices", "--limit", "0", "--json"});
  EXPECT_EQ(r.exit_code, 2);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["exit_code"], 2);
  // Options fine, no server anywhere: still a usage error, naming the variable.
  r = RunCommand({"/usr/bin/env", "-u", "FWFLEET_SERVER", FWFLEET_PATH, "whoami", "--token-file", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("FWFLEET_SERVER"), std::string::npos) << r.err;
  // A missing token file is an I/O error (4); a closed port is a transport error (4), with --json
  // naming no HTTP status.
  r = RunCommand({FWFLEET_PATH, "whoami", "--server", "https://127.0.0.1:1", "--token-file", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
}

TEST(FleetBinary, EveryCommandHasHelp) {
  const cli::Program p = MakeProgram();
  EXPECT_GE(p.commands.size(), 25u);
  for (const auto& c : p.commands) {
    std::vector<std::string> args = {FWFLEET_PATH};
    std::istringstream words(c.name);
    for (std::string w; words >> w;) args.push_back(w);
    args.push_back("--help");
    auto r = RunCommand(args);
    EXPECT_EQ(r.exit_code, 0) << c.name;
    EXPECT_NE(r.out.find("--server"), std::string::npos) << c.name;
    EXPECT_NE(r.out.find("--token-file"), std::string::npos) << c.name;
  }
}

}  // namespace
}  // namespace fw::fleet
