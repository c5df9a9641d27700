#include "exporter/validate/writers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/html.h"
#include "exporter/validate/html_report.h"

namespace dbcanary {
namespace {

using SystemClock = std::chrono::system_clock;

std::string_view Upper(CheckState state) {
  switch (state) {
    case CheckState::kPass:
      return "PASS";
    case CheckState::kFail:
      return "FAIL";
    case CheckState::kStale:
      return "STALE";
    case CheckState::kPending:
      return "PENDING";
  }
  return "PENDING";
}

// "PASS", "NOT VERIFIED: nothing configured", "SKIPPED: no Kubernetes API here".
std::string GroupStateText(const GroupVerdict& group) {
  std::string text(GroupStateName(group.state));
  if (!group.reason.empty()) text += ": " + group.reason;
  return text;
}

// "performance (nothing configured), monitoring (nothing configured)": the groups in `state`.
std::string GroupsIn(const ChecklistVerdict& verdict, GroupState state) {
  std::string out;
  for (const auto& group : verdict.groups) {
    if (group.state != state) continue;
    out += out.empty() ? "" : ", ";
    out += std::string(group.info->slug) + " (" + group.reason + ")";
  }
  return out;
}

bool IsSkipped(const ChecklistVerdict& verdict, CheckGroup group) {
  for (const auto& entry : verdict.groups) {
    if (entry.info->group == group) return entry.state == GroupState::kSkipped;
  }
  return false;
}

// The shape of a row's raw numbers in JSON: null when not numeric.
nlohmann::json Number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

std::string Counts(const Verdict& verdict) {
  std::string text = fmt::format("{} pass, {} fail", verdict.pass, verdict.fail);
  if (verdict.stale > 0) text += fmt::format(", {} stale", verdict.stale);
  if (verdict.pending > 0) text += fmt::format(", {} pending", verdict.pending);
  return text;
}

std::string Pad(std::string_view text, size_t width) {
  std::string out(text);
  if (out.size() < width) out.resize(width, ' ');
  return out;
}

nlohmann::json CountsJson(const Verdict& verdict) {
  return {{"total", verdict.total},
          {"pass", verdict.pass},
          {"fail", verdict.fail},
          {"stale", verdict.stale},
          {"pending", verdict.pending}};
}

nlohmann::json RowJson(const CheckRow& row, SystemClock::time_point now) {
  nlohmann::json out = {
      {"source", SourceName(row.source)}, {"kind", row.kind},
      {"run_target", row.run_target},     {"check", row.check},
      {"name", row.DisplayName()},        {"target", row.target},
      {"state", StateName(row.state)},    {"observed", row.observed},
      {"expected", row.expected},         {"duration_seconds", row.duration_seconds},
  };
  if (!row.is_run()) {
    out["observed_value"] = Number(row.observed_value);
    out["expected_value"] = Number(row.expected_value);
    out["unit"] = UnitName(row.unit);
  }
  if (!row.reason.empty()) out["reason"] = row.reason;
  if (!row.message.empty()) out["message"] = row.message;
  if (!row.link.empty()) out["link"] = row.link;
  if (row.last_run) {
    out["last_run"] = FormatUtcTime(*row.last_run);
    out["last_run_timestamp_seconds"] =
        std::chrono::duration<double>(row.last_run->time_since_epoch()).count();
    out["age_seconds"] = std::max(0.0, std::chrono::duration<double>(now - *row.last_run).count());
  } else {
    out["last_run"] = nullptr;
  }
  return out;
}

std::string MarkdownGroupSection(const std::vector<CheckRow>& rows, const GroupVerdict& group) {
  const GroupInfo& info = *group.info;
  auto group_rows = RowsOf(rows, info.group);
  std::string out = fmt::format("## {}: {}\n\n", info.title, GroupStateText(group));
  if (group_rows.empty()) return out;
  out += fmt::format("{} checks: {}.\n\n", group.counts.total, Counts(group.counts));
  out += "| Result | Check | Probe | Target | Observed | Target value |\n";
  out += "|---|---|---|---|---|---|\n";
  std::string details;
  for (const auto* row : group_rows) {
    out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", Upper(row->state),
                       EscapeMarkdownCell(row->DisplayName()),
                       EscapeMarkdownCell(std::string(SourceName(row->source)) + " " + row->kind),
                       EscapeMarkdownCell(row->target), EscapeMarkdownCell(row->observed),
                       EscapeMarkdownCell(row->expected));
    if (row->is_run() && row->state == CheckState::kFail) {
      details += fmt::format("- {} on {}: {}: {}\n", EscapeMarkdownCell(row->kind),
                             EscapeMarkdownCell(row->run_target), row->reason,
                             EscapeMarkdownCell(row->message));
    }
  }
  if (!details.empty()) out += "\nFailed runs:\n\n" + details;
  return out + "\n";
}

std::string MarkdownHeader(const ChecklistVerdict& verdict, std::string_view title,
                           std::string_view verdict_word, SystemClock::time_point generated_at) {
  return fmt::format("# {}: {}\n\nGenerated {} by dbcanary validate. {} checks: {}.\n\n", title,
                     verdict_word, FormatUtcTime(generated_at), verdict.counts.total,
                     Counts(verdict.counts));
}

const GroupVerdict& VerdictOf(const ChecklistVerdict& verdict, CheckGroup group) {
  for (const auto& entry : verdict.groups) {
    if (entry.info->group == group) return entry;
  }
  return verdict.groups.back();  // kOther when asked for a group not shown
}

}  // namespace

