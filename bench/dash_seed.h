// dash_seed (bench/dashboard_bench.sh): fills a fleet server's store with a fleet of N terminals (default
// 10,000) so the dashboard's pages can be timed at that size.
//
// Contract:
//  - Writes only through fw::server::Store and the rollout library (fw/server/rollout.h), in
//    Store::Atomically batches, into a store made by `fwserver init` (SQLite file or PostgreSQL URI); the
//    store should be empty (serials "T-000001".. must not exist: CreateDevice refuses duplicates).
//  - What it makes (deterministic for a seed; times relative to `now_s`): devices POS-X1 with canonical
//    manifests (device_messages.h ManifestJson) on 1.0.0 / 1.1.0 / 1.2.0, labels (region, chain, store,
//    some "pilot"), one certificate each (some expiring within 30 days), a journal witness state, last_seen
//    spread (most within 10 minutes, some hours, about 1 % days ago); a rollout over every terminal to the
//    repository's target (canary of 100 decided, group 2 (20 %) fully assigned: most succeeded, some failed,
//    the rest in progress, every event stored through the device API's state machine ApplyEvent), a second
//    over the "pilot" label paused by an operator, a third only created; then some terminals quarantined as clones
//    (clone + quarantine alerts), some revoked (certificates deny-listed), journal anomalies (journal_anomaly alerts),
//    journal backups with segments, the audit rows each of these writes, and check-in counts for the last 48 hours.
//  - The rollout needs the repository's signed target (`target`, a TUF path in `repo_dir`).
// Thread safety: single-threaded tool.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fw/server/alerts.h"
#include "fw/server/rollout.h"
#include "fw/server/store.h"
#include "fw/status.h"

namespace dashseed {

struct Options {
  std::string database;  // SQLite path or postgresql:// URI
  std::string repo_dir;  // the TUF repository (DATA/repo)
  std::string target;    // TUF target path of the rollout
  int64_t terminals = 10000;
  int64_t now_s = 0;
  uint64_t seed = 20;
};

struct Seeded {
  std::vector<std::string> serials;
  std::vector<std::string> versions;  // the running version of each serial (index = serials)
  int64_t rollout_id = 0;             // over every terminal, running
  int64_t paused_rollout_id = 0;      // over the pilot stores, paused by an operator
  int64_t actions = 0;
  int64_t events = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t quarantined = 0;
  int64_t revoked = 0;
  int64_t alerts = 0;
  std::string sample_serial;  // a terminal with a rollout action, events, labels and a backup
};

std::string Serial(int64_t i);  // "T-000001"
// A POS-X1 manifest in the store's canonical form.
std::string ManifestFor(const std::string& running, const std::string& other, int64_t journal_last_seq,
                        const std::string& head_hex, const std::string& time_zone);
std::string RandomHex(std::mt19937_64& rng, size_t digits);

// dash_seed_rollout.cc: the rollout over every terminal (see the contract).
fw::Status SeedRollout(fw::server::Store& store, const Options& o, const fw::server::AlertPolicy& alerts,
                       std::mt19937_64& rng, Seeded& out);

}  // namespace dashseed
