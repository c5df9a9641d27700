#include "drills/runtime/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/html.h"
#include "core/number_format.h"
#include "drills/runtime/report_html.h"

namespace dbcanary {
namespace {

// A heading or list item of one line: line breaks would start new Markdown blocks.
std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

// A table cell: one line, and a '|' in the text does not end the cell.
std::string TableCell(std::string_view text) {
  std::string out;
  for (char c : OneLine(text)) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// A code fence longer than any backtick run in `text`, so that evidence cannot close it and
// inject Markdown (CommonMark: a fence closes only with at least as many backticks).
std::string FenceFor(std::string_view text) {
  size_t longest = 0;
  size_t run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

namespace fs = std::filesystem;
using nlohmann::json;

json Number(double value) {
  if (std::isnan(value) || std::isinf(value)) return nullptr;  // JSON has neither
  return value;
}

double ReadNumber(const json& value) {
  return value.is_number() ? value.get<double>() : std::nan("");
}

std::string ReadString(const json& object, const char* key) {
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::optional<ErrorCode> ParseErrorCode(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    auto code = static_cast<ErrorCode>(i);
    if (ErrorCodeName(code) == name) return code;
  }
  return std::nullopt;
}

// "2026-11-26T15:32:50.123Z" -> "20261126T153250.123Z": sortable and free of ':'.
std::string FileStamp(SystemTime at) {
  std::string iso = FormatUtc(at);
  std::string stamp;
  for (char c : iso) {
    if (c != '-' && c != ':') stamp += c;
  }
  return stamp;
}

bool IsSafeComponent(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 200) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

Status WriteAtomically(const fs::path& path, const std::string& text) {
  fs::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc | std::ios::binary);
    out << text;
    out.flush();
    if (!out) {
      return MakeError(ErrorCode::kInternal, "cannot write " + temporary.string());
    }
  }
  // fsync before rename: after a crash the report is either whole or absent.
  int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) {
    fs::remove(temporary, error);
    return MakeError(ErrorCode::kInternal, "cannot rename report into " + path.string());
  }
  return Ok{};
}

// Splits "<stamp>-<result>.<format>" into its parts; false for anything else.
bool ParseReportName(const std::string& file, ReportFile& out) {
  auto dot = file.rfind('.');
  if (dot == std::string::npos) return false;
  std::string format = file.substr(dot + 1);
  if (format != "json" && format != "md" && format != "html") return false;
  std::string stem = file.substr(0, dot);
  auto dash = stem.rfind('-');
  if (dash == std::string::npos || dash == 0) return false;
  std::string result = stem.substr(dash + 1);
  if (!ParseDrillOutcome(result)) return false;
  out.file = file;
  out.stamp = stem.substr(0, dash);
  out.result = result;
  out.format = format;
  return true;
}

std::string Fixed(double value, int decimals = 3) {
  if (std::isnan(value)) return "n/a";
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << value;
  return out.str();
}

std::string LabelsText(const Labels& labels) {
  std::string text;
  for (const auto& [name, value] : labels) {
    text += text.empty() ? "" : ",";
    text += name + "=\"" + value + "\"";
  }
  return text.empty() ? "" : "{" + text + "}";
}

}  // namespace

