#include "exporter/web/status_pages.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/html.h"
#include "exporter/validate/writers.h"
#include "exporter/version.h"

namespace dbcanary {
namespace {

using SystemClock = std::chrono::system_clock;

constexpr std::string_view kStyle = R"css(
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:0 12px 24px;
color:#1b1f24;background:#f6f7f9;line-height:1.35}
header{margin:12px 0;padding:12px 16px;border-radius:10px;color:#fff}
header.go{background:#1a7f37}header.nogo{background:#c62828}
header h1{margin:0;font-size:1.6em}header p{margin:4px 0 0}
nav{font-size:.9em;margin:8px 0}nav a{margin-right:12px}
section{background:#fff;border-radius:10px;margin:12px 0;padding:8px 12px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:1.15em;margin:6px 0}h2 .count{font-weight:normal;color:#57606a;font-size:.85em}
h2 .verdict{font-size:.75em;padding:1px 6px;border-radius:4px;color:#fff;background:#9a6700}
section.pass h2 .verdict{background:#1a7f37}section.fail h2 .verdict{background:#c62828}
section.skipped h2 .verdict{background:#57606a}
table{width:100%;border-collapse:collapse;font-size:.92em}
th,td{text-align:left;padding:5px 6px;border-top:1px solid #eaeef2;vertical-align:top}
th{color:#57606a;font-weight:600;border-top:none}
.state{font-weight:700;text-transform:uppercase;font-size:.85em;white-space:nowrap}
tr.pass .state{color:#1a7f37}tr.fail .state{color:#c62828}
tr.stale .state,tr.pending .state{color:#9a6700}
tr.fail{background:#fff5f5}
.msg{color:#57606a;font-size:.9em;word-break:break-word}
.when{white-space:nowrap;color:#57606a}
footer{color:#57606a;font-size:.85em}
@media (max-width:640px){
 thead{display:none}
 table,tbody,tr,td{display:block;width:100%}
 tr{border-top:1px solid #eaeef2;padding:6px 0}
 td{border:none;padding:1px 0}
 td[data-label]::before{content:attr(data-label) ": ";color:#57606a;font-weight:600}
 td.checkname{font-weight:600}
}
)css";

// ` title="31535995.66 seconds"`: the raw value on hover, beside the human one.
std::string RawTitle(double value, Unit unit) {
  if (!std::isfinite(value) || unit == Unit::kNone) return "";
  return fmt::format(" title=\"{} {}\"", value, UnitName(unit));
}

std::string CheckRowHtml(const CheckRow& row, SystemClock::time_point now) {
  std::string when = "never";
  if (row.last_run) {
    when = FormatUtcTime(*row.last_run) + " (" + FormatAgo(now - *row.last_run) + ")";
  }
  std::string name = EscapeHtml(row.DisplayName());
  if (!row.link.empty()) {
    name = fmt::format("<a href=\"{}\">{}</a>", EscapeHtml(row.link), name);
  }
  std::string message;
  if (!row.message.empty()) {
    message = fmt::format("<div class=\"msg\">{}: {}</div>", EscapeHtml(row.reason),
                          EscapeHtml(row.message));
  }
  return fmt::format(
      "<tr class=\"{0}\"><td class=\"state\">{0}</td><td class=\"checkname\">{1}"
      "<div class=\"msg\">{2} {3}</div></td>"
      "<td data-label=\"target\">{4}</td><td data-label=\"observed\"{5}>{6}{7}</td>"
      "<td data-label=\"expected\"{8}>{9}</td>"
      "<td class=\"when\" data-label=\"last run\">{10}</td></tr>\n",
      StateName(row.state), name, EscapeHtml(SourceName(row.source)), EscapeHtml(row.kind),
      EscapeHtml(row.target), RawTitle(row.observed_value, row.unit), EscapeHtml(row.observed),
      message, RawTitle(row.expected_value, row.unit), EscapeHtml(row.expected), EscapeHtml(when));
}

std::string GroupSection(const Checklist& checklist, const GroupVerdict& group,
                         SystemClock::time_point now) {
  const GroupInfo& info = *group.info;
  auto group_rows = RowsOf(checklist.rows, info.group);
  std::string state_text(GroupStateName(group.state));
  if (!group.reason.empty()) state_text += ": " + group.reason;
  std::string body = fmt::format(
      "<section id=\"group-{}\" class=\"{}\">\n<h2>{} <span class=\"verdict\">{}</span>", info.slug,
      GroupStateSlug(group.state), EscapeHtml(info.title), EscapeHtml(state_text));
  if (group_rows.empty()) return body + "</h2>\n</section>\n";
  body += fmt::format(" <span class=\"count\">{}/{} pass</span></h2>\n", group.counts.pass,
                      group.counts.total);
  body +=
      "<table>\n<thead><tr><th>state</th><th>check</th><th>target</th><th>observed</th>"
      "<th>expected</th><th>last run (UTC)</th></tr></thead>\n<tbody>\n";
  for (const auto* row : group_rows) body += CheckRowHtml(*row, now);
  return body + "</tbody></table>\n</section>\n";
}

}  // namespace

Readiness CheckReadiness(const std::vector<ProbeSnapshot>& probes) {
  std::string missing;
  for (const auto& probe : probes) {
    if (probe.latest) continue;
    missing += missing.empty() ? "" : ", ";
    missing += probe.info->key.Name();
  }
  if (missing.empty()) return {true, "ready\n"};
  return {false, "not ready: no result yet from " + missing + "\n"};
}

std::vector<DrillStatus> CurrentDrillStatus(const DrillStateStore* drills) {
  std::vector<DrillStatus> out;
  if (drills == nullptr) return out;
  for (const auto& state : drills->Snapshot()) {
    DrillStatus status;
    status.kind = state.info.name;
    status.target = state.info.name;  // a drill's targets are in its expectations
    if (state.last) {
      // Aliasing pointer: shares ownership of the record, points at its result.
      status.latest = std::shared_ptr<const DrillResult>(state.last, &state.last->result);
      status.finished_at = state.last->finished_at;
      status.duration_seconds = state.last->duration_seconds;
      // The HTML page (plots) first; runs from before it existed have Markdown or JSON only.
      std::string report = state.last->report_html;
      if (report.empty()) report = state.last->report_markdown;
      if (report.empty()) report = state.last->report_json;
      if (!report.empty()) {
        status.report_link =
            "reports/" + state.info.name + "/" + std::filesystem::path(report).filename().string();
      }
    }
    out.push_back(std::move(status));
  }
  return out;
}

bool IsStale(SystemClock::time_point finished_at, std::chrono::milliseconds interval,
             std::chrono::milliseconds timeout, SystemClock::time_point now) {
  return now - finished_at > 2 * interval + timeout;
}

std::vector<CheckRow> StatusChecks(const std::vector<ProbeSnapshot>& probes,
                                   const std::vector<DrillStatus>& drills,
                                   SystemClock::time_point now) {
  std::vector<CheckRow> rows;
  for (const auto& probe : probes) {
    const ProbeKey& key = probe.info->key;
    if (!probe.latest) {
      AddPending(rows, CheckSource::kProbe, key.kind, key.target);
      continue;
    }
    size_t first = rows.size();
    AddProbeRun(rows, key.kind, key.target, *probe.latest);
    if (IsStale(probe.latest->finished_at, probe.info->interval, probe.info->timeout, now)) {
      for (size_t i = first; i < rows.size(); ++i) rows[i].state = CheckState::kStale;
    }
  }
  for (const auto& drill : drills) {
    if (!drill.latest) {
      AddPending(rows, CheckSource::kDrill, drill.kind, drill.target);
      continue;
    }
    size_t first = rows.size();
    AddDrillRun(rows, drill.kind, drill.target, *drill.latest, drill.finished_at,
                drill.duration_seconds);
    for (size_t i = first; i < rows.size(); ++i) rows[i].link = drill.report_link;
  }
  return rows;
}

std::string StatusPage(const Checklist& checklist, SystemClock::time_point now,
                       std::string_view metrics_path) {
  ChecklistVerdict verdict = Assess(checklist);
  std::string body;
  for (const auto& group : verdict.groups) body += GroupSection(checklist, group, now);
  std::string verdict_word = verdict.go ? "GO" : "NO-GO";
  std::string counts = fmt::format("{} checks: {} pass, {} fail, {} stale, {} pending",
                                   verdict.counts.total, verdict.counts.pass, verdict.counts.fail,
                                   verdict.counts.stale, verdict.counts.pending);
  // Relative links, so the page works behind a proxy that serves it under a path prefix.
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta http-equiv=\"refresh\" content=\"15\">\n"
      "<title>dbcanary: {0}</title>\n<style>{1}</style>\n</head><body>\n"
      "<header class=\"{2}\" id=\"summary\"><h1>{0}</h1><p>{3}</p><p>{4}</p>"
      "<p>as of {5}</p></header>\n"
      "<nav><a href=\"{9}\">{10}</a><a href=\"api/checks\">/api/checks</a>"
      "<a href=\"-/ready\">/-/ready</a><a href=\"-/healthy\">/-/healthy</a></nav>\n"
      "{6}"
      "<footer>dbcanary {7} (revision {8}); refreshes every 15 s. Stale: no result within "
      "2 &times; interval + timeout.</footer>\n</body></html>\n",
      verdict_word, kStyle, verdict.go ? "go" : "nogo", EscapeHtml(VerdictLine(checklist)),
      EscapeHtml(counts), EscapeHtml(FormatUtcTime(now)), body, EscapeHtml(Version()),
      EscapeHtml(Revision()),
      EscapeHtml(metrics_path.substr(metrics_path.starts_with('/') ? 1 : 0)),
      EscapeHtml(metrics_path));
}

std::string ChecksJsonText(const Checklist& checklist, SystemClock::time_point now) {
  return ChecklistJson(checklist, now).dump(2) + "\n";
}

}  // namespace dbcanary
