// Test keys live in tests/keys and must never ship: install the project into a
// prefix and search every installed file for any test key's material.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "fw/crypto.h"
#include "fw/encoding.h"
#include "testing.h"

namespace fw {
namespace {

namespace fs = std::filesystem;

TEST(ReleaseArtefacts, ContainNoTestKeys) {
  testing::TempDir prefix;
  auto r = testing::RunCommand({"cmake", "--install", FW_TEST_BINARY_DIR, "--prefix", prefix.path()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> needles;  // PEM body lines and raw DER of every test key
  for (const auto& e : fs::directory_iterator(testing::SourcePath("tests/keys"))) {
    std::string text = testing::ReadFile(e.path());
    if (text.find("-----BEGIN") == std::string::npos) continue;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.size() >= 40 && line.find("-----") == std::string::npos) needles.push_back(line);
    }
    auto pub = PublicKey::LoadPemFile(e.path());
    if (pub.ok()) needles.emplace_back(pub->Der().begin() + 12, pub->Der().end());
  }
  ASSERT_GT(needles.size(), 5u);
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(prefix.path())) {
    if (!e.is_regular_file()) continue;
    ++files;
    std::string content = testing::ReadFile(e.path());
    for (const auto& n : needles) {
      EXPECT_EQ(content.find(n), std::string::npos) << e.path() << " contains test key material";
    }
  }
  EXPECT_GT(files, 0u) << "nothing was installed";
}

}  // namespace
}  // namespace fw
