#include "exporter/validate/writers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/html.h"

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

bool ShowGroup(const std::vector<CheckRow>& rows, const GroupInfo& info) {
  return info.group != CheckGroup::kOther || !RowsOf(rows, info.group).empty();
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

std::vector<CheckRow> Collect(const std::vector<const CheckRow*>& pointers) {
  std::vector<CheckRow> out;
  out.reserve(pointers.size());
  for (const auto* row : pointers) out.push_back(*row);
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

std::string MarkdownGroupSection(const std::vector<CheckRow>& rows, const GroupInfo& info) {
  auto group_rows = RowsOf(rows, info.group);
  std::string out = fmt::format("## {}\n\n", info.title);
  if (group_rows.empty()) return out + "_not configured_\n\n";
  Verdict verdict = Summarize(Collect(group_rows));
  out += fmt::format("{} checks: {}.\n\n", verdict.total, Counts(verdict));
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

std::string MarkdownHeader(const std::vector<CheckRow>& rows, std::string_view title,
                           SystemClock::time_point generated_at) {
  Verdict verdict = Summarize(rows);
  return fmt::format("# {}: {}\n\nGenerated {} by dbcanary validate. {} checks: {}.\n\n", title,
                     verdict.go ? "GO" : "NO-GO", FormatUtcTime(generated_at), verdict.total,
                     Counts(verdict));
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

std::string VerdictLine(const std::vector<CheckRow>& rows) {
  Verdict verdict = Summarize(rows);
  if (verdict.total == 0) return "NO-GO (no checks configured)";
  if (verdict.go) return fmt::format("GO ({} checks passed)", verdict.total);
  std::string names;
  size_t listed = 0;
  for (const auto& row : rows) {
    if (row.state == CheckState::kPass) continue;
    if (listed == 8) {
      names += ", ...";
      break;
    }
    names += listed++ == 0 ? "" : ", ";
    names += row.DisplayName() + " on " + row.target;
  }
  return fmt::format("NO-GO ({} of {} checks not passed: {})", verdict.total - verdict.pass,
                     verdict.total, names);
}

std::string RenderText(const std::vector<CheckRow>& rows, const TextOptions& options) {
  auto paint = [&](std::string_view text, CheckState state) {
    if (!options.color) return std::string(text);
    const char* code = state == CheckState::kPass ? "\033[32m" : "\033[31m";
    if (state == CheckState::kStale || state == CheckState::kPending) code = "\033[33m";
    return std::string(code) + std::string(text) + "\033[0m";
  };
  std::string out;
  for (const auto& info : AllGroups()) {
    if (!ShowGroup(rows, info)) continue;
    auto group_rows = RowsOf(rows, info.group);
    out += fmt::format("\n== {} ==\n", info.title);
    if (group_rows.empty()) {
      out += "  not configured\n";
      continue;
    }
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
  Verdict verdict = Summarize(rows);
  out += "\n" + paint(VerdictLine(rows), verdict.go ? CheckState::kPass : CheckState::kFail) + "\n";
  return out;
}

std::string RenderMarkdown(const std::vector<CheckRow>& rows,
                           SystemClock::time_point generated_at) {
  std::string out = MarkdownHeader(rows, "dbcanary validate", generated_at);
  out += "| Group | Checks | Pass | Fail | Verdict |\n|---|---|---|---|---|\n";
  for (const auto& info : AllGroups()) {
    if (!ShowGroup(rows, info)) continue;
    auto group_rows = RowsOf(rows, info.group);
    if (group_rows.empty()) {
      out += fmt::format("| {} | 0 | 0 | 0 | not configured |\n", info.title);
      continue;
    }
    Verdict verdict = Summarize(Collect(group_rows));
    out +=
        fmt::format("| [{}]({}.md) | {} | {} | {} | {} |\n", info.title, info.slug, verdict.total,
                    verdict.pass, verdict.total - verdict.pass, verdict.go ? "GO" : "NO-GO");
  }
  out += "\n";
  for (const auto& info : AllGroups()) {
    if (ShowGroup(rows, info)) out += MarkdownGroupSection(rows, info);
  }
  out += VerdictLine(rows) + "\n";
  return out;
}

std::string RenderGroupMarkdown(const std::vector<CheckRow>& rows, CheckGroup group,
                                SystemClock::time_point generated_at) {
  const GroupInfo& info = GetGroupInfo(group);
  auto group_rows = Collect(RowsOf(rows, group));
  std::string out = MarkdownHeader(group_rows, info.title, generated_at);
  return out + MarkdownGroupSection(group_rows, info);
}

nlohmann::json GroupJson(const std::vector<CheckRow>& rows, CheckGroup group,
                         SystemClock::time_point now) {
  const GroupInfo& info = GetGroupInfo(group);
  auto group_rows = RowsOf(rows, group);
  Verdict verdict = Summarize(Collect(group_rows));
  nlohmann::json checks = nlohmann::json::array();
  for (const auto* row : group_rows) checks.push_back(RowJson(*row, now));
  return {{"id", info.slug},
          {"title", info.title},
          {"configured", !group_rows.empty()},
          {"verdict", group_rows.empty() ? "not configured" : (verdict.go ? "GO" : "NO-GO")},
          {"counts", CountsJson(verdict)},
          {"checks", std::move(checks)}};
}

nlohmann::json ChecklistJson(const std::vector<CheckRow>& rows, SystemClock::time_point now) {
  Verdict verdict = Summarize(rows);
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& info : AllGroups()) {
    if (ShowGroup(rows, info)) groups.push_back(GroupJson(rows, info.group, now));
  }
  return {{"verdict", verdict.go ? "GO" : "NO-GO"},
          {"summary", VerdictLine(rows)},
          {"generated_at", FormatUtcTime(now)},
          {"counts", CountsJson(verdict)},
          {"groups", std::move(groups)}};
}

std::string RenderJunit(const std::vector<CheckRow>& rows, SystemClock::time_point generated_at) {
  Verdict all = Summarize(rows);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"dbcanary validate\" tests=\"{}\" failures=\"{}\">\n",
                     all.total, all.total - all.pass);
  for (const auto& info : AllGroups()) {
    if (!ShowGroup(rows, info)) continue;
    auto group_rows = RowsOf(rows, info.group);
    Verdict verdict = Summarize(Collect(group_rows));
    out += fmt::format(
        "  <testsuite name=\"{}\" id=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
        "skipped=\"0\" timestamp=\"{}\">\n",
        EscapeXml(info.title), info.slug, verdict.total, verdict.total - verdict.pass,
        FormatUtcTime(generated_at));
    for (const auto* row : group_rows) {
      std::string name = row->DisplayName() + " on " + row->target;
      out += fmt::format("    <testcase classname=\"dbcanary.{}.{}\" name=\"{}\" time=\"{:.3f}\"",
                         info.slug, EscapeXml(row->kind), EscapeXml(name),
                         std::isfinite(row->duration_seconds) ? row->duration_seconds : 0.0);
      if (row->state == CheckState::kPass) {
        out += "/>\n";
        continue;
      }
      std::string message = fmt::format("{}: observed {}, target {}", StateName(row->state),
                                        row->observed, row->expected);
      std::string body = message;
      if (!row->message.empty()) body += "\n" + row->message;
      out += fmt::format(
          ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
          EscapeXml(message), StateName(row->state), EscapeXml(body));
    }
    out += "  </testsuite>\n";
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

Status WriteEvidence(const std::string& dir, const std::vector<CheckRow>& rows,
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
  if (auto status = write("summary.md", RenderMarkdown(rows, generated_at)); !status) return status;
  if (auto status = write("summary.json", ChecklistJson(rows, generated_at).dump(2) + "\n");
      !status) {
    return status;
  }
  for (const auto& info : AllGroups()) {
    if (!ShowGroup(rows, info)) continue;
    std::string slug(info.slug);
    if (auto status = write(slug + ".md", RenderGroupMarkdown(rows, info.group, generated_at));
        !status) {
      return status;
    }
    if (auto status =
            write(slug + ".json", GroupJson(rows, info.group, generated_at).dump(2) + "\n");
        !status) {
      return status;
    }
  }
  return Ok{};
}

}  // namespace dbcanary