std::string FormatUtcTime(SystemClock::time_point at) {
  std::time_t whole = SystemClock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char buffer[32];
  size_t length = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buffer, length);
}

std::string FormatAgo(SystemClock::duration age) {
  auto seconds =
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(age).count());
  if (seconds < 120) return fmt::format("{}s ago", seconds);
  if (seconds < 120 * 60) return fmt::format("{}m ago", seconds / 60);
  if (seconds < 48 * 3600) return fmt::format("{}h ago", seconds / 3600);
  return fmt::format("{}d ago", seconds / 86400);
}

std::string EscapeMarkdownCell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string VerdictLine(const Checklist& checklist) {
  ChecklistVerdict verdict = Assess(checklist);
  std::string tail;
  if (auto unverified = GroupsIn(verdict, GroupState::kNotVerified); !unverified.empty()) {
    tail += "; not verified: " + unverified;
  }
  if (auto skipped = GroupsIn(verdict, GroupState::kSkipped); !skipped.empty()) {
    tail += "; skipped: " + skipped;
  }
  if (verdict.go) return fmt::format("GO ({} checks passed{})", verdict.counts.total, tail);
  if (verdict.counts.total == 0) return fmt::format("NO-GO (no checks configured{})", tail);
  if (verdict.counts.pass == verdict.counts.total) {
    return fmt::format("NO-GO ({} checks passed{})", verdict.counts.total, tail);
  }
  std::string names;
  size_t listed = 0;
  for (const auto& row : checklist.rows) {
    if (row.state == CheckState::kPass || IsSkipped(verdict, row.group)) continue;
    if (row.source == CheckSource::kDrill && row.state == CheckState::kPending) continue;
    if (listed == 8) {
      names += ", ...";
      break;
    }
    names += listed++ == 0 ? "" : ", ";
    names += row.DisplayName() + " on " + row.target;
  }
  return fmt::format("NO-GO ({} of {} checks not passed: {}{})",
                     verdict.counts.total - verdict.counts.pass, verdict.counts.total, names, tail);
}

std::string RenderText(const Checklist& checklist, const TextOptions& options) {
  auto paint = [&](std::string_view text, CheckState state) {
    if (!options.color) return std::string(text);
    const char* code = state == CheckState::kPass ? "\033[32m" : "\033[31m";
    if (state == CheckState::kStale || state == CheckState::kPending) code = "\033[33m";
    return std::string(code) + std::string(text) + "\033[0m";
  };
  auto paint_group = [&](const GroupVerdict& group) {
    CheckState colour = group.state == GroupState::kPass   ? CheckState::kPass
                        : group.state == GroupState::kFail ? CheckState::kFail
                                                           : CheckState::kPending;
    return paint(GroupStateText(group), colour);
  };
  ChecklistVerdict verdict = Assess(checklist);
  std::string out;
  for (const auto& group : verdict.groups) {
    auto group_rows = RowsOf(checklist.rows, group.info->group);
    out += fmt::format("\n== {} == {}\n", group.info->title, paint_group(group));
    if (group_rows.empty()) continue;
    size_t widths[3] = {5, 6, 8};  // check, target, observed
    for (const auto* row : group_rows) {
      widths[0] = std::max(widths[0], row->DisplayName().size());
      widths[1] = std::max(widths[1], row->target.size());
      widths[2] = std::max(widths[2], row->observed.size());
    }
    out +=
        fmt::format("  {}  {}  {}  {}  TARGET VALUE\n", Pad("RESULT", 7), Pad("CHECK", widths[0]),
                    Pad("TARGET", widths[1]), Pad("OBSERVED", widths[2]));
    for (const auto* row : group_rows) {
      out += fmt::format("  {}  {}  {}  {}  {}\n", paint(Pad(Upper(row->state), 7), row->state),
                         Pad(row->DisplayName(), widths[0]), Pad(row->target, widths[1]),
                         Pad(row->observed, widths[2]), row->expected);
      if (row->is_run() && row->state == CheckState::kFail) {
        out += fmt::format("           {} on {} failed ({}): {}\n", row->kind, row->run_target,
                           row->reason, row->message);
      }
    }
  }
  out += "\n" + paint(VerdictLine(checklist), verdict.go ? CheckState::kPass : CheckState::kFail) +
         "\n";
  return out;
}

