#pragma once

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "exporter/validate/checklist.h"

namespace dbcanary {

// Renderings of a checklist. Every writer lists all groups of AllGroups() in order
// (kOther only when used), each with its verdict: PASS, FAIL, NOT VERIFIED (with why) or
// SKIPPED (with the configured reason).

struct TextOptions {
  bool color = false;  // ANSI colours for PASS/FAIL and the verdict (a terminal)
};
// The terminal checklist of `dbcanary validate`, ending with the GO / NO-GO line.
std::string RenderText(const Checklist& checklist, const TextOptions& options = {});
// "GO (57 checks passed; skipped: operator (no Kubernetes API here))" or
// "NO-GO (2 of 57 checks not passed: a on x, b on y; not verified: performance (nothing
// configured))": every unverified and skipped group is named.
std::string VerdictLine(const Checklist& checklist);

// Markdown evidence: every group, or only `group`.
std::string RenderMarkdown(const Checklist& checklist,
                           std::chrono::system_clock::time_point generated_at);
std::string RenderGroupMarkdown(const Checklist& checklist, CheckGroup group,
                                std::chrono::system_clock::time_point generated_at);

// JSON: {"verdict","summary","generated_at","counts","not_verified","skipped","groups":[{"id",
// "title","configured","verdict","reason","counts","checks":[...]}]}. Checks carry their human
// "observed"/"expected" and the raw "observed_value"/"expected_value" with their "unit".
// `now` also yields each check's "age_seconds".
nlohmann::json ChecklistJson(const Checklist& checklist, std::chrono::system_clock::time_point now);
nlohmann::json GroupJson(const Checklist& checklist, CheckGroup group,
                         std::chrono::system_clock::time_point now);

// JUnit XML: one testsuite per group, one testcase per check; fail/stale/pending
// checks carry a <failure>; checks of a skipped group, drills that never ran and an unverified
// group without checks are <skipped> test cases.
std::string RenderJunit(const Checklist& checklist,
                        std::chrono::system_clock::time_point generated_at);

// Writes summary.md, summary.json, summary.html (html_report.h) and <group>.md / <group>.json
// into `dir` (created).
Status WriteEvidence(const std::string& dir, const Checklist& checklist,
                     std::chrono::system_clock::time_point generated_at);
// Writes `text` to `path` (via a temporary file and rename).
Status WriteTextFile(const std::string& path, const std::string& text);

// Helpers shared with the status page.
std::string FormatUtcTime(std::chrono::system_clock::time_point at);  // 2026-11-26T12:00:00Z
std::string FormatAgo(std::chrono::system_clock::duration age);       // "12s ago", "3m ago"
std::string EscapeMarkdownCell(std::string_view text);

}  // namespace dbcanary
