#include "fw/progress.h"

#include "fw/clock.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <nlohmann/json.hpp>

namespace fw {

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

namespace {

// Shared bookkeeping: stage, totals, timing.
class ProgressBase : public Progress {
 public:
  ProgressBase(std::FILE* out, Clock* clock) : out_(out), clock_(clock ? clock : &SystemClock()) {}

 protected:
  uint64_t Now() const { return static_cast<uint64_t>(clock_->MonotonicMs()); }
  void Start(std::string_view stage, std::string_view description, uint64_t total) {
    stage_ = stage;
    description_ = description;
    total_ = total;
    done_ = 0;
    started_ = Now();
  }
  double RateBytesPerSec() const {
    uint64_t ms = Now() - started_;
    return ms == 0 ? 0 : static_cast<double>(done_) * 1000.0 / static_cast<double>(ms);
  }
  // Writes one piece of output. Progress is a side channel: it never blocks the operation for
  // long and never fails it. A consumer that went away (EPIPE; SIGPIPE is ignored by cli::Run) or
  // any other write error ends progress output for good; one that stalls (the pipe is full) loses
  // byte-count updates at once, and after 1 s on a stage line is treated as gone.
  void Write(const std::string& text, bool droppable) {
    if (broken_) return;
    int fd = ::fileno(out_);
    if (fd >= 0) {
      pollfd p{fd, POLLOUT, 0};
      int n;
      do {
        n = ::poll(&p, 1, droppable ? 0 : 1000);
      } while (n < 0 && errno == EINTR);
      if (n == 0 && droppable) return;
      if (n <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
        broken_ = true;
        return;
      }
    }
    if (std::fputs(text.c_str(), out_) < 0 || std::fflush(out_) != 0 || std::ferror(out_)) {
      broken_ = true;
      std::clearerr(out_);
    }
  }
  std::FILE* out_;
  bool broken_ = false;
  Clock* clock_;
  std::string stage_;
  std::string description_;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
  uint64_t started_ = 0;
  uint64_t last_draw_ = 0;
};

class BarProgress final : public ProgressBase {
 public:
  using ProgressBase::ProgressBase;
  void BeginStage(std::string_view stage, std::string_view description, uint64_t total) override {
    Start(stage, description, total);
    Draw(true);
  }
  void Update(uint64_t done) override {
    done_ = done;
    Draw(false);
  }
  void EndStage() override {
    if (total_ > 0) done_ = total_;
    Draw(true, "\n");
  }
  void Note(std::string_view text) override { Write("\r\033[K" + std::string(text) + "\n", false); }

 private:
  void Draw(bool force, const char* suffix = "") {
    uint64_t now = Now();
    if (!force && now - last_draw_ < 100) return;  // at most 10 redraws a second
    last_draw_ = now;
    std::string line = "\r\033[K" + description_;
    if (total_ > 0) {
      constexpr int kWidth = 30;
      double frac = static_cast<double>(done_) / static_cast<double>(total_);
      if (frac > 1) frac = 1;
      int filled = static_cast<int>(frac * kWidth);
      line += " [" + std::string(static_cast<size_t>(filled), '#') +
              std::string(static_cast<size_t>(kWidth - filled), '-') + "] ";
      char buf[96];
      double rate = RateBytesPerSec();
      std::snprintf(buf, sizeof buf, "%3d%% %s/%s %s/s", static_cast<int>(frac * 100), FormatBytes(done_).c_str(),
                    FormatBytes(total_).c_str(), FormatBytes(static_cast<uint64_t>(rate)).c_str());
      line += buf;
      if (rate > 0 && done_ < total_) {
        std::snprintf(buf, sizeof buf, " ETA %.0fs", static_cast<double>(total_ - done_) / rate);
        line += buf;
      }
    } else {
      line += " …";
    }
    Write(line + suffix, !force);
  }
};

class PlainProgress final : public ProgressBase {
 public:
  using ProgressBase::ProgressBase;
  void BeginStage(std::string_view stage, std::string_view description, uint64_t total) override {
    Start(stage, description, total);
    Write(description_ + (total > 0 ? " (" + FormatBytes(total) + ")" : std::string()) + "\n", false);
  }
  void Update(uint64_t done) override { done_ = done; }
  void EndStage() override {}
  void Note(std::string_view text) override { Write(std::string(text) + "\n", false); }
};

class JsonProgress final : public ProgressBase {
 public:
  using ProgressBase::ProgressBase;
  void BeginStage(std::string_view stage, std::string_view description, uint64_t total) override {
    Start(stage, description, total);
    Emit({{"event", "stage"}, {"stage", stage_}, {"description", description_}, {"total_bytes", total_}}, false);
  }
  void Update(uint64_t done) override {
    done_ = done;
    uint64_t now = Now();
    if (now - last_draw_ < 500 && done_ != total_) return;
    last_draw_ = now;
    Emit({{"event", "progress"},
          {"stage", stage_},
          {"done_bytes", done_},
          {"total_bytes", total_},
          {"bytes_per_second", static_cast<uint64_t>(RateBytesPerSec())}},
         done_ != total_);
  }
  void EndStage() override {
    Emit({{"event", "stage_done"}, {"stage", stage_}, {"elapsed_ms", Now() - started_}}, false);
  }
  void Note(std::string_view text) override { Emit({{"event", "note"}, {"text", text}}, false); }

 private:
  // Invalid UTF-8 in a note (a file name) is replaced, never thrown from the middle of a flash.
  void Emit(const nlohmann::json& j, bool droppable) {
    Write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", droppable);
  }
};

}  // namespace

std::unique_ptr<Progress> MakeProgress(ProgressStyle style, std::FILE* out, Clock* clock) {
  if (style == ProgressStyle::kAuto) style = ::isatty(::fileno(out)) ? ProgressStyle::kBar : ProgressStyle::kPlain;
  switch (style) {
    case ProgressStyle::kBar:
      return std::make_unique<BarProgress>(out, clock);
    case ProgressStyle::kPlain:
      return std::make_unique<PlainProgress>(out, clock);
    case ProgressStyle::kJson:
      return std::make_unique<JsonProgress>(out, clock);
    case ProgressStyle::kQuiet:
    case ProgressStyle::kAuto:
      break;
  }
  return std::make_unique<NullProgress>();
}

}  // namespace fw
