// Inline SVG charts for the dashboard's pages (internal to fw_server_dashboard): a column chart (one
// bar per bucket, e.g. check-ins per 5 minutes) and a horizontal stacked bar chart (one row per key,
// one segment per series, e.g. terminals per firmware version and state).
//
// Contract:
//  - Output is built with Html (html.h) only: every label and title is escaped text; the chart is an
//    <svg> element inside <div class="chart-wrap"> with a viewBox, presentation attributes (x, y, width, height) and
//    class names — never a style attribute or a script (the dashboard's CSP forbids both). Colours come from
//    assets/app.css by class: "chart" (the svg), the bars' css_class ("bar", or a series' class such as
//    "fill-ok"), "axis", "grid", and for text "chart-label", "chart-value", "chart-legend".
//  - Each bar or segment carries a <title> (a tooltip and an accessible name) with its label and value;
//    the svg has role="img" and aria-label = the chart's caption.
//  - Values below zero are drawn as zero; an empty chart or all-zero values draw an empty frame with the
//    caption (no division by zero).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "html.h"

namespace fw::server::dash {

// Column chart: bars left to right, a y axis from 0 to the largest value, x labels under some bars.
struct Column {
  std::string label;  // x axis text (drawn only when non-empty)
  std::string title;  // tooltip, e.g. "14:05Z: 17 check-ins"
  int64_t value = 0;
};
struct ColumnChartSpec {
  std::string caption;  // aria-label
  std::string css_class = "bar";
  std::vector<Column> columns;
  int width = 720;
  int height = 180;
};
void ColumnChart(Html& out, const ColumnChartSpec& spec);

// Stacked horizontal bars: one row per key, segments in series order, scaled to the largest row total.
struct Series {
  std::string name;       // legend text, e.g. "quarantined"
  std::string css_class;  // e.g. "fill-warn"
};
struct StackedRow {
  std::string label;            // e.g. "1.2.0"
  std::vector<int64_t> values;  // one per series (missing ones count as 0)
};
struct StackedChartSpec {
  std::string caption;
  std::vector<Series> series;
  std::vector<StackedRow> rows;
  int width = 720;
  int row_height = 22;
};
void StackedBarChart(Html& out, const StackedChartSpec& spec);

// A number for an SVG attribute: at most one decimal ("12", "12.5").
std::string SvgNumber(double value);

}  // namespace fw::server::dash
