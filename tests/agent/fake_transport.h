// Test support for the agent's state machine (tests/agent/agent_test.cc): a Transport that models the
// fleet server in memory — the action state machine of docs/fleet-protocol.md ("Action states":
// forward-only states, idempotence on (attempt, seq), ignored_older, action_closed, unknown_action,
// backup before installing, cancels only before trial_set, the check-in verdict), the journal witness
// (the server's own fw::server::witness code), and a repository directory made by the real `fwsign`,
// served as memory byte streams. Fault switches: transport errors on events (before or after the server
// applied them), on check-ins, on segments. A hook runs at every event the server applies, so tests can
// look at the terminal at that moment. Not thread-safe; one test at a time.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fw/agent/transport.h"
#include "fw/file_io.h"
#include "fw/server/journal_witness.h"

namespace fw::agent::testing {

inline const std::string kRepoUrl = "mem://repo/";

// A file's bytes as a ByteStream (what HttpStream would hand out, without faults).
class MemoryStream final : public net::ByteStream {
 public:
  MemoryStream(std::string name, std::string bytes) : name_(std::move(name)), bytes_(std::move(bytes)) {}
  Result<size_t> Read(std::span<uint8_t> buf) override {
    const size_t n = std::min<size_t>(buf.size(), bytes_.size() - offset_);
    std::copy_n(bytes_.data() + offset_, n, buf.data());
    offset_ += n;
    return n;
  }
  Status Seek(uint64_t offset) override {
    if (offset > bytes_.size()) return InvalidArgument(name_ + ": seek beyond the end");
    offset_ = offset;
    return Status::Ok();
  }
  std::optional<uint64_t> Size() const override { return bytes_.size(); }
  uint64_t Offset() const override { return offset_; }
  const std::string& Name() const override { return name_; }

 private:
  std::string name_, bytes_;
  uint64_t offset_ = 0;
};

struct ServerAction {
  Action a;  // a.state, a.attempt, a.last_seq: the server's view
  bool done = false;
  bool backup_done = false;
  bool cancel_requested = false;
  std::string failure_stage;
};

struct StoredEvent {
  Event e;
  std::string result;  // applied | duplicate | ignored_older | HTTP code
};

class FakeTransport final : public Transport, public net::Fetcher {
 public:
  explicit FakeTransport(std::string repo_dir) : repo_dir_(std::move(repo_dir)) {}

  // ---- operator side
  int64_t AddAction(const std::string& kind, const std::string& target, const std::string& version,
                    const std::string& type = "forced", bool backup_required = true,
                    std::optional<std::string> window = std::nullopt) {
    ServerAction s;
    s.a.target_version = version;
    s.a.id = next_id_++;
    s.a.kind = kind;
    s.a.target_name = target;
    s.a.type = type;
    s.a.backup_required = backup_required;
    s.a.window = window;
    s.a.state = "pending";
    actions_[s.a.id] = s;
    return s.a.id;
  }
  // The server refuses a cancel once the trial is set (false); `force` puts it in the reply anyway.
  bool Cancel(int64_t id, bool force = false) {
    ServerAction& s = actions_.at(id);
    if (!force && (s.done || Rank(s.a.state) >= Rank("trial_set"))) return false;
    s.cancel_requested = true;
    return true;
  }
  const ServerAction& action(int64_t id) const { return actions_.at(id); }
  // Every event the server applied, in order.
  std::vector<std::string> AppliedStates(int64_t id) const {
    std::vector<std::string> out;
    for (const auto& s : posts_) {
      if (s.e.action == id && s.result == "applied") out.push_back(s.e.state);
    }
    return out;
  }
  const std::vector<StoredEvent>& posts() const { return posts_; }
  const std::vector<Manifest>& manifests() const { return manifests_; }
  const server::witness::State& witness() const { return witness_; }

  // ---- faults and hooks
  int fail_events = 0;         // the next N PostEvent fail before the server sees them
  int lose_event_answers = 0;  // the next N PostEvent are applied, but the answer is lost
  int fail_checkins = 0;
  std::function<void(const Event&)> on_applied;  // runs at every applied event

  // ---- Transport
  Result<Answer<CheckinReply>> Checkin(const Manifest& m, const std::string& if_none_match) override {
    if (fail_checkins > 0) return --fail_checkins, IoError("check-in: connection refused (test)");
    manifests_.push_back(m);
    auto obs = server::witness::ObserveCheckin(witness_, m.journal_last_seq, m.journal_head);
    if (!obs.ok()) return obs.status();
    CheckinReply r;
    r.device_state = "active";
    r.repository = "/repo/";
    r.poll_seconds = 300;
    if (obs->upload_from_seq) r.journal_upload = JournalUpload{*obs->upload_from_seq, witness_.epoch};
    for (auto& [id, s] : actions_) {
      Verdict(s, m);
      if (s.done) continue;
      if (s.cancel_requested) {
        r.cancels.push_back(id);
      } else {
        r.actions.push_back(s.a);
      }
    }
    r.etag = "\"" + std::to_string(std::hash<std::string>{}(Describe(r))) + "\"";
    if (!if_none_match.empty() && if_none_match == r.etag) {
      CheckinReply nm;
      nm.not_modified = true;
      nm.etag = r.etag;
      return Answer<CheckinReply>{nm, {}};
    }
    return Answer<CheckinReply>{r, {}};
  }

