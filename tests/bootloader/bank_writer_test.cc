// BankWriter: streamed chunks of any size land exactly, on any alignment and erased value.
#include "fw/boot/bank_writer.h"

#include <gtest/gtest.h>

#include "fw/boot/sim_flash.h"
#include "testing.h"

namespace fw::boot {
namespace {

struct Geometry {
  uint32_t align;
  uint8_t erased;
};

class BankWriterTest : public ::testing::TestWithParam<Geometry> {};

TEST_P(BankWriterTest, OddChunksLandExactlyAndTheTailIsPadded) {
  FlashGeometry g{64 << 10, 4096, GetParam().align, GetParam().erased};
  auto flash = SimFlash::Create(g);
  ASSERT_TRUE(flash.ok());
  const auto image = fw::testing::PseudoRandomBytes(10007, 11);  // odd size: exercises the padded tail
  auto writer = BankWriter::Create(*flash, image.size());
  ASSERT_TRUE(writer.ok());
  uint64_t off = 0;
  for (size_t n : {1, 3, 7, 4096, 5, 1000, 3}) {
    ASSERT_TRUE(writer->Append(off, {image.data() + off, n}).ok());
    off += n;
  }
  ASSERT_TRUE(writer->Append(off, {image.data() + off, image.size() - off}).ok());
  ASSERT_TRUE(writer->Finish().ok());
  const auto& bytes = flash->bytes();
  EXPECT_TRUE(std::equal(image.begin(), image.end(), bytes.begin()));
  for (size_t i = image.size(); i < bytes.size(); ++i) ASSERT_EQ(bytes[i], g.erased_value) << i;
  // Only the blocks the image covers were erased/written: the rest was never touched.
  EXPECT_LE(flash->ops(), 3u + 10007u);
}

INSTANTIATE_TEST_SUITE_P(Geometries, BankWriterTest,
                         ::testing::Values(Geometry{1, 0xFF}, Geometry{8, 0xFF}, Geometry{4, 0x00}, Geometry{8, 0x00}));

TEST(BankWriter, RefusesWhatDoesNotFitOrArrivesOutOfOrder) {
  auto flash = SimFlash::Create(FlashGeometry{8192, 4096, 8, 0xFF});
  EXPECT_EQ(BankWriter::Create(*flash, 8193).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(BankWriter::Create(*flash, 0).status().code(), ErrorCode::kInvalidArgument);
  auto writer = BankWriter::Create(*flash, 100);
  std::vector<uint8_t> data(100, 0x5A);
  EXPECT_FALSE(writer->Append(10, {data.data(), 10}).ok());
  ASSERT_TRUE(writer->Append(0, {data.data(), 50}).ok());
  EXPECT_FALSE(writer->Finish().ok()) << "finished with bytes missing";
  EXPECT_FALSE(writer->Append(50, {data.data(), 51}).ok()) << "more than the image";
}

TEST(BankWriter, AWriteErrorIsReportedWithItsOffset) {
  auto flash = SimFlash::Create(FlashGeometry{16384, 4096, 1, 0xFF});
  FaultPlan plan;
  plan.cut_before_op = 3;  // erase block 0, write, erase block 1 → cut
  flash->SetFaults(plan);
  auto writer = BankWriter::Create(*flash, 8192);
  std::vector<uint8_t> data(4096, 1);
  ASSERT_TRUE(writer->Append(0, data).ok());
  Status s = writer->Append(4096, data);
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
  EXPECT_NE(s.message().find("erasing bank at 4096"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fw::boot
