#include "exporter/validate/html_report.h"

#include <cmath>
#include <vector>

#include "core/html.h"
#include "core/humanize.h"
#include "core/number_format.h"
#include "core/svg_plot.h"
#include "exporter/validate/writers.h"

namespace dbcanary {
namespace {

// The checks plotted, one bar per target, in this order.
struct PlottedCheck {
  const char* check;
  const char* title;
};
constexpr PlottedCheck kPlotted[] = {
    {"max_heartbeat_lag_seconds", "Heartbeat lag per standby"},
    {"max_replica_visibility_seconds", "Replica visibility (write on primary to read on replica)"},
    {"max_replay_lag_bytes", "Replay lag per standby"},
    {"backup_max_age", "Newest backup age"},
};

std::string Plots(const Checklist& checklist) {
  std::string html;
  for (const auto& plotted : kPlotted) {
    std::vector<PlotBar> bars;
    for (const auto& row : checklist.rows) {
      if (row.check != plotted.check || !std::isfinite(row.observed_value)) continue;
      bars.push_back(PlotBar{row.target + " (" + row.kind + ")", row.observed_value,
                             row.observed + " (expected " + row.expected + ")"});
    }
    if (!bars.empty()) html += "<figure>\n" + RenderSvgBars(plotted.title, bars) + "</figure>\n";
  }
  return html;
}

std::string Cell(const std::string& text, const std::string& title = {}) {
  if (title.empty()) return "<td>" + EscapeHtml(text) + "</td>";
  return "<td title=\"" + EscapeHtml(title) + "\">" + EscapeHtml(text) + "</td>";
}

std::string Raw(double value) { return std::isfinite(value) ? FormatValue(value) : ""; }

std::string GroupTable(const Checklist& checklist, const GroupVerdict& group) {
  std::string html = "<h2>" + EscapeHtml(std::string(group.info->title)) + ": <span class=\"" +
                     std::string(GroupStateSlug(group.state)) + "\">" +
                     std::string(GroupStateName(group.state)) + "</span>";
  if (!group.reason.empty()) html += " (" + EscapeHtml(group.reason) + ")";
  html += "</h2>\n";
  const auto rows = RowsOf(checklist.rows, group.info->group);
  if (rows.empty()) return html;
  html +=
      "<table><tr><th>check</th><th>target</th><th>state</th><th>observed</th>"
      "<th>expected</th><th>report</th></tr>\n";
  for (const auto* row : rows) {
    const std::string state(StateName(row->state));
    html += "<tr>" + Cell(row->DisplayName()) + Cell(row->target) + "<td class=\"" + state + "\">" +
            state + "</td>" + Cell(row->observed, Raw(row->observed_value)) +
            Cell(row->expected, Raw(row->expected_value));
    html += row->link.empty() ? "<td></td>"
                              : "<td><a href=\"" + EscapeHtml(row->link) + "\">page</a></td>";
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

}  // namespace

std::string RenderChecklistHtml(const Checklist& checklist,
                                std::chrono::system_clock::time_point generated_at) {
  const ChecklistVerdict verdict = Assess(checklist);
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dbcanary validate: " +
      std::string(verdict.go ? "GO" : "NO-GO") +
      "</title>\n<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:"
      "collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.pass{color:#2ca02c}"
      ".fail,.stale{color:#d62728;font-weight:bold}.not_verified,.pending{color:#b8860b}"
      ".skipped{color:#777}</style></head><body>\n";
  html += "<h1>dbcanary validate: <span class=\"" + std::string(verdict.go ? "pass" : "fail") +
          "\">" + (verdict.go ? "GO" : "NO-GO") + "</span></h1>\n<p>" +
          EscapeHtml(VerdictLine(checklist)) + "</p>\n<p>Generated " +
          EscapeHtml(FormatUtcTime(generated_at)) + "</p>\n";
  const std::string plots = Plots(checklist);
  if (!plots.empty()) html += "<h2>Plots</h2>\n" + plots;
  for (const auto& group : verdict.groups) html += GroupTable(checklist, group);
  html += "</body></html>\n";
  return html;
}

}  // namespace dbcanary
