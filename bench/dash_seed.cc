// dash_seed: a fleet of N terminals in a fleet server's store for the dashboard bench (dash_seed.h).
//   dash_seed --database DB --repo DIR --target PATH [--terminals N] [--now S] [--seed N]
// Prints one JSON line: what it made (counts, the rollout id, a sample serial, seconds taken).
// Exit: 0 done, 2 usage, 1 any store error (printed).
#include "dash_seed.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fw/server/device_messages.h"
#include "fw/server/journal_witness.h"

namespace dashseed {
namespace {

using fw::Result;
using fw::Status;
using namespace fw::server;
using Json = nlohmann::json;

constexpr const char* kVersions[] = {"1.0.0", "1.1.0", "1.2.0"};
constexpr const char* kZones[] = {"Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Warsaw"};
constexpr const char* kRegions[] = {"region:eu-west", "region:eu-central", "region:eu-south", "region:eu-east"};
constexpr const char* kChains[] = {"chain:acme-markets", "chain:bistro-group", "chain:citymart", "chain:fuelstop",
                                   "chain:pharmaplus"};
constexpr int64_t kBatch = 500;

Status Audit(Store& store, int64_t t, const std::string& actor, const std::string& action, const std::string& object,
             const Json& before, const Json& after) {
  AuditEntry e;
  e.time_s = t, e.actor = actor, e.action = action, e.object = object;
  e.before_json = before.dump(), e.after_json = after.dump();
  return store.AppendAudit(e).status();
}

// last_seen: most within the poll interval, some hours ago, about 1 % days ago (the "not seen" list).
int64_t LastSeen(int64_t now, std::mt19937_64& rng) {
  const uint64_t r = rng() % 1000;
  if (r < 940) return now - static_cast<int64_t>(rng() % 600);
  if (r < 988) return now - 3600 - static_cast<int64_t>(rng() % (20 * 3600));
  return now - 86400 - static_cast<int64_t>(rng() % (14 * 86400));
}

// Labels as an operator adds them through the API: one audited device.label_add each.
Status AddLabels(Store& store, const std::string& serial, const std::vector<std::string>& labels, int64_t t) {
  std::vector<std::string> before;
  for (const std::string& label : labels) {
    FW_RETURN_IF_ERROR(store.AddLabel(serial, label));
    std::vector<std::string> after = before;
    after.push_back(label);
    std::sort(after.begin(), after.end());
    FW_RETURN_IF_ERROR(Audit(store, t, "token:2:bob", "device.label_add", "device:" + serial, {{"labels", before}},
                             {{"labels", after}}));
    before = std::move(after);
  }
  return Status::Ok();
}

// One terminal as its enrolment and check-ins leave it: device row, certificate, labels, audit rows.
Status AddTerminal(Store& store, const Options& o, int64_t i, std::mt19937_64& rng, Seeded& out) {
  Device d;
  d.serial = Serial(i);
  d.spki_sha256_hex = RandomHex(rng, 64);
  d.created_s = o.now_s - 200 * 86400 + static_cast<int64_t>(rng() % (100 * 86400));
  d.last_seen_s = LastSeen(o.now_s, rng);
  const uint64_t v = rng() % 10;  // 20 % 1.0.0, 30 % 1.1.0, 50 % 1.2.0
  const std::string version = kVersions[v < 2 ? 0 : v < 5 ? 1 : 2];
  const std::string other = version == "1.0.0" ? "0.9.0" : version == "1.1.0" ? "1.0.0" : "1.1.0";
  const int64_t last_seq = 500 + static_cast<int64_t>(rng() % 60000);
  const std::string head = RandomHex(rng, 64);
  d.manifest_json = ManifestFor(version, other, last_seq, head, kZones[i % 4]);
  d.hardware_id = "POS-X1";
  d.version = version;
  witness::State w;
  FW_RETURN_IF_ERROR(witness::ObserveCheckin(w, last_seq - 3, RandomHex(rng, 64)).status());
  FW_RETURN_IF_ERROR(witness::ObserveCheckin(w, last_seq, head).status());
  d.witness_state = witness::Serialize(w);
  FW_RETURN_IF_ERROR(store.CreateDevice(d));
  CertRecord c;
  c.cert_serial_hex = RandomHex(rng, 32);
  c.device_serial = d.serial;
  c.spki_sha256_hex = d.spki_sha256_hex;
  c.issued_s = d.created_s;
  c.not_after_s = rng() % 40 == 0 ? o.now_s + static_cast<int64_t>(rng() % (30 * 86400)) : d.created_s + 365 * 86400;
  FW_RETURN_IF_ERROR(store.AddCert(c));
  const std::string actor = "device:" + d.serial;
  FW_RETURN_IF_ERROR(
      Audit(store, d.created_s, actor, "device.enrol", actor, nullptr,
            {{"state", "active"}, {"spki_sha256", d.spki_sha256_hex}, {"cert_serial", c.cert_serial_hex}}));
  std::vector<std::string> labels = {kRegions[rng() % 4], kChains[(i / 40) % 5],
                                     "store:" + std::to_string(1000 + i / 5)};
  if (rng() % 50 == 0) labels.push_back("pilot");
  FW_RETURN_IF_ERROR(AddLabels(store, d.serial, labels, d.created_s + 86400));
  out.serials.push_back(d.serial);
  out.versions.push_back(version);
  return Status::Ok();
}

Status SeedDevices(Store& store, const Options& o, std::mt19937_64& rng, Seeded& out) {
  for (int64_t begin = 1; begin <= o.terminals; begin += kBatch) {
    const Status batch = store.Atomically([&]() -> Status {
      for (int64_t i = begin; i < begin + kBatch && i <= o.terminals; ++i) {
        FW_RETURN_IF_ERROR(AddTerminal(store, o, i, rng, out));
      }
      return Status::Ok();
    });
    if (!batch.ok()) return batch;
  }
  return Status::Ok();
}

// Clones (journal forks: quarantined, clone + quarantine alerts), stolen terminals (revoked, deny-listed),
// truncated journals (journal_anomaly), as the device API and operators record them.
Status SeedIncidents(Store& store, const Options& o, const AlertPolicy& alerts, std::mt19937_64& rng, Seeded& out) {
  const int64_t n = static_cast<int64_t>(out.serials.size());
  return store.Atomically([&]() -> Status {
    for (int64_t k = 0; k < std::max<int64_t>(1, n / 800); ++k) {  // 12 clones of 10,000
      const std::string serial = out.serials[static_cast<size_t>((k * 797 + 401) % n)];
      const int64_t t = o.now_s - static_cast<int64_t>(rng() % (5 * 86400));
      const std::string detail = "two heads for seq 31337: a rewritten journal or a cloned terminal";
      const std::string reason = "journal fork: " + detail;
      FW_RETURN_IF_ERROR(store.SetDeviceState(serial, DeviceState::kQuarantined, reason));
      FW_RETURN_IF_ERROR(Audit(store, t, "system", "device.quarantine", "device:" + serial,
                               {{"state", "active"}, {"reason", ""}}, {{"state", "quarantined"}, {"reason", reason}}));
      const Json clone = {{"serial", serial}, {"seq", 31337}, {"detail", detail}, {"source", "checkin"}};
      FW_RETURN_IF_ERROR(RaiseAlert(store, alerts, t, "clone", "device:" + serial, clone.dump()).status());
      const Json q = {{"serial", serial}, {"reason", reason}, {"actor", "system"}};
      FW_RETURN_IF_ERROR(RaiseAlert(store, alerts, t, "quarantine", "device:" + serial, q.dump()).status());
      out.quarantined++, out.alerts += 2;
    }
    for (int64_t k = 0; k < std::max<int64_t>(1, n / 400); ++k) {  // 25 revoked
      const std::string serial = out.serials[static_cast<size_t>((k * 389 + 211) % n)];
      const int64_t t = o.now_s - static_cast<int64_t>(rng() % (30 * 86400));
      const std::string reason = "reported stolen by the merchant";
      FW_RETURN_IF_ERROR(store.SetDeviceState(serial, DeviceState::kRevoked, reason));
      FW_ASSIGN_OR_RETURN(auto certs, store.ListCerts(serial));
      for (const CertRecord& c : certs) FW_RETURN_IF_ERROR(store.DenyCert(c.cert_serial_hex, serial, reason, t));
      FW_RETURN_IF_ERROR(Audit(store, t, "token:3:carol", "device.revoke", "device:" + serial,
                               {{"state", "active"}, {"reason", ""}}, {{"state", "revoked"}, {"reason", reason}}));
      out.revoked++;
    }
    for (int64_t k = 0; k < std::max<int64_t>(1, n / 300); ++k) {  // 33 truncated journals
      const std::string serial = out.serials[static_cast<size_t>((k * 1009 + 77) % n)];
      const int64_t t = o.now_s - static_cast<int64_t>(rng() % (3 * 86400));
      const Json finding = {{"serial", serial},
                            {"finding", "truncated"},
                            {"seq", 4100},
                            {"detail", "the check-in reports last_seq 4100, below the 4188 witnessed before"},
                            {"source", "checkin"}};
      FW_RETURN_IF_ERROR(Audit(store, t, "system", "journal.anomaly", "device:" + serial, nullptr, finding));
      FW_RETURN_IF_ERROR(RaiseAlert(store, alerts, t, "journal_anomaly", "device:" + serial, finding.dump()).status());
      out.alerts++;
    }
    return Status::Ok();
  });
}

// Journal backups: a succeeded journal_backup action with its events and the segments it uploaded, for
// 3 % of the terminals (and the sample terminal).
Status SeedBackups(Store& store, const Options& o, std::mt19937_64& rng, Seeded& out) {
  std::vector<std::string> who;
  for (size_t i = 0; i < out.serials.size(); i += 33) who.push_back(out.serials[i]);
  if (!out.sample_serial.empty()) who.push_back(out.sample_serial);
  return store.Atomically([&]() -> Status {
    for (const std::string& serial : who) {
      const int64_t t = o.now_s - 3600 - static_cast<int64_t>(rng() % (10 * 86400));
      Action a;
      a.device_serial = serial, a.kind = "journal_backup", a.type = "forced";
      a.created_s = a.updated_s = t;
      FW_ASSIGN_OR_RETURN(a.id, store.CreateAction(a));
      FW_RETURN_IF_ERROR(Audit(store, t, "token:2:bob", "action.create", "action:" + std::to_string(a.id), nullptr,
                               {{"device", serial}, {"kind", "journal_backup"}}));
      int64_t seq = 0;
      for (const char* state : {"accepted", "backup_done"}) {
        EventReport e;
        e.attempt = 1, e.seq = ++seq, e.state = state;
        if (ApplyEvent(a, e, t + 60 * seq).outcome != EventOutcome::kApplied) return fw::Internal("backup event");
        FW_RETURN_IF_ERROR(store.AddEvent({a.id, 1, seq, state, EventJson(e), t + 60 * seq}));
        out.events++;
      }
      FW_RETURN_IF_ERROR(store.UpdateAction(a));
      out.actions++;
      for (int64_t first = 1; first <= 15000; first += 5000) {
        SegmentRecord s;
        s.device_serial = serial, s.first_seq = first, s.last_seq = first + 4999, s.records = 5000;
        s.body = "{\"format\":\"ptfw-journal-segment-v1\",\"seeded_by\":\"dash_seed\"}\n";
        s.sha256_hex = RandomHex(rng, 64);
        s.received_s = t + 120;
        FW_RETURN_IF_ERROR(store.AddSegment(s));
      }
    }
    return Status::Ok();
  });
}

// Check-ins per 5-minute bucket for the last 48 hours: the terminals seen recently, fewer at night.
Status SeedCheckins(Store& store, const Options& o, std::mt19937_64& rng) {
  std::vector<std::pair<int64_t, int64_t>> buckets;
  const int64_t last = o.now_s / kCheckinBucketSeconds * kCheckinBucketSeconds;
  for (int64_t b = last - 48 * 3600; b <= last; b += kCheckinBucketSeconds) {
    const int64_t hour = (b / 3600) % 24;
    const int64_t awake = hour >= 5 && hour < 22 ? 96 : 60;  // percent of the fleet polling
    buckets.emplace_back(b, o.terminals * awake / 100 - static_cast<int64_t>(rng() % (o.terminals / 50 + 1)));
  }
  return store.Atomically([&]() { return store.AddCheckinCounts(buckets); });
}

Result<Options> Parse(int argc, char** argv) {
  Options o;
  o.now_s = static_cast<int64_t>(std::time(nullptr));
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--database")
      o.database = v;
    else if (k == "--repo")
      o.repo_dir = v;
    else if (k == "--target")
      o.target = v;
    else if (k == "--terminals")
      o.terminals = std::stoll(v);
    else if (k == "--now")
      o.now_s = std::stoll(v);
    else if (k == "--seed")
      o.seed = std::stoull(v);
    else
      return fw::InvalidArgument("unknown option " + k);
  }
  if (argc % 2 == 0 || o.database.empty() || o.repo_dir.empty() || o.target.empty() || o.terminals < 100) {
    return fw::InvalidArgument(
        "usage: dash_seed --database DB --repo DIR --target PATH [--terminals N>=100] [--now S] [--seed N]");
  }
  return o;
}

}  // namespace

