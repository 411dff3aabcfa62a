// The agent end to end: `fwupdate agent run` (the real binary) against the real fwserver processes
// over TLS on loopback (tests/server/e2e_fleet.h), a repository made with fwsign in the server's
// DIR/repo, and file-backed terminals made with fwboot/fwupdate. `--reboot-cmd` is `fwboot boot`, one
// simulated reset. What the server and the terminal show afterwards is what is asserted.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "agent_driver_fixture.h"
#include "e2e_fleet.h"
#include "fw/server/cert_issuer.h"
#include "fw/sqlite.h"
#include "install_cli_fixture.h"

namespace fw::agent_testing {
namespace {

using fw::Background;
using fw::server::e2e::E2eFixture;
using fw::server::e2e::NowS;

class AgentE2eTest : public E2eFixture {
 protected:
  void SetUp() override {
    E2eFixture::SetUp();
    if (HasFatalFailure()) return;
    vendor_ = std::make_unique<VendorRepo>(tmp_ / "vendor", server_->dir() + "/repo");
    if (HasFatalFailure()) return;
    vendor_->Release("1.1.0", 1, 11);
    url_ = "https://127.0.0.1:" + std::to_string(server_->port());
  }

  // A provisioned, initialised and enrolled terminal.
  std::unique_ptr<Terminal> NewAgentTerminal(const std::string& serial) {
    auto t = std::make_unique<Terminal>(tmp_ / serial, serial);
    t->Provision(*vendor_);
    auto r = t->Enrol(url_, server_->chain_pem(), server_->Token(serial));
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    return t;
  }
  CommandResult RunOnce(const Terminal& t, std::vector<std::string> extra = {}) {
    extra.push_back("--once");
    return RunCommand(t.RunArgs(url_, server_->chain_pem(), extra));
  }
  int64_t InstallAction(const Terminal& t, const std::string& version) {
    return server_->CreateAction(t.serial(), {"--kind", "install", "--target", "fw-" + version + ".img", "--version",
                                              version, "--type", "forced"});
  }
  // `agent run --once` until the action is closed on the server (at most `runs` times); its last state.
  std::string RunUntilClosed(const Terminal& t, int64_t action, std::vector<std::string> extra, int runs = 8) {
    std::string state;
    for (int i = 0; i < runs; ++i) {
      auto r = RunOnce(t, extra);
      EXPECT_EQ(r.exit_code, 0) << "run " << i << ": " << r.err << r.out;
      if (r.exit_code != 0) return "exit " + std::to_string(r.exit_code);
      log_ += r.out;
      Json a = server_->Action(t.serial(), action);
      state = a.is_object() ? a["state"].get<std::string>() : "";
      if (a.is_object() && a["done"].get<bool>()) return state;
    }
    return state;
  }
  // The events the server stored for an action, in (attempt, seq) order: their states.
  std::vector<std::string> EventStates(int64_t action) {
    std::vector<std::string> states;
    auto db = sql::Database::Open(server_->dir() + "/server.db", sql::OpenOptions().ReadOnly());
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return states;
    auto st = db->Prepare("SELECT state FROM action_events WHERE action_id = ? ORDER BY attempt, seq");
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    if (!st.ok()) return states;
    st->Bind(1, action);
    while (true) {
      auto row = st->Step();
      if (!row.ok() || !*row) break;
      states.push_back(st->ColumnText(0));
    }
    return states;
  }
  static size_t IndexOf(const std::vector<std::string>& v, const std::string& s) {
    return static_cast<size_t>(std::find(v.begin(), v.end(), s) - v.begin());
  }

