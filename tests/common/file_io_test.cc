#include "fw/file_io.h"

#include <gtest/gtest.h>

#include "testing.h"

namespace fw {
namespace {

using testing::TempDir;

TEST(OutputFile, NothingIsLeftBehindWithoutCommit) {
  TempDir dir;
  {
    auto out = OutputFile::Create(dir / "result.bin");
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE(out->Write(std::string_view("partial")).ok());
  }
  EXPECT_TRUE(testing::ListDir(dir.path()).empty());
}

TEST(OutputFile, CommitReplacesAtomically) {
  TempDir dir;
  testing::WriteFile(dir / "f", "old");
  ASSERT_TRUE(WriteFileAtomic(dir / "f", "new").ok());
  EXPECT_EQ(testing::ReadFile(dir / "f"), "new");
  EXPECT_EQ(testing::ListDir(dir.path()), std::vector<std::string>{"f"});
}

TEST(OutputFile, UnwritableDirectoryIsAnIoError) {
  auto out = OutputFile::Create("/proc/nonexistent-dir/x");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("/proc/nonexistent-dir/x"), std::string::npos);
}

TEST(ReadFileToString, RefusesFilesOverTheLimit) {
  TempDir dir;
  testing::WriteFile(dir / "big", std::string(100, 'x'));
  auto r = ReadFileToString(dir / "big", 99);
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_TRUE(ReadFileToString(dir / "big", 100).ok());
  EXPECT_EQ(ReadFileToString(dir / "missing", 10).status().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace fw
