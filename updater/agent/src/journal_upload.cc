// Journal backup for the agent (fw/agent/journal_upload.h): the terminal's journal read through a
// read-only connection (SQLite's WAL gives a consistent view; the terminal lock is never taken) and
// cut into segments by the server's own encoder.
#include "fw/agent/journal_upload.h"

#include "fw/encoding.h"
#include "fw/journal/journal.h"
#include "fw/server/journal_witness.h"

namespace fw::agent {
namespace {

Result<journal::Journal> OpenReadOnly(const std::string& path, int lock_timeout_ms) {
  journal::OpenOptions options;
  options.read_only = true;
  options.lock_timeout_ms = lock_timeout_ms;
  return journal::Journal::Open(path, options);
}

}  // namespace

Result<JournalHead> ReadJournalHead(const std::string& journal_path, int lock_timeout_ms) {
  FW_ASSIGN_OR_RETURN(auto j, OpenReadOnly(journal_path, lock_timeout_ms));
  FW_ASSIGN_OR_RETURN(journal::ChainSummary s, j.Summary());
  JournalHead head;
  head.last_seq = s.last_seq;
  if (s.last_seq > 0) head.head = HexEncode(s.head);
  return head;
}

Result<std::vector<std::string>> BuildJournalSegments(const std::string& journal_path, int64_t from_seq, int64_t up_to,
                                                      int64_t epoch, int64_t max_records, int lock_timeout_ms) {
  if (from_seq < 1) return InvalidArgument("journal upload: from_seq must be at least 1");
  if (epoch < 1) return InvalidArgument("journal upload: epoch must be at least 1");
  if (max_records < 1 || max_records > static_cast<int64_t>(server::witness::kMaxSegmentRecords)) {
    return InvalidArgument("journal upload: max_records must be 1.." +
                           std::to_string(server::witness::kMaxSegmentRecords));
  }
  FW_ASSIGN_OR_RETURN(auto j, OpenReadOnly(journal_path, lock_timeout_ms));
  std::vector<std::string> segments;
  std::vector<journal::Record> batch;
  int64_t expected = from_seq;
  bool done = false;
  auto flush = [&] {
    for (auto& s : server::witness::EncodeSegments(epoch, batch)) segments.push_back(std::move(s));
    batch.clear();
  };
  // One read transaction: the records and their links are one consistent view of the chain.
  Status s = j.ForEach(from_seq, [&](const journal::Record& r) -> Status {
    if (up_to > 0 && r.seq > up_to) {
      done = true;
      return FailedPrecondition("past up_to");  // stops ForEach; not an error
    }
    if (r.seq != expected) {
      return Corrupt("journal " + journal_path + ": record " + std::to_string(expected) + " is missing (next is " +
                     std::to_string(r.seq) + ")");
    }
    ++expected;
    batch.push_back(r);
    if (static_cast<int64_t>(batch.size()) == max_records) flush();
    return Status::Ok();
  });
  if (!done) FW_RETURN_IF_ERROR_CTX(s, "reading journal " + journal_path);
  flush();
  if (up_to > 0 && expected <= up_to && expected > from_seq) {
    return NotFound("journal " + journal_path + " ends at seq " + std::to_string(expected - 1) + ", before " +
                    std::to_string(up_to));
  }
  return segments;
}

}  // namespace fw::agent
