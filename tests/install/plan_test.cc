// The install plan decides everything decidable from metadata and headers before the
// first write (issue 11, items 4, 5a, 12, 13): for each malformed bundle, crafted here
// with libarchive from signed metadata whose facts were edited before publishing,
// `fwupdate install` exits 3 and the boot control bytes, both banks, the journal
// snapshot directory and history.db are untouched.
#include <gtest/gtest.h>

#include <array>
#include <clocale>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "tar_testing.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::ReadTar;
using testing::RunCommand;
using testing::TarEntry;
using testing::TempDir;
using testing::WriteTar;

constexpr uint64_t kBankSize = 1 << 20;
constexpr uint32_t kChunk = 4096;

std::string ChunkIndex(const std::string& image) {
  std::string index;
  for (size_t off = 0; off < image.size(); off += kChunk) {
    const Digest d = Sha256::Of(AsBytes(std::string_view(image).substr(off, kChunk)));
    index.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  return index;
}

// Keys, images and one TUF repository whose published targets carry deliberately
// inconsistent facts, made once for the suite.
class Vendor {
 public:
  static Vendor& Get() {
    static Vendor v;
    return v;
  }
  std::string Path(const std::string& name) const { return dir_ / name; }
  std::string Image(const std::string& name) const { return testing::ReadFile(Path("fw-" + name + ".img")); }
  // The signed metadata entries every crafted bundle starts with.
  const std::vector<TarEntry>& Metadata() const { return metadata_; }

  // A bundle for target fw-<name>.img: the signed metadata, then the given chunk index and image entries.
  std::string Craft(const std::string& file, const std::vector<TarEntry>& tail) const {
    std::vector<TarEntry> entries = metadata_;
    entries.insert(entries.end(), tail.begin(), tail.end());
    const std::string path = dir_ / file;
    WriteTar(path, entries, {.require_headers = true});
    return path;
  }
  // The honest chunk index and image entries of fw-<name>.img.
  std::vector<TarEntry> Honest(const std::string& name) const {
    const std::string image = Image(name);
    const std::string target = "fw-" + name + ".img";
    return {{"chunk-index/" + target, ChunkIndex(image)}, {"image/" + target, image}};
  }

 private:
  Vendor() {
    for (const char* k : {"image", "root", "targets", "snapshot", "timestamp"}) {
      Must({"fwsign", "key", "generate", "--out", dir_ / (std::string(k) + ".pem")});
    }
    Must({"fwsign", "repo", "init", "--repo", dir_ / "repo", "--root-key", dir_ / "root.pem", "--targets-key",
          dir_ / "targets.pem", "--snapshot-key", dir_ / "snapshot.pem", "--timestamp-key", dir_ / "timestamp.pem"});
    // name, image header version, security counter, hardware id
    const std::vector<std::array<std::string, 4>> images = {
        {"1.0.0", "1.0.0", "0", "POS-X1"}, {"1.1.0", "1.1.0", "1", "POS-X1"}, {"vmis", "0.9.0", "1", "POS-X1"},
        {"cmis", "1.2.0", "1", "POS-X1"},  {"hmis", "1.2.0", "1", "POS-Y9"},  {"huge", "1.2.0", "1", "POS-X1"},
        {"chunk", "1.2.0", "1", "POS-X1"}, {"vbad", "1.2.0", "1", "POS-X1"}};
    for (const auto& [name, version, counter, hw] : images) {
      testing::WriteBytes(dir_ / (name + ".bin"), testing::PseudoRandomBytes(100000, static_cast<uint32_t>(name[0])));
      Must({"fwsign", "image", "sign", "--key", dir_ / "image.pem", "--version", version, "--security-counter", counter,
            "--hardware-id", hw, dir_ / (name + ".bin"), "-o", dir_ / ("fw-" + name + ".img")});
      if (name != "1.0.0") {
        Must({"fwsign", "repo", "add-target", "--repo", dir_ / "repo", "--image", dir_ / ("fw-" + name + ".img"),
              "--chunk-size", std::to_string(kChunk)});
      }
    }
    // What a careless or hostile signer publishes: facts that disagree with the image headers.
    const std::string staged = dir_ / "repo/staged/targets.json";
    auto doc = nlohmann::json::parse(testing::ReadFile(staged));
    auto& t = doc["signed"]["targets"];
    t["fw-vmis.img"]["custom"]["firmware"]["version"] = "1.5.0";          // the image says 0.9.0
    t["fw-cmis.img"]["custom"]["firmware"]["security_counter"] = 5;       // the image says 1
    t["fw-hmis.img"]["custom"]["firmware"]["hardware_ids"] = {"POS-X1"};  // the image says POS-Y9
    // 2^64 - 1 bytes: the chunk count of such a length wraps to 0 in naive arithmetic, so an
    // empty chunk index "matches" it.
    t["fw-huge.img"]["length"] = UINT64_MAX;
    t["fw-huge.img"]["custom"]["firmware"]["chunk_index_sha256"] = HexEncode(Sha256::Of(ByteSpan()));
    t["fw-chunk.img"]["custom"]["firmware"]["chunk_size"] = 1000;     // below the 4 KiB minimum
    t["fw-vbad.img"]["custom"]["firmware"]["version"] = "70000.0.0";  // not a version (parts <= 65535)
    testing::WriteFile(staged, doc.dump());
    Must({"fwsign", "repo", "publish", "--repo", dir_ / "repo", "--key", dir_ / "targets.pem", "--key",
          dir_ / "snapshot.pem", "--key", dir_ / "timestamp.pem"});
    Must({"fwsign", "bundle", "create", "--repo", dir_ / "repo", "--target", "fw-1.1.0.img", "-o", dir_ / "good.tar"});
    for (auto& e : ReadTar(dir_ / "good.tar")) {
      if (!e.name.starts_with("chunk-index/") && !e.name.starts_with("image/")) metadata_.push_back(e);
    }
  }
  static void Must(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    if (r.exit_code != 0) throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + r.err);
  }
  TempDir dir_;
  std::vector<TarEntry> metadata_;
};

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Vendor& v = Vendor::Get();
    testing::WriteFile(dev_ / "layout.json", testing::FileTerminalLayout(kBankSize));
    Ok({"fwboot", "provision", "--device", Layout(), "--image", v.Path("fw-1.0.0.img"), "--pubkey",
        v.Path("image.pub.pem"), "--hardware-id", "POS-X1"});
    Ok({"fwupdate", "init", "--device", Layout(), "--tuf-root", v.Path("repo/metadata/1.root.json")});
    Ok({"fwupdate", "journal", "simulate", "--journal", dev_ / "data/journal.db", "--create", "--count", "50"});
    // One honest install and rollback first, so history.db and the snapshot directory
    // hold something that a later refusal could damage.
    Ok({"fwupdate", "install", "--device", Layout(), "--quiet", v.Path("good.tar")});
    Ok({"fwupdate", "rollback", "--device", Layout()});
  }

  std::string Layout() const { return dev_ / "layout.json"; }
  void Ok(const std::vector<std::string>& argv) {
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  CommandResult Install(const std::string& bundle) {
    return RunCommand({"fwupdate", "install", "--device", Layout(), "--quiet", bundle});
  }

  std::string Hash(const std::string& path) {
    if (!fs::exists(path)) return "(none)";
    return HexEncode(Sha256::Of(testing::ReadBytes(path)));
  }
  // Everything a refused install must leave untouched, byte for byte.
  std::map<std::string, std::string> Fingerprint() {
    std::map<std::string, std::string> f;
    for (const char* name : {"control.bin", "banks.bin"}) f[name] = Hash(dev_ / name);
    // history.db byte for byte (a refused command writes nothing, issue 11 item 14), and by its rows.
    f["history.db"] = Hash(dev_ / "data/history.db");
    f["history.db-wal"] = Hash(dev_ / "data/history.db-wal");
    auto h = RunCommand({"fwupdate", "history", "--device", Layout(), "--json"});
    EXPECT_EQ(h.exit_code, 0) << h.err;
    f["history rows"] = h.out;
    for (const auto& e : fs::recursive_directory_iterator(dev_ / "data/snapshots")) {
      f[e.path().string()] = e.is_regular_file() ? Hash(e.path()) : "dir";
    }
    return f;
  }

  // `bundle` is refused with exit 3, naming `needle`, and nothing changed on the device.
  void ExpectRefusedBeforeAnyWrite(const std::string& bundle, const std::string& needle) {
    const auto before = Fingerprint();
    auto r = Install(bundle);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(Fingerprint(), before) << "a refused install wrote to the device: " << r.err;
  }

  TempDir dev_;
};

