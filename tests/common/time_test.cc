#include "common/time.h"

#include <gtest/gtest.h>

namespace nave {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::string human(int64_t s) { return humanDuration(seconds(s)); }

TEST(HumanDuration, SecondsUpToTwoMinutes) {
  EXPECT_EQ(human(0), "0s");
  EXPECT_EQ(human(59), "59s");
  EXPECT_EQ(human(119), "119s");
}

TEST(HumanDuration, MinutesWithSecondsBelowTen) {
  EXPECT_EQ(human(120), "2m");
  EXPECT_EQ(human(125), "2m5s");
  EXPECT_EQ(human(9 * 60 + 59), "9m59s");
  EXPECT_EQ(human(10 * 60 + 30), "10m");
  EXPECT_EQ(human(179 * 60 + 59), "179m");
}

TEST(HumanDuration, HoursDaysYears) {
  EXPECT_EQ(humanDuration(hours(3)), "3h");
  EXPECT_EQ(humanDuration(hours(3) + minutes(5)), "3h5m");
  EXPECT_EQ(humanDuration(hours(7) + minutes(59)), "7h59m");
  EXPECT_EQ(humanDuration(hours(8) + minutes(59)), "8h");
  EXPECT_EQ(humanDuration(hours(47)), "47h");
  EXPECT_EQ(humanDuration(hours(48)), "2d");
  EXPECT_EQ(humanDuration(hours(24 * 7 + 23)), "7d23h");
  EXPECT_EQ(humanDuration(hours(24 * 8)), "8d");
  EXPECT_EQ(humanDuration(hours(24 * 729)), "729d");
  EXPECT_EQ(humanDuration(hours(24 * 730)), "2y");
  EXPECT_EQ(humanDuration(hours(24 * 800)), "2y70d");
  EXPECT_EQ(humanDuration(hours(24 * 365 * 8 + 24 * 100)), "8y");
}

TEST(HumanDuration, FutureTimesWithinASecondReadZeroElseInvalid) {
  EXPECT_EQ(human(-1), "0s");
  EXPECT_EQ(human(-2), "<invalid>");
  EXPECT_EQ(human(-3600), "<invalid>");
}

TEST(Rfc3339, RoundTripsAndRejectsGarbage) {
  auto t = parseRfc3339("2026-11-27T06:05:37Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(formatRfc3339(*t), "2026-11-27T06:05:37Z");
  auto offset = parseRfc3339("2026-11-27T08:05:37+02:00");
  ASSERT_TRUE(offset.has_value());
  EXPECT_EQ(*offset, *t);
  EXPECT_FALSE(parseRfc3339("yesterday").has_value());
}

}  // namespace
}  // namespace nave
