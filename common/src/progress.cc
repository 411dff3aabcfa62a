#include "fw/progress.h"

#include <unistd.h>

#include <chrono>
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

uint64_t SteadyMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Shared bookkeeping: stage, totals, timing.
class ProgressBase : public Progress {
 public:
  ProgressBase(std::FILE* out, std::function<uint64_t()> now) : out_(out), now_(now ? std::move(now) : SteadyMs) {}

 protected:
  void Start(std::string_view stage, std::string_view description, uint64_t total) {
    stage_ = stage;
    description_ = description;
    total_ = total;
    done_ = 0;
    started_ = now_();
  }
  double RateBytesPerSec() const {
    uint64_t ms = now_() - started_;
    return ms == 0 ? 0 : static_cast<double>(done_) * 1000.0 / static_cast<double>(ms);
  }
  std::FILE* out_;
  std::function<uint64_t()> now_;
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
    Draw(true);
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  void Note(std::string_view text) override {
    std::fprintf(out_, "\r\033[K%.*s\n", static_cast<int>(text.size()), text.data());
    std::fflush(out_);
  }

 private:
  void Draw(bool force) {
    uint64_t now = now_();
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
    std::fputs(line.c_str(), out_);
    std::fflush(out_);
  }
};

class PlainProgress final : public ProgressBase {
 public:
  using ProgressBase::ProgressBase;
  void BeginStage(std::string_view stage, std::string_view description, uint64_t total) override {
    Start(stage, description, total);
    std::fprintf(out_, "%s%s\n", description_.c_str(), total > 0 ? (" (" + FormatBytes(total) + ")").c_str() : "");
  }
  void Update(uint64_t done) override { done_ = done; }
  void EndStage() override {}
  void Note(std::string_view text) override {
    std::fprintf(out_, "%.*s\n", static_cast<int>(text.size()), text.data());
  }
};

class JsonProgress final : public ProgressBase {
 public:
  using ProgressBase::ProgressBase;
  void BeginStage(std::string_view stage, std::string_view description, uint64_t total) override {
    Start(stage, description, total);
    Emit({{"event", "stage"}, {"stage", stage_}, {"description", description_}, {"total_bytes", total_}});
  }
  void Update(uint64_t done) override {
    done_ = done;
    uint64_t now = now_();
    if (now - last_draw_ < 500 && done_ != total_) return;
    last_draw_ = now;
    Emit({{"event", "progress"},
          {"stage", stage_},
          {"done_bytes", done_},
          {"total_bytes", total_},
          {"bytes_per_second", static_cast<uint64_t>(RateBytesPerSec())}});
  }
  void EndStage() override { Emit({{"event", "stage_done"}, {"stage", stage_}, {"elapsed_ms", now_() - started_}}); }
  void Note(std::string_view text) override { Emit({{"event", "note"}, {"text", text}}); }

 private:
  void Emit(const nlohmann::json& j) {
    std::fprintf(out_, "%s\n", j.dump().c_str());
    std::fflush(out_);
  }
};

}  // namespace

std::unique_ptr<Progress> MakeProgress(ProgressStyle style, std::FILE* out, std::function<uint64_t()> now_ms) {
  if (style == ProgressStyle::kAuto) style = ::isatty(::fileno(out)) ? ProgressStyle::kBar : ProgressStyle::kPlain;
  switch (style) {
    case ProgressStyle::kBar:
      return std::make_unique<BarProgress>(out, std::move(now_ms));
    case ProgressStyle::kPlain:
      return std::make_unique<PlainProgress>(out, std::move(now_ms));
    case ProgressStyle::kJson:
      return std::make_unique<JsonProgress>(out, std::move(now_ms));
    case ProgressStyle::kQuiet:
    case ProgressStyle::kAuto:
      break;
  }
  return std::make_unique<NullProgress>();
}

}  // namespace fw
