#include "fleet_pages_fixture.h"

namespace fw::server::dash::test {

using Json = nlohmann::json;

ApiReply RecordingApi::Get(const std::string& target) {
  targets.push_back(target);
  if (!refuse.empty() && target.find(refuse) != std::string::npos) {
    ApiReply r;
    r.status = status;
    r.error = status == 403 ? "forbidden" : "store_unavailable";
    r.message = status == 403 ? "the role viewer may not do this" : "database unreachable";
    r.body = Json{{"error", r.error}, {"message", r.message}};
    return r;
  }
  for (const auto& [prefix, reply] : canned) {
    if (target.starts_with(prefix)) return reply;
  }
  return inner_.Get(target);
}

ApiReply RecordingApi::Post(const std::string& target, const Json& body) {
  targets.push_back("POST " + target);
  return inner_.Post(target, body);
}

void FleetPagesTest::SetUp() {
  config_.data_dir = dir_.path();
  config_.db_path = StorePath(dir_.path());
  auto inner = OpenStore(config_.db_path, /*create=*/true);
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  auto store = std::make_unique<fw::server::testing::FaultyStore>(std::move(*inner), faults_);
  auto api = OpenOperatorApiHandler(config_, std::move(store), metrics_, clock_);
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  api_ = std::move(*api);
}

int64_t FleetPagesTest::TokenId(Role role) {
  OperatorToken record;
  record.name = std::string(RoleName(role)) + "-" + std::to_string(apis_.size());
  record.role = std::string(RoleName(role));
  record.created_s = Now();
  record.expires_s = Now() + 3600;
  record.created_by = "cli:test";
  auto made = MakeOperatorToken(record);
  EXPECT_TRUE(made.ok());
  auto id = store().AddOperatorToken(made->record);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id.ok() ? *id : 0;
}

UiApi& FleetPagesTest::Api(Role role) {
  apis_.push_back(MakeUiApi(*api_, TokenId(role)));
  return *apis_.back();
}

PageContext FleetPagesTest::Ctx(Role role, const std::string& path) const {
  PageContext ctx;
  ctx.token_name = std::string(RoleName(role));
  ctx.role = role;
  ctx.csrf = "csrf-token-of-the-session";
  ctx.now_s = Now();
  ctx.path = path;
  return ctx;
}

void FleetPagesTest::AddDevice(const std::string& serial, const std::string& version, DeviceState state,
                               int64_t last_seen, const std::string& reason) {
  Device d;
  d.serial = serial;
  d.spki_sha256_hex = std::string(64, 'a');
  d.created_s = Now() - 10 * 86400;
  d.last_seen_s = last_seen == 0 ? Now() : last_seen;
  ASSERT_TRUE(store().CreateDevice(d).ok());
  if (!version.empty()) {
    const Json manifest = {{"hardware_id", "POS-X1"},
                           {"time_zone", "Europe/Berlin"},
                           {"agent_version", "0.5.0"},
                           {"running", {{"slot", "A"}, {"version", version}, {"state", "confirmed"}}},
                           {"other", {{"slot", "B"}, {"version", "1.1.0"}, {"state", "bootable"}}},
                           {"security_counter", 3},
                           {"root_version", 2},
                           {"journal", {{"last_seq", 25}, {"head", std::string(64, 'c')}}},
                           {"outbox", 0},
                           {"free_bytes", 104857600}};
    ASSERT_TRUE(store().SetDeviceManifest(serial, manifest.dump(), "POS-X1", version).ok());
  }
  if (state != DeviceState::kActive) {
    ASSERT_TRUE(store().SetDeviceState(serial, state, reason).ok());
  }
}

int64_t FleetPagesTest::AddAction(const std::string& serial, int events, bool done, int64_t rollout) {
  Action a;
  a.device_serial = serial;
  a.kind = "install";
  a.target_name = "pos-x1/firmware-1.3.0.ptfw";
  a.target_version = "1.3.0";
  a.type = "soft";
  a.window = "02:00-04:00";
  a.state = done ? "succeeded" : "pending";
  a.done = done;
  a.created_s = Now() - 3600;
  a.updated_s = Now() - 60;
  a.rollout_id = rollout;
  auto id = store().CreateAction(a);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  if (!id.ok()) return 0;
  static const char* kStates[] = {"downloading", "downloaded", "installing", "installed", "rebooting", "confirmed"};
  for (int i = 0; i < events; ++i) {
    ActionEvent e;
    e.action_id = *id;
    e.attempt = 1;
    e.seq = i + 1;
    e.state = kStates[i % 6];
    e.body_json =
        Json{{"attempt", 1}, {"seq", i + 1}, {"state", e.state}, {"detail", "step " + std::to_string(i + 1)}}.dump();
    e.received_s = Now() - 3000 + i;
    EXPECT_TRUE(store().AddEvent(e).ok());
  }
  return *id;
}

void FleetPagesTest::AddAlert(const std::string& kind, const std::string& serial, const Json& details) {
  Alert a;
  a.kind = kind;
  a.object = "device:" + serial;
  a.created_s = Now() - 120;
  a.body_json =
      Json{{"details", details}, {"id", 0}, {"kind", kind}, {"object", a.object}, {"time", a.created_s}}.dump();
  auto id = store().AddAlert(a, {});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
}

std::string Section(const std::string& html, const std::string& id, const std::string& tag) {
  const size_t at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  const size_t start = html.rfind("<" + tag, at);
  if (start == std::string::npos) return "";
  size_t depth = 0;
  for (size_t pos = start; pos < html.size();) {
    const size_t open = html.find("<" + tag, pos + 1);
    const size_t close = html.find("</" + tag + ">", pos + 1);
    if (close == std::string::npos) return html.substr(start);
    if (open != std::string::npos && open < close) {
      ++depth;
      pos = open;
    } else if (depth == 0) {
      return html.substr(start, close + tag.size() + 3 - start);
    } else {
      --depth;
      pos = close;
    }
  }
  return html.substr(start);
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace fw::server::dash::test
