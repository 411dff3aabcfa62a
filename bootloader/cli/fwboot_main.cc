// fwboot — the A/B bootloader on a simulated (or real) terminal's storage:
// provision, status, boot (one simulated reset), set-trial, confirm, mark-bad.
#include <functional>
#include <iostream>

#include "fw/boot/device.h"
#include "fw/cli.h"
#include "fw/image.h"

namespace fw::boot {
namespace {

using cli::Invocation;
namespace po = cli::po;
using nlohmann::json;

std::string VersionText(const SlotVersion& v) { return SemVer{v.major, v.minor, v.patch, v.build}.ToString(); }
std::string VersionText(const image::Header& h) { return SemVer{h.major, h.minor, h.patch, h.build}.ToString(); }

json SlotBrief(uint8_t slot) { return slot == kNoSlot ? json(nullptr) : json(SlotName(slot)); }

Result<std::unique_ptr<Device>> OpenDevice(const Invocation& inv) {
  return Device::Open(inv.vm["device"].as<std::string>());
}

void AddDeviceOption(po::options_description& o) {
  o.add_options()("device,d", po::value<std::string>()->required(), "layout file of the terminal (JSON)");
}

int Provision(const Invocation& inv) {
  const auto& vm = inv.vm;
  ProvisionSpec spec;
  spec.image_path = vm["image"].as<std::string>();
  spec.hardware_id = vm["hardware-id"].as<std::string>();
  spec.force = vm.count("force") > 0;
  for (const auto& path : vm["pubkey"].as<std::vector<std::string>>()) {
    auto key = PublicKey::LoadPemFile(path);
    if (!key.ok()) return cli::Fail(inv, key.status());
    spec.boot_keys.push_back(std::move(*key));
  }
  const std::string layout = vm["device"].as<std::string>();
  if (Status s = Provision(layout, spec); !s.ok()) return cli::Fail(inv, s.WithContext("provision " + layout));
  auto info = InspectImageFile(spec.image_path);
  if (!info.ok()) return cli::Fail(inv, info.status());
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"device", layout},
                    {"slot", "A"},
                    {"version", info->version.ToString()},
                    {"security_counter", info->security_counter},
                    {"hardware_id", spec.hardware_id},
                    {"boot_keys", spec.boot_keys.size()}});
  } else {
    std::cout << "provisioned " << layout << ": bank A holds " << info->version.ToString() << " (security counter "
              << info->security_counter << ", confirmed), bank B empty, " << spec.boot_keys.size()
              << (spec.boot_keys.size() == 1 ? " boot key" : " boot keys") << ", hardware " << spec.hardware_id << "\n";
  }
  return cli::kExitOk;
}

// The state as JSON (fwboot status --json).
json StateJson(const BootState& st, const std::string& hardware_id, std::string_view backend) {
  json copies = json::array();
  for (size_t c = 0; c < st.copies.size(); ++c) {
    const StoredCopy& copy = st.copies[c];
    copies.push_back({{"copy", c}, {"valid", copy.valid}, {"sequence", copy.sequence}, {"error", copy.error}});
  }
  json slots = json::array();
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    const BootSlot& si = st.slots[s];
    slots.push_back({{"slot", SlotName(s)},
                     {"state", SlotStateName(si.state)},
                     {"tries_remaining", si.tries_remaining},
                     {"version", VersionText(si.version)},
                     {"security_counter", si.security_counter}});
  }
  return {{"ok", true},
          {"backend", backend},
          {"hardware_id", hardware_id},
          {"record_valid", st.stored_valid},
          {"copy_in_use", st.stored_valid ? json(st.copy_in_use) : json(nullptr)},
          {"sequence", st.stored_valid ? json(st.sequence) : json(nullptr)},
          {"copies", copies},
          {"active_slot", SlotName(st.active_slot)},
          {"booted_slot", SlotBrief(st.booted_slot)},
          {"min_security_counter", st.min_security_counter},
          {"boot_counter", st.boot_counter},
          {"slots", slots}};
}

void PrintState(const BootState& st, const std::string& hardware_id, std::string_view backend) {
  std::cout << "hardware id:          " << hardware_id << "\n";
  std::cout << "boot-state backend:   " << backend << "\n";
  if (st.stored_valid) {
    std::cout << "boot control:         copy " << int(st.copy_in_use)
              << (backend == kUbootEnvBackend ? ", flags " : ", sequence ") << st.sequence << "\n";
  } else if (backend == kUbootEnvBackend) {
    std::cout << "boot control:         BOTH environment copies lost — U-Boot boots slot A by default;\n"
              << "                      installs are refused until 'fwupdate boot repair' rewrites them\n";
  } else {
    std::cout << "boot control:         no valid copy — showing the safe default a boot would use\n";
  }
  for (size_t c = 0; c < st.copies.size(); ++c) {
    if (!st.copies[c].valid) std::cout << "  copy " << c << " invalid:       " << st.copies[c].error << "\n";
  }
  std::cout << "active slot:          " << SlotName(st.active_slot) << "\n"
            << "last booted slot:     " << (st.booted_slot == kNoSlot ? "-" : SlotName(st.booted_slot)) << "\n"
            << "min security counter: " << st.min_security_counter << "\n"
            << "boot counter:         " << st.boot_counter << "\n";
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    const BootSlot& si = st.slots[s];
    std::cout << "slot " << SlotName(s) << ": " << SlotStateName(si.state);
    if (si.state != SlotState::kEmpty && si.state != SlotState::kUnbootable) {
      std::cout << ", version " << VersionText(si.version) << ", security counter " << si.security_counter;
    }
    if (si.state == SlotState::kTrial) std::cout << ", " << int(si.tries_remaining) << " tries left";
    std::cout << "\n";
  }
}

