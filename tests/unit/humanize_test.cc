// Values shown to people on the status page and in the checklist: one table per unit.

#include "core/humanize.h"

#include <gtest/gtest.h>

#include <limits>

namespace dbcanary {
namespace {

struct Case {
  double value;
  Unit unit;
  const char* text;
};

TEST(HumanizeTest, EveryUnitReadsLikeAPersonWouldWriteIt) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const Case cases[] = {
      // Durations and ages.
      {0, Unit::kSeconds, "0 s"},
      {0.000042, Unit::kSeconds, "42 µs"},
      {0.007990638, Unit::kSeconds, "8.0 ms"},
      {0.25, Unit::kSeconds, "250 ms"},
      {1.5, Unit::kSeconds, "1.5 s"},
      {42, Unit::kSeconds, "42 s"},
      {119, Unit::kSeconds, "119 s"},
      {300, Unit::kSeconds, "5.0 min"},
      {5400, Unit::kSeconds, "90 min"},
      {7200, Unit::kSeconds, "2.0 h"},
      {90000, Unit::kSeconds, "25 h"},
      {604800, Unit::kSeconds, "7.0 d"},
      {31535995.66, Unit::kSeconds, "365 d"},
      {-172800, Unit::kSeconds, "-2.0 d"},  // a certificate expired two days ago
      {kNaN, Unit::kSeconds, "unknown"},
      {kInf, Unit::kSeconds, "∞"},
      // Sizes.
      {0, Unit::kBytes, "0 B"},
      {512, Unit::kBytes, "512 B"},
      {1536, Unit::kBytes, "1.5 KiB"},
      {16777216, Unit::kBytes, "16.0 MiB"},
      {2147483648.0, Unit::kBytes, "2.0 GiB"},
      {5.5 * 1099511627776.0, Unit::kBytes, "5.5 TiB"},
      // Rates.
      {850, Unit::kPerSecond, "850 /s"},
      {12.34, Unit::kPerSecond, "12.3 /s"},
      {52143, Unit::kPerSecond, "52.1 k/s"},
      {1234567, Unit::kPerSecond, "1.2 M/s"},
      // Ratios.
      {0.05, Unit::kRatio, "5.0 %"},
      {1, Unit::kRatio, "100.0 %"},
      // Plain numbers.
      {3, Unit::kNone, "3"},
      {-1, Unit::kNone, "-1"},
      {0.123456, Unit::kNone, "0.1235"},
      {kNaN, Unit::kNone, "unknown"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Humanize(c.value, c.unit), c.text) << c.value << " " << UnitName(c.unit);
  }
}

TEST(HumanizeTest, UnitNamesAreStable) {
  EXPECT_EQ(UnitName(Unit::kNone), "none");
  EXPECT_EQ(UnitName(Unit::kSeconds), "seconds");
  EXPECT_EQ(UnitName(Unit::kBytes), "bytes");
  EXPECT_EQ(UnitName(Unit::kPerSecond), "per_second");
  EXPECT_EQ(UnitName(Unit::kRatio), "ratio");
}

}  // namespace
}  // namespace dbcanary
