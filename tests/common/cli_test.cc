// fw::cli: bounded numeric options, exclusive option groups and cross-option checks are usage
// errors (exit 2) found before the command's run function is called — so before a device,
// journal or repository is opened.
#include "fw/cli.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

namespace fw::cli {
namespace {

struct Parsed {
  int exit_code = -1;
  bool ran = false;
  int tries = 0;
  uint32_t counter = 0;
  int64_t seq = 0;
  uint64_t big = 0;
  double rate = 0;
};

Program TestProgram(Parsed& p) {
  Program prog;
  prog.name = "fwtest";
  prog.summary = "test";
  prog.commands.push_back({"go",
                           "runs",
                           "[options]",
                           [](po::options_description& o, po::positional_options_description&) {
                             o.add_options()("tries", Int<int>(1, 15)->default_value(3), "1-15")(
                                 "counter", Int<uint32_t>()->default_value(0), "u32")(
                                 "seq", Int<int64_t>(0), "int64 >= 0")("big", Int<uint64_t>(1, UINT64_MAX), "u64 >= 1")(
                                 "rate", Real(0, 1000)->default_value(0), "real")("csv", "csv")(
                                 "min", Int<int>(0, 100)->default_value(0), "")(
                                 "max", Int<int>(0, 100)->default_value(100), "");
                           },
                           [&p](const Invocation& inv) {
                             p.ran = true;
                             p.tries = inv.vm["tries"].as<int>();
                             p.counter = inv.vm["counter"].as<uint32_t>();
                             if (inv.vm.count("seq")) p.seq = inv.vm["seq"].as<int64_t>();
                             if (inv.vm.count("big")) p.big = inv.vm["big"].as<uint64_t>();
                             p.rate = inv.vm["rate"].as<double>();
                             return kExitOk;
                           },
                           {{"json", "csv"}},
                           [](const po::variables_map& vm) {
                             if (vm["min"].as<int>() > vm["max"].as<int>())
                               return InvalidArgument("--min must not be above --max");
                             return Status::Ok();
                           }});
  return prog;
}

Parsed RunWith(std::vector<std::string> args) {
  Parsed p;
  Program prog = TestProgram(p);
  args.insert(args.begin(), {"fwtest", "go"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  p.exit_code = Run(prog, static_cast<int>(argv.size()), argv.data());
  return p;
}

TEST(CliOptions, ValuesInRangeReachTheCommand) {
  auto p = RunWith({"--tries", "15", "--counter", "4294967295", "--seq", "9223372036854775807", "--big",
                    "18446744073709551615", "--rate=2.5"});
  ASSERT_EQ(p.exit_code, 0);
  EXPECT_TRUE(p.ran);
  EXPECT_EQ(p.tries, 15);
  EXPECT_EQ(p.counter, 4294967295u);
  EXPECT_EQ(p.seq, INT64_MAX);
  EXPECT_EQ(p.big, UINT64_MAX);
  EXPECT_EQ(p.rate, 2.5);
  p = RunWith({});
  ASSERT_EQ(p.exit_code, 0);
  EXPECT_EQ(p.tries, 3) << "defaults are not parsed and stay as declared";
}

TEST(CliOptions, OutOfRangeNegativeOverflowAndJunkAreUsageErrorsBeforeTheCommandRuns) {
  const std::vector<std::vector<std::string>> bad = {
      {"--tries=0"},
      {"--tries=16"},
      {"--tries=-5"},
      {"--tries", "-5"},
      {"--tries=99999999999"},  // overflows int: never narrowed to something in range
      {"--tries=4294967299"},   // 2^32 + 3: would wrap to 3 through a 32-bit cast
      {"--tries=3x"},
      {"--tries=+3"},
      {"--tries= 3"},
      {"--tries="},
      {"--tries=0x3"},
      {"--tries=3.0"},
      {"--counter=-1"},  // Boost's lexical_cast turns this into 4294967295
      {"--counter=4294967296"},
      {"--seq=-1"},
      {"--seq=9223372036854775808"},
      {"--big=0"},
      {"--big=-1"},
      {"--big=18446744073709551616"},
      {"--rate=-0.5"},
      {"--rate=1000.5"},
      {"--rate=nan"},
      {"--rate=inf"},
      {"--rate=1e3"},
      {"--tries=3", "--tries=4"},
  };
  for (const auto& args : bad) {
    auto p = RunWith(args);
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    EXPECT_EQ(p.exit_code, kExitUsage) << shown;
    EXPECT_FALSE(p.ran) << shown;
  }
}

TEST(CliOptions, TheMessageNamesTheOptionTheValueAndTheRange) {
  testing::internal::CaptureStderr();
  auto p = RunWith({"--tries=-5"});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(p.exit_code, kExitUsage);
  EXPECT_NE(err.find("fwtest go: error: the argument ('-5') for option '--tries' is invalid: expected an integer "
                     "from 1 to 15"),
            std::string::npos)
      << err;
  testing::internal::CaptureStderr();
  RunWith({"--counter=-1"});
  err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("from 0 to 4294967295"), std::string::npos) << err;
}

TEST(CliOptions, ExclusiveOptionsAreAUsageError) {
  testing::internal::CaptureStderr();
  auto p = RunWith({"--json", "--csv"});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(p.exit_code, kExitUsage);
  EXPECT_FALSE(p.ran);
  EXPECT_NE(err.find("'--json' and '--csv' cannot be used together"), std::string::npos) << err;
  EXPECT_EQ(RunWith({"--csv"}).exit_code, 0);
  EXPECT_EQ(RunWith({"--json"}).exit_code, 0);
}

TEST(CliOptions, CrossOptionChecksRunBeforeTheCommand) {
  auto p = RunWith({"--min=50", "--max=10"});
  EXPECT_EQ(p.exit_code, kExitUsage);
  EXPECT_FALSE(p.ran);
  EXPECT_EQ(RunWith({"--min=10", "--max=10"}).exit_code, 0);
}

TEST(CliOptions, UsageErrorsWithJsonPrintTheErrorObject) {
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  auto p = RunWith({"--json", "--tries=0"});
  std::string out = testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(p.exit_code, kExitUsage);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["exit_code"], 2);
  EXPECT_EQ(j["error"]["kind"], "invalid argument");
}

TEST(CliOptions, RunIgnoresSigpipe) {
  std::signal(SIGPIPE, SIG_DFL);
  ASSERT_EQ(RunWith({}).exit_code, 0);
  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN) << "a closed stdout must not kill a command half-way through a flash";
}

}  // namespace
}  // namespace fw::cli
