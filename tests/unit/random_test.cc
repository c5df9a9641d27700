// core/random: the one random source and its helpers.

#include "core/random.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

TEST(RandomTest, Hex64IsSixteenLowerCaseHexDigitsAndVaries) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string hex = RandomHex64();
    ASSERT_EQ(hex.size(), 16u) << hex;
    for (char c : hex) {
      EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << hex;
    }
    seen.insert(hex);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(RandomTest, UniformIntStaysInItsBoundsAndReachesThem) {
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const int64_t value = UniformInt(-3, 3);
    ASSERT_GE(value, -3);
    ASSERT_LE(value, 3);
    seen.insert(value);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(UniformInt(5, 5), 5);
  EXPECT_EQ(UniformInt(5, 1), 5);  // an empty range gives low
}

TEST(RandomTest, UniformDurationStaysInItsBounds) {
  bool low = false, high = false;
  for (int i = 0; i < 2000; ++i) {
    const auto value = UniformDuration(milliseconds(10), milliseconds(12));
    ASSERT_GE(value, milliseconds(10));
    ASSERT_LE(value, milliseconds(12));
    low = low || value == milliseconds(10);
    high = high || value == milliseconds(12);
  }
  EXPECT_TRUE(low && high);
  EXPECT_EQ(UniformDuration(milliseconds(0), milliseconds(-1)), milliseconds(0));
}

TEST(RandomTest, BytesHaveTheCountAndVary) {
  EXPECT_EQ(RandomBytes(0), "");
  const std::string a = RandomBytes(24);
  const std::string b = RandomBytes(24);
  EXPECT_EQ(a.size(), 24u);
  EXPECT_NE(a, b);
}

TEST(RandomTest, ThreadsHaveEnginesSeededApart) {
  uint64_t here = RandomUint64();
  uint64_t there = 0;
  std::thread([&] { there = RandomUint64(); }).join();
  uint64_t again = 0;
  std::thread([&] { again = RandomUint64(); }).join();
  EXPECT_NE(there, again);  // a fixed seed would give every new thread the same first value
  EXPECT_NE(here, there);
}

}  // namespace
}  // namespace dbcanary