std::string RenderMarkdown(const Checklist& checklist, SystemClock::time_point generated_at) {
  ChecklistVerdict verdict = Assess(checklist);
  std::string out =
      MarkdownHeader(verdict, "dbcanary validate", verdict.go ? "GO" : "NO-GO", generated_at);
  out += "| Group | Checks | Pass | Fail | Verdict |\n|---|---|---|---|---|\n";
  for (const auto& group : verdict.groups) {
    const GroupInfo& info = *group.info;
    out +=
        fmt::format("| [{}]({}.md) | {} | {} | {} | {} |\n", info.title, info.slug,
                    group.counts.total, group.counts.pass, group.counts.total - group.counts.pass,
                    EscapeMarkdownCell(GroupStateText(group)));
  }
  out += "\n";
  for (const auto& group : verdict.groups) out += MarkdownGroupSection(checklist.rows, group);
  out += VerdictLine(checklist) + "\n";
  return out;
}

std::string RenderGroupMarkdown(const Checklist& checklist, CheckGroup group,
                                SystemClock::time_point generated_at) {
  ChecklistVerdict verdict = Assess(checklist);
  const GroupVerdict& entry = VerdictOf(verdict, group);
  ChecklistVerdict one;
  one.counts = entry.counts;
  std::string out =
      MarkdownHeader(one, entry.info->title, GroupStateName(entry.state), generated_at);
  return out + MarkdownGroupSection(checklist.rows, entry);
}

namespace {

nlohmann::json GroupVerdictJson(const std::vector<CheckRow>& rows, const GroupVerdict& group,
                                SystemClock::time_point now) {
  const GroupInfo& info = *group.info;
  auto group_rows = RowsOf(rows, info.group);
  nlohmann::json checks = nlohmann::json::array();
  for (const auto* row : group_rows) checks.push_back(RowJson(*row, now));
  nlohmann::json out = {{"id", info.slug},
                        {"title", info.title},
                        {"configured", !group_rows.empty()},
                        {"verdict", GroupStateName(group.state)},
                        {"counts", CountsJson(group.counts)},
                        {"checks", std::move(checks)}};
  if (!group.reason.empty()) out["reason"] = group.reason;
  return out;
}

nlohmann::json GroupListJson(const ChecklistVerdict& verdict, GroupState state) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& group : verdict.groups) {
    if (group.state == state) out.push_back({{"id", group.info->slug}, {"reason", group.reason}});
  }
  return out;
}

}  // namespace

nlohmann::json GroupJson(const Checklist& checklist, CheckGroup group,
                         SystemClock::time_point now) {
  return GroupVerdictJson(checklist.rows, VerdictOf(Assess(checklist), group), now);
}

nlohmann::json ChecklistJson(const Checklist& checklist, SystemClock::time_point now) {
  ChecklistVerdict verdict = Assess(checklist);
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& group : verdict.groups) {
    groups.push_back(GroupVerdictJson(checklist.rows, group, now));
  }
  return {{"verdict", verdict.go ? "GO" : "NO-GO"},
          {"summary", VerdictLine(checklist)},
          {"generated_at", FormatUtcTime(now)},
          {"counts", CountsJson(verdict.counts)},
          {"not_verified", GroupListJson(verdict, GroupState::kNotVerified)},
          {"skipped", GroupListJson(verdict, GroupState::kSkipped)},
          {"groups", std::move(groups)}};
}

