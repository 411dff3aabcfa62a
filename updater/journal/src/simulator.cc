#include "fw/journal/simulator.h"

#include <algorithm>
#include <cmath>

namespace fw::journal {

Simulator::Simulator(SimulatorOptions options)
    : options_(std::move(options)), rng_(options_.seed), sim_time_ms_(options_.start_time_ms) {}

RecordInput Simulator::Next() {
  RecordInput r;
  r.terminal_id = options_.terminal_id;
  r.currency = options_.currency;
  if (options_.start_time_ms > 0) {
    sim_time_ms_ += 5000 + static_cast<int64_t>(rng_() % 120000);
    r.time_ms = sim_time_ms_;
  } else {
    r.time_ms = (options_.clock ? *options_.clock : SystemClock()).WallMs();
  }
  ++emitted_;
  std::uniform_int_distribution<int> pct(0, 99);
  auto digits = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('0' + rng_() % 10);
    return s;
  };
  // Realistic issuer prefixes: Visa 4xxxxx, Mastercard 51-55, Amex 34/37 (15 digits).
  int scheme = pct(rng_);
  if (scheme < 55) {
    r.pan_masked = "4" + digits(5) + "******" + digits(4);
  } else if (scheme < 90) {
    r.pan_masked = "5" + std::to_string(1 + rng_() % 5) + digits(4) + "******" + digits(4);
  } else {
    r.pan_masked = std::string(rng_() % 2 ? "34" : "37") + digits(4) + "*****" + digits(4);
  }
  if (options_.batch_size > 0 && emitted_ % (options_.batch_size + 1) == 0) {
    r.kind = Kind::kSettlement;
    r.amount_minor = batch_total_;
    r.pan_masked = "000000******0000";
    r.auth_code = "";
    r.result = "approved";
    batch_total_ = 0;
    return r;
  }
  int k = pct(rng_);
  r.kind = k < 88 ? Kind::kSale : (k < 95 ? Kind::kRefund : Kind::kVoid);
  // Amounts: mostly small purchases, a long tail (log-uniform 0.50 .. 500.00).
  std::uniform_real_distribution<double> mag(std::log(50.0), std::log(50000.0));
  r.amount_minor = static_cast<int64_t>(std::exp(mag(rng_)));
  bool approved = pct(rng_) < 94;
  r.result = approved ? "approved" : "declined";
  if (approved) {
    static constexpr char kAlnum[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    for (int i = 0; i < 6; ++i) r.auth_code += kAlnum[rng_() % (sizeof kAlnum - 1)];
    batch_total_ += r.kind == Kind::kSale ? r.amount_minor : -std::min(batch_total_, r.amount_minor);
  }
  if (options_.entry_mode) {
    static const char* kModes[] = {"contactless", "contactless", "contactless", "chip", "chip", "swipe", "manual"};
    r.extensions["entry_mode"] = kModes[rng_() % 7];
  }
  return r;
}

Status Simulator::Run(Journal& journal, int64_t count, const std::function<void(const Record&)>& on_append) {
  Clock& clock = options_.clock ? *options_.clock : SystemClock();
  const int64_t start_ms = clock.MonotonicMs();
  for (int64_t i = 0; i < count; ++i) {
    if (options_.rate_per_second > 0) {
      const auto due_ms = start_ms + static_cast<int64_t>(static_cast<double>(i) * 1000.0 / options_.rate_per_second);
      clock.SleepMs(due_ms - clock.MonotonicMs());
    }
    FW_ASSIGN_OR_RETURN(Record r, journal.Append(Next()).WithContext("simulator record " + std::to_string(i + 1)));
    if (on_append) on_append(r);
  }
  return Status::Ok();
}

}  // namespace fw::journal