  std::unique_ptr<VendorRepo> vendor_;
  std::string url_;
  std::string log_;
};

TEST_F(AgentE2eTest, ATerminalUpdatesItselfThroughBackupInstallRebootAndConfirm) {
  auto t = NewAgentTerminal("POS-0001");
  ASSERT_FALSE(HasFailure());
  const std::string bank_a = t->BankHash(0);
  const int64_t action = InstallAction(*t, "1.1.0");
  ASSERT_GT(action, 0);
  EXPECT_EQ(RunUntilClosed(*t, action, {"--health-cmd", "true"}), "succeeded") << log_;

  // The server: every step in order, confirmed before success, the journal backed up before the install.
  const auto events = EventStates(action);
  const std::vector<std::string> order = {"accepted",  "downloaded", "backup_done", "installing",
                                          "trial_set", "rebooting",  "confirmed"};
  size_t last = 0;
  for (const auto& s : order) {
    const size_t i = IndexOf(events, s);
    ASSERT_LT(i, events.size()) << s << " never reported; events: " << Json(events).dump();
    EXPECT_GE(i, last) << s << " out of order: " << Json(events).dump();
    last = i;
  }
  EXPECT_EQ(IndexOf(events, "failed"), events.size()) << Json(events).dump();
  Json device = server_->DeviceShow("POS-0001");
  ASSERT_TRUE(device.is_object());
  ASSERT_FALSE(device["segments"].empty()) << device.dump();
  EXPECT_EQ(device["segments"].back()["last_seq"], kJournalRecords) << "the whole journal was backed up";

  // The terminal: 1.1.0 confirmed in slot B and running, 1.0.0 untouched in A, every record kept.
  Json st = t->Status();
  EXPECT_EQ(st["slots"][1]["state"], "confirmed") << st.dump();
  EXPECT_EQ(st["slots"][1]["version"], "1.1.0") << st.dump();
  EXPECT_EQ(st["booted_slot"], "B") << st.dump();
  EXPECT_EQ(st["min_security_counter"], 1) << st.dump();
  EXPECT_EQ(t->BankHash(0), bank_a) << "the confirmed bank was written";
  EXPECT_EQ(t->JournalRecords(), kJournalRecords);
  Json history = t->History();
  std::map<std::string, std::string> outcome;
  for (const auto& e : history) outcome[e["operation"].get<std::string>()] = e["outcome"].get<std::string>();
  EXPECT_EQ(outcome["install"], "succeeded") << history.dump();
  EXPECT_EQ(outcome["confirm"], "succeeded") << history.dump();

  // The driver's --json lines: a cycle that reset the terminal, notes naming the steps.
  bool rebooted = false, noted_confirm = false;
  for (const Json& j : JsonLines(log_)) {
    if (j.value("event", "") == "cycle" && j.value("rebooted", false)) rebooted = true;
    if (j.value("event", "") == "note" && j.value("text", "").find("confirmed") != std::string::npos) {
      noted_confirm = true;
    }
  }
  EXPECT_TRUE(rebooted) << log_;
  EXPECT_TRUE(noted_confirm) << log_;

  // Nothing left to do: another cycle changes nothing on the terminal.
  auto r = RunOnce(*t, {"--health-cmd", "true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(t->History().size(), history.size());
}

TEST_F(AgentE2eTest, FirmwareThatFailsItsHealthCheckIsRevertedAndReportedHealthFailed) {
  auto t = NewAgentTerminal("POS-0002");
  ASSERT_FALSE(HasFailure());
  const std::string bank_a = t->BankHash(0);
  const int64_t action = InstallAction(*t, "1.1.0");
  ASSERT_GT(action, 0);
  EXPECT_EQ(RunUntilClosed(*t, action, {"--health-cmd", "false"}), "failed") << log_;
  Json a = server_->Action("POS-0002", action);
  EXPECT_EQ(a["failure_class"], "health_failed") << a.dump();
  const auto events = EventStates(action);
  EXPECT_EQ(IndexOf(events, "confirmed"), events.size()) << "never confirmed: " << Json(events).dump();

  // The old firmware runs confirmed (the agent reset the terminal into it), its bank untouched.
  Json st = t->Status();
  EXPECT_EQ(st["slots"][0]["state"], "confirmed") << st.dump();
  EXPECT_EQ(st["slots"][0]["version"], "1.0.0") << st.dump();
  EXPECT_EQ(st["active_slot"], "A") << st.dump();
  EXPECT_NE(st["slots"][1]["state"], "trial") << st.dump();
  EXPECT_NE(st["slots"][1]["state"], "confirmed") << st.dump();
  EXPECT_EQ(st["min_security_counter"], 0) << "the counter advanced for a firmware that was never confirmed";
  EXPECT_EQ(t->BankHash(0), bank_a);
  EXPECT_EQ(t->JournalRecords(), kJournalRecords);
}

TEST_F(AgentE2eTest, NoFlashWriteWhileThePaymentApplicationIsBusy) {
  auto t = NewAgentTerminal("POS-0006");
  ASSERT_FALSE(HasFailure());
  const std::string bank_b = t->BankHash(1);
  const size_t operations = t->History().size();
  const int64_t action = InstallAction(*t, "1.1.0");
  ASSERT_GT(action, 0);
  const std::string idle_flag = tmp_ / "no-open-payment";
  const std::vector<std::string> extra = {"--idle-cmd", "test -e " + idle_flag, "--health-cmd", "true"};
  for (int i = 0; i < 2; ++i) {
    auto r = RunOnce(*t, extra);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  }
  const auto events = EventStates(action);
  EXPECT_EQ(IndexOf(events, "installing"), events.size()) << "installed while busy: " << Json(events).dump();
  EXPECT_EQ(t->BankHash(1), bank_b) << "bank B written while a payment was open";
  Json st = t->Status();
  EXPECT_EQ(st["slots"][0]["state"], "confirmed") << st.dump();
  EXPECT_EQ(t->History().size(), operations) << "a flash operation ran while busy";

  fw::testing::WriteFile(idle_flag, "");
  EXPECT_EQ(RunUntilClosed(*t, action, extra), "succeeded") << log_;
}

// Waits (bounded) until `fwupdate status` shows an operation holding the terminal lock.
Json WaitForLock(const Terminal& t, Background& agent) {
  for (int i = 0; i < 600; ++i) {
    Json st = t.Status();
    if (st.is_object() && st["lock"].is_object()) return st;
    if (!agent.Running()) return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return nullptr;
}

TEST_F(AgentE2eTest, ATechnicianSeesTheAgentsInstallAndGetsTheLockAnswerThenSigtermStopsCleanly) {
  auto t = NewAgentTerminal("POS-0003");
  ASSERT_FALSE(HasFailure());
  const std::string bank_a = t->BankHash(0);
  const int64_t action = InstallAction(*t, "1.1.0");
  ASSERT_GT(action, 0);
  // The long-lived agent (no --once) with a slow install: 16 KiB reads, 150 ms after each.
  Background agent(t->RunArgs(url_, server_->chain_pem(), {"--health-cmd", "true"}),
                   {{"FWUPDATE_TEST_WRITE_DELAY_MS", "150"}}, tmp_.path());
  Json st = WaitForLock(*t, agent);
  ASSERT_TRUE(st.is_object()) << "no operation seen in progress: " << agent.Wait().err;
  EXPECT_EQ(st["lock"]["operation"], "install") << st.dump();
  EXPECT_EQ(st["lock"]["pid"], agent.pid()) << st.dump();

  // A technician's install while the agent writes: the lock answer, exit 6, naming the operation.
  const std::string bundle = tmp_ / "bundle-1.1.0.tar";
  ASSERT_EQ(
      RunCommand({"fwsign", "bundle", "create", "--repo", vendor_->repo(), "--target", "fw-1.1.0.img", "-o", bundle})
          .exit_code,
      0);
  auto r = RunCommand({"fwupdate", "install", "--device", t->Layout(), "--quiet", "--lock-timeout", "0", bundle});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("install"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("in progress"), std::string::npos) << r.err;

  // SIGTERM mid-install: exit 0, and nothing half-done — no operation left open, slot A untouched.
  ASSERT_EQ(::kill(agent.pid(), SIGTERM), 0);
  auto done = agent.Wait();
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(LastJson(done.out)["ok"], true) << done.out;
  st = t->Status();
  EXPECT_TRUE(st["lock"].is_null()) << st.dump();
  EXPECT_TRUE(st["interrupted"].empty()) << "an operation was left half-done: " << st.dump();
  EXPECT_EQ(st["slots"][0]["state"], "confirmed") << st.dump();
  EXPECT_EQ(t->BankHash(0), bank_a);
  EXPECT_EQ(t->JournalRecords(), kJournalRecords);
  Json a = server_->Action("POS-0003", action);
  EXPECT_FALSE(a["done"].get<bool>()) << "a stop is not a verdict: " << a.dump();

  // Started again, the agent carries the same action to success.
  EXPECT_EQ(RunUntilClosed(*t, action, {"--health-cmd", "true"}), "succeeded") << log_;
  EXPECT_EQ(t->Status()["slots"][1]["version"], "1.1.0");
}

TEST_F(AgentE2eTest, AnExpiredClientCertificateIsRenewedAndTheAgentCarriesOn) {
  auto t = NewAgentTerminal("POS-0004");
  ASSERT_FALSE(HasFailure());
  // The same key, a certificate that expired 5 s ago (inside the server's renewal grace).
  auto key = PrivateKey::FromPem(fw::testing::ReadFile(t->Key()));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  auto csr = server::MakeCsrPem(*key, "POS-0004");
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  auto issuer = server::ConnectIssuer(server_->dir() + "/issuer.sock");
  ASSERT_TRUE(issuer.ok()) << issuer.status().ToString();
  auto expired = (*issuer)->IssueDeviceCert(*csr, "POS-0004", server_->ca_made_s() - 270, NowS() - 5);
  ASSERT_TRUE(expired.ok()) << expired.status().ToString();
  fw::testing::WriteFile(t->Cert(), expired->pem + fw::testing::ReadFile(server_->chain_pem()));
  auto before = RunCommand({"openssl", "x509", "-in", t->Cert(), "-noout", "-enddate"});

  auto r = RunOnce(*t);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  auto after = RunCommand({"openssl", "x509", "-in", t->Cert(), "-noout", "-checkend", "86400"});
  EXPECT_EQ(after.exit_code, 0) << "the certificate was not renewed: " << before.out << " " << after.out << r.out;
  Json device = server_->DeviceShow("POS-0004");
  EXPECT_EQ(device["certificates"].size(), 2u) << device.dump();  // the enrolment's and the renewal's
  EXPECT_TRUE(device["manifest"].is_object()) << "no check-in reached the server: " << device.dump();

  // And it carries on: an install runs to success with the renewed certificate.
  const int64_t action = InstallAction(*t, "1.1.0");
  EXPECT_EQ(RunUntilClosed(*t, action, {"--health-cmd", "true"}), "succeeded") << log_;
}

// systemd: Type=notify readiness, watchdog pings while idle, STOPPING=1 and exit 0 on SIGTERM.
TEST_F(AgentE2eTest, UnderSystemdTheAgentNotifiesReadinessFeedsTheWatchdogAndStopsOnSigterm) {
  auto t = NewAgentTerminal("POS-0005");
  ASSERT_FALSE(HasFailure());
  const std::string path = tmp_ / "notify";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  auto next = [&]() {
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("(nothing within 20 s)");
  };
  Background agent(t->RunArgs(url_, server_->chain_pem(), {}), {{"NOTIFY_SOCKET", path}, {"WATCHDOG_USEC", "1000000"}},
                   tmp_.path());
  std::string got = next();
  while (got == "WATCHDOG=1") got = next();
  EXPECT_EQ(got.rfind("READY=1", 0), 0u) << got;
  int pings = 0;
  for (int i = 0; i < 3; ++i) pings += next() == "WATCHDOG=1";
  EXPECT_EQ(pings, 3) << "no watchdog pings while the agent sleeps";
  ASSERT_EQ(::kill(agent.pid(), SIGTERM), 0);
  for (got = next(); got == "WATCHDOG=1";) got = next();
  EXPECT_EQ(got, "STOPPING=1");
  auto done = agent.Wait();
  EXPECT_EQ(done.exit_code, 0) << done.err;
  ::close(fd);
}

}  // namespace
}  // namespace fw::agent_testing
