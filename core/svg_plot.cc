#include "core/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/html.h"
#include "core/humanize.h"
#include "core/number_format.h"

namespace dbcanary {
namespace {

constexpr double kLeft = 70;    // room for the y tick labels
constexpr double kRight = 170;  // room for the legend
constexpr double kTop = 28;
constexpr double kBottom = 40;

std::string Num(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", value);
  return text;
}

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  void Add(double value) {
    if (!std::isfinite(value)) return;
    low = std::min(low, value);
    high = std::max(high, value);
  }
  // A range that can be drawn: finite, not empty, starting at 0 for counts and durations.
  void Settle(bool from_zero) {
    if (!std::isfinite(low)) low = high = 0;
    if (from_zero && low > 0) low = 0;
    if (high - low < 1e-12) high = low + 1;
  }
};

// Axis labels are for reading: four significant digits, not the round-trip text of a sample.
std::string Tick(double value) { return EscapeHtml(HumanNumber(value)); }

}  // namespace

std::string RenderSvgPlot(const PlotSpec& spec) {
  Range x;
  Range y;
  for (const auto& series : spec.series) {
    for (const auto& [px, py] : series.points) {
      if (std::isfinite(px) && std::isfinite(py)) {
        x.Add(px);
        y.Add(py);
      }
    }
  }
  for (const auto& marker : spec.markers) x.Add(marker.x);
  for (const auto& band : spec.bands) {
    x.Add(band.from);
    x.Add(band.to);
  }
  x.Settle(false);
  y.Settle(true);
  const double plot_w = spec.width - kLeft - kRight;
  const double plot_h = spec.height - kTop - kBottom;
  auto sx = [&](double v) { return kLeft + (v - x.low) / (x.high - x.low) * plot_w; };
  auto sy = [&](double v) { return kTop + plot_h - (v - y.low) / (y.high - y.low) * plot_h; };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"" +
                    std::to_string(spec.width) + "\" height=\"" + std::to_string(spec.height) +
                    "\" viewBox=\"0 0 " + std::to_string(spec.width) + " " +
                    std::to_string(spec.height) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += "<title>" + EscapeHtml(spec.title) + "</title>\n";
  svg += "<text x=\"" + Num(kLeft) + "\" y=\"16\" font-size=\"13\" font-weight=\"bold\">" +
         EscapeHtml(spec.title) + "</text>\n";
  svg += "<rect x=\"" + Num(kLeft) + "\" y=\"" + Num(kTop) + "\" width=\"" + Num(plot_w) +
         "\" height=\"" + Num(plot_h) + "\" fill=\"#fafafa\" stroke=\"#999\"/>\n";
  for (int i = 0; i <= 4; ++i) {  // ticks: 5 on each axis
    const double vx = x.low + (x.high - x.low) * i / 4;
    const double vy = y.low + (y.high - y.low) * i / 4;
    svg += "<text x=\"" + Num(sx(vx)) + "\" y=\"" + Num(kTop + plot_h + 14) +
           "\" text-anchor=\"middle\">" + Tick(vx) + "</text>\n";
    svg += "<text x=\"" + Num(kLeft - 4) + "\" y=\"" + Num(sy(vy) + 4) + "\" text-anchor=\"end\">" +
           Tick(vy) + "</text>\n";
    svg += "<line x1=\"" + Num(kLeft) + "\" x2=\"" + Num(kLeft + plot_w) + "\" y1=\"" +
           Num(sy(vy)) + "\" y2=\"" + Num(sy(vy)) + "\" stroke=\"#e5e5e5\"/>\n";
  }
  svg += "<text x=\"" + Num(kLeft + plot_w / 2) + "\" y=\"" + Num(spec.height - 6.0) +
         "\" text-anchor=\"middle\">" + EscapeHtml(spec.x_label) + "</text>\n";
  svg += "<text x=\"12\" y=\"" + Num(kTop + plot_h / 2) + "\" text-anchor=\"middle\" " +
         "transform=\"rotate(-90 12 " + Num(kTop + plot_h / 2) + ")\">" + EscapeHtml(spec.y_label) +
         "</text>\n";
  double legend_y = kTop + 10;
  auto legend = [&](const std::string& color, const std::string& label) {
    svg += "<rect x=\"" + Num(kLeft + plot_w + 10) + "\" y=\"" + Num(legend_y - 8) +
           "\" width=\"10\" height=\"10\" fill=\"" + EscapeHtml(color) + "\"/><text x=\"" +
           Num(kLeft + plot_w + 24) + "\" y=\"" + Num(legend_y + 1) + "\">" + EscapeHtml(label) +
           "</text>\n";
    legend_y += 16;
  };
  for (const auto& band : spec.bands) {
    const double from = sx(std::min(band.from, band.to));
    const double to = sx(std::max(band.from, band.to));
    svg += "<rect class=\"band\" x=\"" + Num(from) + "\" y=\"" + Num(kTop) + "\" width=\"" +
           Num(std::max(to - from, 1.0)) + "\" height=\"" + Num(plot_h) + "\" fill=\"" +
           EscapeHtml(band.color) + "\" fill-opacity=\"0.15\"><title>" + EscapeHtml(band.label) +
           ": " + Tick(band.from) + " to " + Tick(band.to) + "</title></rect>\n";
    legend(band.color, band.label);
  }
  for (const auto& marker : spec.markers) {
    svg += "<line class=\"marker\" x1=\"" + Num(sx(marker.x)) + "\" x2=\"" + Num(sx(marker.x)) +
           "\" y1=\"" + Num(kTop) + "\" y2=\"" + Num(kTop + plot_h) + "\" stroke=\"" +
           EscapeHtml(marker.color) + "\" stroke-dasharray=\"4 3\"><title>" +
           EscapeHtml(marker.label) + " at " + Tick(marker.x) + "</title></line>\n";
    legend(marker.color, marker.label + " (" + FormatValue(marker.x) + ")");
  }
  for (const auto& series : spec.series) {
    const std::string color = EscapeHtml(series.color);
    const std::string label = EscapeHtml(series.label);
    if (series.joined) {
      std::string path;
      for (const auto& [px, py] : series.points) {
        if (!std::isfinite(px) || !std::isfinite(py)) continue;
        path += (path.empty() ? "" : " ") + Num(sx(px)) + "," + Num(sy(py));
      }
      svg += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.5\" points=\"" +
             path + "\"/>\n";
    }
    for (const auto& [px, py] : series.points) {
      if (!std::isfinite(px) || !std::isfinite(py)) continue;
      svg += "<circle class=\"pt\" data-series=\"" + label + "\" cx=\"" + Num(sx(px)) + "\" cy=\"" +
             Num(sy(py)) + "\" r=\"2.5\" fill=\"" + color + "\"><title>" + label + ": " + Tick(px) +
             ", " + Tick(py) + "</title></circle>\n";
    }
    legend(series.color, series.label);
  }
  svg += "</svg>\n";
  return svg;
}