int StatusCmd(const Invocation& inv) {
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  auto st = (*dev)->backend().ReadState();
  if (!st.ok()) return cli::Fail(inv, st.status().WithContext("reading boot control"));
  if (inv.json) {
    cli::PrintJson(StateJson(*st, (*dev)->trust().hardware_id, (*dev)->backend().type()));
  } else {
    PrintState(*st, (*dev)->trust().hardware_id, (*dev)->backend().type());
  }
  return cli::kExitOk;
}

int BootCmd(const Invocation& inv) {
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  BootReport r = (*dev)->backend().Boot();
  if (r.status == BootStatus::kStorageError) {
    return cli::Fail(inv, IoError(std::string("boot control storage: ") + FlashErrorName(r.flash)));
  }
  if (r.status == BootStatus::kInvalidState) {  // the state's reader names the problem
    auto st = (*dev)->backend().ReadState();
    return cli::Fail(inv, st.ok() ? Corrupt("the stored boot state is inconsistent") : st.status());
  }
  json checks = json::array();
  std::string why;
  for (uint8_t s = 0; s < kSlotCount; ++s) {
    if (!r.checked[s]) continue;
    std::string result = r.checks[s].ok() ? "verified" : BankCheckStatus(r.checks[s]).message();
    checks.push_back({{"slot", SlotName(s)}, {"result", result}});
    if (!r.checks[s].ok()) why += (why.empty() ? "" : "; ") + std::string("slot ") + SlotName(s) + ": " + result;
  }
  if (r.status == BootStatus::kNoBootableImage) {
    if (why.empty()) why = "no slot is confirmed or in trial";
    Status s = FailedPrecondition("no verified image to boot (" + why + ")");
    if (inv.json) {
      cli::PrintJson({{"ok", false},
                      {"booted", false},
                      {"reason", s.message()},
                      {"checks", checks},
                      {"exit_code", cli::kExitFailure}});
    }
    std::cerr << inv.command << ": " << s.message() << "\n";
    return cli::kExitFailure;
  }
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"booted", true},
                    {"slot", SlotName(r.slot)},
                    {"version", VersionText(r.header)},
                    {"security_counter", r.header.security_counter},
                    {"trial", r.trial},
                    {"tries_left", r.tries_left},
                    {"reverted", r.reverted},
                    {"fell_back", r.fell_back},
                    {"used_default", r.used_default},
                    {"persisted", r.persisted},
                    {"boot_counter", r.boot_counter},
                    {"checks", checks}});
    return cli::kExitOk;
  }
  std::cout << "booting slot " << SlotName(r.slot) << ": version " << VersionText(r.header) << " (security counter "
            << r.header.security_counter << ")";
  if (r.trial) std::cout << ", trial, " << int(r.tries_left) << " tries left";
  std::cout << "\n";
  if (r.reverted) std::cout << "  trial slot ran out of tries: reverted\n";
  if (r.fell_back) {
    std::cout << ((*dev)->backend().type() == kUbootEnvBackend ? "  the active slot has no boots left: fell back\n"
                                                               : "  active slot failed verification: fell back\n");
  }
  if (r.used_default) {
    std::cout << ((*dev)->backend().type() == kUbootEnvBackend
                      ? "  both environment copies are invalid: built-in default (slot A), nothing written\n"
                      : "  boot control was invalid: rebuilt from the verified banks\n");
  }
  if (!why.empty()) std::cout << "  rejected: " << why << "\n";
  if (!r.persisted) std::cout << "  warning: could not record this boot: " << FlashErrorName(r.flash) << "\n";
  return cli::kExitOk;
}

// A refused operation as a Status; an inconsistent stored state is named by its reader.
Status OpFailure(Device& dev, const OpResult& r) {
  if (r.code == OpError::kInvalidState) {
    auto st = dev.backend().ReadState();
    if (!st.ok()) return st.status();
  }
  return OpStatus(r);
}

