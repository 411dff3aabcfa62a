// The flash simulator's rules and faults, and FlashRegion bounds.
#include "fw/boot/sim_flash.h"

#include <gtest/gtest.h>

namespace fw::boot {
namespace {

SimFlash Make(uint8_t erased = 0xFF, uint32_t align = 4) {
  FlashGeometry g;
  g.size = 4096;
  g.erase_block_size = 1024;
  g.write_alignment = align;
  g.erased_value = erased;
  auto f = SimFlash::Create(g);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return std::move(*f);
}

TEST(SimFlash, RejectsBadGeometry) {
  FlashGeometry g;
  g.size = 4096;
  g.erase_block_size = 1000;
  EXPECT_NE(SimFlash::Create(g).status().message().find("power of two"), std::string::npos);
  g.erase_block_size = 1024;
  g.write_alignment = 3;
  EXPECT_NE(SimFlash::Create(g).status().message().find("1, 2, 4 or 8"), std::string::npos);
  g.write_alignment = 1;
  g.erased_value = 0x55;
  EXPECT_NE(SimFlash::Create(g).status().message().find("erased value"), std::string::npos);
  g.erased_value = 0;
  g.size = 1500;
  EXPECT_FALSE(SimFlash::Create(g).ok());
}

TEST(SimFlash, EnforcesEraseBeforeWriteAndAlignment) {
  for (uint8_t erased : {uint8_t{0xFF}, uint8_t{0x00}}) {
    SimFlash f = Make(erased);
    const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_EQ(f.Write(0, data, 8), FlashError::kOk);
    EXPECT_EQ(f.Write(0, data, 8), FlashError::kNotErased);
    EXPECT_EQ(f.Write(2, data, 4), FlashError::kMisaligned);
    EXPECT_EQ(f.Write(8, data, 3), FlashError::kMisaligned);
    EXPECT_EQ(f.Write(4094, data, 4), FlashError::kOutOfRange);
    EXPECT_EQ(f.Erase(512, 1024), FlashError::kMisaligned);
    EXPECT_EQ(f.Erase(0, 1024), FlashError::kOk);
    EXPECT_EQ(f.bytes()[3], erased);
    EXPECT_EQ(f.Write(0, data, 8), FlashError::kOk);
    uint8_t back[8];
    EXPECT_EQ(f.Read(0, back, 8), FlashError::kOk);
    EXPECT_EQ(std::vector<uint8_t>(back, back + 8), std::vector<uint8_t>(data, data + 8));
    EXPECT_EQ(f.ops(), 3u);  // refused operations are not counted
    EXPECT_EQ(f.write_ops(), 2u);
  }
}

TEST(SimFlash, CutsPowerBeforeAndAfterTheKthOperation) {
  const uint8_t data[4] = {9, 9, 9, 9};
  SimFlash f = Make();
  FaultPlan plan;
  plan.cut_before_op = 2;
  f.SetFaults(plan);
  EXPECT_EQ(f.Write(0, data, 4), FlashError::kOk);
  EXPECT_EQ(f.Write(4, data, 4), FlashError::kPowerLost);
  EXPECT_EQ(f.bytes()[4], 0xFF) << "a cut-before op reached the array";
  uint8_t b;
  EXPECT_EQ(f.Read(0, &b, 1), FlashError::kPowerLost);
  EXPECT_EQ(f.Sync(), FlashError::kPowerLost);
  f.PowerOn();
  EXPECT_EQ(f.Read(0, &b, 1), FlashError::kOk);

  SimFlash g = Make();
  plan = FaultPlan{};
  plan.cut_after_op = 1;
  g.SetFaults(plan);
  EXPECT_EQ(g.Write(0, data, 4), FlashError::kPowerLost);
  EXPECT_EQ(g.bytes()[3], 9) << "a cut-after op did not complete";
  EXPECT_EQ(g.Erase(0, 1024), FlashError::kPowerLost);
}

TEST(SimFlash, TornWritesProgramOnlyPartOfTheData) {
  std::vector<uint8_t> data(64);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(0x5A ^ i);
  for (uint8_t erased : {uint8_t{0xFF}, uint8_t{0x00}}) {
    SimFlash f = Make(erased);
    FaultPlan plan;
    plan.tear_op = 1;
    plan.tear_bytes = 20;
    f.SetFaults(plan);
    EXPECT_EQ(f.Write(0, data.data(), data.size()), FlashError::kPowerLost);
    for (size_t i = 0; i < 20; ++i) EXPECT_EQ(f.bytes()[i], data[i]);
    for (size_t i = 20; i < 64; ++i) EXPECT_EQ(f.bytes()[i], erased);

    SimFlash g = Make(erased);
    plan = FaultPlan{};
    plan.tear_op = 1;
    plan.tear_mode = TearMode::kBits;
    plan.seed = 5;
    g.SetFaults(plan);
    EXPECT_EQ(g.Write(0, data.data(), data.size()), FlashError::kPowerLost);
    size_t differing = 0;
    for (size_t i = 0; i < data.size(); ++i) {
      const uint8_t programmed = static_cast<uint8_t>(erased ^ data[i]);  // bits that move
      const uint8_t moved = static_cast<uint8_t>(erased ^ g.bytes()[i]);
      EXPECT_EQ(moved & ~programmed, 0) << "a bit moved that programming would not move";
      differing += g.bytes()[i] != data[i];
    }
    EXPECT_GT(differing, 0u);
  }
}

TEST(SimFlash, FaultsAreDeterministicFromTheSeed) {
  std::vector<uint8_t> data(256, 0x00);
  auto run = [&](uint64_t seed) {
    SimFlash f = Make();
    FaultPlan plan;
    plan.tear_op = 1;
    plan.tear_mode = TearMode::kBits;
    plan.seed = seed;
    plan.read_flip_one_in = 2;
    f.SetFaults(plan);
    (void)f.Write(0, data.data(), data.size());
    f.PowerOn();
    f.SetFaults(plan);
    std::vector<uint8_t> read(256);
    for (int i = 0; i < 8; ++i) (void)f.Read(0, read.data(), read.size());
    std::vector<uint8_t> out = f.bytes();
    out.insert(out.end(), read.begin(), read.end());
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(SimFlash, ReadBitFlipsChangeTheReturnedDataNotTheArray) {
  SimFlash f = Make();
  FaultPlan plan;
  plan.read_flip_one_in = 1;
  f.SetFaults(plan);
  uint8_t buf[16];
  ASSERT_EQ(f.Read(0, buf, sizeof buf), FlashError::kOk);
  int ones = 0;
  for (uint8_t b : buf) ones += __builtin_popcount(b);
  EXPECT_EQ(ones, 16 * 8 - 1);
  EXPECT_EQ(f.bytes()[0], 0xFF);
  EXPECT_EQ(f.read_flips(), 1u);
}

TEST(FlashRegion, KeepsAccessesInsideTheWindow) {
  SimFlash f = Make();
  FlashRegion r(f, 1024, 1024);
  const uint8_t data[4] = {1, 2, 3, 4};
  EXPECT_EQ(r.Write(1020, data, 4), FlashError::kOk);
  EXPECT_EQ(f.bytes()[2044], 1);
  EXPECT_EQ(r.Write(1024, data, 4), FlashError::kOutOfRange);
  EXPECT_EQ(r.Erase(0, 2048), FlashError::kOutOfRange);
  uint8_t b[4];
  EXPECT_EQ(r.Read(UINT64_MAX - 1, b, 4), FlashError::kOutOfRange);
  EXPECT_EQ(r.Erase(0, 1024), FlashError::kOk);
  EXPECT_EQ(f.bytes()[2044], 0xFF);
  EXPECT_EQ(f.bytes()[0], 0xFF);
}

}  // namespace
}  // namespace fw::boot
