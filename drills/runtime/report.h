#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "drills/runtime/record.h"

// Evidence reports: one JSON, one Markdown and one HTML file per run in
// <reports_dir>/<drill>/<UTC timestamp>-<result>.{json,md,html}, and the read side the HTTP
// server and the state store use.

namespace dbcanary {

std::string RecordToJson(const DrillRecord& record);
Result<DrillRecord> RecordFromJson(std::string_view text);
std::string RecordToMarkdown(const DrillRecord& record);

// Writes both files atomically (temporary file + rename), sets record.report_json and
// report_markdown, then deletes the oldest runs of that drill beyond `keep` (pairs of files).
Status WriteReport(DrillRecord& record, const std::string& reports_dir, int keep);

// One report file on disk.
struct ReportFile {
  std::string drill;
  std::string file;    // base name, e.g. "20261126T153250.123Z-pass.json"
  std::string stamp;   // "20261126T153250.123Z"
  std::string result;  // "pass"
  std::string format;  // "json", "md" or "html"
  uintmax_t size = 0;
};
// Every report under reports_dir, newest first (by stamp, then drill, then format).
std::vector<ReportFile> ListReports(const std::string& reports_dir);
// The newest JSON report of `drill`, parsed; nullopt when there is none or it is unreadable.
std::optional<DrillRecord> LoadNewestRecord(const std::string& reports_dir,
                                            const std::string& drill);
// The newest `max_files` JSON reports of `drill`, parsed, newest first; unreadable ones are
// left out (so fewer may come back). Bounded: what the benchmarks' regression baseline and
// `validate` read back after a restart.
std::vector<DrillRecord> LoadRecentRecords(const std::string& reports_dir, const std::string& drill,
                                           size_t max_files);

// What the HTTP server sends for /reports and /reports/<drill>/<file>.
struct ReportResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};
// GET /reports (HTML, newest first) or /reports?format=json.
ReportResponse ReportsIndex(const std::string& reports_dir, bool json);
// GET /reports/<rest>: only "<drill>/<file>.{json,md,html}" naming a regular file inside
// reports_dir/<drill> (no "..", no absolute path, no symlink leading out); 404 otherwise.
ReportResponse ReportFileResponse(const std::string& reports_dir, std::string_view rest);

}  // namespace dbcanary
