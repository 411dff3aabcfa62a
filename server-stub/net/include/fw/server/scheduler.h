// fwserver's background scheduler (server-stub/net, lib fw_server_run; docs/fleet-server.md,
// "The scheduler"): the periodic work of `fwserver run` besides answering requests.
//
// Contract:
//  - Several fwserver instances may share one database (issue 19): a pass runs its tasks only while
//    this scheduler holds the store lease "scheduler" (Store::TryLease(name, holder, WallSeconds,
//    lease_ttl_seconds)), taken or renewed at the start of every pass and renewed again before a task
//    once a third of the ttl went by on the monotonic clock since the last renewal; a pass that does
//    not hold it (another instance does, or the store failed: that error is noted like a task's) does
//    nothing else and counts stats().passes_skipped; stats().leader says whether the last pass held
//    it. The holder is config.lease_holder, or "<hostname>:<pid>:<8 random hex>" when empty (one
//    per Scheduler). Stop() releases the lease when this scheduler held it, so another instance takes
//    over at its next pass instead of after the ttl. The lease is advisory: every task is also correct
//    when two instances run it at once (each writes in store transactions that re-read what they
//    decide on; a webhook may then be delivered twice, and receivers see at-least-once anyway).
//  - RunOnce() is one pass on the caller's thread, in this order:
//      every pass                    Deliverer::RunOnce (due webhook deliveries, fw/server/alerts.h)
//      every pass                    rollout::Tick (fw/server/rollout.h: timeouts, retries, late
//                                    joiners, ramped assignment, group completion of every running
//                                    rollout) with a RepositoryCache over repository_dir, read only
//                                    when a running rollout needs the signed targets
//      every export_interval         ExportAuditHead(heads_file); when it wrote a line and a webhook
//                                    subscribes to audit_head: RaiseAlert(audit_head, "audit",
//                                    {"seq","hash","heads_file"}) once per head across instances
//                                    (setting "audit_head_alerted" = the last alerted seq, written in
//                                    the alert's transaction: another machine's instance, taking the
//                                    lease, catches its own heads file up without alerting again)
//      every cert_scan_interval      ReadCaStatus(data_dir, warn): each CA or device certificate
//                                    expiring within the window raises cert_expiring ONCE, remembered
//                                    by the setting "cert_expiring:<certificate serial hex>" written
//                                    in the same transaction as the alert
//      every purge_interval          when retention_seconds > 0: PurgeSegmentsReceivedBefore(now -
//                                    retention) and, when it deleted anything, an audit row (actor
//                                    system, action journal.purge, object "journal", after
//                                    {"deleted","received_before"}) in the same transaction
//      every dash_purge_interval     the dashboard's rows (issue 20): PurgeCheckinCountsBefore(now -
//                                    checkin_retention) and PurgeUiSessions(now) (expired sessions);
//                                    not audited (counters and sessions, no operator's record)
//    Intervals are measured on clock.MonotonicMs(); the first pass that holds the lease does every
//    task (a pass without the lease does not move the intervals). Times written
//    (alerts, audit, heads file) are clock.WallSeconds().
//  - A task that fails is logged to stderr (once per distinct message and task), counted in
//    stats().errors, and retried at its next due time; it never stops the other tasks.
//  - Start() runs RunOnce on a thread of its own every tick_ms of real time (a condition variable
//    wait, so Stop() wakes it at once); Stop() joins it (idempotent; the destructor calls it).
// Ownership: the scheduler owns both store connections (`store` for its own work, `delivery_store`
// for the Deliverer); the clock must outlive it.
// Thread safety: Start/Stop/RunOnce from one controlling thread (RunOnce not while started);
// stats() and holder() from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fw/clock.h"
#include "fw/server/alerts.h"
#include "fw/server/repository_targets.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace fw::server {

struct SchedulerConfig {
  std::string data_dir;        // DIR: the CA files (ReadCaStatus)
  std::string heads_file;      // audit.heads_file
  std::string repository_dir;  // the signed repository (rollout assignments plan against it)
  int64_t export_interval_seconds = 300;
  int64_t cert_scan_interval_seconds = 3600;
  int64_t purge_interval_seconds = 86400;
  int64_t cert_warn_seconds = 30 * 86400;
  int64_t retention_seconds = 0;  // 0: journal segments are kept forever
  int64_t dash_purge_interval_seconds = 3600;
  int64_t checkin_retention_seconds = 35 * 86400;  // check-in buckets older than this are deleted
  AlertPolicy alerts;
  int64_t tick_ms = 1000;          // real time between passes of the thread
  std::string lease_holder;        // empty: "<hostname>:<pid>:<8 random hex>"
  int64_t lease_ttl_seconds = 15;  // wall seconds; renewed every pass (tick_ms must be well below it)
};

struct SchedulerStats {
  int64_t passes = 0;          // every pass, with or without the lease
  int64_t passes_skipped = 0;  // passes that did not hold the lease (did nothing)
  bool leader = false;         // the last pass held the lease
  int64_t leader_changes = 0;  // times this scheduler took the lease (after not holding it)
  int64_t delivery_attempts = 0;
  int64_t heads_exported = 0;  // lines written to the heads file
  int64_t cert_alerts = 0;     // cert_expiring alerts raised
  int64_t segments_purged = 0;
  int64_t checkin_buckets_purged = 0;
  int64_t ui_sessions_purged = 0;
  int64_t rollout_assigned = 0;  // actions assigned by rollout ticks
  int64_t rollout_timeouts = 0;  // rollout actions closed timed_out or no_response by ticks
  int64_t errors = 0;
  std::string last_error;
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, std::unique_ptr<Store> store, std::unique_ptr<Store> delivery_store, Clock& clock);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // One pass (see above); returns the first task error (the other tasks still ran).
  Status RunOnce();
  void Start();
  void Stop();
  SchedulerStats stats() const;
  const std::string& holder() const { return holder_; }

 private:
  Status DeliverAlerts();
  Status ExportHead(int64_t now_s);
  Status ScanCertificates(int64_t now_s);
  Status PurgeJournals(int64_t now_s);
  Status PurgeDashboard(int64_t now_s);
  Status TickRollouts(int64_t now_s);
  // Takes or renews the lease (`force`: whatever the time since the last renewal); false when this
  // scheduler does not hold it after the call (a store error is noted as task "lease").
  bool HoldLease(bool force, Status& first);
  // Counts and logs a task's error (the same message of the same task is logged once).
  void Note(const char* task, const Status& status, Status& first);

  SchedulerConfig config_;
  std::unique_ptr<Store> store_;
  Deliverer deliverer_;
  Clock& clock_;
  RepositoryCache repository_;
  std::string holder_;
  bool holding_ = false;  // the controlling thread's view: the lease was held at the last check
  int64_t renewed_ms_ = 0;
  int64_t next_export_ms_ = INT64_MIN;
  int64_t next_cert_scan_ms_ = INT64_MIN;
  int64_t next_purge_ms_ = INT64_MIN;
  int64_t next_dash_purge_ms_ = INT64_MIN;

  mutable std::mutex mu_;  // guards stats_, last_logged_, stop_
  std::condition_variable wake_;
  bool stop_ = false;
  SchedulerStats stats_;
  std::string last_logged_[7];
  std::thread thread_;
};

}  // namespace fw::server