std::string RecordToJson(const DrillRecord& record) {
  json doc;
  doc["drill"] = record.drill;
  doc["result"] = std::string(DrillOutcomeName(record.outcome));
  doc["started_at"] = FormatUtc(record.started_at);
  doc["finished_at"] = FormatUtc(record.finished_at);
  doc["duration_seconds"] = Number(record.duration_seconds);
  doc["last_success_at"] =
      record.last_success_at ? json(FormatUtc(*record.last_success_at)) : json(nullptr);
  if (record.result.error) {
    doc["error"] = {{"code", std::string(ErrorCodeName(record.result.error->code))},
                    {"message", record.result.error->message}};
  } else {
    doc["error"] = nullptr;
  }
  doc["phases"] = json::array();
  for (const auto& phase : record.result.phases) {
    doc["phases"].push_back({{"name", phase.name},
                             {"duration_seconds", Number(phase.duration_seconds)},
                             {"ok", phase.ok},
                             {"detail", phase.detail}});
  }
  doc["samples"] = json::array();
  for (const auto& sample : record.result.samples) {
    json labels = json::object();
    for (const auto& [name, value] : sample.labels) labels[name] = value;
    doc["samples"].push_back(
        {{"name", sample.name}, {"labels", labels}, {"value", Number(sample.value)}});
  }
  doc["expectations"] = json::array();
  for (const auto& e : record.result.expectations) {
    doc["expectations"].push_back({{"check", e.check},
                                   {"target", e.target},
                                   {"pass", e.pass},
                                   {"observed", Number(e.observed)},
                                   {"threshold", Number(e.threshold)},
                                   {"observed_text", e.observed_text},
                                   {"expected_text", e.expected_text}});
  }
  doc["evidence"] = json::array();
  for (const auto& evidence : record.result.evidence) {
    doc["evidence"].push_back({{"title", evidence.title}, {"text", evidence.text}});
  }
  doc["series"] = json::array();
  for (const auto& series : record.result.series) {
    json labels = json::object();
    for (const auto& [name, value] : series.labels) labels[name] = value;
    json points = json::array();
    for (const auto& [x, y] : series.points) points.push_back(json::array({Number(x), Number(y)}));
    doc["series"].push_back({{"name", series.name},
                             {"labels", labels},
                             {"x_unit", series.x_unit},
                             {"y_unit", series.y_unit},
                             {"points", points}});
  }
  doc["notes"] = record.notes;
  // Replace invalid UTF-8 (server output) instead of throwing.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<DrillRecord> RecordFromJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return MakeError(ErrorCode::kProtocol, "report is not a JSON object");
  }
  DrillRecord record;
  record.drill = ReadString(doc, "drill");
  auto outcome = ParseDrillOutcome(ReadString(doc, "result"));
  auto started = ParseUtc(ReadString(doc, "started_at"));
  auto finished = ParseUtc(ReadString(doc, "finished_at"));
  if (record.drill.empty() || !outcome || !started || !finished) {
    return MakeError(ErrorCode::kProtocol, "report lacks drill, result, started_at or finished_at");
  }
  record.outcome = *outcome;
  record.started_at = *started;
  record.finished_at = *finished;
  record.duration_seconds =
      doc.contains("duration_seconds") ? ReadNumber(doc["duration_seconds"]) : 0;
  record.last_success_at = ParseUtc(ReadString(doc, "last_success_at"));
  if (auto error = doc.find("error"); error != doc.end() && error->is_object()) {
    auto code = ParseErrorCode(ReadString(*error, "code"));
    record.result.error = Error{code.value_or(ErrorCode::kInternal), ReadString(*error, "message")};
  }
  for (const auto& phase : doc.value("phases", json::array())) {
    if (!phase.is_object()) continue;
    record.result.phases.push_back(
        DrillPhase{ReadString(phase, "name"), ReadNumber(phase.value("duration_seconds", json())),
                   phase.value("ok", false), ReadString(phase, "detail")});
  }
  for (const auto& sample : doc.value("samples", json::array())) {
    if (!sample.is_object()) continue;
    Labels labels;
    const json label_object = sample.value("labels", json::object());  // items() keeps a reference
    for (const auto& [name, value] : label_object.items()) {
      if (value.is_string()) labels.emplace_back(name, value.get<std::string>());
    }
    record.result.samples.push_back(Sample{ReadString(sample, "name"), std::move(labels),
                                           ReadNumber(sample.value("value", json()))});
  }
  for (const auto& e : doc.value("expectations", json::array())) {
    if (!e.is_object()) continue;
    ExpectationResult expectation;
    expectation.check = ReadString(e, "check");
    expectation.target = ReadString(e, "target");
    expectation.pass = e.value("pass", false);
    expectation.observed = ReadNumber(e.value("observed", json()));
    expectation.threshold = ReadNumber(e.value("threshold", json()));
    expectation.observed_text = ReadString(e, "observed_text");
    expectation.expected_text = ReadString(e, "expected_text");
    record.result.expectations.push_back(std::move(expectation));
  }
  for (const auto& evidence : doc.value("evidence", json::array())) {
    if (!evidence.is_object()) continue;
    record.result.evidence.push_back(
        DrillEvidence{ReadString(evidence, "title"), ReadString(evidence, "text")});
  }
  for (const auto& series : doc.value("series", json::array())) {
    if (!series.is_object()) continue;
    DrillSeries read{ReadString(series, "name"),
                     {},
                     ReadString(series, "x_unit"),
                     ReadString(series, "y_unit"),
                     {}};
    const json label_object = series.value("labels", json::object());
    for (const auto& [name, value] : label_object.items()) {
      if (value.is_string()) read.labels.emplace_back(name, value.get<std::string>());
    }
    for (const auto& point : series.value("points", json::array())) {
      if (point.is_array() && point.size() == 2) {
        read.points.emplace_back(ReadNumber(point[0]), ReadNumber(point[1]));
      }
    }
    record.result.series.push_back(std::move(read));
  }
  for (const auto& note : doc.value("notes", json::array())) {
    if (note.is_string()) record.notes.push_back(note.get<std::string>());
  }
  return record;
}

