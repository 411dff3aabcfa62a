// fleet-sim: the network between one simulated terminal and the fleet server. SimTransport wraps the
// terminal's real transport (OpenHttpsTransport: mutual TLS to the in-process server) and injects the
// link's faults by policy; Telemetry collects what the fleet report needs from every terminal.
//
// Contract:
//   - drop_rate: each call (check-in, event, segment, renewal, repository fetch, target stream opening)
//     fails with kIoError before it reaches the server, with that probability (the terminal's seeded RNG).
//   - Replay (scenario 4): after an event was posted, the same event is posted again with probability
//     duplicate_rate, and an OLDER event of this terminal (any of its last 16) is posted after it with
//     probability replay_older_rate. The agent only ever sees the reply to its own post; the replies to
//     the replays are tallied (Telemetry::Count "replay:<result or error code>").
//   - Reorder (scenario 4): with probability hold_rate a progress event (accepted, downloaded,
//     waiting_window, installing) is held, as a store-and-forward proxy would: the agent is answered
//     `applied` at once, and the event reaches the server only after the agent's NEXT event (an older seq
//     after a newer one, first time: ignored_older), or at the end of the cycle when nothing followed.
//     backup_done, trial_set and the closing events are never held (the agent acts on their answers).
//   - cut_at_call (power cuts): at the k-th call of this cycle `on_cut` runs (the terminal copies its
//     data area: what is on disk at that instant survives) and from then on every call fails (dead).
//   - Every event the agent posted is remembered by (action, attempt, seq) with the last answer it got
//     (LinkState::posted), so the fleet report can check that the server holds every event in the end.
//   - Check-in latency: wall milliseconds around each check-in that reached the server.
//   - HTTP error answers of check-ins and events are counted: "refused_http_<status>" and
//     "refused_http_<status>_retry_after" (the answer carried a Retry-After).
// Ownership: SimTransport owns the inner transport; LinkState belongs to the terminal (it outlives the
// cycle's transport); Telemetry is shared by every terminal.
// Thread safety: a SimTransport and its LinkState are used by one worker thread at a time; Telemetry is
// thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fw/agent/transport.h"

namespace fw::fleetsim {

class Telemetry {
 public:
  void AddCheckinMs(double ms);
  void Count(const std::string& name, int64_t n = 1);
  int64_t Counter(const std::string& name) const;
  std::map<std::string, int64_t> Counters() const;
  // Count, p50 and p99 of the check-in latencies so far (milliseconds).
  struct Percentiles {
    int64_t count = 0;
    double p50 = 0, p99 = 0;
  };
  Percentiles Checkins() const;

 private:
  mutable std::mutex mu_;
  std::vector<float> checkin_ms_;
  std::map<std::string, int64_t> counters_;
};

struct PostedEvent {
  int64_t action = 0, attempt = 0, seq = 0;
  std::string state;
  std::string answer;  // "applied" | "duplicate" | "ignored_older" | an error code | "io" (no answer yet)
};

// The link's memory across cycles (owned by the terminal).
struct LinkState {
  std::mt19937_64 rng;
  std::deque<agent::Event> recent;  // the last events posted (replay material)
  std::vector<PostedEvent> posted;  // every event the agent posted, by first post
};

struct LinkFaults {
  double drop_rate = 0;
  double duplicate_rate = 0;
  double replay_older_rate = 0;
  double hold_rate = 0;
  int64_t cut_at_call = 0;  // 1-based; 0: no cut this cycle
  std::function<void()> on_cut;
};

class SimTransport final : public agent::Transport {
 public:
  SimTransport(std::unique_ptr<agent::Transport> inner, LinkState& state, LinkFaults faults, Telemetry& telemetry);
  ~SimTransport() override;

  bool cut() const { return dead_; }
  // The power went elsewhere (a flash operation): every call fails from now on.
  void Kill() { dead_ = true; }

  Result<agent::Answer<agent::CheckinReply>> Checkin(const agent::Manifest& manifest,
                                                     const std::string& if_none_match) override;
  Result<agent::Answer<agent::EventReply>> PostEvent(const agent::Event& event) override;
  Result<agent::Answer<agent::SegmentReply>> UploadSegment(const std::string& segment) override;
  Result<agent::Answer<agent::CertificateReply>> Renew(const std::string& csr_pem) override;
  Status InstallCertificate(const agent::CertificateReply& cert, const std::string& key_pem) override;
  Result<std::string> CurrentCertificate() override;
  Result<std::string> ResolveRepository(const std::string& repository) override;
  net::Fetcher& RepositoryFetcher() override;
  Result<std::unique_ptr<net::ByteStream>> OpenStream(const std::string& url) override;

  // Called before each call reaches the server: the cut, then a drop. Public for the fetcher wrapper.
  Status Gate(const char* what);

 private:
  void CountRefusal(const agent::ServerError& error);
  void Remember(const agent::Event& event, const Result<agent::Answer<agent::EventReply>>& reply);
  void Note(const agent::Event& event, const std::string& answer);
  void Replay(const agent::Event& event);
  void DeliverHeld();
  bool Chance(double p);

  std::unique_ptr<agent::Transport> inner_;
  LinkState& state_;
  LinkFaults faults_;
  Telemetry& telemetry_;
  std::unique_ptr<net::Fetcher> fetcher_;
  std::optional<agent::Event> held_;
  int64_t calls_ = 0;
  bool dead_ = false;
};

// The answer text of an event post: result, error code, or "io".
std::string AnswerText(const Result<agent::Answer<agent::EventReply>>& reply);

}  // namespace fw::fleetsim
