#include "core/text_format.h"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <limits>
#include <locale>

namespace dbcanary {
namespace {

TEST(TextFormatTest, RendersHelpTypeAndSamples) {
  FamilyBuilder builder;
  builder.Describe(
      {"dbcanary_probe_success", "Whether the last run succeeded.", MetricType::kGauge});
  builder.Describe({"dbcanary_probe_runs_total", "Runs so far.", MetricType::kCounter});
  builder.Add({"dbcanary_probe_success", {{"probe", "pg_replication"}, {"target", "pg"}}, 1});
  builder.Add({"dbcanary_probe_runs_total", {{"probe", "pg_replication"}, {"target", "pg"}}, 42});
  builder.Add({"dbcanary_probe_success", {{"probe", "dragonfly_basics"}, {"target", "df"}}, 0});
  std::string out;
  AppendTextFormat(builder.Take(), out);
  EXPECT_EQ(out,
            "# HELP dbcanary_probe_success Whether the last run succeeded.\n"
            "# TYPE dbcanary_probe_success gauge\n"
            "dbcanary_probe_success{probe=\"pg_replication\",target=\"pg\"} 1\n"
            "dbcanary_probe_success{probe=\"dragonfly_basics\",target=\"df\"} 0\n"
            "# HELP dbcanary_probe_runs_total Runs so far.\n"
            "# TYPE dbcanary_probe_runs_total counter\n"
            "dbcanary_probe_runs_total{probe=\"pg_replication\",target=\"pg\"} 42\n");
}

TEST(TextFormatTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeHelp("line1\nline2 \\ \"quoted\""), "line1\\nline2 \\\\ \"quoted\"");
  FamilyBuilder builder;
  builder.Describe({"m", "h", MetricType::kGauge});
  builder.Add({"m", {{"l", "x\"y"}}, 1});
  std::string out;
  AppendTextFormat(builder.Take(), out);
  EXPECT_NE(out.find("m{l=\"x\\\"y\"} 1\n"), std::string::npos);
}

TEST(TextFormatTest, FormatsSpecialAndFractionalValues) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(1000000), "1000000");
  EXPECT_EQ(FormatValue(1048576), "1048576");
  EXPECT_EQ(FormatValue(-0.0), "0");
  EXPECT_EQ(FormatValue(1782345678.5), "1782345678.5");
  EXPECT_EQ(std::stod(FormatValue(0.1)), 0.1);
}

TEST(TextFormatTest, NumbersIgnoreTheProcessLocale) {
  // A German locale writes 0,5; the exposition format must not.
  const char* previous = std::setlocale(LC_ALL, nullptr);
  std::string saved = previous ? previous : "C";
  if (std::setlocale(LC_ALL, "de_DE.UTF-8") == nullptr) {
    GTEST_SKIP() << "de_DE.UTF-8 locale not installed";
  }
  std::string value = FormatValue(0.5);
  std::setlocale(LC_ALL, saved.c_str());
  EXPECT_EQ(value, "0.5");
}

TEST(TextFormatTest, SkipsEmptyFamiliesAndDuplicateLabelSets) {
  FamilyBuilder builder;
  builder.Describe({"empty", "nothing", MetricType::kGauge});
  builder.Describe({"m", "h", MetricType::kGauge});
  builder.Describe({"m", "described twice", MetricType::kCounter});
  builder.Add({"m", {{"a", "1"}}, 1});
  builder.Add({"m", {{"a", "1"}}, 2});
  builder.Add({"undescribed", {}, 3});
  std::string out;
  AppendTextFormat(builder.Take(), out);
  EXPECT_EQ(out, "# HELP m h\n# TYPE m gauge\nm{a=\"1\"} 1\n");
}

}  // namespace
}  // namespace dbcanary
