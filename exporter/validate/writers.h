#pragma once

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "exporter/validate/checklist.h"

namespace dbcanary {

// Renderings of a checklist. Every writer lists all groups of AllGroups() in order
// (kOther only when used); a group without rows is "not configured".

struct TextOptions {
  bool color = false;  // ANSI colours for PASS/FAIL and the verdict (a terminal)
};
// The terminal checklist of `dbcanary validate`, ending with the GO / NO-GO line.
std::string RenderText(const std::vector<CheckRow>& rows, const TextOptions& options = {});
// "GO (57 checks passed)" or "NO-GO (2 of 57 checks failed: a on x, b on y)".
std::string VerdictLine(const std::vector<CheckRow>& rows);

// Markdown evidence: every group, or only `group`.
std::string RenderMarkdown(const std::vector<CheckRow>& rows,
                           std::chrono::system_clock::time_point generated_at);
std::string RenderGroupMarkdown(const std::vector<CheckRow>& rows, CheckGroup group,
                                std::chrono::system_clock::time_point generated_at);

// JSON: {"verdict","generated_at","counts",...,"groups":[{"id","title","configured",
// "verdict","counts","checks":[...]}]}. `now` also yields each check's "age_seconds".
nlohmann::json ChecklistJson(const std::vector<CheckRow>& rows,
                             std::chrono::system_clock::time_point now);
nlohmann::json GroupJson(const std::vector<CheckRow>& rows, CheckGroup group,
                         std::chrono::system_clock::time_point now);

// JUnit XML: one testsuite per group, one testcase per check; fail/stale/pending
// checks carry a <failure>.
std::string RenderJunit(const std::vector<CheckRow>& rows,
                        std::chrono::system_clock::time_point generated_at);

// Writes summary.md, summary.json and <group>.md / <group>.json into `dir` (created).
Status WriteEvidence(const std::string& dir, const std::vector<CheckRow>& rows,
                     std::chrono::system_clock::time_point generated_at);
// Writes `text` to `path` (via a temporary file and rename).
Status WriteTextFile(const std::string& path, const std::string& text);

// Helpers shared with the status page.
std::string FormatUtcTime(std::chrono::system_clock::time_point at);  // 2026-11-26T12:00:00Z
std::string FormatAgo(std::chrono::system_clock::duration age);       // "12s ago", "3m ago"
std::string EscapeMarkdownCell(std::string_view text);

}  // namespace dbcanary
