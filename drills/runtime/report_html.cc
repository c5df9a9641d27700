#include "drills/runtime/report_html.h"

#include <array>
#include <map>
#include <optional>

#include "core/html.h"
#include "core/humanize.h"
#include "core/number_format.h"
#include "core/svg_plot.h"

namespace dbcanary {
namespace {

// Series named "event" are moments (one point each, x = when) drawn as markers on the plots
// that share their x unit; "downtime_start" and "downtime_end" make the shaded window.
constexpr const char* kEventSeries = "event";

constexpr std::array<const char*, 6> kColors = {"#1f77b4", "#ff7f0e", "#2ca02c",
                                                "#9467bd", "#8c564b", "#17becf"};

std::optional<std::string> Label(const Labels& labels, const std::string& name) {
  for (const auto& [key, value] : labels) {
    if (key == name) return value;
  }
  return std::nullopt;
}

// Failures in red, whatever the series' position.
std::string ColorOf(const DrillSeries& series, size_t index) {
  if (Label(series.labels, "outcome") == "failed") return "#d62728";
  return kColors[index % kColors.size()];
}

std::string Title(const std::string& name) {
  if (name == "rate") return "Throughput over the run";
  if (name == "latency") return "Latency distribution";
  if (name == "writes") return "Write attempts over time (y: each write's latency)";
  return name;
}

std::string Plots(const DrillResult& result) {
  std::vector<const DrillSeries*> events;
  std::map<std::string, std::vector<const DrillSeries*>> by_name;  // plot per series name
  std::vector<std::string> order;
  for (const auto& series : result.series) {
    if (series.name == kEventSeries) {
      events.push_back(&series);
      continue;
    }
    if (!by_name.contains(series.name)) order.push_back(series.name);
    by_name[series.name].push_back(&series);
  }
  std::string html;
  for (const auto& name : order) {
    const auto& members = by_name[name];
    PlotSpec spec;
    spec.title = Title(name);
    spec.x_label = members.front()->x_unit;
    spec.y_label = members.front()->y_unit;
    for (size_t i = 0; i < members.size(); ++i) {
      spec.series.push_back(PlotSeries{SeriesLabel(*members[i]), members[i]->points,
                                       ColorOf(*members[i], i), members[i]->name != "writes"});
    }
    std::optional<double> downtime_start;
    std::optional<double> downtime_end;
    for (const auto* event : events) {
      if (event->x_unit != spec.x_label || event->points.empty()) continue;
      const std::string what = Label(event->labels, "event").value_or("event");
      const double at = event->points.front().first;
      if (what == "downtime_start") {
        downtime_start = at;
      } else if (what == "downtime_end") {
        downtime_end = at;
      } else {
        spec.markers.push_back(PlotMarker{what, at, what == "new_primary" ? "#2ca02c" : "#555555"});
      }
    }
    if (downtime_start && downtime_end) {
      spec.bands.push_back(PlotBand{"downtime window", *downtime_start, *downtime_end});
    }
    html += "<figure>\n" + RenderSvgPlot(spec) + "</figure>\n";
  }
  return html;
}

std::string Row(std::initializer_list<std::string> cells) {
  std::string row = "<tr>";
  for (const auto& cell : cells) row += "<td>" + EscapeHtml(cell) + "</td>";
  return row + "</tr>\n";
}

}  // namespace

std::string SeriesLabel(const DrillSeries& series) {
  std::string label = series.name;
  for (const auto& [key, value] : series.labels) label += " " + key + "=" + value;
  return label;
}

std::string RecordToHtml(const DrillRecord& record) {
  const std::string outcome(DrillOutcomeName(record.outcome));
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dbcanary drill " +
      EscapeHtml(record.drill) + ": " + outcome +
      "</title>\n<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:"
      "collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.pass{color:#2ca02c}"
      ".fail{color:#d62728;font-weight:bold}pre{background:#f4f4f4;padding:6px;white-space:"
      "pre-wrap}</style></head><body>\n";
  html += "<h1>Drill " + EscapeHtml(record.drill) + ": <span class=\"" +
          (record.outcome == DrillOutcome::kPass ? "pass" : "fail") + "\">" + outcome +
          "</span></h1>\n<table>\n";
  html += Row({"started", FormatUtc(record.started_at)});
  html += Row({"finished", FormatUtc(record.finished_at)});
  html += "<tr><td>duration</td><td title=\"" + EscapeHtml(FormatValue(record.duration_seconds)) +
          " s\">" + EscapeHtml(HumanDuration(record.duration_seconds)) + "</td></tr>\n";
  if (record.result.error) {
    html += Row({"error", std::string(ErrorCodeName(record.result.error->code)) + ": " +
                              record.result.error->message});
  }
  html += "</table>\n";
  if (!record.result.expectations.empty()) {
    html +=
        "<h2>Targets</h2>\n<table><tr><th>check</th><th>target</th><th>observed</th>"
        "<th>expected</th><th>result</th></tr>\n";
    for (const auto& e : record.result.expectations) {
      const std::string observed =
          e.observed_text.empty() ? FormatValue(e.observed) : e.observed_text;
      const std::string expected =
          e.expected_text.empty() ? FormatValue(e.threshold) : e.expected_text;
      html += "<tr><td>" + EscapeHtml(e.check) + "</td><td>" + EscapeHtml(e.target) + "</td><td>" +
              EscapeHtml(observed) + "</td><td>" + EscapeHtml(expected) + "</td><td class=\"" +
              (e.pass ? "pass\">pass" : "fail\">FAIL") + "</td></tr>\n";
    }
    html += "</table>\n";
  }
  if (!record.result.series.empty()) html += "<h2>Plots</h2>\n" + Plots(record.result);
  if (!record.result.samples.empty()) {
    html += "<h2>Figures</h2>\n<table><tr><th>metric</th><th>labels</th><th>value</th></tr>\n";
    for (const auto& sample : record.result.samples) {
      std::string labels;
      for (const auto& [key, value] : sample.labels) {
        labels += (labels.empty() ? "" : ", ") + key + "=" + value;
      }
      html += Row({sample.name, labels, FormatValue(sample.value)});
    }
    html += "</table>\n";
  }
  html +=
      "<h2>Phases</h2>\n<table><tr><th>phase</th><th>duration</th><th>ok</th>"
      "<th>detail</th></tr>\n";
  for (const auto& phase : record.result.phases) {
    html += Row(
        {phase.name, HumanDuration(phase.duration_seconds), phase.ok ? "yes" : "no", phase.detail});
  }
  html += "</table>\n";
  if (!record.notes.empty()) {
    html += "<h2>Notes</h2>\n<ul>\n";
    for (const auto& note : record.notes) html += "<li>" + EscapeHtml(note) + "</li>\n";
    html += "</ul>\n";
  }
  for (const auto& evidence : record.result.evidence) {
    html += "<h2>" + EscapeHtml(evidence.title) + "</h2>\n<pre>" + EscapeHtml(evidence.text) +
            "</pre>\n";
  }
  html += "</body></html>\n";
  return html;
}

}  // namespace dbcanary
