// AcceptSegment and EncodeSegment: the segment format of docs/fleet-journal-witness.md.
#include <algorithm>
#include <string>
#include <vector>

#include "checkpoints.h"
#include "fw/encoding.h"
#include "fw/journal/record.h"
#include "fw/server/journal_witness.h"
#include "strict_json.h"

namespace fw::server::witness {

namespace jr = fw::journal;
using internal::CheckMembers;
using internal::IntField;
using internal::StringField;

namespace {

// Splits the body into lines on '\n'; a last line without newline is allowed, an empty
// line is not.
class Lines {
 public:
  explicit Lines(std::string_view body) : body_(body) {}
  bool Done() const { return at_ >= body_.size(); }
  std::string_view Next() {
    size_t nl = body_.find('\n', at_);
    size_t end = nl == std::string_view::npos ? body_.size() : nl;
    std::string_view line = body_.substr(at_, end - at_);
    at_ = nl == std::string_view::npos ? body_.size() : nl + 1;
    ++number_;
    return line;
  }
  int64_t number() const { return number_; }

 private:
  std::string_view body_;
  size_t at_ = 0;
  int64_t number_ = 0;
};

struct Header {
  int64_t epoch = 0;
  int64_t from_seq = 0;
  int64_t count = 0;
};

Result<Header> ParseHeader(std::string_view line) {
  const std::string what = "segment header (line 1)";
  if (line.size() > 1024) return Corrupt(what + " is longer than 1024 bytes");
  auto p = internal::ParseStrict(line, 1, /*scan_cards=*/false);
  if (!p.error.empty()) return Corrupt(what + ": " + p.error);
  FW_RETURN_IF_ERROR(CheckMembers(p.value, {"format", "epoch", "from_seq", "count"}, {}, what));
  FW_ASSIGN_OR_RETURN(std::string format, StringField(p.value, "format", what));
  if (format != kSegmentFormat) return Corrupt(what + ": format must be " + std::string(kSegmentFormat));
  Header h;
  FW_ASSIGN_OR_RETURN(h.epoch, IntField(p.value, "epoch", 1, internal::kMaxSeq, what));
  FW_ASSIGN_OR_RETURN(h.from_seq, IntField(p.value, "from_seq", 1, internal::kMaxSeq, what));
  FW_ASSIGN_OR_RETURN(h.count, IntField(p.value, "count", 1, static_cast<int64_t>(kMaxSegmentRecords), what));
  return h;
}

Result<Digest> HashField(const nlohmann::json& j, const char* key, const std::string& what) {
  FW_ASSIGN_OR_RETURN(std::string hex, StringField(j, key, what));
  if (!internal::IsHex64(hex)) return Corrupt(what + ": " + key + " must be 64 lower-case hex digits");
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != 32) return Corrupt(what + ": " + key + " is not a SHA-256 digest");
  Digest d{};
  std::copy(bytes->begin(), bytes->end(), d.begin());
  return d;
}

// One record line. `seq` is the sequence number the line must carry (named in messages, as
// the line's own seq cannot be trusted before it is checked).
Result<jr::Record> ParseRecordLine(std::string_view line, int64_t seq, int64_t line_no) {
  const std::string what = "record seq " + std::to_string(seq) + " (line " + std::to_string(line_no) + ")";
  if (line.size() > kMaxSegmentLineBytes) {
    return Corrupt(what + " is longer than " + std::to_string(kMaxSegmentLineBytes) + " bytes");
  }
  auto p = internal::ParseStrict(line, 2, /*scan_cards=*/true);
  if (p.card) {
    return VerificationFailed(what + ": " + p.card->field + " holds what looks like a full card number (a " +
                              std::to_string(p.card->digits) +
                              "-digit run); journals hold masked card data only, the segment is refused");
  }
  if (!p.error.empty()) return Corrupt(what + ": " + p.error);
  const nlohmann::json& j = p.value;
  FW_RETURN_IF_ERROR(CheckMembers(j,
                                  {"seq", "time_ms", "terminal_id", "kind", "amount_minor", "currency", "pan_masked",
                                   "auth_code", "result", "prev_hash", "hash"},
                                  {"extensions"}, what));
  jr::Record r;
  FW_ASSIGN_OR_RETURN(r.seq, IntField(j, "seq", 1, internal::kMaxSeq, what));
  if (r.seq != seq) {
    return Corrupt(what + ": carries seq " + std::to_string(r.seq) + "; records must be consecutive from from_seq");
  }
  FW_ASSIGN_OR_RETURN(r.time_ms, IntField(j, "time_ms", 0, INT64_MAX, what));
  FW_ASSIGN_OR_RETURN(r.terminal_id, StringField(j, "terminal_id", what));
  FW_ASSIGN_OR_RETURN(std::string kind, StringField(j, "kind", what));
  auto k = jr::ParseKind(kind);
  if (!k.ok()) return Corrupt(what + ": kind must be sale, refund, void or settlement");
  r.kind = *k;
  FW_ASSIGN_OR_RETURN(r.amount_minor, IntField(j, "amount_minor", 0, INT64_MAX, what));
  FW_ASSIGN_OR_RETURN(r.currency, StringField(j, "currency", what));
  FW_ASSIGN_OR_RETURN(r.pan_masked, StringField(j, "pan_masked", what));
  FW_ASSIGN_OR_RETURN(r.auth_code, StringField(j, "auth_code", what));
  FW_ASSIGN_OR_RETURN(r.result, StringField(j, "result", what));
  FW_ASSIGN_OR_RETURN(r.prev_hash, HashField(j, "prev_hash", what));
  FW_ASSIGN_OR_RETURN(r.hash, HashField(j, "hash", what));
  if (auto it = j.find("extensions"); it != j.end()) {
    if (!it->is_object() || it->empty()) return Corrupt(what + ": extensions must be a non-empty object");
    for (const auto& [name, value] : it->items()) {
      if (!value.is_string()) return Corrupt(what + ": extension values must be strings");
      r.extensions[name] = value.get<std::string>();
    }
  }
  Status valid = jr::ValidateRecordInput(r);
  if (!valid.ok()) return Corrupt(what + ": " + valid.message());
  return r;
}

// What the segment holds once every line is checked: the first record's link and every hash.
struct Parsed {
  Header header;
  Digest first_prev{};
  std::vector<Digest> hashes;  // hashes[i] is the hash of seq from_seq + i
  int64_t last_seq() const { return header.from_seq + header.count - 1; }
  std::string HexAt(int64_t seq) const { return HexEncode(hashes[static_cast<size_t>(seq - header.from_seq)]); }
};

Result<Parsed> ParseSegment(std::string_view body) {
  if (body.size() > kMaxSegmentBytes) {
    return Corrupt("segment is " + std::to_string(body.size()) + " bytes, more than the " +
                   std::to_string(kMaxSegmentBytes) + " allowed");
  }
  if (body.empty()) return Corrupt("segment is empty");
  Lines lines(body);
  Parsed p;
  FW_ASSIGN_OR_RETURN(p.header, ParseHeader(lines.Next()));
  p.hashes.reserve(static_cast<size_t>(p.header.count));
  jr::ChainHasher hasher;
  for (int64_t i = 0; i < p.header.count; ++i) {
    const int64_t seq = p.header.from_seq + i;
    if (lines.Done()) {
      return Corrupt("segment ends after " + std::to_string(i) + " of the " + std::to_string(p.header.count) +
                     " records its header announces");
    }
    std::string_view line = lines.Next();
    FW_ASSIGN_OR_RETURN(jr::Record r, ParseRecordLine(line, seq, lines.number()));
    if (hasher.Hash(r) != r.hash) {
      return Corrupt("record seq " + std::to_string(seq) + ": hash does not match the record's content (altered)");
    }
    if (i == 0) {
      p.first_prev = r.prev_hash;
    } else if (r.prev_hash != p.hashes.back()) {
      return Corrupt("record seq " + std::to_string(seq) + " does not link to seq " + std::to_string(seq - 1) +
                     " (prev_hash differs from its hash): records deleted, inserted or reordered");
    }
    p.hashes.push_back(r.hash);
  }
  if (!lines.Done()) {
    return Corrupt("segment holds more lines than the " + std::to_string(p.header.count) +
                   " records its header announces");
  }
  return p;
}

Status Fork(int64_t seq, const std::string& why) {
  return FailedPrecondition("fork at seq " + std::to_string(seq) + ": " + why +
                            "; the segment is refused and the server keeps what it holds");
}

// Decides how the checked segment relates to what `state` holds. Ok with out.duplicate when
// every record is already held; Ok otherwise when it extends the verified chain.
Status Link(const State& state, const Parsed& p, SegmentResult& out) {
  const int64_t first = p.header.from_seq, last = p.last_seq(), v = state.verified_seq;
  for (const Checkpoint& c : state.checkpoints) {  // the server's own records must agree
    if (!c.verified || c.seq < first || c.seq > last || p.HexAt(c.seq) == c.head_hex) continue;
    return Fork(c.seq, "the record has hash " + internal::Short(p.HexAt(c.seq)) +
                           ", the server holds the record with " + internal::Short(c.head_hex));
  }
  const std::string held = "the server holds records up to seq " + std::to_string(v);
  if (v == 0) {
    if (first != 1) {
      return FailedPrecondition("gap: the server holds no record of this journal in epoch " +
                                std::to_string(state.epoch) + "; upload from seq 1 (this segment starts at " +
                                std::to_string(first) + ")");
    }
    if (p.first_prev != jr::kGenesisHash) {
      return Fork(1, "seq 1 does not start from the genesis hash (32 zero bytes): records were removed at the start");
    }
  } else if (first == v + 1) {
    if (HexEncode(p.first_prev) != state.verified_head_hex) {
      return Fork(first, "its prev_hash " + internal::Short(HexEncode(p.first_prev)) + " is not the hash " +
                             internal::Short(state.verified_head_hex) + " of the held seq " + std::to_string(v));
    }
  } else if (first > v + 1) {
    return FailedPrecondition("gap: " + held + "; upload from seq " + std::to_string(v + 1) +
                              " (this segment starts at " + std::to_string(first) + ")");
  } else if (last >= v) {
    if (p.HexAt(v) != state.verified_head_hex) {
      return Fork(v, "the record has hash " + internal::Short(p.HexAt(v)) + ", the server holds the record with " +
                         internal::Short(state.verified_head_hex));
    }
  } else {
    const Checkpoint* c = internal::FindCheckpoint(state, last);
    if (c == nullptr || !c->verified) {
      return FailedPrecondition("already held: records " + std::to_string(first) + ".." + std::to_string(last) +
                                " lie below the verified seq " + std::to_string(v) +
                                " and the server can no longer compare them; upload from seq " + std::to_string(v + 1));
    }
  }
  out.duplicate = last <= v;
  return Status::Ok();
}

}  // namespace