std::string Serial(int64_t i) {
  std::string n = std::to_string(i);
  return "T-" + std::string(n.size() < 6 ? 6 - n.size() : 0, '0') + n;
}

std::string ManifestFor(const std::string& running, const std::string& other, int64_t journal_last_seq,
                        const std::string& head_hex, const std::string& time_zone) {
  const Json m = {{"hardware_id", "POS-X1"},
                  {"time_zone", time_zone},
                  {"agent_version", "0.4.2"},
                  {"running", {{"slot", "A"}, {"version", running}, {"state", "confirmed"}}},
                  {"other", {{"slot", "B"}, {"version", other}, {"state", "bootable"}}},
                  {"security_counter", 1},
                  {"root_version", 1},
                  {"journal", {{"last_seq", journal_last_seq}, {"head", head_hex}}},
                  {"outbox", 0},
                  {"free_bytes", 268435456}};
  auto parsed = ParseManifest(m.dump());
  return parsed.ok() ? ManifestJson(*parsed) : m.dump();
}

std::string RandomHex(std::mt19937_64& rng, size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(digits, '0');
  for (char& c : s) c = kHex[rng() % 16];
  return s;
}

}  // namespace dashseed

int main(int argc, char** argv) {
  using namespace dashseed;
  auto o = Parse(argc, argv);
  if (!o.ok()) {
    std::cerr << o.status().message() << "\n";
    return 2;
  }
  const auto begin = std::chrono::steady_clock::now();
  auto store = fw::server::OpenStore(o->database);
  std::mt19937_64 rng(o->seed);
  fw::server::AlertPolicy alerts;  // no webhooks: alerts are stored for the operator API only
  Seeded out;
  Status s = store.ok() ? SeedDevices(**store, *o, rng, out) : store.status();
  if (s.ok()) s = SeedRollout(**store, *o, alerts, rng, out).WithContext("rollout");
  if (s.ok()) s = SeedIncidents(**store, *o, alerts, rng, out).WithContext("incidents");
  if (s.ok()) s = SeedBackups(**store, *o, rng, out).WithContext("backups");
  if (s.ok()) s = SeedCheckins(**store, *o, rng).WithContext("check-in counts");
  if (!s.ok()) {
    std::cerr << "dash_seed: " << s.ToString() << "\n";
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::cout << nlohmann::json{{"terminals", out.serials.size()},
                              {"rollout", out.rollout_id},
                              {"paused_rollout", out.paused_rollout_id},
                              {"actions", out.actions},
                              {"events", out.events},
                              {"succeeded", out.succeeded},
                              {"failed", out.failed},
                              {"quarantined", out.quarantined},
                              {"revoked", out.revoked},
                              {"alerts", out.alerts},
                              {"sample_serial", out.sample_serial},
                              {"seconds", seconds}}
                   .dump()
            << std::endl;
  return 0;
}
