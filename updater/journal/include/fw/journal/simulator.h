// The terminal simulator: a stand-in for the payment application that appends
// realistic card transactions (masked PANs of real schemes, amounts, auth codes,
// approvals and declines, a settlement closing each batch) at a given rate.
//
// Thread safety: one Simulator per thread; it drives one Journal.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fw/clock.h"
#include "fw/journal/journal.h"
#include "fw/journal/record.h"

namespace fw::journal {

struct SimulatorOptions {
  std::string terminal_id = "TERM-0001";
  std::string currency = "EUR";
  uint32_t seed = 1;
  double rate_per_second = 0;  // 0: as fast as durability allows
  int batch_size = 50;         // a settlement record after this many transactions
  int64_t start_time_ms = 0;   // 0: the wall clock; else simulated time advancing per record
  bool entry_mode = true;      // set the v2 "entry_mode" extension
  Clock* clock = nullptr;      // wall time of records, pacing; null: SystemClock()
};

class Simulator {
 public:
  explicit Simulator(SimulatorOptions options);

  // The next transaction (does not append).
  RecordInput Next();
  // Appends `count` records one durable transaction each, pacing to the rate.
  // `on_append` (optional) sees every record that Append() returned.
  Status Run(Journal& journal, int64_t count, const std::function<void(const Record&)>& on_append = {});

 private:
  SimulatorOptions options_;
  std::mt19937_64 rng_;
  int64_t emitted_ = 0;
  int64_t batch_total_ = 0;
  int64_t sim_time_ms_ = 0;
};

}  // namespace fw::journal
