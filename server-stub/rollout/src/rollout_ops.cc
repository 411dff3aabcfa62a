// Operator operations on rollouts (fw/server/rollout.h: Create, Start, Pause, Resume, Stop, Approve), each
// one Store::Atomically with its audit row; membership frozen at Start (docs/fleet-rollouts.md).
#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "fw/crypto.h"
#include "fw/image.h"
#include "fw/server/audit.h"
#include "rollout_groups.h"
#include "rollout_internal.h"

namespace fw::server::rollout {
namespace {

using Json = nlohmann::json;

constexpr int64_t kDevicePage = 1000;

std::string Name(int64_t id) { return "rollout " + std::to_string(id); }

std::string StateText(const RolloutRow& r) {
  return Name(r.id) + " is " + r.state + (r.pause_kind.empty() ? "" : " (" + r.pause_kind + ")");
}

Status NeedReason(const std::string& reason, const std::string& what) {
  if (reason.empty()) return InvalidArgument(what + " needs a reason");
  return Status::Ok();
}

Result<RolloutRow> Load(Store& store, int64_t id) {
  FW_ASSIGN_OR_RETURN(auto r, store.GetRollout(id));
  if (!r) return NotFound("no " + Name(id));
  return *r;
}

// The signed target as a terminal would check it, before any device is looked at (PlanAction's words).
Result<const RepositoryTarget*> CheckTarget(const RepositoryTargets& repo, const RolloutSpec& spec) {
  const RepositoryTarget* t = repo.Find(spec.target);
  if (t == nullptr) {
    return FailedPrecondition("target " + spec.target + " is not in the repository's signed targets (version " +
                              std::to_string(repo.targets_version) + ") (plan rule target_unknown)");
  }
  if (!t->has_firmware) {
    return FailedPrecondition("target " + spec.target +
                              " has no firmware facts (custom.firmware): terminals refuse it (plan rule "
                              "no_firmware_facts)");
  }
  const auto& ids = t->firmware.hardware_ids;
  if (!spec.hardware_id.empty() && std::find(ids.begin(), ids.end(), spec.hardware_id) == ids.end()) {
    std::string listed;
    for (const auto& id : ids) listed += (listed.empty() ? "" : ", ") + id;
    return FailedPrecondition("target " + spec.target + " is for hardware " + listed + ", the filter selects " +
                              spec.hardware_id + " (plan rule hardware_mismatch)");
  }
  return t;
}

Result<RepositoryTargets> Repository(const Context& ctx) {
  if (!ctx.repository) return InvalidArgument("rollout context without a repository");
  auto repo = ctx.repository();
  if (!repo.ok()) return repo.status().WithContext("repository");
  return repo;
}

// Devices of one label, by serial (keyset pages).
Result<std::set<std::string>> SerialsWithLabel(Store& store, const std::string& label) {
  std::set<std::string> out;
  DeviceQuery q;
  q.label = label;
  q.limit = kDevicePage;
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto page, store.QueryDevices(q));
    for (const Device& d : page) out.insert(d.serial);
    if (static_cast<int64_t>(page.size()) < q.limit) return out;
    q.after_serial = page.back().serial;
  }
}

// The membership at this moment: active, checked in, matching every filter condition; by serial.
Result<std::vector<Device>> Membership(Store& store, const RolloutSpec& spec) {
  std::optional<SemVer> below;
  if (!spec.version_below.empty()) {
    FW_ASSIGN_OR_RETURN(below, SemVer::Parse(spec.version_below));
  }
  std::vector<std::set<std::string>> labelled;
  for (size_t i = 1; i < spec.labels.size(); ++i) {
    FW_ASSIGN_OR_RETURN(auto s, SerialsWithLabel(store, spec.labels[i]));
    labelled.push_back(std::move(s));
  }
  DeviceQuery q;
  q.state = DeviceState::kActive;
  q.hardware_id = spec.hardware_id;
  q.label = spec.labels.empty() ? "" : spec.labels[0];
  q.limit = kDevicePage;
  std::vector<Device> out;
  for (;;) {
    FW_ASSIGN_OR_RETURN(auto page, store.QueryDevices(q));
    // The keyset cursor before the devices are moved out of the page (a moved-from serial is "": the
    // next query would start over, forever, once the membership is 1,000 devices or more).
    const std::string last_serial = page.empty() ? "" : page.back().serial;
    for (Device& d : page) {
      if (d.manifest_json.empty() || d.state != DeviceState::kActive) continue;
      if (!spec.hardware_id.empty() && d.hardware_id != spec.hardware_id) continue;
      bool labels_ok = true;
      for (const auto& s : labelled) labels_ok = labels_ok && s.contains(d.serial);
      if (!labels_ok) continue;
      if (below) {
        auto v = SemVer::Parse(d.version);
        if (!v.ok() || !(*v < *below)) continue;
      }
      out.push_back(std::move(d));
    }
    if (static_cast<int64_t>(page.size()) < q.limit) return out;
    q.after_serial = last_serial;
  }
}

