#include "fw/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fw {
namespace {

// Captures what a sink prints, with a fake clock.
struct Capture {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  uint64_t now = 0;
  ~Capture() {
    std::fclose(f);
    std::free(buf);
  }
  std::string Text() {
    std::fflush(f);
    return std::string(buf, len);
  }
};

TEST(Progress, BarShowsStageBytesRateAndEta) {
  Capture c;
  auto p = MakeProgress(ProgressStyle::kBar, c.f, [&] { return c.now; });
  p->BeginStage("write", "Writing bank B", 100 << 20);
  c.now = 1000;
  p->Update(25 << 20);
  std::string text = c.Text();
  EXPECT_NE(text.find("Writing bank B"), std::string::npos);
  EXPECT_NE(text.find(" 25% 25.0 MiB/100.0 MiB 25.0 MiB/s ETA 3s"), std::string::npos) << text;
  p->EndStage();
  EXPECT_NE(c.Text().find("100%"), std::string::npos);
}

TEST(Progress, JsonIsOneObjectPerLine) {
  Capture c;
  auto p = MakeProgress(ProgressStyle::kJson, c.f, [&] { return c.now; });
  p->BeginStage("snapshot", "Snapshotting the journal", 0);
  p->Note("10000 records");
  c.now = 2000;
  p->EndStage();
  std::istringstream lines(c.Text());
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["event"], "stage");
  EXPECT_EQ(events[0]["stage"], "snapshot");
  EXPECT_EQ(events[1]["text"], "10000 records");
  EXPECT_EQ(events[2]["elapsed_ms"], 2000);
}

TEST(Progress, AutoIsPlainWhenNotATerminal) {
  Capture c;
  auto p = MakeProgress(ProgressStyle::kAuto, c.f);
  p->BeginStage("verify", "Verifying", 2048);
  p->Update(1024);
  p->EndStage();
  EXPECT_EQ(c.Text(), "Verifying (2.0 KiB)\n");
}

TEST(Progress, FormatBytes) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(uint64_t{256} << 20), "256.0 MiB");
}

}  // namespace
}  // namespace fw
