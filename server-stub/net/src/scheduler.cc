// The background scheduler of `fwserver run` (fw/server/scheduler.h).
#include "fw/server/scheduler.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "fw/server/audit.h"
#include "fw/server/ca_status.h"
#include "fw/server/rollout.h"

namespace fw::server {
namespace {

using nlohmann::json;

enum Task { kDeliver = 0, kExport = 1, kCertScan = 2, kPurge = 3, kRollouts = 4, kLease = 5, kDashPurge = 6 };

constexpr char kLeaseName[] = "scheduler";
constexpr char kHeadAlertedSetting[] = "audit_head_alerted";  // the seq of the last head raised as an alert

// "<hostname>:<pid>:<8 random hex>": unique per Scheduler, readable in the leases table.
std::string DefaultHolder() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  auto random = RandomBytes(4);
  const std::string suffix = random.ok() ? HexEncode(*random) : std::to_string(SystemClock().MonotonicMs() % 100000000);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

// Whether `next_ms` has come; if so moves it one interval past now.
bool Due(int64_t& next_ms, int64_t now_ms, int64_t interval_s) {
  if (next_ms != INT64_MIN && now_ms < next_ms) return false;
  next_ms = now_ms + interval_s * 1000;
  return true;
}

}  // namespace

Scheduler::Scheduler(SchedulerConfig config, std::unique_ptr<Store> store, std::unique_ptr<Store> delivery_store,
                     Clock& clock)
    : config_(std::move(config)),
      store_(std::move(store)),
      deliverer_(config_.alerts, std::move(delivery_store), clock),
      clock_(clock),
      repository_(config_.repository_dir),
      holder_(config_.lease_holder.empty() ? DefaultHolder() : config_.lease_holder) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Note(const char* task, const Status& status, Status& first) {
  if (status.ok()) return;
  if (first.ok()) first = status;
  const int index = std::string_view(task) == "deliveries"        ? kDeliver
                    : std::string_view(task) == "audit head"      ? kExport
                    : std::string_view(task) == "cert scan"       ? kCertScan
                    : std::string_view(task) == "rollouts"        ? kRollouts
                    : std::string_view(task) == "lease"           ? kLease
                    : std::string_view(task) == "dashboard purge" ? kDashPurge
                                                                  : kPurge;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.errors++;
  stats_.last_error = std::string(task) + ": " + status.message();
  if (last_logged_[index] != status.message()) {
    last_logged_[index] = status.message();
    std::cerr << "fwserver: scheduler: " << task << ": " << status.message() << std::endl;
  }
}

bool Scheduler::HoldLease(bool force, Status& first) {
  const int64_t now_ms = clock_.MonotonicMs();
  if (!force && holding_ && now_ms - renewed_ms_ < config_.lease_ttl_seconds * 1000 / 3) return true;
  auto held = store_->TryLease(kLeaseName, holder_, clock_.WallSeconds(), config_.lease_ttl_seconds);
  Note("lease", held.status(), first);
  const bool was = holding_;
  holding_ = held.ok() && *held;
  if (holding_) renewed_ms_ = now_ms;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.leader = holding_;
  if (holding_ && !was) stats_.leader_changes++;
  return holding_;
}

Status Scheduler::RunOnce() {
  Status first;
  const bool leader = HoldLease(/*force=*/true, first);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.passes++;
    if (!leader) stats_.passes_skipped++;
  }
  if (!leader) return first;
  const int64_t now_ms = clock_.MonotonicMs();
  const int64_t now_s = clock_.WallSeconds();
  // Each task first checks that the lease is still ours (renewed when a third of the ttl went by).
  Note("deliveries", DeliverAlerts(), first);
  if (!HoldLease(false, first)) return first;
  Note("rollouts", TickRollouts(now_s), first);
  if (!HoldLease(false, first)) return first;
  if (Due(next_export_ms_, now_ms, config_.export_interval_seconds)) Note("audit head", ExportHead(now_s), first);
  if (!HoldLease(false, first)) return first;
  if (Due(next_cert_scan_ms_, now_ms, config_.cert_scan_interval_seconds)) {
    Note("cert scan", ScanCertificates(now_s), first);
  }
  if (!HoldLease(false, first)) return first;
  if (config_.retention_seconds > 0 && Due(next_purge_ms_, now_ms, config_.purge_interval_seconds)) {
    Note("journal purge", PurgeJournals(now_s), first);
  }
  if (!HoldLease(false, first)) return first;
  if (Due(next_dash_purge_ms_, now_ms, config_.dash_purge_interval_seconds)) {
    Note("dashboard purge", PurgeDashboard(now_s), first);
  }
  return first;
}

Status Scheduler::DeliverAlerts() {
  FW_ASSIGN_OR_RETURN(int64_t attempts, deliverer_.RunOnce());
  std::lock_guard<std::mutex> lock(mu_);
  stats_.delivery_attempts += attempts;
  return Status::Ok();
}

