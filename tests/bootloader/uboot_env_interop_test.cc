// Interop of the U-Boot environment codec/store with the tools integrators use:
// libubootenv's fw_printenv / fw_setenv (libubootenv-tool) and u-boot-tools' mkenvimage.
// What we write, fw_printenv reads; what fw_setenv and mkenvimage write, we read — single
// and redundant, 0xFF and 0x00 padding, flags wrap-around. Fails (never skips) when a
// tool is missing: scripts/setup.sh installs them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "fw/boot/boot_control.h"
#include "fw/boot/file_flash.h"
#include "fw/boot/uboot_env.h"
#include "testing.h"

namespace fw::boot::uenv {
namespace {

using fw::testing::ReadBytes;
using fw::testing::RunCommand;
using fw::testing::TempDir;
using fw::testing::WriteBytes;
using fw::testing::WriteFile;

constexpr size_t kSize = 0x4000;

// The tool's path, or a test failure naming the package that provides it.
std::string Tool(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  ADD_FAILURE() << name << " is not installed (libubootenv-tool / u-boot-tools; run scripts/setup.sh)";
  return name;
}

Env Make(std::initializer_list<std::pair<std::string, std::string>> vars) {
  Env env;
  for (const auto& [n, v] : vars) EXPECT_TRUE(env.Set(n, v).ok()) << n;
  return env;
}

Env Sample(int n) {
  return Make({{"BOOT_ORDER", n % 2 ? "B A" : "A B"},
               {"BOOT_A_LEFT", "3"},
               {"bootcmd", "run distro_bootcmd; echo gen " + std::to_string(n)},
               {"FW_A_VERSION", "1.2." + std::to_string(n)},
               {"greeting", "Grüße €"},
               {"upgrade_available", "0"}});
}

// fw_printenv's output for `env`: "name=value\n" sorted by name.
std::string Printed(const Env& env) {
  std::string out;
  for (const auto& [n, v] : env.vars()) out += n + "=" + v + "\n";
  return out;
}

// A fw_env.config: one "DEVICE OFFSET SIZE" line per copy.
std::string WriteConfig(const TempDir& dir, const std::string& file, std::initializer_list<uint64_t> offsets) {
  std::string text = "# device offset size\n";
  char line[512];
  for (uint64_t off : offsets) {
    std::snprintf(line, sizeof line, "%s 0x%llx 0x%zx\n", file.c_str(), static_cast<unsigned long long>(off), kSize);
    text += line;
  }
  WriteFile(dir / "fw_env.config", text);
  return dir / "fw_env.config";
}

std::string FwPrintenv(const std::string& config) {
  auto r = RunCommand({Tool("fw_printenv"), "-c", config});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// Both copies of a redundant environment in one file at offsets 0 and kSize, opened as Flash.
struct FileEnv {
  FileEnv(const TempDir& dir, bool redundant, uint64_t base = 0) : path(dir / "env.bin") {
    if (!fw::testing::Exists(path)) WriteBytes(path, Bytes(base + 2 * kSize, 0xFF));
    FlashGeometry g{.size = kSize, .erase_block_size = 4096, .write_alignment = 1, .erased_value = 0xFF};
    for (int i = 0; i < (redundant ? 2 : 1); ++i) {
      auto f = FileFlash::Open(path, base + i * kSize, g, false);
      EXPECT_TRUE(f.ok()) << f.status().message();
      flash[i] = std::move(*f);
      config.copy[i] = flash[i].get();
    }
    config.size = kSize;
    config.rule = FlagsRule::kIncremental;  // libubootenv's rule for files
  }
  Loaded Load() const {
    auto l = Store(config).Load();
    EXPECT_TRUE(l.ok()) << l.status().message();
    return l.ok() ? std::move(*l) : Loaded{};
  }
  void PutCopy(int i, const Env& env, uint8_t flags, uint8_t pad = 0xFF) {
    auto bytes = EncodeCopy(env, kSize, config.copy[1] != nullptr, flags, pad);
    ASSERT_TRUE(bytes.ok());
    Bytes file = ReadBytes(path);
    std::copy(bytes->begin(), bytes->end(), file.begin() + static_cast<ptrdiff_t>(i * kSize));
    WriteBytes(path, file);
  }
  std::string path;
  std::unique_ptr<FileFlash> flash[2];
  StoreConfig config;
};

TEST(UbootEnvInterop, FwPrintenvReadsOurSingleEnvironmentBothPaddings) {
  for (uint8_t pad : {uint8_t{0xFF}, uint8_t{0x00}}) {
    TempDir dir;
    const uint64_t base = 0x10000;  // the config's OFFSET column
    WriteBytes(dir / "env.bin", Bytes(base + 2 * kSize, 0x5A));
    FileEnv env(dir, false, base);
    auto bytes = EncodeCopy(Sample(1), kSize, false, 0, pad);
    ASSERT_TRUE(bytes.ok());
    Bytes file = ReadBytes(env.path);
    std::copy(bytes->begin(), bytes->end(), file.begin() + base);
    WriteBytes(env.path, file);
    std::string config = WriteConfig(dir, env.path, {base});
    EXPECT_EQ(FwPrintenv(config), Printed(Sample(1))) << "pad " << int{pad};
    auto one = RunCommand({Tool("fw_printenv"), "-c", config, "-n", "greeting"});
    EXPECT_EQ(one.out, "Grüße €\n");
    // And through the store (erase + program in place).
    ASSERT_TRUE(Store(env.config).Save(Sample(2)).ok());
    EXPECT_EQ(FwPrintenv(config), Printed(Sample(2)));
  }
}

TEST(UbootEnvInterop, FwPrintenvReadsOurRedundantEnvironment) {
  TempDir dir;
  FileEnv env(dir, true);
  std::string config = WriteConfig(dir, env.path, {0, kSize});
  for (int n = 1; n <= 3; ++n) {
    ASSERT_TRUE(Store(env.config).Save(Sample(n)).ok());
    EXPECT_EQ(FwPrintenv(config), Printed(Sample(n))) << "after save " << n;
  }
  // Save 3 went to copy 0 (flags 3); corrupt it: both fall back to copy 1 (save 2).
  EXPECT_EQ(env.Load().copy, 0);
  Bytes file = ReadBytes(env.path);
  file[100] ^= 0x01;
  WriteBytes(env.path, file);
  EXPECT_EQ(env.Load().env, Sample(2));
  EXPECT_EQ(FwPrintenv(config), Printed(Sample(2)));
}

// A pitfall for anyone writing fw_env.config (manifests/docs/uboot-env.md): libubootenv
// reads ENVSIZE as hex even without "0x", while OFFSET is C-style.
TEST(UbootEnvInterop, FwEnvConfigSizesAreHex) {
  TempDir dir;
  FileEnv env(dir, false);
  ASSERT_TRUE(Store(env.config).Save(Sample(1)).ok());
  WriteFile(dir / "hex.config", env.path + " 0 4000\n");
  auto hex = RunCommand({Tool("fw_printenv"), "-c", dir / "hex.config"});
  EXPECT_EQ(hex.exit_code, 0) << hex.err;
  EXPECT_EQ(hex.out, Printed(Sample(1)));
  WriteFile(dir / "decimal.config", env.path + " 0 16384\n");  // = 0x16384: no valid env there
  EXPECT_NE(RunCommand({Tool("fw_printenv"), "-c", dir / "decimal.config"}).exit_code, 0);
}

// Both we and fw_printenv pick the same copy for each pair of flags, wrap-around included.
TEST(UbootEnvInterop, SameCopyAsFwPrintenvForEveryFlagsPair) {
  const struct {
    uint8_t flags0, flags1;
    int expected;
  } cases[] = {{0xFF, 0x00, 1}, {0x00, 0xFF, 0}, {0x05, 0x06, 1}, {0x06, 0x05, 0},
               {0x07, 0x07, 0}, {0x05, 0xC8, 1}, {0xFE, 0xFF, 1}, {0x01, 0x00, 0}};
  for (const auto& c : cases) {
    TempDir dir;
    FileEnv env(dir, true);
    env.PutCopy(0, Sample(10), c.flags0);
    env.PutCopy(1, Sample(11), c.flags1, 0x00);
    Loaded l = env.Load();
    EXPECT_EQ(l.copy, c.expected) << int{c.flags0} << "/" << int{c.flags1};
    EXPECT_EQ(FwPrintenv(WriteConfig(dir, env.path, {0, kSize})), Printed(c.expected ? Sample(11) : Sample(10)))
        << int{c.flags0} << "/" << int{c.flags1};
  }
}

// fw_setenv -s: lines "name=value" set, "name=" deletes.
void FwSetenv(const TempDir& dir, const std::string& config, const std::string& script) {
  WriteFile(dir / "script.txt", script);
  auto r = RunCommand({Tool("fw_setenv"), "-c", config, "-s", dir / "script.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// Copies in two files (two devices in fw_env.config), as on a board with two partitions.
TEST(UbootEnvInterop, RedundantCopiesInTwoFiles) {
  TempDir dir;
  WriteBytes(dir / "env0.bin", Bytes(kSize, 0xFF));
  WriteBytes(dir / "env1.bin", Bytes(kSize, 0xFF));
  FlashGeometry g{.size = kSize, .erase_block_size = 4096, .write_alignment = 1, .erased_value = 0xFF};
  auto c0 = FileFlash::Open(dir / "env0.bin", 0, g, false);
  auto c1 = FileFlash::Open(dir / "env1.bin", 0, g, false);
  ASSERT_TRUE(c0.ok() && c1.ok());
  StoreConfig config{.copy = {c0->get(), c1->get()}, .size = kSize, .rule = FlagsRule::kIncremental};
  WriteFile(dir / "fw_env.config", dir / "env0.bin" + " 0 0x4000\n" + dir / "env1.bin" + " 0 0x4000\n");
  for (int n = 1; n <= 2; ++n) {
    ASSERT_TRUE(Store(config).Save(Sample(n)).ok());
    EXPECT_EQ(FwPrintenv(dir / "fw_env.config"), Printed(Sample(n)));
  }
  FwSetenv(dir, dir / "fw_env.config", "BOOT_ORDER=A\n");
  auto l = Store(config).Load();
  ASSERT_TRUE(l.ok() && l->found);
  EXPECT_EQ(l->copy, 0);  // saves went to copy 0, then 1; fw_setenv to copy 0 again
  EXPECT_EQ(l->flags, 3);
  EXPECT_EQ(l->env.Get("BOOT_ORDER"), "A");
}

// Where we are stricter than libubootenv (manifests/docs/uboot-env.md "Limits"): it skips an
// entry without '=' and takes control characters; we refuse the copy. Both agree on the CRC.
TEST(UbootEnvInterop, StricterThanLibubootenvOnMalformedData) {
  using namespace std::string_literals;
  for (const std::string& data : {"a=1\0junk\0b=2\0\0"s, "a=1\0b=line\nbreak\0\0"s}) {
    TempDir dir;
    FileEnv env(dir, false);
    Bytes copy(kSize, 0xFF);
    std::copy(data.begin(), data.end(), copy.begin() + 4);
    Bytes with_crc = copy;
    // A valid CRC (the core's zlib CRC-32) over the malformed data: only the parser can object.
    uint32_t crc = fw::boot::Crc32(copy.data() + 4, kSize - 4);
    for (int i = 0; i < 4; ++i) with_crc[i] = static_cast<uint8_t>(crc >> (8 * i));
    WriteBytes(env.path, with_crc);
    auto theirs = RunCommand({Tool("fw_printenv"), "-c", WriteConfig(dir, env.path, {0}), "-n", "a"});
    EXPECT_EQ(theirs.exit_code, 0) << theirs.err;
    EXPECT_EQ(theirs.out, "1\n");
    Loaded l = env.Load();
    EXPECT_FALSE(l.found);
    EXPECT_FALSE(l.copies[0].error.empty());
    EXPECT_EQ(l.copies[0].error.find("crc"), std::string::npos) << l.copies[0].error;
  }
}

TEST(UbootEnvInterop, WeReadWhatFwSetenvWritesSingle) {
  TempDir dir;
  FileEnv env(dir, false);
  ASSERT_TRUE(Store(env.config).Save(Sample(1)).ok());
  FwSetenv(dir, WriteConfig(dir, env.path, {0}), "BOOT_ORDER=B\ngreeting=\nnew_var=with spaces = and ü\n");
  Env expected = Sample(1);
  ASSERT_TRUE(expected.Set("BOOT_ORDER", "B").ok());
  expected.Erase("greeting");
  ASSERT_TRUE(expected.Set("new_var", "with spaces = and ü").ok());
  Loaded l = env.Load();
  ASSERT_TRUE(l.found) << l.copies[0].error;
  EXPECT_EQ(l.env, expected);
}

TEST(UbootEnvInterop, WeReadWhatFwSetenvWritesRedundantAcrossTheWrap) {
  TempDir dir;
  FileEnv env(dir, true);
  env.PutCopy(0, Sample(1), 0xFE);
  env.PutCopy(1, Sample(2), 0xFF);  // in use
  std::string config = WriteConfig(dir, env.path, {0, kSize});
  ASSERT_EQ(env.Load().copy, 1);
  FwSetenv(dir, config, "BOOT_A_LEFT=2\nupgrade_available=1\n");
  Env expected = Sample(2);
  ASSERT_TRUE(expected.Set("BOOT_A_LEFT", "2").ok());
  ASSERT_TRUE(expected.Set("upgrade_available", "1").ok());
  Loaded l = env.Load();
  ASSERT_TRUE(l.found);
  EXPECT_EQ(l.copy, 0);  // fw_setenv wrote copy 0 with flags 0xFF + 1 = 0x00
  EXPECT_EQ(l.flags, 0x00);
  EXPECT_EQ(l.env, expected);
  EXPECT_TRUE(l.copies[1].valid);
  // And our next save goes to copy 1 with flags 0x01, which fw_printenv then reads.
  ASSERT_TRUE(Store(env.config).Save(Sample(3)).ok());
  l = env.Load();
  EXPECT_EQ(l.copy, 1);
  EXPECT_EQ(l.flags, 0x01);
  EXPECT_EQ(FwPrintenv(config), Printed(Sample(3)));
}

TEST(UbootEnvInterop, WeReadWhatMkenvimageWrites) {
  std::string text;
  const Env sample = Sample(5);
  for (const auto& [n, v] : sample.vars()) text = n + "=" + v + "\n" + text;  // unsorted input
  for (bool redundant : {false, true}) {
    for (const char* pad : {"0xff", "0x00"}) {
      TempDir dir;
      WriteFile(dir / "env.txt", text);
      std::vector<std::string> argv = {Tool("mkenvimage"), "-s", "0x4000", "-o", dir / "env.bin"};
      if (redundant) argv.push_back("-r");
      if (std::string(pad) == "0x00") argv.insert(argv.end(), {"-p", "0x00"});
      argv.push_back(dir / "env.txt");
      auto r = RunCommand(argv);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      Bytes image = ReadBytes(dir / "env.bin");
      ASSERT_EQ(image.size(), kSize);
      EXPECT_EQ(image.back(), std::string(pad) == "0x00" ? 0x00 : 0xFF);
      auto d = DecodeCopy(image, redundant);
      ASSERT_TRUE(d.ok()) << d.status().message();
      EXPECT_EQ(d->env, Sample(5));
      if (redundant) {
        EXPECT_EQ(d->flags, 1);  // mkenvimage -r marks its copy active
      }
      // Through the store too: the image as both copies (equal flags → copy 0).
      Bytes both = image;
      if (redundant) both.insert(both.end(), image.begin(), image.end());
      WriteBytes(dir / "env.bin", both);
      FileEnv env(dir, redundant);
      Loaded l = env.Load();
      ASSERT_TRUE(l.found);
      EXPECT_EQ(l.copy, 0);
      EXPECT_EQ(l.env, Sample(5));
    }
  }
}

}  // namespace
}  // namespace fw::boot::uenv