TEST_F(PlanTest, AnImageEntryOfTheWrongSizeIsRefusedBeforeAnyWrite) {
  auto tail = Vendor::Get().Honest("1.1.0");
  tail[1].data += std::string(512, '\0');
  ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("size.tar", tail), "the signed length is");
}

TEST_F(PlanTest, AnImageEntryThatIsNotARegularFileIsRefusedBeforeAnyWrite) {
  auto tail = Vendor::Get().Honest("1.1.0");
  tail[1].type = AE_IFLNK;
  tail[1].link = "/etc/passwd";
  ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("link.tar", tail), "only regular files");
}

TEST_F(PlanTest, AnImageEntryWithAnotherNameIsRefusedBeforeAnyWrite) {
  auto tail = Vendor::Get().Honest("1.1.0");
  tail[1].name = "image/fw-other.img";
  ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("name.tar", tail), "does not match the chunk index");
}

TEST_F(PlanTest, ASignedLengthNearTwoToThe64IsRefusedBeforeAnyWrite) {
  // The empty chunk index hashes to the signed chunk_index_sha256; only checked arithmetic refuses it.
  const std::string image = Vendor::Get().Image("huge");
  ExpectRefusedBeforeAnyWrite(
      Vendor::Get().Craft("huge.tar", {{"chunk-index/fw-huge.img", ""}, {"image/fw-huge.img", image}}),
      "beyond the largest image");
}

