// The drill report's HTML page: series survive the JSON report, every recorded point is one
// dot of its plot, events become markers and the downtime window, nothing external.

#include "drills/runtime/report_html.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/svg_plot.h"
#include "drills/runtime/report.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

DrillRecord RecordWithSeries() {
  DrillRecord record;
  record.drill = "failover";
  record.finished_at = *ParseUtc("2026-12-03T10:00:05.000Z");
  record.started_at = *ParseUtc("2026-12-03T10:00:00.000Z");
  record.duration_seconds = 5;
  record.outcome = DrillOutcome::kFail;
  const std::string x = "s since the drill's start";
  record.result.series.push_back(
      DrillSeries{"writes", {{"outcome", "acknowledged"}}, x, "s", {{0.1, 0.01}, {0.2, 0.02}}});
  record.result.series.push_back(
      DrillSeries{"writes", {{"outcome", "failed"}}, x, "s", {{1.5, 2.5}}});
  record.result.series.push_back(DrillSeries{"event", {{"event", "trigger"}}, x, "", {{1, 0}}});
  record.result.series.push_back(DrillSeries{"event", {{"event", "new_primary"}}, x, "", {{3, 0}}});
  record.result.series.push_back(
      DrillSeries{"event", {{"event", "downtime_start"}}, x, "", {{0.2, 0}}});
  record.result.series.push_back(
      DrillSeries{"event", {{"event", "downtime_end"}}, x, "", {{4, 0}}});
  record.result.series.push_back(
      DrillSeries{"rate", {{"path", "direct"}}, "s", "tps", {{1, 100}, {2, 110}, {3, 90}}});
  record.result.expectations.push_back(ExpectNumber("max_downtime_seconds", "pg", 3.8, "<=", 1));
  record.result.AddEvidence("output", "<script>alert(1)</script>");
  return record;
}

TEST(ReportHtml, SeriesRoundTripThroughJson) {
  auto parsed = RecordFromJson(RecordToJson(RecordWithSeries()));
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->result.series.size(), 7u);
  EXPECT_EQ(parsed->result.series[0].name, "writes");
  EXPECT_EQ(parsed->result.series[0].labels, (Labels{{"outcome", "acknowledged"}}));
  EXPECT_EQ(parsed->result.series[0].x_unit, "s since the drill's start");
  ASSERT_EQ(parsed->result.series[0].points.size(), 2u);
  EXPECT_DOUBLE_EQ(parsed->result.series[0].points[1].first, 0.2);
  EXPECT_DOUBLE_EQ(parsed->result.series[0].points[1].second, 0.02);
}

TEST(ReportHtml, OneDotPerRecordedPointAndTheMomentsMarked) {
  const DrillRecord record = RecordWithSeries();
  const std::string html = RecordToHtml(record);
  for (const auto& series : record.result.series) {
    if (series.name == "event") continue;
    EXPECT_EQ(CountPlotPoints(html, SeriesLabel(series)), series.points.size())
        << SeriesLabel(series);
  }
  EXPECT_THAT(html, HasSubstr("trigger at 1"));
  EXPECT_THAT(html, HasSubstr("new_primary at 3"));
  EXPECT_THAT(html, HasSubstr("downtime window: 0.2 to 4"));
  EXPECT_THAT(html, HasSubstr("#d62728"));  // failed writes in red
  EXPECT_THAT(html, HasSubstr("max_downtime_seconds"));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;"));  // evidence escaped
  // Self-contained: no script, no external stylesheet, image or frame.
  for (const char* external : {"<script", "<link", "src=", "<iframe", "@import"}) {
    EXPECT_THAT(html, Not(HasSubstr(external))) << external;
  }
}

TEST(ReportHtml, WrittenBesideJsonAndServedAsHtml) {
  testing::TempDir dir;
  DrillRecord record = RecordWithSeries();
  ASSERT_TRUE(WriteReport(record, dir.path(), 5));
  ASSERT_FALSE(record.report_html.empty());
  EXPECT_TRUE(std::filesystem::exists(record.report_html));
  const std::string name = std::filesystem::path(record.report_html).filename().string();
  auto served = ReportFileResponse(dir.path(), "failover/" + name);
  EXPECT_EQ(served.status, 200);
  EXPECT_EQ(served.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(served.body, HasSubstr("<svg"));
  // Read back after a restart: the record knows its page.
  auto restored = LoadNewestRecord(dir.path(), "failover");
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->report_html, record.report_html);
}

}  // namespace
}  // namespace dbcanary
