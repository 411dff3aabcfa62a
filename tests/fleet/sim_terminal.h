// fleet-sim: one simulated payment terminal, driven by the REAL fw::agent::Agent.
//
// A terminal is files under its directory, nothing open between cycles (bounded fds and memory at
// 10,000 terminals):
//   DIR/flash.bin   the SimFlash bytes: boot control and both banks (boot::testing::SimDevice geometry)
//   DIR/data/       its data area: the journal (fw/journal), flash history, snapshots, tuf/, agent/agent.db
//   DIR/identity/   its P-256 key and the certificate the fleet server issued at /v1/enrol
// RunCycle() is one wake of the terminal: the payment application appends records (remembered as
// acknowledged), then an Agent is opened on a SimDevice loaded from flash.bin, over OpenHttpsTransport
// (mutual TLS with its own certificate) wrapped in SimTransport (faults), with SimCommands (Reboot
// resets the simulated terminal: a fresh bootloader boots) and a TerminalClock (the shared simulated
// clock plus this terminal's skew); Recover() then RunOnce(); the agent is closed and the flash saved.
//
// Faults (TerminalFaults, chosen by the scenario's seeded policy):
//   - power cut: at a random flash operation (the SimFlash's FaultPlan) or transport call of a cycle; at
//     that instant the data area is copied (what is on disk survives), the network dies, the agent runs
//     into dead flash and network and is dropped; then the data area is put back as it was at the cut,
//     power returns and the bootloader boots — the next cycle's agent recovers as after power-on;
//   - health: Commands::Health fails (the trial is reverted by install::Confirm);
//   - lose_record: after the reset into the new firmware, before the confirm, one record the update's
//     snapshot holds is deleted from the journal (the confirm's journal check must catch it);
//   - network drops / replays (SimTransport), clock skew (TerminalClock), offline windows (the loop).
// Checks (never from reports): BootCheck() boots a copy of the flash with a fresh bootloader;
// LostRecords() compares the journal with every acknowledged record and verifies the chain.
// Thread safety: one worker thread at a time per terminal.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fw/clock.h"
#include "sim_transport.h"
#include "sim_vendor.h"

namespace fw::fleetsim {

struct TerminalFaults {
  bool health_fails = false;
  bool lose_record = false;  // once, on the trial of `CycleEnv::fault_version`
  int power_cuts = 0;        // cuts still to happen
  double drop_rate = 0;
  double duplicate_rate = 0;
  double replay_older_rate = 0;
  double hold_rate = 0;                                 // reorder: progress events delivered after the next one
  int64_t skew_ms = 0;                                  // the terminal's RTC minus true time
  int64_t offline_from_ms = -1, offline_until_ms = -1;  // shared monotonic time; -1: never offline
};

// What every cycle shares (read-only during a batch).
struct CycleEnv {
  Clock* clock = nullptr;  // the shared simulated clock (the server's)
  std::string server_url;  // https://127.0.0.1:PORT
  std::string ca_file;     // the fleet CA chain
  const SimVendor* vendor = nullptr;
  Telemetry* telemetry = nullptr;
  std::string fault_version = "1.1.0";  // the trial that health / lose_record act on
  double append_probability = 0.3;      // the payment application appends 1-3 records at a wake
};

struct CycleResult {
  bool cut = false;             // the power went during this cycle
  bool rebooted = false;        // the agent reset the terminal
  Status error = Status::Ok();  // a local error of the agent (Open/Recover/RunOnce)
};

struct BootCheck {
  bool bricked = true;  // no verified vendor image boots
  std::string version;  // what boots
  bool trial = false;
  std::string other_version;  // the other slot's version in boot control ("" if none)
  std::string other_state;    // its state name
  std::string detail;
};

class SimTerminal {
 public:
  SimTerminal(int index, std::string serial, std::string dir, uint64_t seed);

  int index() const { return index_; }
  const std::string& serial() const { return serial_; }
  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  std::string cert_file() const { return dir_ + "/identity/cert.pem"; }
  std::string key_file() const { return dir_ + "/identity/key.pem"; }

  // Factory state + `records` payments of its own.
  Status Provision(const SimVendor& vendor, int records, int64_t wall_ms);
  // POST /v1/enrol with a fresh P-256 key (fw::agent::Enrol) over TLS.
  Status Enrol(const std::string& server_url, const std::string& ca_file, const std::string& token);
  CycleResult RunCycle(const CycleEnv& env);

  BootCheck Boot(const SimVendor& vendor) const;
  // Acknowledged records missing or changed, plus chain problems (0 = every record kept).
  Result<int64_t> LostRecords() const;
  // Events still in the agent's outbox.
  Result<int64_t> OutboxSize() const;
  const std::vector<RecordId>& acked() const { return acked_; }

  int64_t next_wake_ms = 0;  // shared monotonic time of the next cycle
  TerminalFaults faults;
  LinkState link;
  // What happened to it (for the report).
  int64_t cycles = 0;
  int64_t cuts = 0;
  int64_t lost_seq = 0;  // the record lose_record deleted (0: none)
  std::string last_error;

 private:
  Status AppendPayments(const CycleEnv& env, int n);
  int64_t index_;
  std::string serial_;
  std::string dir_;
  uint64_t seed_;
  std::vector<RecordId> acked_;
};

}  // namespace fw::fleetsim
