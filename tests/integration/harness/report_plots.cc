#include "tests/integration/harness/report_plots.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/svg_plot.h"
#include "drills/runtime/report.h"

namespace dbcanary::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string ArtifactsDir() {
  return (std::filesystem::path(DBCANARY_BINARY).parent_path() / "artifacts").string();
}

std::string ExpectHtmlPlotsMatchJson(const std::string& drill, const DrillResult& result,
                                     const std::string& artifact) {
  std::string pattern = (std::filesystem::temp_directory_path() / "dbcanary-plots-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return {};
  }
  DrillRecord record;
  record.drill = drill;
  record.finished_at = std::chrono::system_clock::now();
  record.started_at = record.finished_at;
  record.outcome = result.Passed() ? DrillOutcome::kPass : DrillOutcome::kFail;
  record.result = result;
  if (auto written = WriteReport(record, pattern, 5); !written) {
    ADD_FAILURE() << written.error().message;
    return {};
  }
  const std::string html = Slurp(record.report_html);
  const auto json = nlohmann::json::parse(Slurp(record.report_json));
  size_t plotted = 0;
  for (const auto& series : json.at("series")) {
    std::string label = series.at("name").get<std::string>();
    for (const auto& [key, value] : series.at("labels").items()) {
      label += " " + key + "=" + value.get<std::string>();
    }
    const size_t points = series.at("points").size();
    if (series.at("name") == "event") {
      const std::string event = series.at("labels").at("event").get<std::string>();
      if (event != "downtime_start" && event != "downtime_end") {
        EXPECT_NE(html.find(event + " at "), std::string::npos) << "no marker for " << event;
      }
      continue;
    }
    EXPECT_EQ(CountPlotPoints(html, label), points) << label;
    plotted += points;
  }
  EXPECT_GT(plotted, 0u) << "no series recorded";
  std::error_code error;
  const std::filesystem::path dir = ArtifactsDir();
  std::filesystem::create_directories(dir, error);
  std::filesystem::copy_file(record.report_html, dir / (artifact + ".html"),
                             std::filesystem::copy_options::overwrite_existing, error);
  return record.report_html;
}

}  // namespace dbcanary::testing