namespace {

// One <testcase>: passed, failed, or skipped with the group's reason.
std::string JunitCase(const GroupVerdict& group, const CheckRow& row) {
  const GroupInfo& info = *group.info;
  std::string name = row.DisplayName() + " on " + row.target;
  std::string out =
      fmt::format("    <testcase classname=\"dbcanary.{}.{}\" name=\"{}\" time=\"{:.3f}\"",
                  info.slug, EscapeXml(row.kind), EscapeXml(name),
                  std::isfinite(row.duration_seconds) ? row.duration_seconds : 0.0);
  const bool never_drilled = row.source == CheckSource::kDrill && row.state == CheckState::kPending;
  if (group.state == GroupState::kSkipped || never_drilled) {
    std::string why = group.state == GroupState::kSkipped ? "group skipped: " + group.reason
                                                          : std::string("drill never ran");
    return out +
           fmt::format(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", EscapeXml(why));
  }
  if (row.state == CheckState::kPass) return out + "/>\n";
  std::string message =
      fmt::format("{}: observed {}, target {}", StateName(row.state), row.observed, row.expected);
  std::string body = message;
  if (!row.message.empty()) body += "\n" + row.message;
  return out +
         fmt::format(">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                     EscapeXml(message), StateName(row.state), EscapeXml(body));
}

}  // namespace

std::string RenderJunit(const Checklist& checklist, SystemClock::time_point generated_at) {
  ChecklistVerdict verdict = Assess(checklist);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"dbcanary validate\" tests=\"{}\" failures=\"{}\">\n",
                     verdict.counts.total, verdict.counts.total - verdict.counts.pass);
  for (const auto& group : verdict.groups) {
    const GroupInfo& info = *group.info;
    auto group_rows = RowsOf(checklist.rows, info.group);
    std::string cases;
    size_t tests = 0;
    size_t skipped = 0;
    for (const auto* row : group_rows) {
      cases += JunitCase(group, *row);
      ++tests;
      const bool never_drilled =
          row->source == CheckSource::kDrill && row->state == CheckState::kPending;
      skipped += group.state == GroupState::kSkipped || never_drilled ? 1 : 0;
    }
    if (group.state == GroupState::kNotVerified && group_rows.empty()) {
      // Nothing to run: one skipped case, so a CI report shows the group as unverified.
      cases += fmt::format(
          "    <testcase classname=\"dbcanary.{}\" name=\"{} not verified\" time=\"0\">\n"
          "      <skipped message=\"{}\"/>\n    </testcase>\n",
          info.slug, EscapeXml(info.title), EscapeXml(GroupStateText(group)));
      ++tests;
      ++skipped;
    }
    const size_t failures =
        group.state == GroupState::kSkipped ? 0 : group.counts.total - group.counts.pass;
    out += fmt::format(
        "  <testsuite name=\"{}\" id=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
        "skipped=\"{}\" timestamp=\"{}\">\n",
        EscapeXml(info.title), info.slug, tests, failures, skipped, FormatUtcTime(generated_at));
    out += cases + "  </testsuite>\n";
  }
  return out + "</testsuites>\n";
}

Status WriteTextFile(const std::string& path, const std::string& text) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) return MakeError(ErrorCode::kInternal, "cannot write " + temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error)
    return MakeError(ErrorCode::kInternal, "cannot write " + path + ": " + error.message());
  return Ok{};
}

Status WriteEvidence(const std::string& dir, const Checklist& checklist,
                     SystemClock::time_point generated_at) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return MakeError(ErrorCode::kInternal,
                     "cannot create report directory " + dir + ": " + error.message());
  }
  auto write = [&](const std::string& name, const std::string& text) {
    return WriteTextFile((std::filesystem::path(dir) / name).string(), text);
  };
  if (auto status = write("summary.md", RenderMarkdown(checklist, generated_at)); !status) {
    return status;
  }
  if (auto status = write("summary.json", ChecklistJson(checklist, generated_at).dump(2) + "\n");
      !status) {
    return status;
  }
  if (auto status = write("summary.html", RenderChecklistHtml(checklist, generated_at)); !status) {
    return status;
  }
  for (const auto& group : Assess(checklist).groups) {
    std::string slug(group.info->slug);
    if (auto status =
            write(slug + ".md", RenderGroupMarkdown(checklist, group.info->group, generated_at));
        !status) {
      return status;
    }
    if (auto status = write(slug + ".json",
                            GroupJson(checklist, group.info->group, generated_at).dump(2) + "\n");
        !status) {
      return status;
    }
  }
  return Ok{};
}

}  // namespace dbcanary
