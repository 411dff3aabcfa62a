// One simulated terminal driven by the real agent (sim_terminal.h).
#include "sim_terminal.h"

#include <filesystem>
#include <map>

#include "fw/agent/agent.h"
#include "fw/agent/https_transport.h"
#include "fw/agent/identity.h"
#include "fw/install/installer.h"
#include "fw/journal/journal.h"
#include "fw/journal/simulator.h"
#include "fw/sqlite.h"
#include "testing.h"

namespace fw::fleetsim {
namespace {

namespace fs = std::filesystem;
namespace ft = fw::testing;

constexpr int64_t kPowerOnDelayMs = 30'000;  // a cut terminal is back this long after the cut
constexpr uint64_t kMaxCutFlashOp = 28;      // an update takes about this many flash operations
constexpr int64_t kMaxCutCall = 12;

// The shared simulated clock as this terminal sees it: its RTC skew on wall time, and the time it spent
// sleeping inside the cycle (a lock wait) on both, so waits end without moving anybody else's time.
class TerminalClock final : public Clock {
 public:
  TerminalClock(const Clock& base, int64_t skew_ms) : base_(base), skew_ms_(skew_ms) {}
  int64_t WallMs() const override { return base_.WallMs() + skew_ms_ + slept_ms_.load(); }
  int64_t MonotonicMs() const override { return base_.MonotonicMs() + slept_ms_.load(); }
  void SleepMs(int64_t ms) override {
    if (ms > 0) slept_ms_ += ms;
  }
  int64_t slept_ms() const { return slept_ms_.load(); }

 private:
  const Clock& base_;
  int64_t skew_ms_;
  std::atomic<int64_t> slept_ms_{0};
};

std::string VersionText(const boot::SlotVersion& v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
}

install::Terminal MakeTerminal(boot::BootBackend& backend, boot::testing::SimDevice& dev, const std::string& data) {
  install::Terminal t;
  t.boot = &backend;
  t.boot_keys = &dev.keys();
  t.banks[0] = &dev.bank(0);
  t.banks[1] = &dev.bank(1);
  t.hardware_id = kHardwareId;
  t.data_dir = data;
  t.journal_path = data + "/journal.db";
  return t;
}

agent::AgentConfig SimAgentConfig(const std::string& data_dir) {
  agent::AgentConfig c;
  c.state_dir = data_dir + "/agent";
  c.retry_initial_s = 30;
  c.retry_max_s = 600;
  c.default_poll_s = 300;
  c.idle_poll_s = 30;
  c.max_transient_attempts = 20;
  c.build_time_s = 1'600'000'000;
  return c;
}

// The power cut of one cycle: the data area as it is at the instant, the network and the flash dead.
struct Cut {
  std::string data_dir, copy_dir;
  bool happened = false;
  void Now(boot::SimFlash& flash, bool flash_plan_cuts) {
    if (happened) return;
    happened = true;
    if (!flash_plan_cuts) {
      boot::FaultPlan plan;
      plan.cut_before_op = flash.ops() + 1;
      flash.SetFaults(plan);
    }
    std::error_code ec;
    fs::remove_all(copy_dir, ec);
    fs::copy(data_dir, copy_dir, fs::copy_options::recursive, ec);
  }
  // After the agent was dropped: the disk as it was at the cut.
  Status Restore() {
    std::error_code ec;
    fs::remove_all(data_dir, ec);
    fs::rename(copy_dir, data_dir, ec);
    if (ec) return IoError("restoring the data area after the cut: " + ec.message());
    return Status::Ok();
  }
};

// The terminal's environment for the agent: always idle; Reboot = a reset of the simulated terminal;
// Health per the terminal's faults; the lost record planted right after the reset into the trial.
class SimCommands final : public agent::Commands {
 public:
  SimCommands(SimTerminal& t, boot::testing::SimDevice& dev, const CycleEnv& env, const Cut& cut, CycleResult& result)
      : t_(t), dev_(dev), env_(env), cut_(cut), result_(result) {}

  Result<bool> IsIdle() override { return true; }

  Status Reboot() override {
    if (cut_.happened) return IoError("the terminal has no power");
    if (!dev_.flash().powered()) dev_.flash().PowerOn();
    const boot::BootReport r = dev_.Backend()->Boot();
    result_.rebooted = true;
    if (r.status == boot::BootStatus::kBooted && r.trial && t_.faults.lose_record) {
      const int img = ImageInBank(*env_.vendor, dev_, r.slot);
      if (img >= 0 && env_.fault_version == kVersions[img]) return LoseRecord();
    }
    return Status::Ok();
  }

  Status Health() override {
    if (cut_.happened) return IoError("the terminal has no power");
    if (t_.faults.health_fails) return Internal("the payment service does not start on the new firmware");
    return Status::Ok();
  }

