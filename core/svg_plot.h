#pragma once

#include <string>
#include <utility>
#include <vector>

// A tiny writer of inline SVG plots for self-contained HTML evidence pages (no script, no
// external asset). Every finite point is one <circle class="pt" data-series="LABEL">, so a
// reader (or a test) can count the points of a series against the data they came from.

namespace dbcanary {

struct PlotSeries {
  std::string label;                              // legend text and data-series attribute
  std::vector<std::pair<double, double>> points;  // (x, y); NaN or infinite ones are not drawn
  std::string color = "#1f77b4";
  bool joined = true;  // a line through the points besides the dots
};

// A vertical line at x (e.g. "trigger", "new primary").
struct PlotMarker {
  std::string label;
  double x = 0;
  std::string color = "#555555";
};

// A shaded x-range (e.g. the downtime window).
struct PlotBand {
  std::string label;
  double from = 0;
  double to = 0;
  std::string color = "#d62728";
};

struct PlotSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<PlotSeries> series;
  std::vector<PlotMarker> markers;
  std::vector<PlotBand> bands;
  int width = 760;
  int height = 300;
};

// One <svg> element (with a <title> per point showing its values).
std::string RenderSvgPlot(const PlotSpec& spec);

// One horizontal bar per (label, value); `value_text` is shown beside each bar.
struct PlotBar {
  std::string label;
  double value = 0;
  std::string value_text;
};
std::string RenderSvgBars(const std::string& title, const std::vector<PlotBar>& bars,
                          int width = 760);

// The number of <circle class="pt" data-series="LABEL"> elements in `svg` (for tests).
size_t CountPlotPoints(const std::string& svg, const std::string& label);

}  // namespace dbcanary