  Result<Answer<EventReply>> PostEvent(const Event& e) override {
    if (fail_events > 0) return --fail_events, IoError("event: connection reset (test)");
    Answer<EventReply> answer = Apply(e);
    posts_.push_back({e, answer.ok() ? answer.value->result : answer.error.code});
    if (answer.ok() && answer.value->result == "applied" && on_applied) on_applied(e);
    if (lose_event_answers > 0) return --lose_event_answers, IoError("event: answer lost (test)");
    return answer;
  }

  Result<Answer<SegmentReply>> UploadSegment(const std::string& segment) override {
    ++segments_;
    auto r = server::witness::AcceptSegment(witness_, segment);
    if (!r.ok()) {
      Answer<SegmentReply> a;
      const std::string reason(server::witness::RefusalReason(r.status()));
      a.error = {reason == "card_data"   ? 422
                 : reason == "malformed" ? 400
                                         : 409,
                 reason == "card_data"   ? "card_data"
                 : reason == "malformed" ? "bad_segment"
                                         : "journal_conflict",
                 r.status().message()};
      return a;
    }
    SegmentReply s;
    s.first_seq = r->first_seq;
    s.last_seq = r->last_seq;
    s.verified_seq = witness_.verified_seq;
    s.duplicate = r->duplicate;
    s.receipt = WitnessReceipt{witness_.epoch, witness_.verified_seq, "fake-mac"};
    return Answer<SegmentReply>{s, {}};
  }
  int segments() const { return segments_; }
  // A restored database: the server forgets an action; or it starts a new witness epoch.
  void Forget(int64_t id) { actions_.erase(id); }
  void StartNewWitnessEpoch() { server::witness::StartNewEpoch(witness_); }

  // Identity: none unless a test sets `certificate` (then /v1/renew answers with `renewed`).
  std::string certificate, renewed_certificate, installed_key, last_csr;
  int renewals = 0;
  Result<Answer<CertificateReply>> Renew(const std::string& csr) override {
    if (certificate.empty()) return Unsupported("no renewal (test)");
    ++renewals;
    last_csr = csr;
    CertificateReply r;
    r.certificate = renewed_certificate;
    r.not_after = 2'000'000'000;
    return Answer<CertificateReply>{r, {}};
  }
  Status InstallCertificate(const CertificateReply& cert, const std::string& key_pem) override {
    certificate = cert.certificate;
    installed_key = key_pem;
    return Status::Ok();
  }
  Result<std::string> CurrentCertificate() override {
    if (certificate.empty()) return Unsupported("no certificate (test)");
    return certificate;
  }
  Result<std::string> ResolveRepository(const std::string& repository) override {
    if (repository != "/repo/") return InvalidArgument("unexpected repository " + repository);
    return kRepoUrl;
  }
  net::Fetcher& RepositoryFetcher() override { return *this; }
  Result<std::unique_ptr<net::ByteStream>> OpenStream(const std::string& url) override {
    FW_ASSIGN_OR_RETURN(std::string bytes, ReadRepoFile(url, uint64_t{1} << 30));
    return std::unique_ptr<net::ByteStream>(std::make_unique<MemoryStream>(url, std::move(bytes)));
  }

