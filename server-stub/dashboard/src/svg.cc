// Inline SVG charts (svg.h).
#include "svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fw::server::dash {
namespace {

// The smallest 1, 2 or 5 times a power of ten that is >= v (>= 1): the y axis' top.
int64_t NiceCeiling(int64_t v) {
  if (v <= 1) return 1;
  int64_t base = 1;
  while (base <= v / 10) base *= 10;
  for (int64_t m : {1, 2, 5, 10}) {
    if (base * m >= v) return base * m;
  }
  return base * 10;
}

void OpenSvg(Html& out, const std::string& caption, int width, int height, std::string_view css_class) {
  const std::string box = "0 0 " + std::to_string(width) + " " + std::to_string(height);
  out.Open("div", {{"class", "chart-wrap"}});  // scrolls sideways on a phone instead of shrinking the text
  out.Open("svg", {{"xmlns", "http://www.w3.org/2000/svg"},
                   {"class", css_class},
                   {"viewBox", box},
                   {"width", std::to_string(width)},
                   {"height", std::to_string(height)},
                   {"role", "img"},
                   {"aria-label", caption}});
  out.Element("title", caption);
}

void SvgText(Html& out, double x, double y, std::string_view anchor, std::string_view css_class,
             std::string_view text) {
  out.Element("text", {{"x", SvgNumber(x)}, {"y", SvgNumber(y)}, {"text-anchor", anchor}, {"class", css_class}}, text);
}

void Line(Html& out, double x1, double y1, double x2, double y2, std::string_view css_class) {
  out.Void("line", {{"x1", SvgNumber(x1)},
                    {"y1", SvgNumber(y1)},
                    {"x2", SvgNumber(x2)},
                    {"y2", SvgNumber(y2)},
                    {"class", css_class}});
  out.Close("line");
}

// <rect ...><title>title</title></rect>
void Bar(Html& out, double x, double y, double w, double h, const std::string& css_class, std::string_view title) {
  out.Open("rect", {{"x", SvgNumber(x)},
                    {"y", SvgNumber(y)},
                    {"width", SvgNumber(w)},
                    {"height", SvgNumber(h)},
                    {"class", css_class}});
  out.Element("title", title);
  out.Close("rect");
}

}  // namespace

std::string SvgNumber(double value) {
  if (!std::isfinite(value)) return "0";
  char buf[32];
  const double rounded = std::round(value * 10) / 10;
  if (rounded == std::floor(rounded)) {
    std::snprintf(buf, sizeof buf, "%.0f", rounded);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", rounded);
  }
  return buf;
}

void ColumnChart(Html& out, const ColumnChartSpec& spec) {
  constexpr double kLeft = 48, kRight = 8, kTop = 10, kBottom = 24;
  const double plot_w = std::max(1.0, spec.width - kLeft - kRight);
  const double plot_h = std::max(1.0, spec.height - kTop - kBottom);
  int64_t max_value = 0;
  for (const auto& c : spec.columns) max_value = std::max(max_value, c.value);
  const int64_t top = NiceCeiling(max_value);
  OpenSvg(out, spec.caption, spec.width, spec.height, "chart chart-columns");
  // Axes and the grid: 0, half and the top, labelled.
  for (int64_t tick : {int64_t{0}, top / 2, top}) {
    if (tick == top / 2 && (top < 2 || top % 2 != 0)) continue;
    const double y = kTop + plot_h - plot_h * static_cast<double>(tick) / static_cast<double>(top);
    Line(out, kLeft, y, kLeft + plot_w, y, tick == 0 ? "axis" : "grid");
    SvgText(out, kLeft - 4, y + 4, "end", "chart-label", std::to_string(tick));
  }
  Line(out, kLeft, kTop, kLeft, kTop + plot_h, "axis");
  const size_t n = spec.columns.size();
  const double slot = n == 0 ? plot_w : plot_w / static_cast<double>(n);
  const double bar_w = std::max(0.5, slot > 4 ? slot * 0.8 : slot);
  for (size_t i = 0; i < n; ++i) {
    const Column& c = spec.columns[i];
    const double x = kLeft + slot * static_cast<double>(i);
    const double h = plot_h * static_cast<double>(std::max<int64_t>(0, c.value)) / static_cast<double>(top);
    if (h > 0) Bar(out, x + (slot - bar_w) / 2, kTop + plot_h - h, bar_w, h, spec.css_class, c.title);
    if (!c.label.empty()) {
      Line(out, x, kTop + plot_h, x, kTop + plot_h + 4, "axis");
      SvgText(out, x, kTop + plot_h + 16, "middle", "chart-label", c.label);
    }
  }
  out.Close("svg").Close("div");
}

void StackedBarChart(Html& out, const StackedChartSpec& spec) {
  constexpr double kLabelW = 110, kTotalW = 64, kTop = 6, kLegendH = 26;
  const double plot_w = std::max(1.0, spec.width - kLabelW - kTotalW);
  const double rows_h = static_cast<double>(spec.row_height) * static_cast<double>(spec.rows.size());
  const int height = static_cast<int>(kTop + rows_h + kLegendH);
  std::vector<int64_t> totals;
  int64_t max_total = 0;
  for (const auto& row : spec.rows) {
    int64_t total = 0;
    for (int64_t v : row.values) total += std::max<int64_t>(0, v);
    totals.push_back(total);
    max_total = std::max(max_total, total);
  }
  const double scale = max_total > 0 ? plot_w / static_cast<double>(max_total) : 0;
  OpenSvg(out, spec.caption, spec.width, height, "chart chart-stacked");
  for (size_t r = 0; r < spec.rows.size(); ++r) {
    const StackedRow& row = spec.rows[r];
    const double y = kTop + static_cast<double>(spec.row_height) * static_cast<double>(r);
    const double bar_h = std::max(2.0, spec.row_height - 6.0);
    SvgText(out, kLabelW - 6, y + bar_h / 2 + 4, "end", "chart-label", row.label);
    double x = kLabelW;
    for (size_t s = 0; s < spec.series.size() && s < row.values.size(); ++s) {
      const int64_t v = std::max<int64_t>(0, row.values[s]);
      if (v == 0) continue;
      const double w = scale * static_cast<double>(v);
      Bar(out, x, y, w, bar_h, spec.series[s].css_class,
          row.label + ": " + std::to_string(v) + " " + spec.series[s].name);
      x += w;
    }
    SvgText(out, x + 4, y + bar_h / 2 + 4, "start", "chart-value", std::to_string(totals[r]));
  }
  // The legend: a swatch and the series' name each.
  double lx = kLabelW;
  const double ly = kTop + rows_h + 8;
  for (const auto& s : spec.series) {
    Bar(out, lx, ly, 12, 12, s.css_class, s.name);
    SvgText(out, lx + 16, ly + 10, "start", "chart-legend", s.name);
    lx += 28 + 8 * static_cast<double>(s.name.size());
  }
  out.Close("svg").Close("div");
}

}  // namespace fw::server::dash
