// dash_seed: the rollout over every terminal (dash_seed.h). Assignment through rollout::Tick, every event
// through the device API's own state machine (ApplyEvent), closes through rollout::OnActionClosed, each in
// the store transaction the server would use, so counters, members and audit rows are what a real rollout
// leaves behind.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "dash_seed.h"
#include "fw/server/device_messages.h"
#include "fw/server/repository_targets.h"

namespace dashseed {
namespace {

using fw::Result;
using fw::Status;
using namespace fw::server;

enum class Fate { kSucceeded, kHealthFailed, kDownloadFailed, kBootFailed, kOpen };

rollout::RolloutSpec MainSpec(const Options& o) {
  rollout::RolloutSpec s;
  s.name = "POS-X1 1.3.0 (fleet)";
  s.target = o.target;
  s.hardware_id = "POS-X1";
  rollout::GroupSpec canary, wave, rest;
  canary.name = "canary";
  canary.count = 100;
  wave.name = "wave-1";
  wave.percent = 20;
  wave.success_threshold = 90;
  rest.name = "rest";
  rest.percent = 100;
  s.groups = {canary, wave, rest};
  s.ramp = {.start_per_minute = 1000, .growth_percent = 100, .every_successes = 10, .max_per_minute = 1000};
  s.abort_rules = {{"any", 5, 100}, {"boot_failed", 2, 100}, {"health_failed", 3, 100}};
  s.action_timeout_seconds = 7 * 86400;  // nothing times out while the bench runs
  return s;
}

// The events a terminal reports for `fate`; `open_steps` events for an action still in progress.
std::vector<EventReport> EventsFor(Fate fate, int64_t open_steps, int64_t size) {
  std::vector<EventReport> all;
  auto add = [&](const char* state) {
    EventReport e;
    e.attempt = 1;
    e.seq = static_cast<int64_t>(all.size()) + 1;
    e.state = state;
    all.push_back(e);
    return &all.back();
  };
  add("accepted");
  auto* d = add("downloading");
  d->bytes = size / 2, d->total = size;
  if (fate == Fate::kDownloadFailed) {
    auto* f = add("failed");
    f->stage = "download", f->exit_code = 4, f->error_kind = "I/O error";
    f->detail = "download: connection reset by peer after 3 retries";
    return all;
  }
  d = add("downloading");
  d->bytes = size, d->total = size;
  add("downloaded");
  add("backup_done");
  add("installing");
  add("trial_set");
  add("rebooting");
  if (fate == Fate::kHealthFailed) {
    auto* f = add("failed");
    f->stage = "health", f->exit_code = 1;
    f->detail = "payment application health check failed: card reader not answering";
    return all;
  }
  if (fate == Fate::kBootFailed) return all;  // the check-in verdict closes it
  add("confirmed");
  if (fate == Fate::kOpen) all.resize(std::min<size_t>(all.size(), static_cast<size_t>(open_steps)));
  return all;
}

Status Audit(Store& store, int64_t t, const std::string& actor, const std::string& action, const std::string& object,
             const std::string& before, const std::string& after) {
  AuditEntry e;
  e.time_s = t, e.actor = actor, e.action = action, e.object = object, e.before_json = before, e.after_json = after;
  return store.AppendAudit(e).status();
}

// One action's life after assignment, inside the caller's transaction.
Status Play(Store& store, const rollout::Context& ctx, Action a, Fate fate, int64_t open_steps, int64_t t,
            const std::string& from_version, Seeded& out) {
  const int64_t step = 40;
  for (const EventReport& e : EventsFor(fate, open_steps, 20 << 20)) {
    t += step;
    const EventDecision d = ApplyEvent(a, e, t);
    if (d.outcome != EventOutcome::kApplied) return fw::Internal("event " + e.state + " refused: " + d.reason);
    FW_RETURN_IF_ERROR(store.AddEvent({a.id, e.attempt, e.seq, e.state, EventJson(e), t}));
    ++out.events;
  }
  const std::string state_before = a.state;
  std::string closer = "device:" + a.device_serial;
  if (fate == Fate::kSucceeded || fate == Fate::kBootFailed) {  // the next check-in's verdict
    t += 300;
    closer = "system";
    a.done = true, a.updated_s = t;
    if (fate == Fate::kSucceeded) {
      a.state = "succeeded";
      FW_RETURN_IF_ERROR(store.SetDeviceManifest(
          a.device_serial, ManifestFor(a.target_version, from_version, 20000, std::string(64, 'c'), "Europe/Berlin"),
          "POS-X1", a.target_version));
    } else {
      a.state = "failed", a.failure_class = "boot_failed";
      a.detail = "after rebooting the terminal checked in running " + from_version + ", not " + a.target_version;
    }
  }
  FW_RETURN_IF_ERROR(store.UpdateAction(a));
  if (!a.done) return Status::Ok();
  nlohmann::json after = {{"state", a.state}};
  if (a.state == "failed") after["failure_class"] = a.failure_class, after["detail"] = a.detail;
  FW_RETURN_IF_ERROR(Audit(store, t, closer, "action.close", "action:" + std::to_string(a.id),
                           nlohmann::json{{"state", state_before}}.dump(), after.dump()));
  a.state == "succeeded" ? ++out.succeeded : ++out.failed;
  return rollout::OnActionClosed(store, ctx, a, t);
}

// Plays the open actions of the rollout: `fates[i]` for the i-th (by id), in batches of 200.
Status PlayOpen(Store& store, const rollout::Context& ctx, int64_t id, const std::vector<Fate>& fates, int64_t from_s,
                int64_t span_s, std::mt19937_64& rng, Seeded& out) {
  FW_ASSIGN_OR_RETURN(auto open, store.ListRolloutActions(id, /*open_only=*/true));
  out.actions += static_cast<int64_t>(open.size());
  for (size_t begin = 0; begin < open.size(); begin += 200) {
    const Status batch = store.Atomically([&]() -> Status {
      for (size_t i = begin; i < std::min(open.size(), begin + 200); ++i) {
        const Fate fate = i < fates.size() ? fates[i] : Fate::kOpen;
        const int64_t t = from_s + static_cast<int64_t>(rng() % static_cast<uint64_t>(span_s));
        const int64_t n = std::stoll(open[i].device_serial.substr(2)) - 1;
        FW_RETURN_IF_ERROR(Play(store, ctx, open[i], fate, 1 + static_cast<int64_t>(rng() % 8), t,
                                out.versions[static_cast<size_t>(n)], out));
        if (out.sample_serial.empty() && fate == Fate::kSucceeded) out.sample_serial = open[i].device_serial;
      }
      return Status::Ok();
    });
    if (!batch.ok()) return batch;
  }
  return Status::Ok();
}

// `succeeded` successes with the failures spread evenly among them, the classes taken in turn: the abort
// rules see the final rates all along (a cluster of failures early on would pause the rollout).
std::vector<Fate> Fates(int64_t succeeded, int64_t health, int64_t download, int64_t boot) {
  std::vector<Fate> failures;
  for (int64_t h = health, d = download, b = boot; h + d + b > 0;) {
    if (h-- > 0) failures.push_back(Fate::kHealthFailed);
    if (d-- > 0) failures.push_back(Fate::kDownloadFailed);
    if (b-- > 0) failures.push_back(Fate::kBootFailed);
  }
  const size_t total = static_cast<size_t>(succeeded) + failures.size();
  std::vector<Fate> f(total, Fate::kSucceeded);
  for (size_t j = 0; j < failures.size(); ++j) f[(2 * j + 1) * total / (2 * failures.size())] = failures[j];
  return f;
}

}  // namespace

Status SeedRollout(Store& store, const Options& o, const AlertPolicy& alerts, std::mt19937_64& rng, Seeded& out) {
  rollout::Context ctx;
  ctx.alerts = &alerts;
  const std::string repo_dir = o.repo_dir;
  const int64_t now = o.now_s;
  ctx.repository = [repo_dir, now]() { return LoadRepositoryTargets(repo_dir, now); };
  const int64_t t0 = o.now_s - 8 * 3600;
  const std::string actor = "token:1:alice";
  FW_ASSIGN_OR_RETURN(auto created, rollout::Create(store, ctx, MainSpec(o), actor, t0 - 600));
  out.rollout_id = created.id;
  FW_RETURN_IF_ERROR(rollout::Start(store, ctx, created.id, actor, t0).status());
  // The canary: assigned at once, decided within two hours (98 % succeeded: the next group starts).
  FW_RETURN_IF_ERROR(rollout::Tick(store, ctx, t0).status());
  const int64_t canary = std::min<int64_t>(100, o.terminals);
  const int64_t canary_failed = canary / 50;  // 98 % succeeded
  FW_RETURN_IF_ERROR(PlayOpen(store, ctx, created.id,
                              Fates(canary - canary_failed, canary_failed - canary_failed / 2, canary_failed / 2, 0),
                              t0 + 60, 7200, rng, out));
  // Wave 1 (20 %): all assigned in two ramp windows; 85 % of it decided, the rest in progress.
  const int64_t t1 = t0 + 3 * 3600;
  FW_RETURN_IF_ERROR(rollout::Tick(store, ctx, t1).status());
  FW_RETURN_IF_ERROR(rollout::Tick(store, ctx, t1 + 60).status());
  FW_RETURN_IF_ERROR(rollout::Tick(store, ctx, t1 + 120).status());
  const int64_t wave = (o.terminals - canary) * 20 / 100;
  const int64_t decided = wave * 85 / 100;
  const int64_t health = decided * 15 / 1000, download = decided * 12 / 1000, boot = decided * 9 / 1000;
  FW_RETURN_IF_ERROR(PlayOpen(store, ctx, created.id, Fates(decided - health - download - boot, health, download, boot),
                              t1 + 60, o.now_s - 900 - t1 - 60, rng, out));
  // A second rollout over the pilot stores, started and paused by an operator before it assigned anything
  // (the page names the pause and who made it), and a third only created.
  rollout::RolloutSpec pilot = MainSpec(o);
  pilot.name = "POS-X1 1.3.0 (pilot stores, soft)";
  pilot.labels = {"pilot"};
  pilot.type = "soft";
  FW_ASSIGN_OR_RETURN(auto paused, rollout::Create(store, ctx, pilot, "token:2:bob", o.now_s - 4 * 3600));
  out.paused_rollout_id = paused.id;
  FW_RETURN_IF_ERROR(rollout::Start(store, ctx, paused.id, "token:2:bob", o.now_s - 3 * 3600).status());
  FW_RETURN_IF_ERROR(rollout::Pause(store, ctx, paused.id, "the pilot stores asked to wait until after the weekend",
                                    "token:2:bob", o.now_s - 3 * 3600 + 30)
                         .status());
  pilot.name = "POS-X1 1.3.0 (pilot stores, download only)";
  pilot.type = "download-only";
  return rollout::Create(store, ctx, pilot, "token:2:bob", o.now_s - 1800).status();
}

}  // namespace dashseed