  // ---- Fetcher (TUF metadata)
  Status Fetch(const std::string& url, uint64_t max_bytes, const net::Sink& sink) override {
    FW_ASSIGN_OR_RETURN(std::string bytes, ReadRepoFile(url, max_bytes));
    return sink(ByteSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  }

  static int Rank(const std::string& state) {
    static const std::vector<std::string> order = {"pending",        "accepted",    "downloading", "downloaded",
                                                   "waiting_window", "backup_done", "installing",  "trial_set",
                                                   "rebooting",      "confirmed"};
    auto it = std::find(order.begin(), order.end(), state);
    return it == order.end() ? -1 : static_cast<int>(it - order.begin());
  }

 private:
  Result<std::string> ReadRepoFile(const std::string& url, uint64_t max_bytes) {
    if (url.rfind(kRepoUrl, 0) != 0) return InvalidArgument("not a repository URL: " + url);
    const std::string rel = url.substr(kRepoUrl.size());
    if (rel.find("..") != std::string::npos) return InvalidArgument("bad path " + rel);
    auto r = ReadFileToString(repo_dir_ + "/" + rel, max_bytes);
    if (!r.ok() && r.status().code() == ErrorCode::kIoError) return NotFound(url + ": 404");
    return r;
  }

  static Answer<EventReply> Error(int status, const std::string& code, const std::string& message) {
    Answer<EventReply> a;
    a.error = {status, code, message};
    return a;
  }

  static bool Closing(const std::string& s) {
    return s == "failed" || s == "rejected" || s == "canceled" || s == "rolled_back";
  }

  Answer<EventReply> Apply(const Event& e) {
    auto it = actions_.find(e.action);
    if (it == actions_.end()) return Error(409, "unknown_action", "no such action");
    ServerAction& s = it->second;
    for (const auto& p : posts_) {
      if (p.e.action == e.action && p.e.attempt == e.attempt && p.e.seq == e.seq && p.result == "applied") {
        if (p.e.state != e.state) return Error(409, "event_conflict", "other content");
        return Reply(s, "duplicate");
      }
    }
    if (s.done) return Error(409, "action_closed", "closed (" + s.a.state + ")");
    if (e.attempt < s.a.attempt || (e.attempt == s.a.attempt && e.seq <= s.a.last_seq)) {
      return Reply(s, "ignored_older");
    }
    const bool new_attempt = e.attempt > s.a.attempt;
    const std::string from = new_attempt ? "pending" : s.a.state;
    const int rf = Rank(from), rt = Rank(e.state);
    auto invalid = [&](const std::string& why) {
      return Error(409, "invalid_transition", from + " → " + e.state + ": " + why);
    };
    if (new_attempt && Rank(s.a.state) >= Rank("trial_set")) return invalid("new attempt after trial");
    const bool backup = (!new_attempt && s.backup_done) || e.state == "backup_done";
    if (rt >= 0) {
      const bool repeatable = e.state == "downloading" || e.state == "waiting_window" || e.state == "installing";
      if (rt < rf || (rt == rf && !repeatable)) return invalid("states only move forward");
      if ((e.state == "rebooting" || e.state == "confirmed") && rf < Rank("trial_set")) return invalid("no trial");
      if (rt >= Rank("installing") && s.a.backup_required && !backup) return invalid("backup required");
    } else if (e.state == "canceled") {
      if (!s.cancel_requested || rf >= Rank("trial_set")) return invalid("cancel");
    } else if (e.state == "rejected") {
      if (rf > 1) return invalid("rejected after work started");
    } else if (!Closing(e.state)) {
      return Error(400, "bad_request", "state");
    }
    s.a.state = e.state;
    s.a.attempt = e.attempt;
    s.a.last_seq = e.seq;
    s.backup_done = backup;
    if (e.state == "failed") s.failure_stage = e.stage;
    if (Closing(e.state)) s.done = true;
    if (s.a.kind == "journal_backup" && e.state == "backup_done") s.a.state = "succeeded", s.done = true;
    if (s.a.type == "download-only" && e.state == "downloaded") s.a.state = "succeeded", s.done = true;
    return Reply(s, "applied");
  }

  static Answer<EventReply> Reply(const ServerAction& s, const std::string& result) {
    return Answer<EventReply>{EventReply{result, s.a.state, s.a.attempt, s.a.last_seq}, {}};
  }

  // The check-in verdict for an action past trial_set (fleet-protocol.md).
  void Verdict(ServerAction& s, const Manifest& m) {
    if (s.done || Rank(s.a.state) < Rank("trial_set") || s.a.target_version.empty()) return;
    if (m.running.version == s.a.target_version) {
      if (m.running.state == "confirmed" && s.a.state == "confirmed") s.a.state = "succeeded", s.done = true;
      return;
    }
    if (s.a.state != "confirmed" && m.other && m.other->version == s.a.target_version &&
        m.other->state == "trial_pending") {
      return;
    }
    s.a.state = "failed", s.done = true, s.failure_stage = "boot_failed";
  }

  static std::string Describe(const CheckinReply& r) {
    std::string d;
    for (const auto& a : r.actions) d += std::to_string(a.id) + a.state + std::to_string(a.last_seq) + ";";
    for (auto c : r.cancels) d += "c" + std::to_string(c);
    if (r.journal_upload) d += "u" + std::to_string(r.journal_upload->from_seq);
    return d;
  }

  std::string repo_dir_;
  std::map<int64_t, ServerAction> actions_;
  int64_t next_id_ = 1;
  std::vector<StoredEvent> posts_;
  std::vector<Manifest> manifests_;
  server::witness::State witness_;
  int segments_ = 0;
};

}  // namespace fw::agent::testing
