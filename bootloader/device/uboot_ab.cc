// The A/B variables of the uboot-env backend (uboot_ab.h).
#include "fw/boot/uboot_ab.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "fw/file_io.h"

namespace fw::boot::uenv {
namespace {

Status Bad(const std::string& what) { return Corrupt("A/B environment: " + what); }

std::string Quoted(std::string_view v) { return "'" + std::string(v) + "'"; }

// Decimal digits only (no sign, no space), at most 10 of them, value <= max.
Result<uint32_t> Number(std::string_view name, std::string_view v, uint32_t max) {
  if (v.empty() || v.size() > 10) return Bad(std::string(name) + " = " + Quoted(v) + " is not a decimal number");
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return Bad(std::string(name) + " = " + Quoted(v) + " is not a decimal number");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > max) return Bad(std::string(name) + " = " + Quoted(v) + " exceeds " + std::to_string(max));
  return static_cast<uint32_t>(n);
}

Result<std::string> Required(const Env& env, std::string_view name) {
  auto v = env.Get(name);
  if (!v) return Bad("variable " + std::string(name) + " is missing");
  return *v;
}

Result<uint8_t> SlotValue(std::string_view name, std::string_view v) {
  if (v == "A") return uint8_t{0};
  if (v == "B") return uint8_t{1};
  return Bad(std::string(name) + " = " + Quoted(v) + " is not A or B");
}

Result<SlotState> StateValue(std::string_view name, std::string_view v) {
  for (SlotState s : {SlotState::kEmpty, SlotState::kUnbootable, SlotState::kTrial, SlotState::kConfirmed}) {
    if (v == SlotStateName(s)) return s;
  }
  return Bad(std::string(name) + " = " + Quoted(v) + " is not empty, unbootable, trial or confirmed");
}

Result<SlotVersion> VersionValue(std::string_view name, std::string_view v) {
  SlotVersion out;
  std::string_view rest = v;
  uint32_t parts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    const char sep = i < 2 ? '.' : '+';
    size_t end = rest.find(sep);
    if (i == 2 && end == std::string_view::npos) end = rest.size();
    if (i == 3) end = rest.size();
    if (end == std::string_view::npos) {
      return Bad(std::string(name) + " = " + Quoted(v) + " is not MAJOR.MINOR.PATCH[+BUILD]");
    }
    auto n = Number(name, rest.substr(0, end), i < 3 ? 0xFFFF : 0xFFFFFFFF);
    if (!n.ok()) return Bad(std::string(name) + " = " + Quoted(v) + " is not MAJOR.MINOR.PATCH[+BUILD]");
    parts[i] = *n;
    if (end == rest.size()) break;
    rest = rest.substr(end + 1);
  }
  out.major = static_cast<uint16_t>(parts[0]);
  out.minor = static_cast<uint16_t>(parts[1]);
  out.patch = static_cast<uint16_t>(parts[2]);
  out.build = parts[3];
  return out;
}

std::string SlotVar(uint8_t slot, std::string_view prefix, std::string_view suffix) {
  return std::string(prefix) + SlotLetter(slot) + std::string(suffix);
}

Result<std::vector<uint8_t>> OrderValue(std::string_view v) {
  std::vector<uint8_t> order;
  size_t i = 0;
  while (i < v.size()) {
    size_t end = v.find(' ', i);
    if (end == std::string_view::npos) end = v.size();
    auto slot = SlotValue("BOOT_ORDER entry", v.substr(i, end - i));
    if (!slot.ok()) return Bad("BOOT_ORDER = " + Quoted(v) + " may hold only A and B, separated by one space");
    for (uint8_t s : order) {
      if (s == *slot) return Bad("BOOT_ORDER = " + Quoted(v) + " names slot " + SlotLetter(s) + " twice");
    }
    order.push_back(*slot);
    i = end + 1;
    if (end + 1 == v.size()) return Bad("BOOT_ORDER = " + Quoted(v) + " ends with a space");
  }
  return order;
}

bool InOrder(const std::vector<uint8_t>& order, uint8_t slot) {
  for (uint8_t s : order) {
    if (s == slot) return true;
  }
  return false;
}