TEST_F(PlanTest, AnImageWhoseHeaderVersionDiffersFromTheSignedVersionIsRefused) {
  // Signed as 1.5.0 (an upgrade from 1.0.0), the image says 0.9.0 (a downgrade).
  ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("vmis.tar", Vendor::Get().Honest("vmis")),
                              "the image header says version 0.9.0, the signed metadata 1.5.0");
}

TEST_F(PlanTest, AnImageWhoseSecurityCounterDiffersFromTheSignedCounterIsRefused) {
  ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("cmis.tar", Vendor::Get().Honest("cmis")),
                              "the image header says security counter 1, the signed metadata 5");
}

TEST_F(PlanTest, AnImageForHardwareNotAmongTheSignedHardwareIdsIsRefused) {
  ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("hmis.tar", Vendor::Get().Honest("hmis")),
                              "hardware id \"POS-Y9\" is not among the signed hardware ids (POS-X1)");
}

// ------------------------------------------------------------ hostile input is exit 3 (item 12)

TEST_F(PlanTest, CompressedAndNonTarBundlesExitThree) {
  TempDir tmp;
  std::vector<TarEntry> entries = Vendor::Get().Metadata();
  for (auto& e : Vendor::Get().Honest("1.1.0")) entries.push_back(e);
  WriteTar(tmp / "gz.tar.gz", entries, {.gzip = true, .require_headers = true});
  ExpectRefusedBeforeAnyWrite(tmp / "gz.tar.gz", "gzip-compressed");
  testing::WriteBytes(tmp / "random.bin", testing::PseudoRandomBytes(20000, 9));
  ExpectRefusedBeforeAnyWrite(tmp / "random.bin", "not a tar archive");
  // A missing file stays an I/O error.
  EXPECT_EQ(Install(tmp / "missing.tar").exit_code, 4);
}

TEST_F(PlanTest, EntriesOverTheirCapsExitThree) {
  TempDir tmp;
  std::vector<TarEntry> entries = Vendor::Get().Metadata();
  ASSERT_EQ(entries[0].name, "root/1.root.json");
  entries[0].data = std::string(600 * 1000, ' ');
  WriteTar(tmp / "big-root.tar", entries, {.require_headers = true});
  ExpectRefusedBeforeAnyWrite(tmp / "big-root.tar", "exceeds the cap of 512000");
}

