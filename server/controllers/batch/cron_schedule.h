// CronSchedule: a CronJob's spec.schedule, parsed as robfig/cron/v3's standard parser does
// (what the Kubernetes CronJob controller uses): five fields (minute, hour, day of month,
// month, day of week) with ranges, lists, steps, "*", "?" and month/day names, the macros
// @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly and "@every DURATION". Next
// run times are computed on the wall clock of a time zone, with that library's behaviour
// around daylight-saving transitions: a time the clocks skip does not run, a time they repeat
// runs each time it occurs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "server/controllers/batch/time_zone.h"

namespace nave::controllers::batch {

class CronSchedule {
 public:
  // Invalid (with the cron library's message) for a malformed schedule. A "TZ=" or "CRON_TZ="
  // prefix names the zone, overriding `zone`.
  static Result<CronSchedule> parse(std::string_view spec, TimeZone zone = TimeZone());

  // The first run time strictly after `at` (seconds since the epoch), or 0 when there is none
  // within five years (e.g. "0 0 30 2 *").
  int64_t next(int64_t at) const;
  const TimeZone& zone() const { return zone_; }

 private:
  bool dayMatches(const CivilTime& c) const;

  static constexpr uint64_t kStar = uint64_t(1) << 63;
  uint64_t minute_ = 0, hour_ = 0, dom_ = 0, month_ = 0, dow_ = 0;
  int64_t every_ = 0;  // seconds, for "@every"
  TimeZone zone_;
};

}  // namespace nave::controllers::batch
