// Test support for `fwupdate agent` (agent_cli_test, agent_e2e_test): a vendor (keys, a factory
// image, a TUF repository made with fwsign) and file-backed terminals provisioned and initialised
// with the real CLIs (fwboot provision, fwupdate init, fwupdate journal simulate), enrolled with
// `fwupdate agent enrol` and driven by `fwupdate agent run`. Not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "testing.h"

namespace fw::agent_testing {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using fw::testing::CommandResult;
using fw::testing::RunCommand;

inline constexpr uint64_t kBankSize = 1 << 20;
inline constexpr int kJournalRecords = 300;

// Every JSON line of a --json output (progress events, notes, cycles, the result last).
inline std::vector<Json> JsonLines(const std::string& out) {
  std::vector<Json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_discarded()) lines.push_back(j);
  }
  return lines;
}
inline Json LastJson(const std::string& out) {
  auto lines = JsonLines(out);
  return lines.empty() ? Json() : lines.back();
}

// Keys, the factory image 1.0.0 (not in the repository) and a repository at `repo` with releases.
class VendorRepo {
 public:
  VendorRepo(std::string dir, std::string repo) : dir_(std::move(dir)), repo_(std::move(repo)) {
    fs::create_directories(dir_);
    for (const char* k : {"image", "root", "targets", "snapshot", "timestamp"})
      Must({"fwsign", "key", "generate", "--out", Key(k)});
    Must({"fwsign", "repo", "init", repo_, "--root-key", Key("root"), "--targets-key", Key("targets"), "--snapshot-key",
          Key("snapshot"), "--timestamp-key", Key("timestamp")});
    Sign("1.0.0", 0, 1);
  }
  std::string Key(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string Image(const std::string& version) const { return dir_ + "/fw-" + version + ".img"; }
  std::string Root() const { return repo_ + "/metadata/1.root.json"; }
  std::string Pubkey() const { return dir_ + "/image.pub.pem"; }
  const std::string& repo() const { return repo_; }

  // fwsign image sign (POS-X1) of a pseudo-random payload.
  void Sign(const std::string& version, uint32_t counter, uint32_t seed, size_t payload = 200000) {
    const std::string bin = dir_ + "/fw-" + version + ".bin";
    fw::testing::WriteBytes(bin, fw::testing::PseudoRandomBytes(payload, seed));
    Must({"fwsign", "image", "sign", "--key", Key("image"), "--version", version, "--security-counter",
          std::to_string(counter), "--hardware-id", "POS-X1", bin, "-o", Image(version)});
  }
  // A release: signed, added (target name fw-VERSION.img, with its chunk index file) and published.
  void Release(const std::string& version, uint32_t counter, uint32_t seed, size_t payload = 200000) {
    Sign(version, counter, seed, payload);
    Must({"fwsign", "repo", "add-target", repo_, "--image", Image(version)});
    Must({"fwsign", "repo", "publish", repo_, "--key", Key("targets"), "--key", Key("snapshot"), "--key",
          Key("timestamp")});
  }
  static void Must(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << " " << argv[2] << ": " << r.err << r.out;
  }

 private:
  std::string dir_, repo_;
};

// A file-backed POS-X1 terminal running the factory image 1.0.0 confirmed in slot A, its data area
// initialised with the repository's root, and a journal of kJournalRecords records.
class Terminal {
 public:
  Terminal(std::string dir, std::string serial) : dir_(std::move(dir)), serial_(std::move(serial)) {}

  void Provision(const VendorRepo& v, bool init = true) {
    fs::create_directories(dir_);
    fw::testing::WriteFile(Layout(), fw::testing::FileTerminalLayout(kBankSize));
    Ok({"fwboot", "provision", "--device", Layout(), "--image", v.Image("1.0.0"), "--pubkey", v.Pubkey(),
        "--hardware-id", "POS-X1"});
    if (!init) return;
    Ok({"fwupdate", "init", "--device", Layout(), "--tuf-root", v.Root()});
    Ok({"fwupdate", "journal", "simulate", "--journal", Journal(), "--create", "--count",
        std::to_string(kJournalRecords)});
    Ok({"fwboot", "boot", "--device", Layout()});
  }

  const std::string& serial() const { return serial_; }
  const std::string& dir() const { return dir_; }
  std::string Layout() const { return dir_ + "/layout.json"; }
  std::string Journal() const { return dir_ + "/data/journal.db"; }
  std::string Cert() const { return dir_ + "/cert.pem"; }
  std::string Key() const { return dir_ + "/key.pem"; }
  std::string RebootCmd() const { return fw::testing::BinaryPath("fwboot") + " boot --device " + Layout(); }

  // `fwupdate agent enrol` with `token`.
  CommandResult Enrol(const std::string& server_url, const std::string& ca, const std::string& token,
                      std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv = {"fwupdate", "agent", "enrol",   "--server", server_url,
                                     "--serial", serial_, "--token", token,      "--cert",
                                     Cert(),     "--key", Key(),     "--ca",     ca};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }
  // The argv of `fwupdate agent run --json --quiet` against `server_url` (no --once: the caller adds it).
  std::vector<std::string> RunArgs(const std::string& server_url, const std::string& ca,
                                   const std::vector<std::string>& extra) const {
    std::vector<std::string> argv = {"fwupdate", "agent",        "run",       "--device", Layout(), "--server",
                                     server_url, "--cert",       Cert(),      "--key",    Key(),    "--ca",
                                     ca,         "--reboot-cmd", RebootCmd(), "--json",   "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  Json Status() const {
    auto r = RunCommand({"fwupdate", "status", "--device", Layout(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }
  Json History() const {
    auto r = RunCommand({"fwupdate", "history", "--device", Layout(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Json j = Json::parse(r.out, nullptr, false);
    return j.is_object() ? j["history"] : Json::array();
  }
  int64_t JournalRecords() const {
    auto r = RunCommand({"fwupdate", "journal", "verify", Journal(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    Json j = Json::parse(r.out, nullptr, false);
    return j.is_object() && j.contains("record_count") ? j["record_count"].get<int64_t>() : -1;
  }
  std::string BankHash(int slot) const {
    auto bytes = fw::testing::ReadBytes(dir_ + "/banks.bin");
    return HexEncode(Sha256::Of(ByteSpan(bytes.data() + slot * kBankSize, kBankSize)));
  }

 private:
  static void Ok(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << ": " << r.err << r.out;
  }
  std::string dir_, serial_;
};

}  // namespace fw::agent_testing
