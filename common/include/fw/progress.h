// Progress reporting for long operations (install, snapshot, verify).
//
// Library code reports named stages and byte counts through this interface;
// the CLI picks the rendering: a bar on a TTY (stage, bytes, rate, ETA), a JSON
// event stream (one object per line) for machines, or nothing (--quiet).
//
// Thread safety: a sink is used from one thread.
// Library: fw_progress (depends on fw_common only; nlohmann-json is private to it).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace fw {

class Clock;

class Progress {
 public:
  virtual ~Progress() = default;
  // A named step begins; `total_bytes` is 0 when the step has no byte count.
  virtual void BeginStage(std::string_view stage, std::string_view description, uint64_t total_bytes) = 0;
  // Bytes done so far in the current stage (monotonic).
  virtual void Update(uint64_t done_bytes) = 0;
  // The current stage ended (successfully or not; failures are reported as errors).
  virtual void EndStage() = 0;
  // A line of information for the operator.
  virtual void Note(std::string_view text) = 0;
};

// Does nothing (--quiet, tests).
class NullProgress final : public Progress {
 public:
  void BeginStage(std::string_view, std::string_view, uint64_t) override {}
  void Update(uint64_t) override {}
  void EndStage() override {}
  void Note(std::string_view) override {}
};

enum class ProgressStyle { kAuto, kBar, kPlain, kJson, kQuiet };

// kAuto: a bar when `out` is a TTY, plain lines otherwise. Rates and the ETA use
// `clock`'s monotonic time (default: SystemClock(); it must outlive the sink).
std::unique_ptr<Progress> MakeProgress(ProgressStyle style, std::FILE* out, Clock* clock = nullptr);

// "1.5 MiB", "256.0 MiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace fw
