// The trust store region's two versioned copies (bootloader/README.md, "Trust store"):
// the provisioned text reads as version 0, an update goes to the copy not in use,
// the reader takes the valid copy with the highest version, and a power cut at
// every write and erase of a sequence of updates (cut before/after, torn prefix,
// torn bits) leaves a store that is the old or the new one, from which the
// terminal boots, and which the interrupted update can simply be retried over.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <set>

#include "fw/boot/trust_store.h"
#include "fw/encoding.h"
#include "sim_device.h"

namespace fw::boot::testing {
namespace {

bool FullSweep() {
  const char* v = std::getenv("FW_FULL_SWEEP");
  return v && std::string(v) == "1";
}

TrustStore Store(const std::vector<std::string>& key_files) {
  TrustStore ts;
  ts.hardware_id = "POS-X1";
  for (const auto& k : key_files) ts.boot_keys.push_back(TestPublicKey(k));
  return ts;
}

std::set<std::string> Names(const TrustStore& ts) {
  static const std::map<std::string, std::string> by_id = [] {
    std::map<std::string, std::string> m;
    for (const char* n : {"ed25519-a.pub.pem", "ed25519-b.pub.pem", "ecdsa-a.pub.pem"})
      m[HexEncode(TestPublicKey(n).KeyId())] = n;
    return m;
  }();
  std::set<std::string> out;
  for (const auto& k : ts.boot_keys) out.insert(by_id.at(HexEncode(k.KeyId())));
  return out;
}

SimFlash Region(uint32_t erase_block, uint32_t align, uint8_t erased, uint64_t blocks) {
  FlashGeometry g;
  g.size = erase_block * blocks;
  g.erase_block_size = erase_block;
  g.write_alignment = align;
  g.erased_value = erased;
  auto f = SimFlash::Create(g);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return std::move(*f);
}

TEST(TrustStoreRegion, ProvisionedTextIsVersionZeroAndUpdatesAlternateCopies) {
  SimFlash f = Region(512, 8, 0xFF, 8);
  ASSERT_TRUE(Store({"ed25519-a.pub.pem"}).Write(f).ok());
  auto v0 = TrustStore::Read(f);
  ASSERT_TRUE(v0.ok()) << v0.status().message();
  EXPECT_EQ(v0->version, 0u);
  EXPECT_EQ(v0->copy, 0);
  EXPECT_TRUE(v0->copies[0].legacy);
  EXPECT_FALSE(v0->copies[1].valid);

  TrustStore cur = *v0;
  const std::vector<std::vector<std::string>> sets = {
      {"ed25519-a.pub.pem", "ed25519-b.pub.pem"}, {"ed25519-b.pub.pem"}, {"ecdsa-a.pub.pem", "ed25519-a.pub.pem"}};
  for (uint64_t v = 1; v <= sets.size(); ++v) {
    TrustStore next = Store(sets[v - 1]);
    Status s = next.WriteVersion(f, cur, v);
    ASSERT_TRUE(s.ok()) << s.message();
    auto got = TrustStore::Read(f);
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_EQ(got->version, v);
    EXPECT_EQ(got->copy, static_cast<int>(v % 2));  // v1 → copy 1, v2 → copy 0, ...
    EXPECT_EQ(Names(*got), std::set<std::string>(sets[v - 1].begin(), sets[v - 1].end()));
    EXPECT_TRUE(got->copies[1 - got->copy].valid) << "the previous copy stays as the fallback";
    cur = *got;
  }
}

TEST(TrustStoreRegion, ADamagedNewestCopyFallsBackToTheOlderOne) {
  SimFlash f = Region(512, 8, 0xFF, 8);
  ASSERT_TRUE(Store({"ed25519-a.pub.pem"}).Write(f).ok());
  auto v0 = TrustStore::Read(f);
  ASSERT_TRUE(Store({"ed25519-a.pub.pem", "ed25519-b.pub.pem"}).WriteVersion(f, *v0, 1).ok());
  const uint64_t copy = TrustStore::CopySize(f);
  for (uint64_t at : {uint64_t{0}, uint64_t{20}, uint64_t{40}, kTrustStoreCopyHeaderSize + 30}) {
    SimFlash g = f;
    g.bytes()[copy + at] ^= 0x10;
    auto got = TrustStore::Read(g);
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_EQ(got->version, 0u) << "byte " << at;
    EXPECT_FALSE(got->copies[1].valid);
    EXPECT_FALSE(got->copies[1].problem.empty());
  }
  // Both copies damaged: an error naming both, never a guess.
  SimFlash g = f;
  g.bytes()[copy + 40] ^= 1;
  g.bytes()[0] = 'X';
  auto bad = TrustStore::Read(g);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("copy 0"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("copy 1"), std::string::npos) << bad.status().message();
}

TEST(TrustStoreRegion, RefusesRegionsWithoutRoomForTwoCopiesAndWritesNothing) {
  SimFlash one = Region(4096, 8, 0xFF, 1);
  ASSERT_TRUE(Store({"ed25519-a.pub.pem"}).Write(one).ok());
  auto cur = TrustStore::Read(one);
  ASSERT_TRUE(cur.ok());
  const auto before = one.bytes();
  Status s = Store({"ed25519-b.pub.pem"}).WriteVersion(one, *cur, 1);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.message();
  EXPECT_NE(s.message().find("two copies"), std::string::npos) << s.message();
  EXPECT_EQ(one.bytes(), before);

  // A provisioned text longer than one copy would be destroyed by writing copy 1.
  SimFlash small = Region(64, 8, 0xFF, 12);  // copies of 384 bytes
  TrustStore big = Store({"ed25519-a.pub.pem", "ed25519-b.pub.pem", "ecdsa-a.pub.pem"});
  ASSERT_GT(big.Serialize().size(), TrustStore::CopySize(small));
  ASSERT_TRUE(big.Write(small).ok());
  auto cur2 = TrustStore::Read(small);
  ASSERT_TRUE(cur2.ok()) << cur2.status().message();
  const auto before2 = small.bytes();
  s = Store({"ed25519-a.pub.pem"}).WriteVersion(small, *cur2, 1);
  EXPECT_EQ(s.code(), ErrorCode::kFailedPrecondition) << s.message();
  EXPECT_EQ(small.bytes(), before2);
}

// ---- the power-cut sweep

struct Geometry {
  uint32_t erase_block;
  uint32_t align;
  uint8_t erased;
};

// v0 (provisioned) {a} → v1 {a, b} → v2 {a, ecdsa}: adds, then revokes b. The image in
// bank A is signed by a, as the apply requires of the confirmed firmware.
const std::vector<std::vector<std::string>> kSets = {
    {"ed25519-a.pub.pem"}, {"ed25519-a.pub.pem", "ed25519-b.pub.pem"}, {"ed25519-a.pub.pem", "ecdsa-a.pub.pem"}};

// Applies v1 and v2 under `plan`; false at the first failure (the cut).
bool ApplyAll(SimFlash& f) {
  for (uint64_t v = 1; v < kSets.size(); ++v) {
    auto cur = TrustStore::Read(f);
    if (!cur.ok()) return false;
    if (cur->version >= v) continue;  // a retry after the cut: already there
    if (!Store(kSets[v]).WriteVersion(f, *cur, v).ok()) return false;
  }
  return true;
}

// The terminal boots with the keys of the store read after the cut.
bool Boots(const TrustStore& ts, const Geometry& g) {
  SimConfig c;
  c.erase_block = 512;
  c.write_alignment = g.align;
  c.erased_value = g.erased;
  std::set<std::string> names = Names(ts);
  SimDevice d(c, std::vector<std::string>(names.begin(), names.end()));
  d.Provision(SignedImage({"1.0.0", 1}));
  return d.Reset().Boot().status == BootStatus::kBooted;
}

void CheckAfterCut(SimFlash& f, const Geometry& g, uint64_t min_version, const std::string& what) {
  f.PowerOn();
  f.ClearFaults();
  auto ts = TrustStore::Read(f);
  ASSERT_TRUE(ts.ok()) << what << ": " << ts.status().message();
  ASSERT_LT(ts->version, kSets.size()) << what;
  EXPECT_GE(ts->version, min_version) << what << ": the store went back";
  EXPECT_EQ(Names(*ts), std::set<std::string>(kSets[ts->version].begin(), kSets[ts->version].end())) << what;
  EXPECT_TRUE(Boots(*ts, g)) << what;
  // Retrying finishes the sequence.
  ASSERT_TRUE(ApplyAll(f)) << what;
  auto end = TrustStore::Read(f);
  ASSERT_TRUE(end.ok()) << what;
  EXPECT_EQ(end->version, kSets.size() - 1) << what;
}

TEST(TrustStoreRegion, PowerCutAtEveryWriteLeavesTheOldOrTheNewStoreAndABootableTerminal) {
  std::vector<Geometry> geometries = {{512, 8, 0xFF}, {512, 1, 0x00}};
  if (FullSweep()) geometries.insert(geometries.end(), {{512, 2, 0xFF}, {1024, 4, 0x00}, {4096, 8, 0xFF}});
  const int bit_seeds = FullSweep() ? 8 : 2;
  size_t cut_points = 0;
  for (const Geometry& g : geometries) {
    SimFlash base = Region(g.erase_block, g.align, g.erased, 4);
    ASSERT_TRUE(Store(kSets[0]).Write(base).ok());
    // Count the operations of the fault-free run.
    SimFlash probe = base;
    const uint64_t ops0 = probe.ops();
    ASSERT_TRUE(ApplyAll(probe));
    const uint64_t total = probe.ops() - ops0;
    ASSERT_EQ(total, 4u) << "erase + write per update";
    for (uint64_t k = 1; k <= total; ++k) {
      // Version reached for sure before op k: each update is 2 ops (erase, write).
      const uint64_t done_before = (k - 1) / 2;
      std::vector<std::pair<std::string, FaultPlan>> plans;
      FaultPlan p;
      p.cut_before_op = ops0 + k;
      plans.push_back({"cut before", p});
      p = {};
      p.cut_after_op = ops0 + k;
      plans.push_back({"cut after", p});
      for (int64_t tear : {int64_t{0}, int64_t{1}, int64_t{-1}}) {
        p = {};
        p.tear_op = ops0 + k;
        p.tear_bytes = tear;
        plans.push_back({"torn prefix " + std::to_string(tear), p});
      }
      for (int seed = 1; seed <= bit_seeds; ++seed) {
        p = {};
        p.tear_op = ops0 + k;
        p.tear_mode = TearMode::kBits;
        p.seed = seed;
        plans.push_back({"torn bits seed " + std::to_string(seed), p});
      }
      for (auto& [name, plan] : plans) {
        SimFlash f = base;
        f.SetFaults(plan);
        const bool finished = ApplyAll(f);
        const std::string what = "eb " + std::to_string(g.erase_block) + " align " + std::to_string(g.align) + " op " +
                                 std::to_string(k) + " " + name;
        EXPECT_TRUE(!finished || name == "cut after") << what << ": the cut went unnoticed";
        CheckAfterCut(f, g, done_before, what);
        ++cut_points;
      }
    }
  }
  std::cout << "trust store sweep: " << cut_points << " cut points\n";
}

}  // namespace
}  // namespace fw::boot::testing
