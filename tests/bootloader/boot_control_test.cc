// Boot-control bytes: CRC, round trip, every rejected encoding, one-bit
// corruption of every byte of either copy, both copies corrupt, sequence wrap,
// and torn writes never read as valid.
#include "fw/boot/boot_control.h"

#include <gtest/gtest.h>

#include <cstring>

#include "sim_device.h"

namespace fw::boot::testing {
namespace {

BootControl Sample(uint32_t boot_counter) {
  BootControl bc;
  bc.active_slot = 0;
  bc.booted_slot = 1;
  bc.min_security_counter = 4;
  bc.boot_counter = boot_counter;
  bc.slots[0] = {SlotState::kConfirmed, 0, {1, 2, 3, 4}, 4};
  bc.slots[1] = {SlotState::kTrial, 2, {2, 0, 0, 0}, 5};
  return bc;
}

bool Same(const BootControl& a, const BootControl& b) {
  uint8_t x[kBootControlSize], y[kBootControlSize];
  EncodeBootControl(a, x);
  EncodeBootControl(b, y);
  return std::memcmp(x, y, sizeof x) == 0;
}

TEST(Crc32, MatchesTheStandardCheckValue) {
  const char* check = "123456789";
  EXPECT_EQ(Crc32(reinterpret_cast<const uint8_t*>(check), 9), 0xCBF43926u);
  EXPECT_EQ(Crc32(nullptr, 0), 0u);
  // Running form equals one-shot.
  EXPECT_EQ(Crc32(reinterpret_cast<const uint8_t*>(check + 4), 5, Crc32(reinterpret_cast<const uint8_t*>(check), 4)),
            0xCBF43926u);
}

TEST(BootControlFormat, RoundTripsEveryField) {
  BootControl bc = Sample(77);
  bc.sequence = 0xDEADBEEF;
  uint8_t buf[kBootControlSize];
  EncodeBootControl(bc, buf);
  EXPECT_EQ(std::memcmp(buf, "PTBC", 4), 0);
  BootControl out;
  ASSERT_EQ(DecodeBootControl(buf, sizeof buf, &out), DecodeError::kOk);
  EXPECT_EQ(out.sequence, 0xDEADBEEFu);
  EXPECT_EQ(out.boot_counter, 77u);
  EXPECT_EQ(out.booted_slot, 1);
  EXPECT_EQ(out.slots[0].version.build, 4u);
  EXPECT_EQ(out.slots[1].tries_remaining, 2);
  EXPECT_EQ(out.slots[1].security_counter, 5u);
  EXPECT_TRUE(Same(out, bc));
}

// Re-encodes with a field changed and a correct CRC, so the semantic checks are reached.
DecodeError DecodeModified(void (*modify)(uint8_t*)) {
  uint8_t buf[kBootControlSize];
  EncodeBootControl(Sample(1), buf);
  modify(buf);
  uint32_t crc = Crc32(buf, kBootControlCrcOffset);
  for (int i = 0; i < 4; ++i) buf[kBootControlCrcOffset + i] = static_cast<uint8_t>(crc >> (8 * i));
  BootControl out;
  return DecodeBootControl(buf, sizeof buf, &out);
}

TEST(BootControlFormat, RejectsEveryMalformedField) {
  uint8_t buf[kBootControlSize];
  EncodeBootControl(Sample(1), buf);
  BootControl out;
  EXPECT_EQ(DecodeBootControl(buf, kBootControlSize - 1, &out), DecodeError::kTooShort);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[0] = 'X'; }), DecodeError::kBadMagic);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[4] = 2; }), DecodeError::kUnsupportedVersion);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[6] = 64; }), DecodeError::kBadSize);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[14] = 1; }), DecodeError::kReservedNotZero);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[64] = 1; }), DecodeError::kReservedNotZero);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[24 + 2] = 1; }), DecodeError::kReservedNotZero);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[12] = 2; }), DecodeError::kBadActiveSlot);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[13] = 7; }), DecodeError::kBadBootedSlot);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[24] = 4; }), DecodeError::kBadSlotState);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[44 + 1] = kMaxTries + 1; }), DecodeError::kBadTries);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[24 + 1] = 1; }), DecodeError::kBadTries);  // tries on a confirmed slot
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[24] = 2; }), DecodeError::kTwoTrials);
  EXPECT_EQ(DecodeModified([](uint8_t* b) { b[12] = 1; }), DecodeError::kTrialIsActive);
  // And a wrong CRC with everything else intact.
  buf[kBootControlCrcOffset] ^= 1;
  EXPECT_EQ(DecodeBootControl(buf, sizeof buf, &out), DecodeError::kBadCrc);
}