std::string RenderSvgBars(const std::string& title, const std::vector<PlotBar>& bars, int width) {
  constexpr double kLabelWidth = 220;
  constexpr double kRowHeight = 20;
  const double height = kTop + kRowHeight * static_cast<double>(bars.size()) + 10;
  const double bar_w = width - kLabelWidth - 120;
  double high = 0;
  for (const auto& bar : bars) {
    if (std::isfinite(bar.value)) high = std::max(high, bar.value);
  }
  if (high <= 0) high = 1;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"" +
                    std::to_string(width) + "\" height=\"" + Num(height) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">\n<title>" + EscapeHtml(title) +
                    "</title>\n<text x=\"4\" y=\"16\" font-size=\"13\" " + "font-weight=\"bold\">" +
                    EscapeHtml(title) + "</text>\n";
  double row_y = kTop;
  for (const auto& bar : bars) {
    const double length = std::isfinite(bar.value) ? std::max(bar.value, 0.0) / high * bar_w : 0;
    svg += "<text x=\"" + Num(kLabelWidth - 6) + "\" y=\"" + Num(row_y + 13) +
           "\" text-anchor=\"end\">" + EscapeHtml(bar.label) + "</text>\n";
    svg += "<rect class=\"bar\" x=\"" + Num(kLabelWidth) + "\" y=\"" + Num(row_y + 3) +
           "\" width=\"" + Num(std::max(length, 1.0)) + "\" height=\"" + Num(kRowHeight - 6) +
           "\" fill=\"#1f77b4\"><title>" + EscapeHtml(bar.label) + ": " +
           EscapeHtml(bar.value_text) + " (" + Tick(bar.value) + ")</title></rect>\n";
    svg += "<text x=\"" + Num(kLabelWidth + std::max(length, 1.0) + 6) + "\" y=\"" +
           Num(row_y + 13) + "\">" + EscapeHtml(bar.value_text) + "</text>\n";
    row_y += kRowHeight;
  }
  svg += "</svg>\n";
  return svg;
}

size_t CountPlotPoints(const std::string& svg, const std::string& label) {
  const std::string needle = "<circle class=\"pt\" data-series=\"" + EscapeHtml(label) + "\"";
  size_t count = 0;
  for (size_t at = svg.find(needle); at != std::string::npos; at = svg.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace dbcanary
