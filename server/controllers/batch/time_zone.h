// TimeZone: an IANA time zone read from a TZif file (RFC 8536) of the zoneinfo database, as Go's
// time.LoadLocation reads it for the CronJob controller's spec.timeZone: the transitions listed
// in the file, then the POSIX TZ rule of its footer for the instants after the last one (slim
// files list only a few transitions and leave the rest to the rule).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nave::controllers::batch {

// A wall-clock reading: the fields of a time in some zone.
struct CivilTime {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int weekday = 4;  // 0 = Sunday; filled in by TimeZone::civil
};

class TimeZone {
 public:
  // UTC.
  TimeZone() = default;

  // Loads `name` ("UTC", "Europe/Berlin", ...) from `zoneinfoDir`. NotFound for an unknown zone,
  // Invalid for a malformed name or file.
  static Result<TimeZone> load(std::string_view name,
                               const std::string& zoneinfoDir = "/usr/share/zoneinfo");
  // Parses TZif content (exposed for tests).
  static Result<TimeZone> parse(std::string_view name, std::string_view data);

  const std::string& name() const { return name_; }
  // Seconds east of UTC at the instant `at` (seconds since the epoch).
  int offsetAt(int64_t at) const;
  // The wall-clock reading at `at`.
  CivilTime civil(int64_t at) const;
  // The instant of a wall-clock reading, normalising out-of-range fields (month 13, day 32...)
  // as Go's time.Date does. A reading that a transition skips or repeats gets the offset in
  // force just before the transition, as Go does.
  int64_t instant(int year, int month, int day, int hour, int minute, int second) const;

 private:
  // A POSIX TZ string's rule ("CET-1CEST,M3.5.0,M10.5.0/3").
  struct Rule {
    struct Date {
      char kind = 'M';  // 'M' month/week/day, 'J' Julian day 1-365 without Feb 29, 'D' 0-365
      int month = 0, week = 0, day = 0;
      int time = 7200;  // seconds after local midnight
    };
    bool valid = false;
    int stdOffset = 0, dstOffset = 0;  // seconds east of UTC
    bool hasDst = false;
    Date start, end;
  };
  static bool parseRule(std::string_view tz, Rule& rule);
  static int64_t ruleTransition(const Rule::Date& date, int year, int offset);
  int ruleOffsetAt(int64_t at) const;
  static CivilTime civilOf(int64_t at, int offset);

  std::string name_ = "UTC";
  std::vector<int64_t> transitions_;  // ascending instants
  std::vector<uint8_t> transitionTypes_;
  std::vector<int> typeOffsets_;  // seconds east of UTC per local time type
  Rule rule_;
};

// Days since 1970-01-01 of a proleptic Gregorian date (any month/day, normalised).
int64_t daysFromCivil(int64_t year, int month, int day);

}  // namespace nave::controllers::batch
