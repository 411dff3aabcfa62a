#include "fw/status.h"

#include <gtest/gtest.h>

namespace fw {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  FW_ASSIGN_OR_RETURN(int h, Half(x).WithContext("first half"));
  FW_ASSIGN_OR_RETURN(int q, Half(h).WithContext("second half"));
  return q;
}

TEST(Status, ContextChainsIntoOneReadableMessage) {
  Status s = Corrupt("hash mismatch").WithContext("chunk 17").WithContext("writing bank B").WithContext("install");
  EXPECT_EQ(s.code(), ErrorCode::kCorrupt);
  EXPECT_EQ(s.message(), "install: writing bank B: chunk 17: hash mismatch");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(Result, PropagatesErrorsWithContext) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "second half: 3 is odd");
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace fw
