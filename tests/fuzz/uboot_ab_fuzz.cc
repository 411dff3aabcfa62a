// libFuzzer target for the A/B variables of the uboot-env backend (uboot_ab.h): the
// variables any writer of the environment (fw_setenv, the boot script, an attacker with
// the disk) may have stored, and the kernel command line fw.slot= is read from. Under
// g++ it replays the corpus.
//
// Input: "name=value" lines (newline separated; lines the Env refuses are skipped) → Env
// → ParseAbVars; whatever parses must survive WriteAbVars → ParseAbVars unchanged. The
// same bytes are also parsed as a kernel command line.
// Seeds (tests/fuzz/corpus/uboot_ab/): the provisioned, trial, confirmed and fallen-back
// variables as the backend writes them, a hostile set, and a command line.
#include <cstdlib>
#include <string>
#include <string_view>

#include "fw/boot/uboot_ab.h"

namespace {

using namespace fw::boot;
using namespace fw::boot::uenv;

bool SameState(const AbVars& a, const AbVars& b) {
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    const BootSlot& x = a.state.slots[s];
    const BootSlot& y = b.state.slots[s];
    if (x.state != y.state || x.tries_remaining != y.tries_remaining || x.security_counter != y.security_counter ||
        x.version.major != y.version.major || x.version.minor != y.version.minor ||
        x.version.patch != y.version.patch || x.version.build != y.version.build) {
      return false;
    }
  }
  return a.state.active_slot == b.state.active_slot && a.booted == b.booted && a.bootcount == b.bootcount &&
         a.upgrade_available == b.upgrade_available && a.state.min_security_counter == b.state.min_security_counter;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 16)) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseCmdlineSlot(text, "fuzz");
  Env env;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find('\n', i);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(i, end - i);
    const size_t eq = line.find('=');
    if (eq != std::string_view::npos) (void)env.Set(line.substr(0, eq), line.substr(eq + 1));
    i = end + 1;
  }
  auto vars = ParseAbVars(env);
  if (!vars.ok()) return 0;
  Env again = env;
  if (!WriteAbVars(vars->state, &again).ok()) std::abort();  // every parsed state can be written back
  auto back = ParseAbVars(again);
  if (!back.ok() || !SameState(*vars, *back)) std::abort();
  return 0;
}