TEST(BootControlFormat, SequenceComparisonWraps) {
  EXPECT_TRUE(SequenceNewer(2, 1));
  EXPECT_FALSE(SequenceNewer(1, 2));
  EXPECT_FALSE(SequenceNewer(5, 5));
  EXPECT_TRUE(SequenceNewer(0, 0xFFFFFFFF));
  EXPECT_TRUE(SequenceNewer(3, 0xFFFFFFFE));
  EXPECT_FALSE(SequenceNewer(0xFFFFFFFF, 0));
}

// The fuzz seeds were written by an independent encoder (Python, zlib.crc32) from
// manifests/docs/boot-control.md; the C++ decoder must agree with it.
TEST(BootControlFormat, DocumentedBytesFromAnIndependentEncoderDecode) {
  auto bytes = fw::testing::ReadBytes(fw::testing::SourcePath("tests/fuzz/corpus/boot_control/trial-pending.bin"));
  ASSERT_EQ(bytes.size(), 2 * kBootControlSize);
  BootControl bc;
  ASSERT_EQ(DecodeBootControl(bytes.data() + kBootControlSize, kBootControlSize, &bc), DecodeError::kOk);
  EXPECT_EQ(bc.sequence, 8u);
  EXPECT_EQ(bc.booted_slot, 1);
  EXPECT_EQ(bc.boot_counter, 3u);
  EXPECT_EQ(bc.slots[1].state, SlotState::kTrial);
  EXPECT_EQ(bc.slots[1].tries_remaining, 3);
  EXPECT_EQ(bc.slots[1].version.major, 2);
  EXPECT_EQ(bc.slots[1].security_counter, 2u);
  auto wrap = fw::testing::ReadBytes(fw::testing::SourcePath("tests/fuzz/corpus/boot_control/sequence-wrap.bin"));
  BootControl a, b;
  ASSERT_EQ(DecodeBootControl(wrap.data(), kBootControlSize, &a), DecodeError::kOk);
  ASSERT_EQ(DecodeBootControl(wrap.data() + kBootControlSize, kBootControlSize, &b), DecodeError::kOk);
  EXPECT_TRUE(SequenceNewer(b.sequence, a.sequence));
  auto torn = fw::testing::ReadBytes(fw::testing::SourcePath("tests/fuzz/corpus/boot_control/torn-second.bin"));
  EXPECT_EQ(DecodeBootControl(torn.data() + kBootControlSize, kBootControlSize, &a), DecodeError::kBadCrc);
}

class StoreTest : public ::testing::TestWithParam<uint8_t> {
 protected:
  StoreTest() : dev_(SimConfig{512, 8, GetParam(), 8192}) {}

  // Two valid copies: copy 0 holds boot_counter 10 (older), copy 1 boot_counter 11 (newer).
  void WriteBoth() {
    BootControlStore store(dev_.control(0), dev_.control(1));
    BootControl ignored;
    (void)store.Load(&ignored);
    older_ = Sample(10);
    newer_ = Sample(11);
    ASSERT_EQ(store.Save(&older_), FlashError::kOk);
    ASSERT_EQ(store.Save(&newer_), FlashError::kOk);
    ASSERT_EQ(older_.sequence + 1, newer_.sequence);
  }

  uint8_t* CopyBytes(int c) {
    const uint64_t copy = dev_.control(0).Size();
    return dev_.flash().bytes().data() + c * copy;
  }

  SimDevice dev_;
  BootControl older_, newer_;
};

TEST_P(StoreTest, ReadsTheNewestValidCopyAndWritesTheOlder) {
  WriteBoth();
  BootControlStore store(dev_.control(0), dev_.control(1));
  BootControl bc;
  LoadInfo info = store.Load(&bc);
  ASSERT_TRUE(info.found);
  EXPECT_EQ(info.copy, 1);
  EXPECT_TRUE(Same(bc, newer_));
  EXPECT_EQ(store.NextCopy(), 0);
  const std::vector<uint8_t> newer_bytes(CopyBytes(1), CopyBytes(1) + kBootControlSize);
  BootControl third = Sample(12);
  ASSERT_EQ(store.Save(&third), FlashError::kOk);
  EXPECT_EQ(std::vector<uint8_t>(CopyBytes(1), CopyBytes(1) + kBootControlSize), newer_bytes)
      << "the newest copy was touched by an update";
  LoadInfo again = BootControlStore(dev_.control(0), dev_.control(1)).Load(&bc);
  EXPECT_EQ(again.copy, 0);
  EXPECT_EQ(bc.boot_counter, 12u);
}