std::string RecordToMarkdown(const DrillRecord& record) {
  std::string md;
  md += "# Drill " + record.drill + ": " + std::string(DrillOutcomeName(record.outcome)) + "\n\n";
  md += "- Started: " + FormatUtc(record.started_at) + "\n";
  md += "- Finished: " + FormatUtc(record.finished_at) + "\n";
  md += "- Duration: " + Fixed(record.duration_seconds) + " s\n";
  md += "- Result: **" + std::string(DrillOutcomeName(record.outcome)) + "**\n";
  if (record.last_success_at) md += "- Last success: " + FormatUtc(*record.last_success_at) + "\n";
  if (record.result.error) {
    md += "- Error (" + std::string(ErrorCodeName(record.result.error->code)) +
          "): " + record.result.error->message + "\n";
  }
  md += "\n## Phases\n\n| # | phase | seconds | ok | detail |\n|---|---|---|---|---|\n";
  int index = 1;
  for (const auto& phase : record.result.phases) {
    md += "| " + std::to_string(index++) + " | " + phase.name + " | " +
          Fixed(phase.duration_seconds) + " | " + (phase.ok ? "yes" : "no") + " | " +
          TableCell(phase.detail) + " |\n";
  }
  if (!record.result.expectations.empty()) {
    md +=
        "\n## Targets\n\n| check | target | observed | expected | pass |\n|---|---|---|---|---|\n";
    for (const auto& e : record.result.expectations) {
      std::string observed = e.observed_text.empty() ? FormatValue(e.observed) : e.observed_text;
      std::string expected = e.expected_text.empty() ? FormatValue(e.threshold) : e.expected_text;
      md += "| " + e.check + " | " + e.target + " | " + observed + " | " + expected + " | ";
      md += e.pass ? "pass |\n" : "**FAIL** |\n";
    }
  }
  if (!record.result.samples.empty()) {
    md += "\n## Figures\n\n| metric | value |\n|---|---|\n";
    for (const auto& sample : record.result.samples) {
      md += "| `" + sample.name + LabelsText(sample.labels) + "` | " + FormatValue(sample.value) +
            " |\n";
    }
  }
  if (!record.notes.empty()) {
    md += "\n## Notes\n\n";
    for (const auto& note : record.notes) md += "- " + OneLine(note) + "\n";
  }
  for (const auto& evidence : record.result.evidence) {
    const std::string fence = FenceFor(evidence.text);
    md += "\n## " + OneLine(evidence.title) + "\n\n" + fence + "\n" + evidence.text;
    if (!evidence.text.empty() && evidence.text.back() != '\n') md += "\n";
    md += fence + "\n";
  }
  return md;
}

