// SimTransport and Telemetry (sim_transport.h).
#include "sim_transport.h"

#include <algorithm>
#include <chrono>

namespace fw::fleetsim {
namespace {

// The repository fetcher of the wrapped transport, behind the same gate.
class GatedFetcher final : public net::Fetcher {
 public:
  GatedFetcher(SimTransport& link, net::Fetcher& inner) : link_(link), inner_(inner) {}
  Status Fetch(const std::string& url, uint64_t max_bytes, const net::Sink& sink) override {
    FW_RETURN_IF_ERROR(link_.Gate("fetch"));
    return inner_.Fetch(url, max_bytes, sink);
  }

 private:
  SimTransport& link_;
  net::Fetcher& inner_;
};

constexpr size_t kRecentEvents = 16;

}  // namespace

void Telemetry::AddCheckinMs(double ms) {
  std::lock_guard<std::mutex> lock(mu_);
  checkin_ms_.push_back(static_cast<float>(ms));
}

void Telemetry::Count(const std::string& name, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[name] += n;
}

int64_t Telemetry::Counter(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(name);
  return it == counters_.end() ? 0 : it->second;
}

std::map<std::string, int64_t> Telemetry::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

Telemetry::Percentiles Telemetry::Checkins() const {
  std::vector<float> v;
  {
    std::lock_guard<std::mutex> lock(mu_);
    v = checkin_ms_;
  }
  Percentiles p;
  p.count = static_cast<int64_t>(v.size());
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) { return static_cast<double>(v[static_cast<size_t>(q * (v.size() - 1) + 0.5)]); };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  return p;
}

std::string AnswerText(const Result<agent::Answer<agent::EventReply>>& reply) {
  if (!reply.ok()) return "io";
  if (reply->ok()) return reply->value->result;
  return reply->error.code.empty() ? "http_" + std::to_string(reply->error.http_status) : reply->error.code;
}

SimTransport::SimTransport(std::unique_ptr<agent::Transport> inner, LinkState& state, LinkFaults faults,
                           Telemetry& telemetry)
    : inner_(std::move(inner)), state_(state), faults_(std::move(faults)), telemetry_(telemetry) {
  fetcher_ = std::make_unique<GatedFetcher>(*this, inner_->RepositoryFetcher());
}

SimTransport::~SimTransport() { DeliverHeld(); }

// The held event reaches the server (late); nothing when the link died meanwhile (the proxy lost it:
// events may be skipped, and the agent was told it was delivered).
void SimTransport::DeliverHeld() {
  if (!held_) return;
  agent::Event e = std::move(*held_);
  held_.reset();
  if (dead_) {
    telemetry_.Count("reorder:lost_with_the_link");
    for (auto& p : state_.posted) {
      if (p.action == e.action && p.attempt == e.attempt && p.seq == e.seq) p.answer = "lost_by_proxy";
    }
    return;
  }
  auto reply = inner_->PostEvent(e);
  telemetry_.Count("reorder:" + AnswerText(reply));
  Remember(e, reply);
}

bool SimTransport::Chance(double p) {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(state_.rng) < p;
}

Status SimTransport::Gate(const char* what) {
  ++calls_;
  if (!dead_ && faults_.cut_at_call > 0 && calls_ == faults_.cut_at_call) {
    dead_ = true;
    if (faults_.on_cut) faults_.on_cut();
  }
  if (dead_) return IoError(std::string(what) + ": no network (the terminal lost power)");
  if (Chance(faults_.drop_rate)) {
    telemetry_.Count("network_drops");
    return IoError(std::string(what) + ": connection dropped (simulated)");
  }
  return Status::Ok();
}

Result<agent::Answer<agent::CheckinReply>> SimTransport::Checkin(const agent::Manifest& manifest,
                                                                 const std::string& if_none_match) {
  FW_RETURN_IF_ERROR(Gate("check-in"));
  const auto start = std::chrono::steady_clock::now();
  auto reply = inner_->Checkin(manifest, if_none_match);
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  if (reply.ok()) telemetry_.AddCheckinMs(took.count());
  telemetry_.Count(reply.ok() ? (reply->ok() ? "checkins" : "checkin_refused") : "checkin_failed");
  if (reply.ok() && !reply->ok()) CountRefusal(reply->error);
  return reply;
}

