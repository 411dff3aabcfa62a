// Test support for the agent's power-cut sweep and concurrency test: one simulated terminal
// (install::Rig from tests/install/sweep_rig.h: SimFlash with boot control and both banks, its
// bootloader, a data area with a real journal, the vendor's fwsign repository) driven by the real
// fw::agent::Agent against the real device API in-process (InProcessFleet / InProcessTransport).
//
// Contract:
//   - SimCommands: IsIdle() true; Reboot() resets the simulated terminal (Rig::Reset: power on, a
//     fresh bootloader boots) and returns OK; Health() returns `health` (OK = healthy). `on_reboot`
//     may cut instead (returns an error: the reset did not happen in the process's lifetime).
//   - AgentDriver::Run drives RunOnce cycles in simulated time (FakeClock advanced to each cycle's
//     next_wake_ms) until `done()` says so, the cut flag is set, or max_cycles.
//   - ServerAction / BootSummary read the server store and boot control without side effects.
// Thread safety: one test thread (the concurrency test adds one technician thread that only uses
// its own Terminal and waits for the agent to be parked inside a bank write).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fw/agent/agent.h"
#include "inprocess_fleet.h"
#include "sweep_rig.h"

namespace fw::agent::testing {

class SimCommands final : public Commands {
 public:
  explicit SimCommands(install::Rig& rig) : rig_(rig) {}
  Result<bool> IsIdle() override { return true; }
  Status Reboot() override {
    ++reboots;
    if (on_reboot) {
      if (Status s = on_reboot(); !s.ok()) return s;
    }
    last_boot = rig_.Reset();
    return Status::Ok();
  }
  Status Health() override {
    ++health_checks;
    return health;
  }

  Status health = Status::Ok();
  std::function<Status()> on_reboot;
  boot::BootReport last_boot;
  int reboots = 0;
  int health_checks = 0;

 private:
  install::Rig& rig_;
};

// The agent's settings for simulated time: short backoffs, the vendor's tries.
inline AgentConfig SweepAgentConfig(const std::string& data_dir) {
  AgentConfig c;
  c.state_dir = data_dir + "/agent";
  c.retry_initial_s = 2;
  c.retry_max_s = 30;
  c.default_poll_s = 60;
  c.idle_poll_s = 5;
  c.max_transient_attempts = 20;
  c.build_time_s = 1'600'000'000;
  return c;
}

// The server's view of one action (nullopt: none).
inline std::optional<server::Action> ServerAction(InProcessFleet& fleet, int64_t id) {
  auto a = fleet.store().GetAction(id);
  if (!a.ok() || !a->has_value()) return std::nullopt;
  return **a;
}

// The event states the server stored for an action, in order.
inline std::vector<std::string> ServerEvents(InProcessFleet& fleet, int64_t id) {
  std::vector<std::string> out;
  auto events = fleet.store().ListEvents(id);
  if (events.ok()) {
    for (const auto& e : *events) out.push_back(e.state);
  }
  return out;
}

// "1.1.0 confirmed in B (booted B), A 1.0.0 unbootable"-style text of boot control, for messages.
inline std::string BootSummary(boot::testing::SimDevice& d) {
  boot::BootState bc;
  if (!install::DecodeNewest(d, &bc)) return "no valid boot state";
  std::string s;
  for (uint8_t i = 0; i < boot::kSlotCount; ++i) {
    s += std::string(i ? ", " : "") + boot::SlotLetter(i) + " " + install::VersionOf(bc.slots[i]) + " " +
         boot::SlotStateName(bc.slots[i].state);
  }
  return s + " (active " + boot::SlotLetter(bc.active_slot) + ")";
}

// True when boot control shows `version` confirmed, active and booted: what a `confirmed` event claims.
inline bool ConfirmedOnTerminal(boot::testing::SimDevice& d, const std::string& version) {
  boot::BootState bc;
  if (!install::DecodeNewest(d, &bc)) return false;
  const auto& slot = bc.slots[bc.active_slot];
  return slot.state == boot::SlotState::kConfirmed && install::VersionOf(slot) == version &&
         bc.booted_slot == bc.active_slot;
}

struct DriveResult {
  int cycles = 0;
  Status error = Status::Ok();  // a RunOnce / Recover error (local, serious)
  std::vector<std::string> notes;
};

// Recover(), then RunOnce cycles in simulated time until done() or *stop, at most max_cycles.
inline DriveResult Drive(Agent& agent, FakeClock& clock, const std::function<bool()>& done, const bool* stop,
                         int max_cycles) {
  DriveResult r;
  if (Status s = agent.Recover(); !s.ok()) {
    r.error = s;
    return r;
  }
  for (; r.cycles < max_cycles; ++r.cycles) {
    if ((stop && *stop) || done()) break;
    auto rep = agent.RunOnce();
    if (!rep.ok()) {
      r.error = rep.status();
      break;
    }
    for (auto& n : rep->notes) r.notes.push_back(std::move(n));
    if ((stop && *stop) || done()) break;
    clock.Advance(std::max<int64_t>(rep->next_wake_ms - clock.MonotonicMs(), 1000));
  }
  return r;
}

}  // namespace fw::agent::testing