TEST_F(PlanTest, SignedChunkSizesAndVersionsOutOfRangeExitThree) {
  ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("chunk.tar", Vendor::Get().Honest("chunk")),
                              "signed chunk size 1000 outside");
  ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("vbad.tar", Vendor::Get().Honest("vbad")),
                              "the signed firmware version is not usable");
}

TEST_F(PlanTest, BytesAfterTheEndOfArchiveMarkerOtherThanZeroPaddingAreRefused) {
  const std::string good = Vendor::Get().Path("good.tar");
  TempDir tmp;
  std::string bytes = testing::ReadFile(good);
  testing::WriteFile(tmp / "garbage.tar", bytes + "trailing garbage");
  ExpectRefusedBeforeAnyWrite(tmp / "garbage.tar", "only the tar end-of-archive marker and zero padding");
  // An entry after the image is found in the plan too, not after the bank was written.
  std::vector<TarEntry> entries = Vendor::Get().Metadata();
  for (auto& e : Vendor::Get().Honest("1.1.0")) entries.push_back(e);
  entries.push_back({"extra.txt", "x"});
  WriteTar(tmp / "extra.tar", entries, {.require_headers = true});
  ExpectRefusedBeforeAnyWrite(tmp / "extra.tar", "only the tar end-of-archive marker and zero padding");
  // Zero padding (any amount) is accepted.
  testing::WriteFile(tmp / "padded.tar", bytes + std::string(30000, '\0'));
  auto r = Install(tmp / "padded.tar");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(PlanTest, TargetNamesOutsideTheSharedRuleAreRefusedByTheReader) {
  const std::vector<std::pair<std::string, std::string>> names = {{"fw-\xc3\xbc.img", "non-ASCII"},
                                                                  {"fw\x01.img", "control character"},
                                                                  {"fw.img~$", "the character '$'"},
                                                                  {"a//b", "empty"},
                                                                  {"./fw.img", "\".\""}};
  // libarchive converts UTF-8 names through the locale while writing (the C locale cannot).
  ASSERT_NE(std::setlocale(LC_CTYPE, "C.UTF-8"), nullptr);
  for (const auto& [name, needle] : names) {
    auto tail = Vendor::Get().Honest("1.1.0");
    tail[0].name = "chunk-index/" + name;
    tail[1].name = "image/" + name;
    ExpectRefusedBeforeAnyWrite(Vendor::Get().Craft("names.tar", tail), needle);
  }
}

// ------------------------------------------------------------ add-target uses the same rule (item 13)

TEST(AddTargetNames, NamesTheReaderWouldRefuseAreRefusedAtAddTargetWithExitTwo) {
  const Vendor& v = Vendor::Get();
  TempDir tmp;
  ASSERT_EQ(RunCommand({"cp", "-r", v.Path("repo"), tmp / "repo"}).exit_code, 0);
  const std::vector<std::string> bad = {"",           ".",          "a//b", "../x",
                                        "/abs",       "a/./b",      "dir/", "fw-\xc3\xbc.img",
                                        "fw\x01.img", "fw\x7f.img", "a b",  std::string(300, 'a')};
  for (const std::string& name : bad) {
    auto r = RunCommand(
        {"fwsign", "repo", "add-target", "--repo", tmp / "repo", "--image", v.Path("fw-1.1.0.img"), "--name", name});
    EXPECT_EQ(r.exit_code, 2) << "name \"" << name << "\": " << r.err;
    EXPECT_NE(r.err.find("target name"), std::string::npos) << r.err;
  }
  auto utf8 = RunCommand({"fwsign", "repo", "add-target", "--repo", tmp / "repo", "--image", v.Path("fw-1.1.0.img"),
                          "--name", "fw-\xc3\xbc.img"});
  EXPECT_NE(utf8.err.find("non-ASCII"), std::string::npos) << utf8.err;
  // Names inside the rule are accepted.
  for (const std::string name : {"pos/fw-1.1.0.img", "a.b_c-d+e~f", "x..y"}) {
    auto r = RunCommand(
        {"fwsign", "repo", "add-target", "--repo", tmp / "repo", "--image", v.Path("fw-1.1.0.img"), "--name", name});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
  }
}

}  // namespace
}  // namespace fw