// The per-slot variables.
Status ParseSlot(const Env& env, uint8_t s, AbVars* out) {
  BootSlot& slot = out->state.slots[s];
  FW_ASSIGN_OR_RETURN(std::string left, Required(env, SlotVar(s, "BOOT_", "_LEFT")));
  FW_ASSIGN_OR_RETURN(uint32_t l, Number(SlotVar(s, "BOOT_", "_LEFT"), left, kMaxLeft));
  out->left[s] = static_cast<uint8_t>(l);
  FW_ASSIGN_OR_RETURN(std::string state, Required(env, SlotVar(s, "FW_", "_STATE")));
  FW_ASSIGN_OR_RETURN(slot.state, StateValue(SlotVar(s, "FW_", "_STATE"), state));
  const bool holds = slot.state == SlotState::kTrial || slot.state == SlotState::kConfirmed;
  const std::string vname = SlotVar(s, "FW_", "_VERSION");
  if (auto v = env.Get(vname); v && !v->empty()) {
    FW_ASSIGN_OR_RETURN(slot.version, VersionValue(vname, *v));
  } else if (holds) {
    return Bad("slot " + std::string(1, SlotLetter(s)) + " is " + SlotStateName(slot.state) + " but " + vname +
               " is missing");
  }
  const std::string cname = SlotVar(s, "FW_", "_COUNTER");
  if (auto c = env.Get(cname)) {
    FW_ASSIGN_OR_RETURN(slot.security_counter, Number(cname, *c, 0xFFFFFFFF));
  } else if (holds) {
    return Bad("slot " + std::string(1, SlotLetter(s)) + " is " + SlotStateName(slot.state) + " but " + cname +
               " is missing");
  }
  slot.tries_remaining = slot.state == SlotState::kTrial ? out->left[s] : 0;
  return Status::Ok();
}

