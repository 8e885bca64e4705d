// Cron schedules: parsing, next run times in UTC and in time zones across daylight-saving
// transitions, and TZif files including the POSIX rule of their footer.
#include "server/controllers/batch/cron_schedule.h"

#include <gtest/gtest.h>

#include "common/time.h"

namespace nave::controllers::batch {
namespace {

int64_t utc(const std::string& rfc3339) {
  auto t = parseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

std::string fmt(int64_t seconds) {
  return formatRfc3339(WallTime(std::chrono::seconds(seconds)));
}

std::string nextOf(const std::string& spec, const std::string& from, const std::string& zone = "") {
  TimeZone tz;
  if (!zone.empty()) {
    auto loaded = TimeZone::load(zone);
    EXPECT_TRUE(loaded.ok()) << zone;
    if (loaded.ok()) tz = *loaded;
  }
  auto s = CronSchedule::parse(spec, tz);
  EXPECT_TRUE(s.ok()) << spec << ": " << (s.ok() ? "" : s.error().message());
  if (!s.ok()) return "";
  int64_t n = s->next(utc(from));
  return n == 0 ? "never" : fmt(n);
}

std::string parseError(const std::string& spec) {
  auto s = CronSchedule::parse(spec);
  return s.ok() ? "" : s.error().message();
}

bool haveZoneinfo() { return TimeZone::load("Europe/Berlin").ok(); }

TEST(CronScheduleTest, RejectsMalformedSchedulesWithTheLibrarysMessages) {
  EXPECT_EQ(parseError(""), "empty spec string");
  EXPECT_EQ(parseError("* * * *"), "expected exactly 5 fields, found 4: [* * * *]");
  EXPECT_EQ(parseError("61 * * * *"), "end of range (61) above maximum (59): 61");
  EXPECT_EQ(parseError("* * 0 * *"), "beginning of range (0) below minimum (1): 0");
  EXPECT_EQ(parseError("5-2 * * * *"), "beginning of range (5) beyond end of range (2): 5-2");
  EXPECT_EQ(parseError("*/0 * * * *"), "step of range should be a positive number: */0");
  EXPECT_EQ(parseError("1-2-3 * * * *"), "too many hyphens: 1-2-3");
  EXPECT_EQ(parseError("@fortnightly"), "unrecognized descriptor: @fortnightly");
  EXPECT_EQ(parseError("* * * foo *"), "failed to parse int from foo");
  EXPECT_EQ(parseError("0 0 * * mon-fri"), "");
  EXPECT_EQ(parseError("0 0 ? JAN,Dec *"), "");
}

TEST(CronScheduleTest, NextRunTimesInUtc) {
  EXPECT_EQ(nextOf("* * * * *", "2026-03-04T10:07:00Z"), "2026-03-04T10:08:00Z");
  EXPECT_EQ(nextOf("* * * * *", "2026-03-04T10:07:59Z"), "2026-03-04T10:08:00Z");
  EXPECT_EQ(nextOf("*/15 * * * *", "2026-03-04T10:07:00Z"), "2026-03-04T10:15:00Z");
  EXPECT_EQ(nextOf("5/20 * * * *", "2026-03-04T10:46:00Z"), "2026-03-04T11:05:00Z");
  EXPECT_EQ(nextOf("0,30 9-17 * * *", "2026-03-04T17:45:00Z"), "2026-03-05T09:00:00Z");
  // 2026-03-06 is a Friday: the next weekday morning is Monday.
  EXPECT_EQ(nextOf("0 9 * * mon-fri", "2026-03-06T10:00:00Z"), "2026-03-09T09:00:00Z");
  EXPECT_EQ(nextOf("0 0 1 jan *", "2026-03-04T10:07:00Z"), "2027-01-01T00:00:00Z");
  // Day of month and day of week both restricted: either matches (Friday the 6th first).
  EXPECT_EQ(nextOf("0 0 13 * fri", "2026-03-04T00:00:00Z"), "2026-03-06T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 13 * fri", "2026-03-06T00:00:00Z"), "2026-03-13T00:00:00Z");
  // With one of them "*", both must.
  EXPECT_EQ(nextOf("0 0 * * sun", "2026-03-04T00:00:00Z"), "2026-03-08T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 29 2 *", "2026-03-04T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 30 2 *", "2026-03-04T00:00:00Z"), "never");
}

TEST(CronScheduleTest, Macros) {
  EXPECT_EQ(nextOf("@yearly", "2026-03-04T10:07:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(nextOf("@annually", "2026-03-04T10:07:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(nextOf("@monthly", "2026-03-04T10:07:00Z"), "2026-04-01T00:00:00Z");
  EXPECT_EQ(nextOf("@weekly", "2026-03-04T10:07:00Z"), "2026-03-08T00:00:00Z");
  EXPECT_EQ(nextOf("@daily", "2026-03-04T10:07:00Z"), "2026-03-05T00:00:00Z");
  EXPECT_EQ(nextOf("@midnight", "2026-03-04T10:07:00Z"), "2026-03-05T00:00:00Z");
  EXPECT_EQ(nextOf("@hourly", "2026-03-04T10:07:00Z"), "2026-03-04T11:00:00Z");
  EXPECT_EQ(nextOf("@every 1h30m", "2026-03-04T10:07:00Z"), "2026-03-04T11:37:00Z");
}

TEST(CronScheduleTest, TimeZones) {
  if (!haveZoneinfo()) GTEST_SKIP() << "no zoneinfo database in /usr/share/zoneinfo (tzdata)";
  // Berlin is UTC+1 in winter, UTC+2 in summer.
  EXPECT_EQ(nextOf("0 9 * * *", "2026-01-10T00:00:00Z", "Europe/Berlin"), "2026-01-10T08:00:00Z");
  EXPECT_EQ(nextOf("0 9 * * *", "2026-07-10T00:00:00Z", "Europe/Berlin"), "2026-07-10T07:00:00Z");
  EXPECT_EQ(nextOf("0 9 * * *", "2026-01-10T00:00:00Z", "Asia/Kolkata"), "2026-01-10T03:30:00Z");
  EXPECT_EQ(nextOf("TZ=Asia/Tokyo 0 9 * * *", "2026-01-10T01:00:00Z"), "2026-01-11T00:00:00Z");
  EXPECT_EQ(parseError("TZ=Nowhere/Atlantis 0 9 * * *"),
            "provided bad location Nowhere/Atlantis: unknown time zone Nowhere/Atlantis");
  EXPECT_FALSE(TimeZone::load("../etc/passwd").ok());
}

TEST(CronScheduleTest, DaylightSavingTransitions) {
  if (!haveZoneinfo()) GTEST_SKIP() << "no zoneinfo database in /usr/share/zoneinfo (tzdata)";
  // New York springs forward on 2024-03-10 at 02:00 EST: 02:30 does not exist that day.
  EXPECT_EQ(nextOf("30 2 * * *", "2024-03-09T12:00:00Z", "America/New_York"), "2024-03-11T06:30:00Z");
  EXPECT_EQ(nextOf("30 3 * * *", "2024-03-09T12:00:00Z", "America/New_York"), "2024-03-10T07:30:00Z");
  // And falls back on 2024-11-03 at 02:00 EDT: 01:30 happens twice, both run.
  EXPECT_EQ(nextOf("30 1 * * *", "2024-11-03T04:00:00Z", "America/New_York"), "2024-11-03T05:30:00Z");
  EXPECT_EQ(nextOf("30 1 * * *", "2024-11-03T05:30:00Z", "America/New_York"), "2024-11-03T06:30:00Z");
  EXPECT_EQ(nextOf("30 1 * * *", "2024-11-03T06:30:00Z", "America/New_York"), "2024-11-04T06:30:00Z");
  // Hourly runs stay an hour apart across the change.
  EXPECT_EQ(nextOf("0 * * * *", "2024-03-10T06:30:00Z", "America/New_York"), "2024-03-10T07:00:00Z");
  // Santiago's clocks jump from 00:00 to 01:00 on 2024-09-08: that day has no midnight, so a
  // daily midnight run comes next on the 9th (as with the cron library).
  EXPECT_EQ(nextOf("0 0 * * *", "2024-09-07T12:00:00Z", "America/Santiago"), "2024-09-09T03:00:00Z");
  EXPECT_EQ(nextOf("0 1 * * *", "2024-09-07T12:00:00Z", "America/Santiago"), "2024-09-08T04:00:00Z");
}

TEST(CronScheduleTest, FooterRuleBeyondTheListedTransitions) {
  if (!haveZoneinfo()) GTEST_SKIP() << "no zoneinfo database in /usr/share/zoneinfo (tzdata)";
  auto berlin = TimeZone::load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok());
  EXPECT_EQ(berlin->offsetAt(utc("2050-07-01T00:00:00Z")), 7200);
  EXPECT_EQ(berlin->offsetAt(utc("2050-12-01T00:00:00Z")), 3600);
  // The last Sunday of March 2050 is the 27th; clocks change at 01:00 UTC.
  EXPECT_EQ(berlin->offsetAt(utc("2050-03-27T00:59:59Z")), 3600);
  EXPECT_EQ(berlin->offsetAt(utc("2050-03-27T01:00:00Z")), 7200);
  EXPECT_EQ(nextOf("0 9 * * *", "2050-07-10T00:00:00Z", "Europe/Berlin"), "2050-07-10T07:00:00Z");
  // Southern hemisphere: Sydney's summer time spans the new year.
  auto sydney = TimeZone::load("Australia/Sydney");
  ASSERT_TRUE(sydney.ok());
  EXPECT_EQ(sydney->offsetAt(utc("2050-01-15T00:00:00Z")), 11 * 3600);
  EXPECT_EQ(sydney->offsetAt(utc("2050-07-15T00:00:00Z")), 10 * 3600);
}

TEST(CronScheduleTest, SlimTzifFileWithOnlyARule) {
  // A version 2 TZif file with one local time type and no transitions; the footer's rule
  // gives every offset.
  auto header = [](char version, uint32_t typecnt, uint32_t charcnt) {
    std::string h = "TZif";
    h += version;
    h += std::string(15, '\0');
    for (uint32_t v : {0u, 0u, 0u, 0u, typecnt, charcnt})
      for (int i = 3; i >= 0; --i) h += static_cast<char>((v >> (8 * i)) & 0xff);
    return h;
  };
  std::string type = std::string("\x00\x00\x0e\x10\x00\x00", 6) + std::string("CET\0", 4);
  std::string data = header('2', 1, 4) + type + header('2', 1, 4) + type + "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
  auto tz = TimeZone::parse("Test/Slim", data);
  ASSERT_TRUE(tz.ok()) << tz.error().message();
  EXPECT_EQ(tz->offsetAt(utc("2026-07-01T00:00:00Z")), 7200);
  EXPECT_EQ(tz->offsetAt(utc("2026-01-01T00:00:00Z")), 3600);
  // Last Sunday of October 2026 is the 25th, at 03:00 CEST = 01:00 UTC.
  EXPECT_EQ(tz->offsetAt(utc("2026-10-25T00:59:59Z")), 7200);
  EXPECT_EQ(tz->offsetAt(utc("2026-10-25T01:00:00Z")), 3600);
  EXPECT_FALSE(TimeZone::parse("bad", "TZif2").ok());
}

}  // namespace
}  // namespace nave::controllers::batch