 private:
  // The new firmware "loses" a record the update's snapshot holds (the middle acknowledged one).
  Status LoseRecord() {
    t_.faults.lose_record = false;
    const auto& acked = t_.acked();
    if (acked.empty()) return Status::Ok();
    const int64_t seq = acked[acked.size() / 2].seq;
    auto db = sql::Database::Open(t_.data_dir() + "/journal.db");
    if (!db.ok()) return Status::Ok();  // the reset happened; the fault did not (the scenario reports it)
    if (db->Exec("DELETE FROM records WHERE seq = " + std::to_string(seq)).ok()) t_.lost_seq = seq;
    return Status::Ok();
  }

  SimTerminal& t_;
  boot::testing::SimDevice& dev_;
  const CycleEnv& env_;
  const Cut& cut_;
  CycleResult& result_;
};

}  // namespace

SimTerminal::SimTerminal(int index, std::string serial, std::string dir, uint64_t seed)
    : index_(index), serial_(std::move(serial)), dir_(std::move(dir)), seed_(seed) {
  link.rng.seed(seed);
}

Status SimTerminal::Provision(const SimVendor& vendor, int records, int64_t wall_ms) {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  fs::create_directories(dir_ + "/identity", ec);
  if (ec) return IoError("creating " + dir_ + ": " + ec.message());
  fs::copy(vendor.data_template, data_dir(), fs::copy_options::recursive, ec);
  if (ec) return IoError("copying the factory data area to " + data_dir() + ": " + ec.message());
  ft::WriteBytes(dir_ + "/flash.bin", vendor.factory_flash);
  CycleEnv env;
  FakeClock clock(wall_ms);
  env.clock = &clock;
  return AppendPayments(env, records);
}

Status SimTerminal::AppendPayments(const CycleEnv& env, int n) {
  journal::SimulatorOptions so;
  so.terminal_id = serial_;
  so.seed = static_cast<uint32_t>(seed_ * 7919 + static_cast<uint64_t>(acked_.size()));
  so.start_time_ms = env.clock->WallMs();
  journal::Simulator sim(so);
  std::vector<journal::RecordInput> in;
  for (int i = 0; i < n; ++i) in.push_back(sim.Next());
  FW_ASSIGN_OR_RETURN(auto j, journal::Journal::Open(data_dir() + "/journal.db"));
  FW_ASSIGN_OR_RETURN(auto appended, j.AppendBatch(in));
  for (const auto& r : appended) acked_.push_back({r.seq, r.hash});
  return Status::Ok();
}

Status SimTerminal::Enrol(const std::string& server_url, const std::string& ca_file, const std::string& token) {
  agent::EnrolRequest r;
  r.server_url = server_url;
  r.serial = serial_;
  r.token = token;
  r.cert_file = cert_file();
  r.key_file = key_file();
  r.http.ca_file = ca_file;
  r.http.connect_timeout_seconds = 10;
  r.http.deadline_seconds = 60;
  return agent::Enrol(r).status().WithContext("enrolling " + serial_);
}

// size: one wake of a terminal is one sequence (payments, the devices, the agent's life, the cut's aftermath)
CycleResult SimTerminal::RunCycle(const CycleEnv& env) {
  CycleResult res;
  ++cycles;
  const int64_t now_ms = env.clock->MonotonicMs();
  std::uniform_real_distribution<double> unit(0, 1);
  if (unit(link.rng) < env.append_probability) {
    if (Status s = AppendPayments(env, 1 + static_cast<int>(link.rng() % 3)); !s.ok()) {
      res.error = s.WithContext("the payment application's append");
    }
  }
  boot::testing::SimDevice dev(env.vendor->sim_config);
  dev.flash().bytes() = ft::ReadBytes(dir_ + "/flash.bin");
  auto backend = dev.Backend();
  install::Terminal terminal = MakeTerminal(*backend, dev, data_dir());
  TerminalClock clock(*env.clock, faults.skew_ms);
  Cut cut{data_dir(), dir_ + "/at-cut"};

  LinkFaults lf;
  lf.drop_rate = faults.drop_rate;
  lf.duplicate_rate = faults.duplicate_rate;
  lf.replay_older_rate = faults.replay_older_rate;
  lf.hold_rate = faults.hold_rate;
  uint64_t cut_op = 0;
  if (faults.power_cuts > 0) {
    if (link.rng() % 4 == 0) {
      lf.cut_at_call = 1 + static_cast<int64_t>(link.rng() % kMaxCutCall);
      lf.on_cut = [&] { cut.Now(dev.flash(), false); };
    } else {
      cut_op = 1 + link.rng() % kMaxCutFlashOp;
    }
  }
  agent::HttpsTransportConfig hc;
  hc.server_url = env.server_url;
  hc.cert_file = cert_file();
  hc.key_file = key_file();
  hc.ca_file = env.ca_file;
  hc.stream.max_attempts = 2;
  hc.stream.backoff_initial_ms = 10;
  hc.stream.backoff_max_ms = 100;
  hc.stream.overall_deadline_ms = 120'000;
  hc.stream.http.connect_timeout_seconds = 10;
  hc.stream.http.deadline_seconds = 60;
  auto https = agent::OpenHttpsTransport(hc);
  if (!https.ok()) {
    res.error = https.status();
    next_wake_ms = now_ms + kPowerOnDelayMs;
    return res;
  }
  SimTransport transport(std::move(*https), link, lf, *env.telemetry);
  if (cut_op > 0) {
    boot::FaultPlan plan;
    plan.cut_before_op = cut_op;
    dev.flash().SetFaults(plan);
    dev.flash().SetObserver([&](boot::OpKind, uint64_t, uint64_t) {
      if (dev.flash().ops() == cut_op) {
        cut.Now(dev.flash(), true);
        transport.Kill();
      }
    });
  }
  SimCommands commands(*this, dev, env, cut, res);
  int64_t wake = now_ms + 60'000;
  {
    auto agent = agent::Agent::Open(terminal, transport, commands, clock, SimAgentConfig(data_dir()));
    if (!agent.ok()) {
      if (!cut.happened) res.error = agent.status().WithContext("Agent::Open");
    } else if (Status s = (*agent)->Recover(); !s.ok()) {
      if (!cut.happened) res.error = s.WithContext("Agent::Recover");
    } else {
      auto report = (*agent)->RunOnce();
      if (!report.ok()) {
        if (!cut.happened) res.error = report.status().WithContext("Agent::RunOnce");
      } else {
        wake = report->next_wake_ms - clock.slept_ms();
      }
    }
  }
  dev.flash().SetObserver(nullptr);
  if (cut.happened) {
    res.cut = true;
    ++cuts;
    --faults.power_cuts;
    if (Status s = cut.Restore(); !s.ok()) res.error = s;
    dev.flash().PowerOn();
    dev.Backend()->Boot();  // power returns: the bootloader boots
    wake = now_ms + kPowerOnDelayMs;
  }
  ft::WriteBytes(dir_ + "/flash.bin", dev.flash().bytes());
  if (!res.error.ok()) {
    last_error = res.error.ToString();
    wake = now_ms + 60'000;
  }
  next_wake_ms = std::max(wake, now_ms + 1000);
  return res;
}

BootCheck SimTerminal::Boot(const SimVendor& vendor) const {
  BootCheck c;
  boot::testing::SimDevice dev(vendor.sim_config);
  dev.flash().bytes() = ft::ReadBytes(dir_ + "/flash.bin");
  boot::BootState bc;
  if (dev.PeekState(&bc)) {
    const uint8_t booted = bc.booted_slot < boot::kSlotCount ? bc.booted_slot : bc.active_slot;
    const boot::BootSlot& other = bc.slots[1 - booted];
    c.other_version = VersionText(other.version);
    c.other_state = boot::SlotStateName(other.state);
  }
  const boot::BootReport r = dev.Backend()->Boot();
  if (r.status != boot::BootStatus::kBooted) {
    c.detail = "no bootable image (boot status " + std::to_string(static_cast<int>(r.status)) + ")";
    return c;
  }
  const int img = ImageInBank(vendor, dev, r.slot);
  if (img < 0 || static_cast<uint32_t>(img) != r.header.security_counter) {
    c.detail = std::string("bank ") + boot::SlotLetter(r.slot) + " boots an image that is not the vendor's";
    return c;
  }
  c.bricked = false;
  c.version = kVersions[img];
  c.trial = r.trial;
  return c;
}

Result<int64_t> SimTerminal::LostRecords() const {
  journal::OpenOptions o;
  o.read_only = true;
  FW_ASSIGN_OR_RETURN(auto j, journal::Journal::Open(data_dir() + "/journal.db", o));
  FW_ASSIGN_OR_RETURN(auto report, j.Verify());
  std::map<int64_t, Digest> present;
  FW_RETURN_IF_ERROR(j.ForEach(0, [&](const journal::Record& r) {
    present[r.seq] = r.hash;
    return Status::Ok();
  }));
  int64_t lost = report.problem_count + (report.integrity_ok ? 0 : 1);
  for (const RecordId& a : acked_) {
    auto it = present.find(a.seq);
    if (it == present.end() || it->second != a.hash) ++lost;
  }
  return lost;
}

Result<int64_t> SimTerminal::OutboxSize() const {
  const std::string path = data_dir() + "/agent/agent.db";
  if (!fs::exists(path)) return 0;
  FW_ASSIGN_OR_RETURN(auto db, sql::Database::Open(path, sql::OpenOptions().ReadOnly()));
  return db.QueryInt("SELECT COUNT(*) FROM outbox");
}

}  // namespace fw::fleetsim