Status Scheduler::ExportHead(int64_t now_s) {
  FW_ASSIGN_OR_RETURN(bool written, ExportAuditHead(*store_, config_.heads_file, now_s));
  if (!written) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.heads_exported++;
  }
  if (SubscribersOf(config_.alerts, "audit_head").empty()) return Status::Ok();
  return store_->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(auto head, store_->AuditHead());
    if (!head) return Status::Ok();
    // Instances on other machines export to heads files of their own: the alert goes out once per head.
    FW_ASSIGN_OR_RETURN(auto alerted, store_->GetSetting(kHeadAlertedSetting));
    int64_t alerted_seq = -1;
    if (alerted) std::from_chars(alerted->data(), alerted->data() + alerted->size(), alerted_seq);
    if (alerted_seq >= head->seq) return Status::Ok();
    FW_RETURN_IF_ERROR(store_->SetSetting(kHeadAlertedSetting, std::to_string(head->seq)));
    const json details = {{"seq", head->seq}, {"hash", head->hash_hex}, {"heads_file", config_.heads_file}};
    return RaiseAlert(*store_, config_.alerts, now_s, "audit_head", "audit", details.dump()).status();
  });
}

Status Scheduler::ScanCertificates(int64_t now_s) {
  FW_ASSIGN_OR_RETURN(CaStatus status, ReadCaStatus(config_.data_dir, *store_, now_s, config_.cert_warn_seconds));
  struct Expiring {
    std::string serial_hex, object;
    json details;
  };
  std::vector<Expiring> expiring;
  for (const CaCertStatus& ca : status.ca) {
    if (ca.not_after_s >= now_s + config_.cert_warn_seconds) continue;
    expiring.push_back({ca.serial_hex,
                        "ca:" + ca.name,
                        {{"certificate", ca.name},
                         {"serial", ca.serial_hex},
                         {"subject", ca.subject},
                         {"not_after", ca.not_after_s},
                         {"days_left", (ca.not_after_s - now_s) / 86400}}});
  }
  for (const CertRecord& cert : status.expiring) {
    expiring.push_back({cert.cert_serial_hex,
                        "device:" + cert.device_serial,
                        {{"certificate", "device"},
                         {"serial", cert.cert_serial_hex},
                         {"device", cert.device_serial},
                         {"not_after", cert.not_after_s},
                         {"days_left", (cert.not_after_s - now_s) / 86400}}});
  }
  for (const Expiring& e : expiring) {
    const std::string key = "cert_expiring:" + e.serial_hex;
    bool raised = false;
    const Status s = store_->Atomically([&]() -> Status {
      FW_ASSIGN_OR_RETURN(auto seen, store_->GetSetting(key));
      if (seen) return Status::Ok();
      FW_RETURN_IF_ERROR(
          RaiseAlert(*store_, config_.alerts, now_s, "cert_expiring", e.object, e.details.dump()).status());
      raised = true;
      return store_->SetSetting(key, std::to_string(now_s));
    });
    if (!s.ok()) return s;
    if (raised) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.cert_alerts++;
    }
  }
  return Status::Ok();
}

Status Scheduler::PurgeJournals(int64_t now_s) {
  const int64_t before = now_s - config_.retention_seconds;
  int64_t deleted = 0;
  const Status s = store_->Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(deleted, store_->PurgeSegmentsReceivedBefore(before));
    if (deleted == 0) return Status::Ok();
    const json after = {{"deleted", deleted}, {"received_before", before}};
    return Record(*store_, now_s, "system", "journal.purge", "journal", "null", after.dump()).status();
  });
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.segments_purged += deleted;
  return Status::Ok();
}

Status Scheduler::PurgeDashboard(int64_t now_s) {
  // Two independent deletes: a failure of one does not keep the other from running next time.
  auto buckets = store_->PurgeCheckinCountsBefore(now_s - config_.checkin_retention_seconds);
  auto sessions = store_->PurgeUiSessions(now_s);
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets.ok()) stats_.checkin_buckets_purged += *buckets;
  if (sessions.ok()) stats_.ui_sessions_purged += *sessions;
  if (!buckets.ok()) return buckets.status().WithContext("check-in counts");
  return sessions.status().WithContext("dashboard sessions");
}

Status Scheduler::TickRollouts(int64_t now_s) {
  rollout::Context ctx;
  ctx.alerts = &config_.alerts;
  ctx.repository = [this, now_s]() { return repository_.Get(now_s); };
  FW_ASSIGN_OR_RETURN(rollout::TickStats t, rollout::Tick(*store_, ctx, now_s));
  std::lock_guard<std::mutex> lock(mu_);
  stats_.rollout_assigned += t.assigned;
  stats_.rollout_timeouts += t.timed_out + t.no_response;
  return Status::Ok();
}

void Scheduler::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      (void)RunOnce();  // errors are logged and counted by Note
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds(config_.tick_ms), [this] { return stop_; });
    }
  });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (holding_) {  // another instance takes over at its next pass, not after the ttl
    const Status released = store_->ReleaseLease(kLeaseName, holder_);
    if (!released.ok()) std::cerr << "fwserver: scheduler: releasing the lease: " << released.message() << std::endl;
    holding_ = false;
    std::lock_guard<std::mutex> lock(mu_);
    stats_.leader = false;
  }
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace fw::server