TEST_P(StoreTest, OneBitCorruptionInEveryByteOfEitherCopy) {
  WriteBoth();
  for (int c = 0; c < 2; ++c) {
    for (size_t i = 0; i < kBootControlSize; ++i) {
      for (int bit : {static_cast<int>(i % 8), 7 - static_cast<int>(i % 8)}) {
        CopyBytes(c)[i] ^= static_cast<uint8_t>(1u << bit);
        BootControl bc;
        LoadInfo info = BootControlStore(dev_.control(0), dev_.control(1)).Load(&bc);
        ASSERT_TRUE(info.found) << "copy " << c << " byte " << i;
        EXPECT_NE(info.copy_error[c], DecodeError::kOk)
            << "a flipped bit in copy " << c << " byte " << i << " was accepted";
        EXPECT_EQ(info.copy, 1 - c);
        EXPECT_TRUE(Same(bc, c == 0 ? newer_ : older_)) << "copy " << c << " byte " << i;
        CopyBytes(c)[i] ^= static_cast<uint8_t>(1u << bit);
      }
    }
  }
}

TEST_P(StoreTest, BothCopiesCorruptMeansNoRecord) {
  WriteBoth();
  CopyBytes(0)[20] ^= 0x10;
  CopyBytes(1)[kBootControlCrcOffset + 3] ^= 0x01;
  BootControl bc;
  BootControlStore store(dev_.control(0), dev_.control(1));
  LoadInfo info = store.Load(&bc);
  EXPECT_FALSE(info.found);
  EXPECT_EQ(info.copy_error[0], DecodeError::kBadCrc);
  EXPECT_EQ(info.copy_error[1], DecodeError::kBadCrc);
  // The next write starts over in copy 0 and is readable.
  BootControl fresh = Sample(1);
  ASSERT_EQ(store.Save(&fresh), FlashError::kOk);
  EXPECT_TRUE(BootControlStore(dev_.control(0), dev_.control(1)).Load(&bc).found);
}

TEST_P(StoreTest, SequenceWrapPicksTheWrappedCopy) {
  BootControl a = Sample(1), b = Sample(2);
  a.sequence = 0xFFFFFFFF;
  b.sequence = 0;
  uint8_t buf[kBootControlSize];
  EncodeBootControl(a, buf);
  ASSERT_EQ(dev_.control(0).Erase(0, dev_.control(0).Size()), FlashError::kOk);
  ASSERT_EQ(dev_.control(0).Write(0, buf, sizeof buf), FlashError::kOk);
  EncodeBootControl(b, buf);
  ASSERT_EQ(dev_.control(1).Erase(0, dev_.control(1).Size()), FlashError::kOk);
  ASSERT_EQ(dev_.control(1).Write(0, buf, sizeof buf), FlashError::kOk);
  BootControlStore store(dev_.control(0), dev_.control(1));
  BootControl bc;
  LoadInfo info = store.Load(&bc);
  EXPECT_EQ(info.copy, 1);
  EXPECT_EQ(bc.boot_counter, 2u);
  BootControl next = Sample(3);
  ASSERT_EQ(store.Save(&next), FlashError::kOk);
  EXPECT_EQ(next.sequence, 1u);
  EXPECT_EQ(BootControlStore(dev_.control(0), dev_.control(1)).Load(&bc).copy, 0);
  EXPECT_EQ(bc.boot_counter, 3u);
}

TEST_P(StoreTest, TornWritesNeverReadAsValid) {
  WriteBoth();
  BootControlStore store(dev_.control(0), dev_.control(1));
  BootControl bc;
  (void)store.Load(&bc);
  const uint64_t base = dev_.flash().ops();
  for (int64_t n = 0; n < static_cast<int64_t>(kBootControlSize); ++n) {
    for (TearMode mode : {TearMode::kPrefix, TearMode::kBits}) {
      if (mode == TearMode::kBits && n > 8) continue;  // bit tears: 9 seeds
      SimDevice d(SimConfig{512, 8, GetParam(), 8192});
      BootControlStore s(d.control(0), d.control(1));
      (void)s.Load(&bc);
      BootControl first = Sample(1);
      ASSERT_EQ(s.Save(&first), FlashError::kOk);
      FaultPlan plan;
      plan.tear_op = d.flash().ops() + 2;  // the write after the erase
      plan.tear_mode = mode;
      plan.tear_bytes = n;
      plan.seed = static_cast<uint64_t>(n) + 1;
      d.flash().SetFaults(plan);
      BootControl second = Sample(2);
      EXPECT_EQ(s.Save(&second), FlashError::kPowerLost);
      d.flash().PowerOn();
      LoadInfo info = BootControlStore(d.control(0), d.control(1)).Load(&bc);
      ASSERT_TRUE(info.found);
      EXPECT_NE(info.copy_error[1], DecodeError::kOk) << "torn write (" << n << ") read as valid";
      EXPECT_EQ(bc.boot_counter, 1u) << "the previous record was not kept";
    }
  }
  EXPECT_EQ(dev_.flash().ops(), base);
}

INSTANTIATE_TEST_SUITE_P(ErasedValues, StoreTest, ::testing::Values(uint8_t{0xFF}, uint8_t{0x00}),
                         [](const auto& p) { return p.param ? std::string("Erased0xFF") : std::string("Erased0x00"); });

}  // namespace
}  // namespace fw::boot::testing
