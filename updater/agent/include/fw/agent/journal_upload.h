// Journal backup for the agent: reads records of the terminal's journal (fw_journal, read-only, never
// taking the terminal lock) and cuts them into `ptfw-journal-segment-v1` bodies
// (docs/fleet-journal-witness.md) with the server's own encoder (fw::server::witness::EncodeSegments).
// Library fw_agent_client. Thread safety: free functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fw/status.h"

namespace fw::agent {

struct JournalHead {
  int64_t last_seq = 0;
  std::string head;  // hex hash of record last_seq; empty when 0
};
// The journal's current head (what check-ins report).
Result<JournalHead> ReadJournalHead(const std::string& journal_path, int lock_timeout_ms = 5000);

// Records from_seq … up_to (inclusive; 0 = the current last) as segments of at most
// `max_records` records (≤ 10,000) and 8 MiB each, in order. Empty when from_seq > last.
Result<std::vector<std::string>> BuildJournalSegments(const std::string& journal_path, int64_t from_seq, int64_t up_to,
                                                      int64_t epoch, int64_t max_records = 2000,
                                                      int lock_timeout_ms = 5000);

}  // namespace fw::agent