// Runs an operation on one slot and prints the resulting state.
int SlotOp(const Invocation& inv, const char* verb, const std::function<OpResult(BootBackend&, uint8_t)>& op) {
  auto slot = ParseSlot(inv.vm["slot"].as<std::string>());
  if (!slot.ok()) return cli::Fail(inv, slot.status());
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  OpResult r = op((*dev)->backend(), *slot);
  if (!r.ok()) return cli::Fail(inv, OpFailure(**dev, r).WithContext("slot " + SlotName(*slot)));
  if (inv.json) {
    cli::PrintJson({{"ok", true}, {"slot", SlotName(*slot)}, {"action", verb}});
  } else {
    std::cout << "slot " << SlotName(*slot) << ": " << verb << "\n";
  }
  return cli::kExitOk;
}

int SetTrial(const Invocation& inv) {
  const unsigned tries = inv.vm["tries"].as<unsigned>();
  if (tries == 0 || tries > kMaxTries) {
    return cli::Fail(inv,
                     InvalidArgument("--tries " + std::to_string(tries) + " must be 1.." + std::to_string(kMaxTries)));
  }
  return SlotOp(inv, "trial",
                [tries](BootBackend& b, uint8_t s) { return b.SetTrial(s, static_cast<uint8_t>(tries), nullptr); });
}

int MarkBad(const Invocation& inv) {
  return SlotOp(inv, "unbootable", [](BootBackend& b, uint8_t s) { return b.MarkUnbootable(s); });
}

int Confirm(const Invocation& inv) {
  auto dev = OpenDevice(inv);
  if (!dev.ok()) return cli::Fail(inv, dev.status());
  OpResult r = (*dev)->backend().Confirm();
  if (!r.ok()) return cli::Fail(inv, OpFailure(**dev, r).WithContext("confirm"));
  auto st = (*dev)->backend().ReadState();
  if (!st.ok()) return cli::Fail(inv, st.status().WithContext("reading boot control"));
  const BootSlot& si = st->slots[st->active_slot];
  if (inv.json) {
    cli::PrintJson({{"ok", true},
                    {"slot", SlotName(st->active_slot)},
                    {"version", VersionText(si.version)},
                    {"min_security_counter", st->min_security_counter}});
  } else {
    std::cout << "confirmed slot " << SlotName(st->active_slot) << " (version " << VersionText(si.version)
              << "); minimum security counter is now " << st->min_security_counter << "\n";
  }
  return cli::kExitOk;
}

cli::Program MakeProgram() {
  cli::Program p;
  p.name = "fwboot";
  p.summary = "A/B bootloader on a terminal's storage (simulated reset, slot control)";
  p.epilog =
      "Exit codes: 0 ok, 1 boot found no verified image, 2 usage error, 3 input rejected\n"
      "            (bad layout, image or signature), 4 I/O error, 5 refused by state, 70 internal.\n";
  p.commands.push_back({"provision", "create a simulated terminal: region files, trust store, signed image in bank A",
                        "--device LAYOUT.json --image IMG --pubkey PUB --hardware-id ID [--force]",
                        [](po::options_description& o, po::positional_options_description&) {
                          AddDeviceOption(o);
                          o.add_options()("image", po::value<std::string>()->required(),
                                          "signed image for bank A (confirmed)")(
                              "pubkey,p", po::value<std::vector<std::string>>()->required(),
                              "boot verification public key PEM; repeatable")(
                              "hardware-id", po::value<std::string>()->required(), "this terminal's hardware id")(
                              "force", "overwrite existing region files");
                        },
                        Provision});
  p.commands.push_back({"status", "show slots, versions, tries and counters", "--device LAYOUT.json",
                        [](po::options_description& o, po::positional_options_description&) { AddDeviceOption(o); },
                        StatusCmd});
  p.commands.push_back(
      {"boot", "one simulated reset: which slot and version runs, or why none can", "--device LAYOUT.json",
       [](po::options_description& o, po::positional_options_description&) { AddDeviceOption(o); }, BootCmd});
  p.commands.push_back(
      {"set-trial", "verify a written bank and make it the trial slot", "--device LAYOUT.json [--tries N] SLOT",
       [](po::options_description& o, po::positional_options_description& pos) {
         AddDeviceOption(o);
         o.add_options()("tries", cli::Int<unsigned>(1, kMaxTries)->default_value(kDefaultTries),
                         "boots the trial may take (1-15)")("slot", po::value<std::string>()->required(), "A or B");
         pos.add("slot", 1);
       },
       SetTrial});
  p.commands.push_back(
      {"confirm", "confirm the running trial (advances the minimum security counter)", "--device LAYOUT.json",
       [](po::options_description& o, po::positional_options_description&) { AddDeviceOption(o); }, Confirm});
  p.commands.push_back({"mark-bad", "mark a slot unbootable", "--device LAYOUT.json SLOT",
                        [](po::options_description& o, po::positional_options_description& pos) {
                          AddDeviceOption(o);
                          o.add_options()("slot", po::value<std::string>()->required(), "A or B");
                          pos.add("slot", 1);
                        },
                        MarkBad});
  return p;
}

}  // namespace
}  // namespace fw::boot

int main(int argc, char** argv) { return fw::cli::Run(fw::boot::MakeProgram(), argc, argv); }
