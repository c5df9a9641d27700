// The exposition text of probe and drill results: our collector's families (core/families.h,
// exporter/metrics/render.h) written by prometheus::TextSerializer. Golden output, escaping,
// special values and the locale are checked on the text the library produces from our families.
#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <limits>
#include <locale>

#include "core/families.h"
#include "core/names.h"
#include "core/number_format.h"
#include "exporter/metrics/render.h"

namespace dbcanary {
namespace {

std::string Text(FamilyBuilder& builder) {
  std::string out;
  AppendText(builder.Take(), out);
  return out;
}

TEST(ExpositionTest, GoldenHelpTypeAndSamples) {
  FamilyBuilder builder;
  builder.Describe(
      {"dbcanary_probe_success", "Whether the last run succeeded.", MetricType::kGauge});
  builder.Describe({"dbcanary_probe_runs_total", "Runs so far.", MetricType::kCounter});
  builder.Describe({"dbcanary_fake_untyped", "Untyped.", MetricType::kUntyped});
  builder.Add({"dbcanary_probe_success", {{"probe", "pg_replication"}, {"target", "pg"}}, 1});
  builder.Add({"dbcanary_probe_runs_total", {{"probe", "pg_replication"}, {"target", "pg"}}, 42});
  builder.Add({"dbcanary_probe_success", {{"probe", "dragonfly_basics"}, {"target", "df"}}, 0});
  builder.Add({"dbcanary_fake_untyped", {}, 0.25});
  EXPECT_EQ(Text(builder),
            "# HELP dbcanary_probe_success Whether the last run succeeded.\n"
            "# TYPE dbcanary_probe_success gauge\n"
            "dbcanary_probe_success{probe=\"pg_replication\",target=\"pg\"} 1\n"
            "dbcanary_probe_success{probe=\"dragonfly_basics\",target=\"df\"} 0\n"
            "# HELP dbcanary_probe_runs_total Runs so far.\n"
            "# TYPE dbcanary_probe_runs_total counter\n"
            "dbcanary_probe_runs_total{probe=\"pg_replication\",target=\"pg\"} 42\n"
            "# HELP dbcanary_fake_untyped Untyped.\n"
            "# TYPE dbcanary_fake_untyped untyped\n"
            "dbcanary_fake_untyped 0.25\n");
}

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  FamilyBuilder builder;
  builder.Describe({"m", "line1\nline2 \\ \"quoted\"", MetricType::kGauge});
  builder.Add({"m", {{"l", "a\\b\"c\nd"}}, 1});
  // Exact: a label value escaped any other way (or not at all) fails here.
  EXPECT_EQ(Text(builder),
            "# HELP m line1\\nline2 \\\\ \"quoted\"\n"
            "# TYPE m gauge\n"
            "m{l=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(ExpositionTest, SpecialAndFractionalValues) {
  FamilyBuilder builder;
  builder.Describe({"m", "h", MetricType::kGauge});
  const std::vector<std::pair<double, std::string>> cases = {
      {std::numeric_limits<double>::quiet_NaN(), "Nan"},  // Prometheus parses NaN in any case
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {0, "0"},
      {-3, "-3"},
      {0.25, "0.25"},
      {1e21, "1e+21"},
      {1048576, "1048576"},
      {1782345678.5, "1782345678.5"},
      {1700000000, "1700000000"},
      {0.1, "0.1"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    builder.Add({"m", {{"i", std::to_string(i)}}, cases[i].first});
  }
  std::string out = Text(builder);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_NE(out.find("m{i=\"" + std::to_string(i) + "\"} " + cases[i].second + "\n"),
              std::string::npos)
        << cases[i].second << " in\n"
        << out;
  }
}

TEST(ExpositionTest, NumbersIgnoreTheProcessLocale) {
  // A German locale writes 0,5 and groups thousands; the exposition format must do neither,
  // whether the C locale or the C++ global locale (which new streams take) is German.
  const char* previous = std::setlocale(LC_ALL, nullptr);
  std::string saved = previous ? previous : "C";
  if (std::setlocale(LC_ALL, "de_DE.UTF-8") == nullptr) {
    GTEST_SKIP() << "de_DE.UTF-8 locale not installed";
  }
  std::locale saved_global = std::locale::global(std::locale("de_DE.UTF-8"));
  FamilyBuilder builder;
  builder.Describe({"m", "h", MetricType::kGauge});
  builder.Add({"m", {}, 1234567.5});
  std::string out = Text(builder);
  std::string human = FormatValue(0.5);
  std::locale::global(saved_global);
  std::setlocale(LC_ALL, saved.c_str());
  EXPECT_EQ(out, "# HELP m h\n# TYPE m gauge\nm 1234567.5\n");
  EXPECT_EQ(human, "0.5");
}

TEST(ExpositionTest, SkipsEmptyFamiliesDuplicateLabelSetsAndInvalidNames) {
  FamilyBuilder builder;
  builder.Describe({"empty", "nothing", MetricType::kGauge});
  builder.Describe({"m", "h", MetricType::kGauge});
  builder.Describe({"m", "described twice", MetricType::kCounter});
  EXPECT_FALSE(builder.Describe({"bad-name", "h", MetricType::kGauge}));
  EXPECT_FALSE(builder.Describe({"", "h", MetricType::kGauge}));
  builder.Refuse("owned_elsewhere");
  EXPECT_FALSE(builder.Describe({"owned_elsewhere", "h", MetricType::kGauge}));
  builder.Add({"m", {{"a", "1"}}, 1});
  builder.Add({"m", {{"a", "1"}}, 2});
  builder.Add({"m", {{"__reserved", "1"}}, 3});
  builder.Add({"m", {{"bad-label", "1"}}, 4});
  builder.Add({"undescribed", {}, 3});
  builder.Add({"bad-name", {}, 5});
  builder.Add({"owned_elsewhere", {}, 6});
  EXPECT_EQ(Text(builder), "# HELP m h\n# TYPE m gauge\nm{a=\"1\"} 1\n");
}

TEST(ExpositionTest, NameRules) {
  EXPECT_TRUE(IsValidMetricName("dbcanary_probe_success"));
  EXPECT_TRUE(IsValidMetricName("job:rate5m"));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("a b"));
  EXPECT_TRUE(IsValidLabelName("target"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName(""));
}

TEST(ExpositionTest, FormatValueForPeople) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(1000000), "1000000");
  EXPECT_EQ(FormatValue(-0.0), "0");
  EXPECT_EQ(std::stod(FormatValue(0.1)), 0.1);
}

}  // namespace
}  // namespace dbcanary
