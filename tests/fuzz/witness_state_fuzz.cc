// libFuzzer target for the witness state text the fleet server stores (ParseState): what
// parses must serialize and parse back to the same text, and check-ins and segments applied
// to any parsed state keep it within bounds. Under g++ it replays the corpus.
#include <cstdint>
#include <string>
#include <string_view>

#include "fw/server/journal_witness.h"

namespace {

namespace w = fw::server::witness;

void RoundTrips(const w::State& s) {
  const std::string text = w::Serialize(s);
  if (text.size() > w::kMaxStateBytes) __builtin_trap();
  auto again = w::ParseState(text);
  if (!again.ok() || w::Serialize(*again) != text) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = w::ParseState(text);
  if (!s.ok()) return 0;
  RoundTrips(*s);
  // Whatever the state, check-ins keep it valid: a repeat changes nothing.
  w::State t = *s;
  const std::string head(64, 'a');
  for (int64_t seq : {t.witnessed_seq + 1, t.verified_seq, int64_t{1}, int64_t{0}}) {
    if (seq > (int64_t{1} << 53)) continue;  // beyond the documented range
    auto obs = w::ObserveCheckin(t, seq, seq == 0 ? std::string() : head);
    if (!obs.ok()) __builtin_trap();  // a well-formed pair is always accepted
    RoundTrips(t);
    auto repeat = w::ObserveCheckin(t, seq, seq == 0 ? std::string() : head);
    if (!repeat.ok() || repeat->changed) __builtin_trap();
  }
  w::StartNewEpoch(t);
  RoundTrips(t);
  return 0;
}
