// The reconnect storm's terminals (scenario 5 of issue 18, tests/fleet/storm): every terminal
// reconnects once within an arrival window and retries until the server answers its check-in.
//
// Contract:
//  - RunStorm() gives each terminal a first attempt at a uniformly random time in
//    [0, arrival_seconds) after the start. An attempt is a NEW TLS 1.3 connection with the
//    terminal's own client certificate (full handshake: a restarted server has new ticket keys),
//    one check-in (bench::BuildRequest, the terminal's ETag as If-None-Match), then the close.
//  - 200 / 304: the terminal is served (never contacts the server again). 503: counted, its
//    Retry-After checked (absent or not decimal seconds: counted in busy_without_retry_after), the
//    next attempt after Retry-After + a random 0..Retry-After of jitter. Any other status: counted
//    by status, next attempt after no_answer_retry_seconds + jitter. No HTTP answer at all (refused,
//    closed or reset during the handshake or before the reply, or no reply within
//    attempt_timeout_seconds): counted by kind ("handshake: closed", "read: timeout", …), next
//    attempt after a backoff of no_answer_retry_seconds doubling with each such attempt in a row
//    (at most 8 x), half of it fixed and half random (the agent's "equal jitter").
//  - A terminal stops retrying give_up_seconds after the start (it stays unserved).
// Ownership: terminals and the target's slots (sessions, ETags) are borrowed and updated.
// Thread safety: RunStorm() runs its own io_context on `threads` threads; each terminal's
// handlers run on its strand; results are merged under a mutex. Call it from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server_bench.h"

namespace storm {

struct StormOptions {
  double arrival_seconds = 10;
  double give_up_seconds = 300;
  double attempt_timeout_seconds = 30;
  double no_answer_retry_seconds = 1;
  unsigned threads = 2;
  uint64_t seed = 1;
};

struct StormResult {
  size_t terminals = 0;
  size_t served = 0;
  uint64_t attempts = 0;
  std::map<int, uint64_t> statuses;             // every HTTP answer, by status
  uint64_t busy = 0;                            // 503 answers
  uint64_t busy_without_retry_after = 0;        // of those, without a usable Retry-After
  std::map<std::string, uint64_t> no_answer;    // attempts that got no HTTP answer, by kind
  uint64_t timeouts = 0;                        // of those, the ones that hit the attempt timeout
  double all_served_s = 0;                      // start → the last terminal served (0: none)
  std::vector<uint32_t> served_ms;              // per served terminal: its first attempt → served
  uint32_t max_attempts = 0;                    // the most attempts one terminal needed
  std::map<std::string, uint64_t> retry_after;  // Retry-After values seen, as sent
  std::map<int, std::string> sample_bodies;     // one reply body (≤ 512 bytes) per unexpected status
  double PercentileMs(double p) const;
  uint64_t NoAnswerTotal() const;
};

StormResult RunStorm(bench::Target& target, std::vector<std::unique_ptr<bench::Terminal>>& terminals,
                     const bench::LoadOptions& load, const StormOptions& options);

}  // namespace storm