// upgrade_available=1 iff exactly one slot is in trial and it is first in BOOT_ORDER; a
// confirmed slot is in BOOT_ORDER; an empty or unbootable slot in it has no boots left.
Status CheckConsistent(const AbVars& v) {
  const BootState& st = v.state;
  int trials = 0;
  for (uint8_t s = 0; s < kSlotCount; ++s) trials += st.slots[s].state == SlotState::kTrial ? 1 : 0;
  const uint8_t trial = st.TrialSlot();
  const bool first = trial != kNoSlot && !v.order.empty() && v.order.front() == trial;
  if (v.upgrade_available && !(trials == 1 && first)) {
    return Bad("upgrade_available=1 but " + std::string(trials == 0   ? "no slot is in trial"
                                                        : trials == 2 ? "both slots are in trial"
                                                                      : "the trial slot is not first in BOOT_ORDER"));
  }
  if (!v.upgrade_available && trials > 0) {
    return Bad(std::string("upgrade_available=0 but slot ") + SlotLetter(trial) + " is in trial");
  }
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    const SlotState state = st.slots[s].state;
    if (state == SlotState::kConfirmed && !InOrder(v.order, s)) {
      return Bad(std::string("slot ") + SlotLetter(s) + " is confirmed but not in BOOT_ORDER");
    }
    if ((state == SlotState::kEmpty || state == SlotState::kUnbootable) && InOrder(v.order, s) && v.left[s] > 0) {
      return Bad(std::string("slot ") + SlotLetter(s) + " is " + SlotStateName(state) + " but in BOOT_ORDER with " +
                 std::to_string(v.left[s]) + " boots left");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string VersionString(const SlotVersion& v) {
  std::string s = std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
  if (v.build != 0) s += "+" + std::to_string(v.build);
  return s;
}

Result<AbVars> ParseAbVars(const Env& env) {
  AbVars out;
  FW_ASSIGN_OR_RETURN(std::string order, Required(env, "BOOT_ORDER"));
  FW_ASSIGN_OR_RETURN(out.order, OrderValue(order));
  FW_ASSIGN_OR_RETURN(std::string upgrade, Required(env, "upgrade_available"));
  FW_ASSIGN_OR_RETURN(uint32_t u, Number("upgrade_available", upgrade, 1));
  out.upgrade_available = u == 1;
  FW_ASSIGN_OR_RETURN(std::string bootcount, Required(env, "bootcount"));
  FW_ASSIGN_OR_RETURN(out.bootcount, Number("bootcount", bootcount, 0xFFFFFFFF));
  FW_ASSIGN_OR_RETURN(std::string active, Required(env, "FW_ACTIVE"));
  FW_ASSIGN_OR_RETURN(out.state.active_slot, SlotValue("FW_ACTIVE", active));
  FW_ASSIGN_OR_RETURN(std::string floor, Required(env, "FW_MIN_COUNTER"));
  FW_ASSIGN_OR_RETURN(out.state.min_security_counter, Number("FW_MIN_COUNTER", floor, 0xFFFFFFFF));
  if (auto b = env.Get("FW_BOOTED"); b && !b->empty()) {
    FW_ASSIGN_OR_RETURN(out.booted, SlotValue("FW_BOOTED", *b));
  }
  for (uint8_t s = 0; s < kSlotCount; ++s) FW_RETURN_IF_ERROR(ParseSlot(env, s, &out));
  out.state.booted_slot = out.booted;
  out.state.boot_counter = out.bootcount;
  FW_RETURN_IF_ERROR(CheckConsistent(out));
  return out;
}

Status WriteAbVars(const BootState& s, Env* env) {
  std::string order;
  auto add = [&](uint8_t slot) {
    if (order.find(SlotLetter(slot)) != std::string::npos) return;
    order += (order.empty() ? "" : " ") + std::string(1, SlotLetter(slot));
  };
  const uint8_t trial = s.TrialSlot();
  if (trial != kNoSlot) add(trial);
  const uint8_t by_preference[2] = {s.active_slot < kSlotCount ? s.active_slot : uint8_t{0},
                                    static_cast<uint8_t>(s.active_slot == 1 ? 0 : 1)};
  for (uint8_t slot : by_preference) {
    if (s.slots[slot].state == SlotState::kConfirmed) add(slot);
  }
  FW_RETURN_IF_ERROR(env->Set("BOOT_ORDER", order));
  for (uint8_t slot = 0; slot < kSlotCount; ++slot) {
    const BootSlot& b = s.slots[slot];
    const uint8_t left = b.state == SlotState::kTrial       ? b.tries_remaining
                         : b.state == SlotState::kConfirmed ? kConfirmedLeft
                                                            : 0;
    FW_RETURN_IF_ERROR(env->Set(SlotVar(slot, "BOOT_", "_LEFT"), std::to_string(left)));
    FW_RETURN_IF_ERROR(env->Set(SlotVar(slot, "FW_", "_STATE"), SlotStateName(b.state)));
    // No known image (empty, or unbootable after a repair that could not tell): no version variable.
    const bool none = b.state != SlotState::kTrial && b.state != SlotState::kConfirmed && b.version.major == 0 &&
                      b.version.minor == 0 && b.version.patch == 0 && b.version.build == 0;
    if (none) {
      env->Erase(SlotVar(slot, "FW_", "_VERSION"));
    } else {
      FW_RETURN_IF_ERROR(env->Set(SlotVar(slot, "FW_", "_VERSION"), VersionString(b.version)));
    }
    FW_RETURN_IF_ERROR(env->Set(SlotVar(slot, "FW_", "_COUNTER"), std::to_string(b.security_counter)));
  }
  FW_RETURN_IF_ERROR(env->Set("upgrade_available", trial != kNoSlot ? "1" : "0"));
  FW_RETURN_IF_ERROR(env->Set("bootcount", std::to_string(s.boot_counter)));
  FW_RETURN_IF_ERROR(env->Set("FW_ACTIVE", std::string(1, SlotLetter(s.active_slot))));
  FW_RETURN_IF_ERROR(env->Set("FW_MIN_COUNTER", std::to_string(s.min_security_counter)));
  if (s.booted_slot < kSlotCount) {
    FW_RETURN_IF_ERROR(env->Set("FW_BOOTED", std::string(1, SlotLetter(s.booted_slot))));
  } else {
    env->Erase("FW_BOOTED");
  }
  return Status::Ok();
}

Result<uint8_t> ParseCmdlineSlot(std::string_view cmdline, const std::string& where) {
  constexpr std::string_view kKey = "fw.slot=";
  uint8_t slot = kNoSlot;
  size_t i = 0;
  while (i < cmdline.size()) {
    while (i < cmdline.size() && (cmdline[i] == ' ' || cmdline[i] == '\n' || cmdline[i] == '\t')) ++i;
    size_t end = i;
    while (end < cmdline.size() && cmdline[end] != ' ' && cmdline[end] != '\n' && cmdline[end] != '\t') ++end;
    std::string_view word = cmdline.substr(i, end - i);
    if (word.substr(0, kKey.size()) == kKey) {
      std::string_view value = word.substr(kKey.size());
      uint8_t s = value == "A" ? 0 : value == "B" ? 1 : kNoSlot;
      if (s == kNoSlot) return Corrupt(where + ": fw.slot=" + std::string(value.substr(0, 64)) + " is not A or B");
      if (slot != kNoSlot && slot != s) return Corrupt(where + ": fw.slot= names both A and B");
      slot = s;
    }
    i = end;
  }
  return slot;
}

Result<uint8_t> ReadCmdlineSlot(const std::string& path_in) {
  const std::string path = path_in.empty() ? "/proc/cmdline" : path_in;
  // /proc files report size 0: read until EOF, bounded.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return kNoSlot;
    return IoError("cannot open the kernel command line " + path + ": " + ErrnoText(errno));
  }
  std::string text(kMaxCmdlineSize + 1, '\0');
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return IoError("cannot read the kernel command line " + path + ": " + ErrnoText(err));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (done > kMaxCmdlineSize) {
    return Corrupt("kernel command line " + path + " is larger than " + std::to_string(kMaxCmdlineSize) + " bytes");
  }
  text.resize(done);
  return ParseCmdlineSlot(text, "kernel command line " + path);
}

}  // namespace fw::boot::uenv