Status WriteReport(DrillRecord& record, const std::string& reports_dir, int keep) {
  if (!IsSafeComponent(record.drill)) {
    return MakeError(ErrorCode::kInternal, "drill name unfit for a directory: " + record.drill);
  }
  fs::path dir = fs::path(reports_dir) / record.drill;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error)
    return MakeError(ErrorCode::kInternal,
                     "cannot create " + dir.string() + ": " + error.message());
  std::string stem =
      FileStamp(record.finished_at) + "-" + std::string(DrillOutcomeName(record.outcome));
  record.report_json = (dir / (stem + ".json")).string();
  record.report_markdown = (dir / (stem + ".md")).string();
  record.report_html = (dir / (stem + ".html")).string();
  if (auto written = WriteAtomically(record.report_json, RecordToJson(record)); !written) {
    return written;
  }
  if (auto written = WriteAtomically(record.report_markdown, RecordToMarkdown(record)); !written) {
    return written;
  }
  if (auto written = WriteAtomically(record.report_html, RecordToHtml(record)); !written) {
    return written;
  }
  // Retention: keep the newest `keep` runs (a run is its pair of files, by stamp).
  std::map<std::string, std::vector<fs::path>, std::greater<>> runs;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    ReportFile parsed;
    if (entry.is_regular_file() && ParseReportName(entry.path().filename().string(), parsed)) {
      runs[parsed.stamp + "-" + parsed.result].push_back(entry.path());
    }
  }
  int kept = 0;
  for (const auto& [stamp, files] : runs) {
    if (++kept <= keep) continue;
    for (const auto& file : files) fs::remove(file, error);
  }
  return Ok{};
}

std::vector<ReportFile> ListReports(const std::string& reports_dir) {
  std::vector<ReportFile> reports;
  std::error_code error;
  for (const auto& drill_dir : fs::directory_iterator(reports_dir, error)) {
    if (!drill_dir.is_directory() || drill_dir.is_symlink()) continue;
    std::string drill = drill_dir.path().filename().string();
    if (!IsSafeComponent(drill)) continue;
    std::error_code inner;
    for (const auto& entry : fs::directory_iterator(drill_dir.path(), inner)) {
      ReportFile report;
      if (entry.is_symlink() || !entry.is_regular_file()) continue;
      if (!ParseReportName(entry.path().filename().string(), report)) continue;
      report.drill = drill;
      report.size = entry.file_size(inner);
      reports.push_back(std::move(report));
    }
  }
  std::sort(reports.begin(), reports.end(), [](const ReportFile& a, const ReportFile& b) {
    if (a.stamp != b.stamp) return a.stamp > b.stamp;
    if (a.drill != b.drill) return a.drill < b.drill;
    return a.format < b.format;
  });
  return reports;
}

namespace {

// The JSON report names of `drill`, newest first.
std::vector<std::string> JsonReportNames(const std::string& reports_dir, const std::string& drill) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(reports_dir) / drill, error)) {
    ReportFile report;
    if (entry.is_regular_file() && ParseReportName(entry.path().filename().string(), report) &&
        report.format == "json") {
      names.push_back(report.file);
    }
  }
  std::sort(names.begin(), names.end(), std::greater<>());
  return names;
}

std::optional<DrillRecord> ReadRecord(const std::string& reports_dir, const std::string& drill,
                                      const std::string& name) {
  std::ifstream in(fs::path(reports_dir) / drill / name, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto record = RecordFromJson(text.str());
  if (!record || record->drill != drill) return std::nullopt;
  const fs::path json_path = fs::path(reports_dir) / drill / name;
  record->report_json = json_path.string();
  std::error_code error;
  for (auto [extension, field] : {std::pair{".md", &DrillRecord::report_markdown},
                                  std::pair{".html", &DrillRecord::report_html}}) {
    fs::path sibling = json_path;
    sibling.replace_extension(extension);
    if (fs::is_regular_file(sibling, error)) (*record).*field = sibling.string();
  }
  return std::move(record).value();
}

}  // namespace