// Member rows in group order: explicit serials first, then SHA-256("<id>:<serial>") order; percent of the
// whole membership rounded up, count exactly; what is left joins the last group.
Result<std::vector<RolloutMemberRow>> SplitIntoGroups(const RolloutRow& r, const RolloutSpec& spec,
                                                      const std::vector<Device>& devices, int64_t now_s) {
  std::map<std::string, const Device*> by_serial;
  for (const Device& d : devices) by_serial[d.serial] = &d;
  std::vector<RolloutMemberRow> out;
  auto add = [&](const Device& d, int64_t group) {
    RolloutMemberRow m;
    m.rollout_id = r.id;
    m.serial = d.serial;
    m.group_index = group;
    m.from_version = d.version;
    m.updated_s = now_s;
    out.push_back(std::move(m));
  };
  std::set<std::string> taken;
  for (size_t g = 0; g < spec.groups.size(); ++g) {
    for (const std::string& serial : spec.groups[g].devices) {
      auto it = by_serial.find(serial);
      if (it == by_serial.end()) {
        return InvalidArgument("groups[" + std::to_string(g) + "].devices: " + serial +
                               " is not in the membership (not active, never checked in, or outside the filter)");
      }
      add(*it->second, static_cast<int64_t>(g));
      taken.insert(serial);
    }
  }
  std::vector<std::pair<Digest, const Device*>> rest;
  for (const Device& d : devices) {
    if (!taken.contains(d.serial)) rest.emplace_back(Sha256::Of(AsBytes(std::to_string(r.id) + ":" + d.serial)), &d);
  }
  std::sort(rest.begin(), rest.end());
  const int64_t total = static_cast<int64_t>(devices.size());
  size_t next = 0;
  for (size_t g = 0; g < spec.groups.size(); ++g) {
    const GroupSpec& gs = spec.groups[g];
    int64_t want = gs.percent > 0 ? (gs.percent * total + 99) / 100 : gs.count;
    for (; want > 0 && next < rest.size(); --want) add(*rest[next++].second, static_cast<int64_t>(g));
  }
  for (; next < rest.size(); ++next) add(*rest[next].second, static_cast<int64_t>(spec.groups.size()) - 1);
  return out;
}

// "token:<id>:<name>" -> "token:<id>"; any other actor as it is.
std::string Person(const std::string& actor) {
  if (!actor.starts_with("token:")) return actor;
  const size_t colon = actor.find(':', 6);
  return colon == std::string::npos ? actor : actor.substr(0, colon);
}

Status CheckSecondPerson(const RolloutRow& r, const RolloutSpec& spec, const std::string& actor) {
  if (!spec.two_person) return Status::Ok();
  const std::string who = Person(actor);
  if (who == Person(r.created_by) || (!r.started_by.empty() && who == Person(r.started_by))) {
    return FailedPrecondition(Name(r.id) + " needs a second person (two_person): " + who +
                              " created or started it; another token must decide");
  }
  return Status::Ok();
}

// Paused -> running again (audit `verb`); when the current group had completed (approval, success
// threshold), the next group starts (or the rollout finishes).
Status Continue(Store& store, const Context& ctx, RolloutRow& r, const std::string& verb, const std::string& reason,
                const std::string& actor, int64_t now_s) {
  const bool approve = verb == "rollout.approve";
  FW_ASSIGN_OR_RETURN(auto groups, store.ListRolloutGroups(r.id));
  bool group_done = false;
  for (const auto& g : groups) group_done = group_done || (g.index == r.current_group && g.state == "done");
  const RolloutRow before = r;
  r.state = "running";
  r.pause_kind.clear();
  r.pause_reason.clear();
  r.updated_s = now_s;
  if (approve) r.approved_by = actor;
  FW_RETURN_IF_ERROR(store.UpdateRollout(r));
  FW_RETURN_IF_ERROR(detail::AuditRollout(store, now_s, actor, verb, before, r, reason));
  if (group_done) return detail::StartNextGroupInTx(store, ctx, r, actor, now_s);
  return detail::CompleteGroupIfDone(store, ctx, r, r.current_group, now_s);
}