Result<SegmentResult> AcceptSegment(State& state, std::string_view body) {
  FW_ASSIGN_OR_RETURN(Parsed p, ParseSegment(body));
  if (p.header.epoch != state.epoch) {
    return FailedPrecondition("epoch: the segment was made for epoch " + std::to_string(p.header.epoch) +
                              ", the server's witness of this journal is in epoch " + std::to_string(state.epoch) +
                              "; ask again (the check-in reply names the epoch)");
  }
  SegmentResult out;
  out.first_seq = p.header.from_seq;
  out.last_seq = p.last_seq();
  out.records = p.header.count;
  out.last_hash_hex = p.HexAt(out.last_seq);
  FW_RETURN_IF_ERROR(Link(state, p, out));
  if (out.duplicate) return out;
  State next = state;
  // Check-ins that named a head inside this range: a different hash is a second chain.
  for (const Checkpoint& c : state.checkpoints) {
    if (c.verified || c.seq < out.first_seq || c.seq > out.last_seq) continue;
    const std::string hash = p.HexAt(c.seq);
    if (hash != c.head_hex) {
      out.findings.push_back({FindingKind::kFork, c.seq,
                              "a check-in reported head " + internal::Short(c.head_hex) + " at seq " +
                                  std::to_string(c.seq) + ", the uploaded record there has hash " +
                                  internal::Short(hash) +
                                  ": two chains (a cloned terminal, or a journal rewritten after that check-in)"});
    }
    internal::PutCheckpoint(next, c.seq, hash, /*verified=*/true);
  }
  next.verified_seq = out.last_seq;
  next.verified_head_hex = out.last_hash_hex;
  internal::PutCheckpoint(next, out.last_seq, out.last_hash_hex, /*verified=*/true);
  out.changed = true;
  state = std::move(next);
  return out;
}

std::string EncodeSegment(int64_t epoch, const std::vector<jr::Record>& records) {
  const int64_t from = records.empty() ? 0 : records.front().seq;
  std::string out = R"({"format":")" + std::string(kSegmentFormat) + R"(","epoch":)" + std::to_string(epoch) +
                    R"(,"from_seq":)" + std::to_string(from) + R"(,"count":)" + std::to_string(records.size()) + "}\n";
  for (const auto& r : records) out += jr::RecordJsonLine(r) + "\n";
  return out;
}

}  // namespace fw::server::witness
