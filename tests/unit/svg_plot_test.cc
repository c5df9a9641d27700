// The inline SVG plot writer of the HTML evidence pages: one dot per finite point, labels
// escaped, markers and bands drawn, nothing external.

#include "core/svg_plot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace dbcanary {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(SvgPlot, OneDotPerFinitePointPerSeries) {
  PlotSpec spec;
  spec.title = "tps";
  spec.series.push_back(PlotSeries{"direct", {{1, 10}, {2, 12}, {3, 11}}});
  spec.series.push_back(
      PlotSeries{"pooler", {{1, 5}, {2, std::nan("")}, {3, 6}, {4, 7}}, "#ff7f0e", false});
  const std::string svg = RenderSvgPlot(spec);
  EXPECT_EQ(CountPlotPoints(svg, "direct"), 3u);
  EXPECT_EQ(CountPlotPoints(svg, "pooler"), 3u);  // the NaN is not drawn
  EXPECT_EQ(CountPlotPoints(svg, "other"), 0u);
  EXPECT_THAT(svg, HasSubstr("<polyline"));  // direct is joined
  EXPECT_THAT(svg, HasSubstr("<title>direct: 2, 12</title>"));
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(svg, HasSubstr("</svg>"));
}

TEST(SvgPlot, AxisLabelsHaveFourSignificantDigits) {
  PlotSpec spec;
  spec.series.push_back(PlotSeries{"lag", {{0, 0.1}, {4.2426272835, 3.3333333333}}});
  const std::string svg = RenderSvgPlot(spec);
  EXPECT_THAT(svg, HasSubstr(">4.243</text>"));
  EXPECT_THAT(svg, Not(HasSubstr("4.2426272835")));
  EXPECT_THAT(svg, Not(HasSubstr("3.3333333333")));
}

TEST(SvgPlot, MarkersBandsAndEscapedText) {
  PlotSpec spec;
  spec.title = "a <b> & \"c\"";
  spec.series.push_back(PlotSeries{"x<y", {{0, 1}, {10, 2}}});
  spec.markers.push_back(PlotMarker{"trigger", 4});
  spec.bands.push_back(PlotBand{"downtime window", 4.5, 7});
  const std::string svg = RenderSvgPlot(spec);
  EXPECT_THAT(svg, HasSubstr("a &lt;b&gt; &amp; &quot;c&quot;"));
  EXPECT_THAT(svg, Not(HasSubstr("<b>")));
  EXPECT_EQ(CountPlotPoints(svg, "x<y"), 2u);
  EXPECT_THAT(svg, HasSubstr("class=\"marker\""));
  EXPECT_THAT(svg, HasSubstr("trigger at 4"));
  EXPECT_THAT(svg, HasSubstr("class=\"band\""));
  EXPECT_THAT(svg, HasSubstr("downtime window: 4.5 to 7"));
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
}

TEST(SvgPlot, EmptyAndFlatDataStillRender) {
  PlotSpec spec;
  spec.series.push_back(PlotSeries{"none", {}});
  spec.series.push_back(PlotSeries{"flat", {{5, 3}}});
  const std::string svg = RenderSvgPlot(spec);
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
  EXPECT_THAT(svg, Not(HasSubstr("inf")));
  EXPECT_EQ(CountPlotPoints(svg, "flat"), 1u);
}

TEST(SvgBars, OneBarPerValueWithItsText) {
  const std::string svg =
      RenderSvgBars("backup ages", {{"newest", 3600, "1.0 h"}, {"oldest", 86400, "1.0 d"}});
  size_t bars = 0;
  for (size_t at = svg.find("class=\"bar\""); at != std::string::npos;
       at = svg.find("class=\"bar\"", at + 1)) {
    ++bars;
  }
  EXPECT_EQ(bars, 2u);
  EXPECT_THAT(svg, HasSubstr(">1.0 d</text>"));
  EXPECT_THAT(svg, HasSubstr("backup ages"));
}

}  // namespace
}  // namespace dbcanary
