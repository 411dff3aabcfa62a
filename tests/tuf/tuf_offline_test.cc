// Offline k-of-n signing (`fwsign repo stage | sign-role | merge`), as holders who never
// share a machine run it: each signs their own copy of the staged role file; the
// merged result is checked by fwsign and followed by our TUF client.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/tuf_offline.h"
#include "fw/tuf_updater.h"
#include "testing.h"
#include "tuf_test_repo.h"

namespace fw::tuf {
namespace {

using fw::testing::CommandResult;
using fw::testing::ReadFile;
using fw::testing::RunCommand;
using fw::testing::TempDir;

class OfflineSigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* k : {"root", "a", "b", "c", "t1", "t2", "t3", "snapshot", "timestamp", "image"}) {
      auto r = RunCommand(
          {"fwsign", "key", "generate", "--type", std::string(k) == "b" ? "ecdsa-p256" : "ed25519", "--out", Key(k)});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    // Targets is 2-of-3 from the start (t1, t2, t3); root is a single file key until rotated.
    auto r = RunCommand({"fwsign", "repo", "init", Repo(), "--root-key", Key("root"), "--targets-key", Key("t1"),
                         "--targets-key", Key("t2"), "--targets-key", Key("t3"), "--targets-threshold", "2",
                         "--snapshot-key", Key("snapshot"), "--timestamp-key", Key("timestamp")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::string Key(const std::string& name) const { return dir_ / (name + ".pem"); }
  std::string Pub(const std::string& name) const { return dir_ / (name + ".pub.pem"); }
  std::string Repo() const { return dir_ / "repo"; }
  std::string Path(const std::string& name) const { return dir_ / name; }

  // Stages root N+1 making root 2-of-3 over a, b, c.
  void StageRootRotation(const std::string& file) {
    auto r = RunCommand({"fwsign", "repo", "stage", Repo(), "root", "--change-role", "root", "--new-key", Pub("a"),
                         "--new-key", Pub("b"), "--new-key", Pub("c"), "--threshold", "2", "-o", Path(file)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A holder's copy of `file`, signed with `key` on "their machine" (their own copy).
  CommandResult SignCopy(const std::string& file, const std::string& key, const std::string& copy,
                         bool with_repo = true) {
    std::filesystem::copy_file(Path(file), Path(copy), std::filesystem::copy_options::overwrite_existing);
    std::vector<std::string> argv = {"fwsign", "repo", "sign-role", Path(copy), "--key", Key(key), "--yes"};
    if (with_repo) argv.insert(argv.end(), {"--repo", Repo()});
    return RunCommand(argv);
  }

  CommandResult Merge(const std::vector<std::string>& copies) {
    std::vector<std::string> argv = {"fwsign", "repo", "merge", Repo()};
    for (const auto& c : copies) argv.push_back(Path(c));
    return RunCommand(argv);
  }

  std::string SignImage(const std::string& name, const std::string& version, int counter) {
    fw::testing::WriteBytes(Path(name + ".bin"), fw::testing::PseudoRandomBytes(50000, counter));
    auto r = RunCommand({"fwsign", "image", "sign", "--key", Key("image"), "--version", version, "--security-counter",
                         std::to_string(counter), "--hardware-id", "POS-X1", Path(name + ".bin"), "-o", Path(name)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Path(name);
  }

  Updater Client(testing::DirFetcher& fetcher) {
    UpdaterConfig c;
    c.metadata_dir = dir_ / "client";
    c.metadata_base_url = std::string(testing::kBase) + "metadata/";
    c.target_base_url = std::string(testing::kBase) + "targets/";
    return Updater(c, fetcher);
  }

  TempDir dir_;
};

TEST_F(OfflineSigningTest, TwoOfThreeRootSignedOnSeparateCopiesIsMergedAndFollowedByTheClient) {
  ASSERT_TRUE(Updater::Init(dir_ / "client", ReadFile(Repo() + "/metadata/1.root.json")).ok());
  StageRootRotation("root2.json");
  // The old root key (TUF 5.3.4: root 1's threshold) and two of the three new keys, each on its own copy.
  for (auto [key, copy] :
       {std::pair{"root", "old.json"}, std::pair{"a", "a.json"}, std::pair{"b", "b.json"}, std::pair{"c", "c.json"}}) {
    auto r = SignCopy("root2.json", key, copy);
    ASSERT_EQ(r.exit_code, 0) << key << ": " << r.err;
  }
  // Merged in any order, with a duplicate copy: the published file is the same.
  auto m = Merge({"c.json", "old.json", "a.json", "a.json", "b.json"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("root version 2: 2 of 3 needed, 3 valid"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("root version 1 (previous): 1 of 1 needed, 1 valid"), std::string::npos) << m.out;
  const std::string published = ReadFile(Repo() + "/metadata/2.root.json");
  EXPECT_EQ(ReadFile(Repo() + "/metadata/root.json"), published);
  auto again = RunCommand({"fwsign", "repo", "merge", Repo(), Path("b.json"), Path("a.json"), Path("c.json"),
                           Path("old.json"), "-o", Path("merged.json")});
  ASSERT_EQ(again.exit_code, 5) << again.err;  // root 2 is published now: this file is stale
  auto parsed = ParseMetadata<Root>(published, kMaxRootBytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->signatures.size(), 4u);
  EXPECT_TRUE(std::is_sorted(parsed->signatures.begin(), parsed->signatures.end(),
                             [](const Signature& x, const Signature& y) { return x.keyid < y.keyid; }));
  // Snapshot/timestamp keys are unchanged, so a publish with online keys is all that follows.
  testing::DirFetcher fetcher(Repo());
  auto client = Client(fetcher);
  ASSERT_TRUE(client.Refresh().ok());
  EXPECT_EQ(client.trusted()->root().signed_.common.version, 2u);
  EXPECT_EQ(client.trusted()->root().signed_.roles.at("root").threshold, 2u);

  // Root 3 from the 2-of-3 root back to it (expiry extended): two holders suffice.
  ASSERT_EQ(RunCommand({"fwsign", "repo", "stage", Repo(), "root", "-o", Path("root3.json")}).exit_code, 0);
  ASSERT_EQ(SignCopy("root3.json", "a", "a3.json").exit_code, 0);
  ASSERT_EQ(SignCopy("root3.json", "c", "c3.json", /*with_repo=*/false).exit_code, 0);
  ASSERT_EQ(Merge({"a3.json", "c3.json"}).exit_code, 0);
  ASSERT_EQ(
      RunCommand({"fwsign", "repo", "publish", Repo(), "--key", Key("snapshot"), "--key", Key("timestamp")}).exit_code,
      0);
  auto client3 = Client(fetcher);
  ASSERT_TRUE(client3.Refresh().ok());
  EXPECT_EQ(client3.trusted()->root().signed_.common.version, 3u);
}

TEST_F(OfflineSigningTest, BelowThresholdIsRefusedAndNothingIsPublished) {
  StageRootRotation("root2.json");
  ASSERT_EQ(SignCopy("root2.json", "root", "old.json").exit_code, 0);
  ASSERT_EQ(SignCopy("root2.json", "a", "a.json").exit_code, 0);
  // 1 of the 3 new keys: refused, exit 5, naming the count.
  auto one = Merge({"old.json", "a.json"});
  EXPECT_EQ(one.exit_code, 5) << one.err;
  EXPECT_NE(one.err.find("root version 2: 2 of 3 needed, 1 valid"), std::string::npos) << one.err;
  // Two new keys but not the old root's: refused too (the old root's threshold).
  ASSERT_EQ(SignCopy("root2.json", "c", "c.json").exit_code, 0);
  auto no_old = Merge({"a.json", "c.json"});
  EXPECT_EQ(no_old.exit_code, 5) << no_old.err;
  EXPECT_NE(no_old.err.find("root version 1 (previous): 1 of 1 needed, 0 valid"), std::string::npos) << no_old.err;
  EXPECT_FALSE(fw::testing::Exists(Repo() + "/metadata/2.root.json"));
  // -o merges what there is (for the next holder) without publishing.
  auto partial = RunCommand({"fwsign", "repo", "merge", Repo(), Path("a.json"), Path("c.json"), "-o", Path("ac.json")});
  ASSERT_EQ(partial.exit_code, 0) << partial.err;
  EXPECT_FALSE(fw::testing::Exists(Repo() + "/metadata/2.root.json"));
  auto show = RunCommand({"fwsign", "repo", "show-role", Path("ac.json"), "--repo", Repo(), "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const auto counts = nlohmann::json::parse(show.out)["thresholds"];
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0]["valid"], 2);  // root 2's own keys: a and c
  EXPECT_EQ(counts[1]["valid"], 0);  // root 1's key has not signed this copy
  ASSERT_EQ(Merge({"ac.json", "old.json"}).exit_code, 0);
  EXPECT_TRUE(fw::testing::Exists(Repo() + "/metadata/2.root.json"));
}

TEST_F(OfflineSigningTest, ARoleChangedAfterSigningIsRefusedNamingTheKey) {
  StageRootRotation("root2.json");
  ASSERT_EQ(SignCopy("root2.json", "root", "old.json").exit_code, 0);
  ASSERT_EQ(SignCopy("root2.json", "a", "a.json").exit_code, 0);
  ASSERT_EQ(SignCopy("root2.json", "b", "b.json").exit_code, 0);
  const std::string a_keyid = nlohmann::json::parse(ReadFile(Path("a.json")))["signatures"][0]["keyid"];
  // Someone lowers the threshold in a's copy after a signed it.
  std::string text = ReadFile(Path("a.json"));
  const size_t at = text.find("\"threshold\":2");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 13, "\"threshold\":1");
  fw::testing::WriteFile(Path("a.json"), text);
  auto m = Merge({"old.json", "a.json", "b.json"});
  EXPECT_EQ(m.exit_code, 3) << m.err;
  EXPECT_NE(m.err.find("signature by key " + a_keyid + " does not verify"), std::string::npos) << m.err;
  EXPECT_FALSE(fw::testing::Exists(Repo() + "/metadata/2.root.json"));
  // The next holder is refused too, before signing it.
  const std::string before = ReadFile(Path("a.json"));
  auto s = RunCommand({"fwsign", "repo", "sign-role", Path("a.json"), "--key", Key("c"), "--yes"});
  EXPECT_EQ(s.exit_code, 3) << s.err;
  EXPECT_NE(s.err.find(a_keyid), std::string::npos) << s.err;
  EXPECT_EQ(ReadFile(Path("a.json")), before);
}

TEST_F(OfflineSigningTest, HolderSeesWhatTheySignAndMustConfirm) {
  StageRootRotation("root2.json");
  auto show = RunCommand({"fwsign", "repo", "show-role", Path("root2.json"), "--repo", Repo()});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  for (const char* want : {"role:        root", "version:     2 (published: 1)",
                           "expires:     ", "role root: threshold 2 of 3 (was 1 of 1)", "(added)", "(removed)",
                           "role targets: threshold 2 of 3 (unchanged)", "root version 2: 2 of 3 needed, 0 valid"}) {
    EXPECT_NE(show.out.find(want), std::string::npos) << want << "\n" << show.out;
  }
  // A key replaced at the same threshold is shown as such, not as "unchanged".
  ASSERT_EQ(RunCommand({"fwsign", "repo", "stage", Repo(), "root", "--change-role", "timestamp", "--new-key", Pub("c"),
                        "-o", Path("ts.json")})
                .exit_code,
            0);
  auto ts = RunCommand({"fwsign", "repo", "show-role", Path("ts.json"), "--repo", Repo()});
  ASSERT_EQ(ts.exit_code, 0) << ts.err;
  EXPECT_NE(ts.out.find("role timestamp: threshold 1 of 1 (threshold unchanged, keys changed)"), std::string::npos)
      << ts.out;
  EXPECT_NE(ts.out.find("role root: threshold 1 of 1 (unchanged)"), std::string::npos) << ts.out;
  // Without --yes and without a terminal: refused, nothing signed.
  const std::string before = ReadFile(Path("root2.json"));
  auto no = RunCommand({"fwsign", "repo", "sign-role", Path("root2.json"), "--key", Key("a")}, "y\n");
  EXPECT_EQ(no.exit_code, 2) << no.err;
  EXPECT_EQ(ReadFile(Path("root2.json")), before);
  // A key that is not a root key (old or new) is refused.
  auto wrong = RunCommand({"fwsign", "repo", "sign-role", Path("root2.json"), "--key", Key("t1"), "--yes"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.err;
  EXPECT_EQ(ReadFile(Path("root2.json")), before);

  // Targets: one added, one changed, one removed against the published version.
  ASSERT_EQ(
      RunCommand({"fwsign", "repo", "add-target", Repo(), "--image", SignImage("keep.img", "1.0.0", 1)}).exit_code, 0);
  ASSERT_EQ(RunCommand({"fwsign", "repo", "add-target", Repo(), "--image", SignImage("old.img", "1.0.0", 1)}).exit_code,
            0);
  ASSERT_EQ(RunCommand({"fwsign", "repo", "add-target", Repo(), "--image", SignImage("fw.img", "1.0.0", 1)}).exit_code,
            0);
  ASSERT_EQ(RunCommand({"fwsign", "repo", "publish", Repo(), "--key", Key("t1"), "--key", Key("t2"), "--key",
                        Key("snapshot"), "--key", Key("timestamp")})
                .exit_code,
            0);
  ASSERT_EQ(RunCommand({"fwsign", "repo", "add-target", Repo(), "--image", SignImage("fw.img", "1.1.0", 2)}).exit_code,
            0);
  ASSERT_EQ(RunCommand({"fwsign", "repo", "add-target", Repo(), "--image", SignImage("new.img", "2.0.0", 3)}).exit_code,
            0);
  // The release manager drops old.img from the staged targets (unsigned, the same format) by hand.
  const std::string staged = Repo() + "/staged/targets.json";
  auto doc = nlohmann::json::parse(ReadFile(staged));
  doc["signed"]["targets"].erase("old.img");
  fw::testing::WriteFile(staged, doc.dump());
  ASSERT_EQ(RunCommand({"fwsign", "repo", "stage", Repo(), "targets", "-o", Path("t.json")}).exit_code, 0);
  auto t = SignCopy("t.json", "t1", "t1.json");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  for (const char* want :
       {"role:        targets", "version:     3 (published: 2)", "targets: 3 (published version 2 has 3)", "+ new.img",
        "firmware 2.0.0 counter 3 for POS-X1  (added)", "~ fw.img", "(changed; was fw.img", "- old.img", "(removed)",
        "1 unchanged", "targets version 3 (keys of root version 1): 2 of 3 needed, 0 valid"}) {
    EXPECT_NE(t.out.find(want), std::string::npos) << want << "\n" << t.out;
  }
  // Published with 2 of the 3 targets keys, then snapshot and timestamp with online keys.
  ASSERT_EQ(SignCopy("t.json", "t3", "t3.json").exit_code, 0);
  auto m = Merge({"t3.json", "t1.json"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_FALSE(fw::testing::Exists(staged));  // it is what was published
  ASSERT_EQ(
      RunCommand({"fwsign", "repo", "publish", Repo(), "--key", Key("snapshot"), "--key", Key("timestamp")}).exit_code,
      0);
  ASSERT_TRUE(Updater::Init(dir_ / "client", ReadFile(Repo() + "/metadata/1.root.json")).ok());
  testing::DirFetcher fetcher(Repo());
  auto client = Client(fetcher);
  auto info = client.GetTargetInfo("new.img");
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_FALSE(client.GetTargetInfo("old.img").ok());
  EXPECT_EQ(client.trusted()->targets()->signed_.common.version, 3u);
}

// A signature by a key the role does not list is ignored (reported, dropped); duplicates count once.
TEST_F(OfflineSigningTest, ForeignSignaturesAreIgnoredAndDuplicatesCountOnce) {
  ASSERT_EQ(RunCommand({"fwsign", "repo", "stage", Repo(), "targets", "-o", Path("t.json")}).exit_code, 0);
  // Without --repo a targets holder cannot be checked: key "a" (a stranger to targets) signs.
  auto stranger = SignCopy("t.json", "a", "a.json", /*with_repo=*/false);
  ASSERT_EQ(stranger.exit_code, 0) << stranger.err;
  ASSERT_EQ(SignCopy("t.json", "t1", "t1.json").exit_code, 0);
  ASSERT_EQ(SignCopy("t.json", "t1", "t1-again.json").exit_code, 0);
  auto short_of = Merge({"a.json", "t1.json", "t1-again.json"});
  EXPECT_EQ(short_of.exit_code, 5) << short_of.err;
  EXPECT_NE(short_of.err.find("2 of 3 needed, 1 valid"), std::string::npos) << short_of.err;
  ASSERT_EQ(SignCopy("t.json", "t2", "t2.json").exit_code, 0);
  auto m = Merge({"a.json", "t1.json", "t2.json", "t1-again.json"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const std::string a_keyid = nlohmann::json::parse(ReadFile(Path("a.json")))["signatures"][0]["keyid"];
  EXPECT_NE(m.err.find("ignored the signature by key " + a_keyid), std::string::npos) << m.err;
  auto published = nlohmann::json::parse(ReadFile(Repo() + "/metadata/2.targets.json"));
  EXPECT_EQ(published["signatures"].size(), 2u);
}

// A repository whose very first root is 2-of-3 and signed offline: until the merge there is no root.json.
TEST_F(OfflineSigningTest, InitOfflineStagesRootV1ForTheHolders) {
  const std::string repo = Path("repo1");
  auto init = RunCommand({"fwsign",
                          "repo",
                          "init-offline",
                          repo,
                          "--root-key",
                          Pub("a"),
                          "--root-key",
                          Pub("b"),
                          "--root-key",
                          Pub("c"),
                          "--root-threshold",
                          "2",
                          "--targets-key",
                          Key("t1"),
                          "--snapshot-key",
                          Key("snapshot"),
                          "--timestamp-key",
                          Key("timestamp"),
                          "-o",
                          Path("root1.json")});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_FALSE(fw::testing::Exists(repo + "/metadata/root.json"));
  for (const char* h : {"a", "b"}) {
    std::filesystem::copy_file(Path("root1.json"), Path(std::string(h) + "1.json"));
    auto s = RunCommand(
        {"fwsign", "repo", "sign-role", Path(std::string(h) + "1.json"), "--key", Key(h), "--repo", repo, "--yes"});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    EXPECT_NE(s.out.find("root version 1: 2 of 3 needed"), std::string::npos) << s.out;
  }
  auto one = RunCommand({"fwsign", "repo", "merge", repo, Path("a1.json")});
  EXPECT_EQ(one.exit_code, 5) << one.err;
  EXPECT_FALSE(fw::testing::Exists(repo + "/metadata/root.json"));
  auto m = RunCommand({"fwsign", "repo", "merge", repo, Path("b1.json"), Path("a1.json")});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(ReadFile(repo + "/metadata/root.json"), ReadFile(repo + "/metadata/1.root.json"));
  ASSERT_TRUE(Updater::Init(dir_ / "client", ReadFile(repo + "/metadata/1.root.json")).ok());
  testing::DirFetcher fetcher(repo);
  auto client = Client(fetcher);
  ASSERT_TRUE(client.Refresh().ok());
  EXPECT_EQ(client.trusted()->root().signed_.roles.at("root").threshold, 2u);
  // A second init-offline into the same directory is refused.
  auto again =
      RunCommand({"fwsign", "repo", "init-offline", repo, "--root-key", Pub("a"), "--targets-key", Key("t1"),
                  "--snapshot-key", Key("snapshot"), "--timestamp-key", Key("timestamp"), "-o", Path("again.json")});
  EXPECT_EQ(again.exit_code, 5) << again.err;
  EXPECT_FALSE(fw::testing::Exists(Path("again.json")));
}

// On a terminal (script(1) gives it one) the holder answers the prompt: n signs nothing (exit 1), y signs.
TEST_F(OfflineSigningTest, OnATerminalTheHolderAnswersThePrompt) {
  StageRootRotation("root2.json");
  const std::string before = ReadFile(Path("root2.json"));
  const std::string cmd =
      fw::testing::BinaryPath("fwsign") + " repo sign-role '" + Path("root2.json") + "' --key '" + Key("a") + "'";
  auto no = RunCommand({"script", "-qec", cmd, "/dev/null"}, "n\n");
  EXPECT_EQ(no.exit_code, 1) << no.out;
  EXPECT_NE(no.out.find("Sign root version 2 with this key? [y/N]"), std::string::npos) << no.out;
  EXPECT_EQ(ReadFile(Path("root2.json")), before);
  auto yes = RunCommand({"script", "-qec", cmd, "/dev/null"}, "y\n");
  EXPECT_EQ(yes.exit_code, 0) << yes.out;
  auto signed_role = ReadOfflineRole(Path("root2.json"));
  ASSERT_TRUE(signed_role.ok()) << signed_role.status().message();
  EXPECT_EQ(signed_role->signatures.size(), 1u);
}

TEST_F(OfflineSigningTest, BadInputIsRefusedWithExit3AndNothingWritten) {
  StageRootRotation("root2.json");
  fw::testing::WriteFile(Path("text.json"), "this is not a role file\n");
  fw::testing::WriteFile(Path("huge.json"), std::string(kMaxOfflineRoleBytes + 1, ' '));
  std::filesystem::copy_file(Repo() + "/metadata/timestamp.json", Path("ts.json"));
  for (const char* f : {"text.json", "huge.json", "ts.json"}) {
    const std::string before = ReadFile(Path(f));
    auto s = RunCommand({"fwsign", "repo", "sign-role", Path(f), "--key", Key("a"), "--yes"});
    EXPECT_EQ(s.exit_code, 3) << f << ": " << s.err;
    EXPECT_EQ(ReadFile(Path(f)), before) << f;
    auto m = RunCommand({"fwsign", "repo", "merge", Repo(), Path("root2.json"), Path(f), "-o", Path("out.json")});
    EXPECT_EQ(m.exit_code, 3) << f << ": " << m.err;
    EXPECT_FALSE(fw::testing::Exists(Path("out.json"))) << f;
  }
  // Two different role files are not copies of one.
  ASSERT_EQ(RunCommand({"fwsign", "repo", "stage", Repo(), "targets", "-o", Path("t.json")}).exit_code, 0);
  auto mixed = Merge({"root2.json", "t.json"});
  EXPECT_EQ(mixed.exit_code, 3) << mixed.err;
  EXPECT_NE(mixed.err.find("holds another role"), std::string::npos) << mixed.err;
  // Stage does not overwrite a file, nor stage snapshot/timestamp.
  EXPECT_EQ(RunCommand({"fwsign", "repo", "stage", Repo(), "root", "-o", Path("root2.json")}).exit_code, 5);
  EXPECT_EQ(RunCommand({"fwsign", "repo", "stage", Repo(), "snapshot", "-o", Path("s.json")}).exit_code, 2);
  EXPECT_FALSE(fw::testing::Exists(Repo() + "/metadata/2.root.json"));
}

}  // namespace
}  // namespace fw::tuf