// Runs `fn` on the row inside one transaction and returns the row as written.
Result<RolloutRow> Atomic(Store& store, int64_t id, const std::function<Status(RolloutRow&)>& fn) {
  RolloutRow out;
  const Status done = store.Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(out, Load(store, id));
    return fn(out);
  });
  if (!done.ok()) return done;
  return out;
}

}  // namespace

namespace detail {

std::string RolloutStateJson(const RolloutRow& r, const std::string& reason) {
  Json j = {{"id", r.id},
            {"name", r.name},
            {"target", r.target_name},
            {"target_version", r.target_version},
            {"state", r.state},
            {"pause_kind", r.pause_kind},
            {"pause_reason", r.pause_reason},
            {"current_group", r.current_group},
            {"revert_of", r.revert_of},
            {"revert_rollout", r.revert_rollout},
            {"created_by", r.created_by},
            {"started_by", r.started_by},
            {"approved_by", r.approved_by}};
  if (!reason.empty()) j["reason"] = reason;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Status AuditRollout(Store& store, int64_t now_s, const std::string& actor, const std::string& action,
                    const RolloutRow& before, const RolloutRow& after, const std::string& reason) {
  const std::string before_json = before.id == 0 ? "null" : RolloutStateJson(before, "");
  return Record(store, now_s, actor, action, "rollout:" + std::to_string(after.id), before_json,
                RolloutStateJson(after, reason))
      .status();
}

}  // namespace detail

Result<RolloutRow> Create(Store& store, const Context& ctx, const RolloutSpec& spec_in, const std::string& actor,
                          int64_t now_s) {
  FW_ASSIGN_OR_RETURN(RolloutSpec spec, ParseRolloutSpec(RolloutSpecJson(spec_in)));
  if (spec.deadline_s != 0 && spec.deadline_s <= now_s) {
    return InvalidArgument("action.deadline " + std::to_string(spec.deadline_s) + " is not in the future");
  }
  FW_ASSIGN_OR_RETURN(RepositoryTargets repo, Repository(ctx));
  FW_ASSIGN_OR_RETURN(const RepositoryTarget* target, CheckTarget(repo, spec));
  RolloutRow r;
  r.name = spec.name;
  r.spec_json = RolloutSpecJson(spec);
  r.target_name = target->path;
  r.target_version = target->firmware.version;
  r.created_by = actor;
  r.created_s = r.updated_s = now_s;
  const Status done = store.Atomically([&]() -> Status {
    FW_ASSIGN_OR_RETURN(r.id, store.CreateRollout(r));
    for (size_t g = 0; g < spec.groups.size(); ++g) {
      RolloutGroupRow row;
      row.rollout_id = r.id;
      row.index = static_cast<int64_t>(g);
      row.name = spec.groups[g].name;
      FW_RETURN_IF_ERROR(store.PutRolloutGroup(row));
    }
    return detail::AuditRollout(store, now_s, actor, "rollout.create", RolloutRow{}, r, "");
  });
  if (!done.ok()) return done;
  return r;
}

Result<RolloutRow> Start(Store& store, const Context& ctx, int64_t id, const std::string& actor, int64_t now_s) {
  FW_ASSIGN_OR_RETURN(RolloutRow first, Load(store, id));
  FW_ASSIGN_OR_RETURN(RolloutSpec spec, ParseRolloutSpec(first.spec_json));
  if (ctx.repository) {  // the target may have left the signed targets since Create
    FW_ASSIGN_OR_RETURN(RepositoryTargets repo, Repository(ctx));
    FW_RETURN_IF_ERROR(CheckTarget(repo, spec).status());
  }
  return Atomic(store, id, [&](RolloutRow& r) -> Status {
    if (r.state != "created") return FailedPrecondition(StateText(r) + "; only a created rollout starts");
    FW_ASSIGN_OR_RETURN(auto devices, Membership(store, spec));
    if (devices.empty()) return FailedPrecondition(Name(id) + " matches no device (active, checked in, filter)");
    FW_ASSIGN_OR_RETURN(auto members, SplitIntoGroups(r, spec, devices, now_s));
    std::vector<int64_t> sizes(spec.groups.size(), 0);
    for (const auto& m : members) ++sizes[m.group_index];
    for (size_t g = 0; g < spec.groups.size(); ++g) {
      RolloutGroupRow row;
      row.rollout_id = id;
      row.index = static_cast<int64_t>(g);
      row.name = spec.groups[g].name;
      row.members = sizes[g];
      row.state = g == 0 ? "running" : "waiting";
      row.started_s = g == 0 ? now_s : 0;
      FW_RETURN_IF_ERROR(store.PutRolloutGroup(row));
    }
    FW_RETURN_IF_ERROR(store.AddRolloutMembers(members));
    const RolloutRow before = r;
    r.state = "running";
    r.started_by = actor;
    r.started_s = r.updated_s = r.group_started_s = r.ramp_window_start_s = now_s;
    r.current_group = 0;
    r.ramp_window_assigned = 0;
    FW_RETURN_IF_ERROR(store.UpdateRollout(r));
    FW_RETURN_IF_ERROR(detail::AuditRollout(store, now_s, actor, "rollout.start", before, r,
                                            std::to_string(members.size()) + " members"));
    return detail::CompleteGroupIfDone(store, ctx, r, 0, now_s);
  });
}

Result<RolloutRow> Pause(Store& store, const Context& ctx, int64_t id, const std::string& reason,
                         const std::string& actor, int64_t now_s) {
  FW_RETURN_IF_ERROR(NeedReason(reason, "pause"));
  return Atomic(store, id, [&](RolloutRow& r) -> Status {
    if (r.state != "running") return FailedPrecondition(StateText(r) + "; only a running rollout can be paused");
    return detail::PauseInTx(store, ctx, r, "operator", reason, actor, now_s);
  });
}

Result<RolloutRow> Resume(Store& store, const Context& ctx, int64_t id, const std::string& reason,
                          const std::string& actor, int64_t now_s) {
  FW_RETURN_IF_ERROR(NeedReason(reason, "resume"));
  return Atomic(store, id, [&](RolloutRow& r) -> Status {
    if (r.state != "paused") return FailedPrecondition(StateText(r) + "; only a paused rollout resumes");
    FW_ASSIGN_OR_RETURN(RolloutSpec spec, ParseRolloutSpec(r.spec_json));
    if (r.pause_kind != "operator") FW_RETURN_IF_ERROR(CheckSecondPerson(r, spec, actor));
    return Continue(store, ctx, r, "rollout.resume", reason, actor, now_s);
  });
}

Result<RolloutRow> Stop(Store& store, const Context& ctx, int64_t id, const std::string& reason, bool revert,
                        const std::string& actor, int64_t now_s) {
  FW_RETURN_IF_ERROR(NeedReason(reason, "stop"));
  return Atomic(store, id, [&](RolloutRow& r) -> Status {
    if (r.state == "stopped" || r.state == "finished") return FailedPrecondition(StateText(r) + "; that is final");
    if (revert && r.revert_of != 0) {
      return FailedPrecondition(Name(id) + " reverts rollout " + std::to_string(r.revert_of) +
                                "; a revert is never reverted");
    }
    FW_ASSIGN_OR_RETURN(RolloutSpec spec, ParseRolloutSpec(r.spec_json));
    const bool started = r.state != "created";
    const RolloutRow before = r;
    r.state = "stopped";
    r.pause_kind.clear();
    r.pause_reason.clear();
    r.updated_s = now_s;
    FW_RETURN_IF_ERROR(store.UpdateRollout(r));
    FW_RETURN_IF_ERROR(detail::CancelOpenActionsInTx(store, r, now_s));
    FW_RETURN_IF_ERROR(detail::AuditRollout(store, now_s, actor, "rollout.stop", before, r, reason));
    if (!started || r.revert_of != 0 || !(revert || spec.revert_on_abort)) return Status::Ok();
    return detail::MakeRevertInTx(store, ctx, r, actor, now_s).status();
  });
}

Result<RolloutRow> Approve(Store& store, const Context& ctx, int64_t id, const std::string& reason,
                           const std::string& actor, int64_t now_s) {
  FW_RETURN_IF_ERROR(NeedReason(reason, "approve"));
  return Atomic(store, id, [&](RolloutRow& r) -> Status {
    if (r.state != "paused" || (r.pause_kind != "approval" && r.pause_kind != "rule")) {
      return FailedPrecondition(StateText(r) + "; approve is for a rollout paused for approval or by a rule");
    }
    FW_ASSIGN_OR_RETURN(RolloutSpec spec, ParseRolloutSpec(r.spec_json));
    FW_RETURN_IF_ERROR(CheckSecondPerson(r, spec, actor));
    return Continue(store, ctx, r, "rollout.approve", reason, actor, now_s);
  });
}

}  // namespace fw::server::rollout