Result<agent::Answer<agent::EventReply>> SimTransport::PostEvent(const agent::Event& event) {
  if (Status s = Gate("event"); !s.ok()) {
    // A drop on a live link is an event the agent will send again; after a cut, the agent that posts
    // is running on dead power: its data area is put back as it was at the cut, so that event never was.
    if (!dead_) Remember(event, s);
    return s;
  }
  const bool progress = event.state == "accepted" || event.state == "downloaded" || event.state == "waiting_window" ||
                        event.state == "installing";
  if (!held_ && progress && Chance(faults_.hold_rate)) {
    held_ = event;
    telemetry_.Count("events_held");
    Note(event, "held");
    agent::Answer<agent::EventReply> ack;
    ack.value = agent::EventReply{"applied", event.state, event.attempt, event.seq};
    return ack;
  }
  auto reply = inner_->PostEvent(event);
  Remember(event, reply);
  if (reply.ok() && !reply->ok()) CountRefusal(reply->error);
  if (reply.ok()) {
    DeliverHeld();  // after a newer one
    Replay(event);
  }
  return reply;
}

// "refused_http_<status>" per HTTP error answer of a check-in or event, and "..._retry_after" when it
// carried a Retry-After (fleet-multi counts the 503s of a database outage).
void SimTransport::CountRefusal(const agent::ServerError& error) {
  const std::string name = "refused_http_" + std::to_string(error.http_status);
  telemetry_.Count(name);
  if (error.retry_after_s >= 0) telemetry_.Count(name + "_retry_after");
}

void SimTransport::Remember(const agent::Event& event, const Result<agent::Answer<agent::EventReply>>& reply) {
  Note(event, AnswerText(reply));
}

// One entry per (action, attempt, seq), holding the last answer.
void SimTransport::Note(const agent::Event& event, const std::string& answer) {
  for (auto it = state_.posted.rbegin(); it != state_.posted.rend(); ++it) {
    if (it->action == event.action && it->attempt == event.attempt && it->seq == event.seq) {
      if (it->answer == "io" && answer != "io") telemetry_.Count("events_redelivered");
      it->answer = answer;
      return;
    }
  }
  state_.posted.push_back({event.action, event.attempt, event.seq, event.state, answer});
}

// Scenario 4: the same event again, and an older one after it (only when the link is up).
void SimTransport::Replay(const agent::Event& event) {
  if (Chance(faults_.duplicate_rate)) {
    telemetry_.Count("replay:" + AnswerText(inner_->PostEvent(event)));
    telemetry_.Count("replays_sent");
  }
  if (!state_.recent.empty() && Chance(faults_.replay_older_rate)) {
    const size_t i = std::uniform_int_distribution<size_t>(0, state_.recent.size() - 1)(state_.rng);
    telemetry_.Count("replay:" + AnswerText(inner_->PostEvent(state_.recent[i])));
    telemetry_.Count("replays_sent");
  }
  state_.recent.push_back(event);
  if (state_.recent.size() > kRecentEvents) state_.recent.pop_front();
}

Result<agent::Answer<agent::SegmentReply>> SimTransport::UploadSegment(const std::string& segment) {
  FW_RETURN_IF_ERROR(Gate("journal segment"));
  return inner_->UploadSegment(segment);
}

Result<agent::Answer<agent::CertificateReply>> SimTransport::Renew(const std::string& csr_pem) {
  FW_RETURN_IF_ERROR(Gate("renew"));
  return inner_->Renew(csr_pem);
}

Status SimTransport::InstallCertificate(const agent::CertificateReply& cert, const std::string& key_pem) {
  return inner_->InstallCertificate(cert, key_pem);
}

Result<std::string> SimTransport::CurrentCertificate() { return inner_->CurrentCertificate(); }

Result<std::string> SimTransport::ResolveRepository(const std::string& repository) {
  return inner_->ResolveRepository(repository);
}

net::Fetcher& SimTransport::RepositoryFetcher() { return *fetcher_; }

Result<std::unique_ptr<net::ByteStream>> SimTransport::OpenStream(const std::string& url) {
  FW_RETURN_IF_ERROR(Gate("target stream"));
  return inner_->OpenStream(url);
}

}  // namespace fw::fleetsim