std::optional<DrillRecord> LoadNewestRecord(const std::string& reports_dir,
                                            const std::string& drill) {
  if (!IsSafeComponent(drill)) return std::nullopt;
  for (const auto& name : JsonReportNames(reports_dir, drill)) {
    // an unreadable newest report falls back to the one before
    if (auto record = ReadRecord(reports_dir, drill, name)) return record;
  }
  return std::nullopt;
}

std::vector<DrillRecord> LoadRecentRecords(const std::string& reports_dir, const std::string& drill,
                                           size_t max_files) {
  std::vector<DrillRecord> records;
  if (!IsSafeComponent(drill)) return records;
  auto names = JsonReportNames(reports_dir, drill);
  if (names.size() > max_files) names.resize(max_files);
  for (const auto& name : names) {
    if (auto record = ReadRecord(reports_dir, drill, name)) records.push_back(std::move(*record));
  }
  return records;
}

ReportResponse ReportsIndex(const std::string& reports_dir, bool as_json) {
  auto reports = ListReports(reports_dir);
  if (as_json) {
    json list = json::array();
    for (const auto& report : reports) {
      list.push_back({{"drill", report.drill},
                      {"file", report.file},
                      {"stamp", report.stamp},
                      {"result", report.result},
                      {"format", report.format},
                      {"size_bytes", report.size},
                      {"path", "/reports/" + report.drill + "/" + report.file}});
    }
    return {200, "application/json", list.dump(2) + "\n"};
  }
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dbcanary drill "
      "reports</title></head><body>\n<h1>Drill reports</h1>\n<p><a "
      "href=\"reports?format=json\">JSON</a></p>\n";
  if (reports.empty()) {
    html += "<p>No reports yet.</p>\n";
  } else {
    html +=
        "<table>\n<tr><th>finished (UTC)</th><th>drill</th><th>result</th><th>report</th></tr>\n";
    for (const auto& report : reports) {
      // Relative (the page is /reports), so it works behind a path-prefix proxy.
      std::string href = "reports/" + report.drill + "/" + report.file;
      html += "<tr><td>" + EscapeHtml(report.stamp) + "</td><td>" + EscapeHtml(report.drill) +
              "</td><td>" + EscapeHtml(report.result) + "</td><td><a href=\"" + EscapeHtml(href) +
              "\">" + EscapeHtml(report.format) + "</a></td></tr>\n";
    }
    html += "</table>\n";
  }
  html += "</body></html>\n";
  return {200, "text/html; charset=utf-8", std::move(html)};
}

ReportResponse ReportFileResponse(const std::string& reports_dir, std::string_view rest) {
  ReportResponse not_found{404, "text/plain; charset=utf-8", "not found\n"};
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return not_found;
  std::string drill(rest.substr(0, slash));
  std::string file(rest.substr(slash + 1));
  ReportFile parsed;
  if (!IsSafeComponent(drill) || !IsSafeComponent(file) || !ParseReportName(file, parsed)) {
    return not_found;
  }
  std::error_code error;
  fs::path root = fs::canonical(reports_dir, error);
  if (error) return not_found;
  fs::path resolved = fs::canonical(fs::path(reports_dir) / drill / file, error);
  if (error || resolved.parent_path() != root / drill || !fs::is_regular_file(resolved, error)) {
    return not_found;  // a symlink leading out of the drill's directory, or not a file
  }
  std::ifstream in(resolved, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  if (!in && !in.eof()) return not_found;
  const char* type = parsed.format == "json"   ? "application/json"
                     : parsed.format == "html" ? "text/html; charset=utf-8"
                                               : "text/markdown; charset=utf-8";
  return {200, type, body.str()};
}

}  // namespace dbcanary
