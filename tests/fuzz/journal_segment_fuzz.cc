// libFuzzer target for journal segments uploaded to the fleet server (AcceptSegment), on a
// fresh witness state and on one that already holds records 1..3 and witnessed seq 8 of the
// journal the seeds come from (tests/fuzz/corpus/journal_segment). Under g++ it replays the corpus.
#include <cstdint>
#include <string>
#include <string_view>

#include "fw/server/journal_witness.h"

namespace {

namespace w = fw::server::witness;

constexpr std::string_view kHeldState =
    R"({"format":"ptfw-journal-witness-v1","epoch":1,"verified_seq":3,"verified_head":"65959fd153b35b6bd62bd61ea921a1f3278dbdc88f6729084a295acebbaad998","witnessed_seq":8,"witnessed_head":"5b93900c2e416d81774fb6047d0174490188f6e04c4db1d999fe82bb4841b202","has_witness":true,"truncations":0,"checkpoints":[[3,"65959fd153b35b6bd62bd61ea921a1f3278dbdc88f6729084a295acebbaad998",1],[8,"5b93900c2e416d81774fb6047d0174490188f6e04c4db1d999fe82bb4841b202",0]],"previous_epoch_seq":0,"previous_epoch_head":""})";

void Check(w::State state, std::string_view body) {
  const std::string before = w::Serialize(state);
  const int64_t verified_before = state.verified_seq;
  auto r = w::AcceptSegment(state, body);
  const std::string after = w::Serialize(state);
  if (!r.ok()) {
    if (after != before) __builtin_trap();                       // nothing changes on an error
    if (w::RefusalReason(r.status()).empty()) __builtin_trap();  // every refusal has a reason
    return;
  }
  if (r->duplicate && (r->changed || after != before)) __builtin_trap();
  if (!r->duplicate && (state.verified_seq != r->last_seq || state.verified_seq <= verified_before)) __builtin_trap();
  if (r->records != r->last_seq - r->first_seq + 1) __builtin_trap();
  if (after.size() > w::kMaxStateBytes) __builtin_trap();
  auto again = w::ParseState(after);
  if (!again.ok() || w::Serialize(*again) != after) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  static const w::State held = [] {
    auto s = w::ParseState(kHeldState);
    if (!s.ok()) __builtin_trap();
    return *s;
  }();
  Check(w::State{}, body);
  Check(held, body);
  return 0;
}
