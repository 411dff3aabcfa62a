// The witness state (Serialize/ParseState, StartNewEpoch) and ObserveCheckin.
#include <algorithm>
#include <string>

#include "checkpoints.h"
#include "fw/server/journal_witness.h"
#include "strict_json.h"

namespace fw::server::witness {

using internal::IntField;
using internal::kMaxSeq;
using internal::Short;
using internal::StringField;

namespace internal {

const Checkpoint* FindCheckpoint(const State& state, int64_t seq) {
  for (const Checkpoint& c : state.checkpoints) {
    if (c.seq == seq) return &c;
  }
  return nullptr;
}

std::string KnownHead(const State& state, int64_t seq, bool* verified) {
  *verified = false;
  if (seq > 0 && seq == state.verified_seq) {
    *verified = true;
    return state.verified_head_hex;
  }
  const Checkpoint* c = FindCheckpoint(state, seq);
  if (c == nullptr) return "";
  *verified = c->verified;
  return c->head_hex;
}

void PutCheckpoint(State& state, int64_t seq, const std::string& head_hex, bool verified) {
  auto& cps = state.checkpoints;
  auto it = std::find_if(cps.begin(), cps.end(), [&](const Checkpoint& c) { return c.seq == seq; });
  Checkpoint cp{seq, head_hex, verified};
  if (it != cps.end()) {
    if (it->verified && !verified) cp = *it;  // the server's own record wins over a check-in
    cps.erase(it);
  }
  cps.push_back(std::move(cp));
  if (cps.size() > kMaxCheckpoints) cps.erase(cps.begin(), cps.begin() + (cps.size() - kMaxCheckpoints));
}

std::string Short(std::string_view hex) { return std::string(hex.substr(0, 16)) + "…"; }

}  // namespace internal

std::string_view FindingKindName(FindingKind kind) {
  switch (kind) {
    case FindingKind::kTruncated:
      return "truncated";
    case FindingKind::kFork:
      return "fork";
    case FindingKind::kGap:
      return "gap";
  }
  return "fork";
}

std::string Serialize(const State& s) {
  nlohmann::ordered_json j;
  j["format"] = "ptfw-journal-witness-v1";
  j["epoch"] = s.epoch;
  j["verified_seq"] = s.verified_seq;
  j["verified_head"] = s.verified_head_hex;
  j["witnessed_seq"] = s.witnessed_seq;
  j["witnessed_head"] = s.witnessed_head_hex;
  j["has_witness"] = s.has_witness;
  j["truncations"] = s.truncations;
  j["checkpoints"] = nlohmann::ordered_json::array();
  for (const Checkpoint& c : s.checkpoints) j["checkpoints"].push_back({c.seq, c.head_hex, c.verified ? 1 : 0});
  j["previous_epoch_seq"] = s.previous_epoch_seq;
  j["previous_epoch_head"] = s.previous_epoch_head_hex;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// A (seq, head) pair of the state: head is "" exactly when seq is 0.
Status ReadPosition(const nlohmann::json& j, const char* seq_key, const char* head_key, int64_t* seq,
                    std::string* head) {
  const std::string what = "witness state";
  FW_ASSIGN_OR_RETURN(*seq, IntField(j, seq_key, 0, kMaxSeq, what));
  FW_ASSIGN_OR_RETURN(*head, StringField(j, head_key, what));
  if (*seq == 0 ? !head->empty() : !internal::IsHex64(*head)) {
    return Corrupt(what + ": " + head_key + " must be 64 lower-case hex digits when " + seq_key + " > 0, else \"\"");
  }
  return Status::Ok();
}

Result<Checkpoint> ReadCheckpoint(const nlohmann::json& e) {
  const std::string what = "witness state: checkpoint";
  if (!e.is_array() || e.size() != 3 || !e[0].is_number_integer() || !e[1].is_string() || !e[2].is_number_integer()) {
    return Corrupt(what + " must be [seq, head, verified 0|1]");
  }
  nlohmann::json obj = {{"seq", e[0]}, {"head", e[1]}, {"verified", e[2]}};
  Checkpoint c;
  FW_ASSIGN_OR_RETURN(c.seq, IntField(obj, "seq", 1, kMaxSeq, what));
  FW_ASSIGN_OR_RETURN(int64_t v, IntField(obj, "verified", 0, 1, what));
  c.verified = v == 1;
  c.head_hex = e[1].get<std::string>();
  if (!internal::IsHex64(c.head_hex)) return Corrupt(what + " head must be 64 lower-case hex digits");
  return c;
}

}  // namespace

Result<State> ParseState(std::string_view text) {
  const std::string what = "witness state";
  if (text.size() > kMaxStateBytes) return Corrupt(what + " is larger than 64 KiB");
  auto p = internal::ParseStrict(text, 3, /*scan_cards=*/false);
  if (!p.error.empty()) return Corrupt(what + ": " + p.error);
  const nlohmann::json& j = p.value;
  FW_RETURN_IF_ERROR(
      internal::CheckMembers(j,
                             {"format", "epoch", "verified_seq", "verified_head", "witnessed_seq", "witnessed_head",
                              "has_witness", "truncations", "checkpoints", "previous_epoch_seq", "previous_epoch_head"},
                             {}, what));
  FW_ASSIGN_OR_RETURN(std::string format, StringField(j, "format", what));
  if (format != "ptfw-journal-witness-v1") return Corrupt(what + ": format must be ptfw-journal-witness-v1");
  State s;
  FW_ASSIGN_OR_RETURN(s.epoch, IntField(j, "epoch", 1, kMaxSeq, what));
  FW_RETURN_IF_ERROR(ReadPosition(j, "verified_seq", "verified_head", &s.verified_seq, &s.verified_head_hex));
  FW_RETURN_IF_ERROR(ReadPosition(j, "witnessed_seq", "witnessed_head", &s.witnessed_seq, &s.witnessed_head_hex));
  FW_RETURN_IF_ERROR(
      ReadPosition(j, "previous_epoch_seq", "previous_epoch_head", &s.previous_epoch_seq, &s.previous_epoch_head_hex));
  FW_ASSIGN_OR_RETURN(s.truncations, IntField(j, "truncations", 0, kMaxSeq, what));
  if (!j["has_witness"].is_boolean()) return Corrupt(what + ": has_witness must be true or false");
  s.has_witness = j["has_witness"].get<bool>();
  if (!s.has_witness && (s.witnessed_seq != 0 || s.truncations != 0)) {
    return Corrupt(what + ": a witnessed position without has_witness");
  }
  const nlohmann::json& cps = j["checkpoints"];
  if (!cps.is_array() || cps.size() > kMaxCheckpoints) {
    return Corrupt(what + ": checkpoints must be an array of at most " + std::to_string(kMaxCheckpoints));
  }
  for (const auto& e : cps) {
    FW_ASSIGN_OR_RETURN(Checkpoint c, ReadCheckpoint(e));
    if (internal::FindCheckpoint(s, c.seq) != nullptr) return Corrupt(what + ": two checkpoints for one seq");
    s.checkpoints.push_back(std::move(c));
  }
  return s;
}

void StartNewEpoch(State& state) {
  State next;
  next.epoch = std::min(state.epoch + 1, kMaxSeq);
  const bool witnessed_ahead = state.witnessed_seq >= state.verified_seq;
  next.previous_epoch_seq = witnessed_ahead ? state.witnessed_seq : state.verified_seq;
  next.previous_epoch_head_hex = witnessed_ahead ? state.witnessed_head_hex : state.verified_head_hex;
  state = std::move(next);
}

Result<CheckinObservation> ObserveCheckin(State& state, int64_t last_seq, std::string_view head_hex) {
  if (last_seq < 0 || last_seq > kMaxSeq) return Corrupt("check-in: journal last_seq out of range");
  if (last_seq == 0 ? !head_hex.empty() : !internal::IsHex64(head_hex)) {
    return Corrupt("check-in: the journal head must be 64 lower-case hex digits (\"\" with last_seq 0)");
  }
  CheckinObservation obs;
  const std::string head(head_hex);
  const bool same = state.has_witness && last_seq == state.witnessed_seq && head == state.witnessed_head_hex;
  if (!same) {
    State next = state;
    const int64_t high = std::max(state.witnessed_seq, state.verified_seq);
    if (last_seq < high) {
      obs.findings.push_back({FindingKind::kTruncated, last_seq,
                              "the check-in reports last_seq " + std::to_string(last_seq) +
                                  ", the server has seen seq " + std::to_string(high) + ": " +
                                  std::to_string(high - last_seq) + " records are gone from the terminal's journal"});
      if (state.truncations >= 1) {
        obs.findings.push_back({FindingKind::kFork, last_seq,
                                "a second drop in epoch " + std::to_string(state.epoch) +
                                    ": the reports alternate between two chains (a cloned terminal, or a journal "
                                    "rewritten again)"});
      }
      next.truncations = std::min(state.truncations + 1, kMaxSeq);
    }
    bool verified = false;
    std::string known = internal::KnownHead(state, last_seq, &verified);
    if (!known.empty() && known != head) {
      obs.findings.push_back({FindingKind::kFork, last_seq,
                              "seq " + std::to_string(last_seq) + ": the check-in reports head " + Short(head) +
                                  ", the server " + (verified ? "verified the record with " : "was told ") +
                                  Short(known) + (verified ? "" : " by an earlier check-in")});
    }
    next.has_witness = true;
    next.witnessed_seq = last_seq;
    next.witnessed_head_hex = head;
    if (last_seq > 0) internal::PutCheckpoint(next, last_seq, head, /*verified=*/false);
    state = std::move(next);
    obs.changed = true;
  }
  if (state.witnessed_seq > state.verified_seq) {
    obs.upload_from_seq = state.verified_seq + 1;
    obs.findings.push_back({FindingKind::kGap, state.verified_seq + 1,
                            "records " + std::to_string(state.verified_seq + 1) + ".." +
                                std::to_string(state.witnessed_seq) + " were witnessed but not uploaded"});
  }
  return obs;
}

}  // namespace fw::server::witness
