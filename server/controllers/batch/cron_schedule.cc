#include "server/controllers/batch/cron_schedule.h"

#include <map>
#include <vector>

#include "common/strings.h"

namespace nave::controllers::batch {
namespace {

struct Bounds {
  int min, max;
  const std::map<std::string, int>* names;
};

const std::map<std::string, int> kMonthNames = {{"jan", 1}, {"feb", 2}, {"mar", 3}, {"apr", 4},
                                                {"may", 5}, {"jun", 6}, {"jul", 7}, {"aug", 8},
                                                {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
const std::map<std::string, int> kDayNames = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                              {"thu", 4}, {"fri", 5}, {"sat", 6}};
constexpr Bounds kMinutes{0, 59, nullptr}, kHours{0, 23, nullptr}, kDom{1, 31, nullptr},
    kMonths{1, 12, &kMonthNames}, kDow{0, 6, &kDayNames};
constexpr uint64_t kStarBit = uint64_t(1) << 63;

Error invalid(std::string message) { return Error(ErrorCode::kInvalid, std::move(message)); }

Result<int> number(std::string_view s) {
  if (s.empty() || s.size() > 9) return invalid("failed to parse int from " + std::string(s));
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return invalid("failed to parse int from " + std::string(s));
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<int> numberOrName(std::string_view s, const Bounds& b) {
  if (b.names != nullptr) {
    auto it = b.names->find(toLower(s));
    if (it != b.names->end()) return it->second;
  }
  return number(s);
}

// One comma-separated part: "*", "?", "N", "N-M", each optionally "/STEP".
Result<uint64_t> range(std::string_view expr, const Bounds& b) {
  std::vector<std::string> rangeAndStep = split(expr, '/');
  std::vector<std::string> lowAndHigh = split(rangeAndStep[0], '-');
  int start = 0, end = 0, step = 1;
  uint64_t extra = 0;
  if (lowAndHigh[0] == "*" || lowAndHigh[0] == "?") {
    start = b.min;
    end = b.max;
    extra = kStarBit;
  } else {
    start = TRY(numberOrName(lowAndHigh[0], b));
    if (lowAndHigh.size() == 1) end = start;
    else if (lowAndHigh.size() == 2) end = TRY(numberOrName(lowAndHigh[1], b));
    else return invalid("too many hyphens: " + std::string(expr));
  }
  if (rangeAndStep.size() == 2) {
    step = TRY(number(rangeAndStep[1]));
    if (lowAndHigh.size() == 1) end = b.max;  // "N/STEP" means N through the maximum
    if (step > 1) extra = 0;
  } else if (rangeAndStep.size() > 2) {
    return invalid("too many slashes: " + std::string(expr));
  }
  if (start < b.min)
    return invalid("beginning of range (" + std::to_string(start) + ") below minimum (" +
                   std::to_string(b.min) + "): " + std::string(expr));
  if (end > b.max)
    return invalid("end of range (" + std::to_string(end) + ") above maximum (" +
                   std::to_string(b.max) + "): " + std::string(expr));
  if (start > end)
    return invalid("beginning of range (" + std::to_string(start) + ") beyond end of range (" +
                   std::to_string(end) + "): " + std::string(expr));
  if (step == 0) return invalid("step of range should be a positive number: " + std::string(expr));
  uint64_t bits = extra;
  for (int i = start; i <= end; i += step) bits |= uint64_t(1) << i;
  return bits;
}

Result<uint64_t> field(std::string_view expr, const Bounds& b) {
  uint64_t bits = 0;
  for (const std::string& part : split(expr, ',')) bits |= TRY(range(part, b));
  return bits;
}

uint64_t all(const Bounds& b) {
  uint64_t bits = kStarBit;
  for (int i = b.min; i <= b.max; ++i) bits |= uint64_t(1) << i;
  return bits;
}

// "1h30m", "90s", "2m" (Go's duration syntax, whole seconds).
Result<int64_t> duration(std::string_view s) {
  int64_t total = 0;
  bool any = false;
  while (!s.empty()) {
    size_t n = 0;
    int64_t v = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
    if (n == 0) return invalid("time: invalid duration");
    s.remove_prefix(n);
    size_t u = 0;
    while (u < s.size() && !(s[u] >= '0' && s[u] <= '9')) ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    if (unit == "h") total += v * 3600;
    else if (unit == "m") total += v * 60;
    else if (unit == "s") total += v;
    else if (unit == "ms" || unit == "us" || unit == "ns") total += 0;
    else return invalid("time: invalid duration");
    any = true;
  }
  if (!any) return invalid("time: invalid duration");
  return total;
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view specIn, TimeZone zone) {
  std::string spec(trim(specIn));
  if (spec.empty()) return invalid("empty spec string");
  if (spec.rfind("TZ=", 0) == 0 || spec.rfind("CRON_TZ=", 0) == 0) {
    size_t eq = spec.find('=');
    size_t space = spec.find(' ');
    if (space == std::string::npos) return invalid("missing spec after timezone");
    std::string name = spec.substr(eq + 1, space - eq - 1);
    auto loaded = TimeZone::load(name);
    if (!loaded.ok()) return invalid("provided bad location " + name + ": " + loaded.error().message());
    zone = std::move(*loaded);
    spec = std::string(trim(spec.substr(space)));
  }
  CronSchedule s;
  s.zone_ = std::move(zone);
  if (!spec.empty() && spec[0] == '@') {
    uint64_t one = 1;
    s.minute_ = one << 0;
    s.hour_ = one << 0;
    s.dom_ = all(kDom);
    s.month_ = all(kMonths);
    s.dow_ = all(kDow);
    if (spec == "@yearly" || spec == "@annually") {
      s.dom_ = one << 1;
      s.month_ = one << 1;
    } else if (spec == "@monthly") {
      s.dom_ = one << 1;
    } else if (spec == "@weekly") {
      s.dow_ = one << 0;
    } else if (spec == "@daily" || spec == "@midnight") {
    } else if (spec == "@hourly") {
      s.hour_ = all(kHours);
    } else if (spec.rfind("@every ", 0) == 0) {
      auto d = duration(trim(spec.substr(7)));
      if (!d.ok()) return invalid("failed to parse duration " + spec + ": " + d.error().message());
      s.every_ = std::max<int64_t>(*d, 1);
    } else {
      return invalid("unrecognized descriptor: " + spec);
    }
    return s;
  }
  std::vector<std::string> fields;
  for (const std::string& f : split(spec, ' '))
    if (!trim(f).empty()) fields.push_back(std::string(trim(f)));
  if (fields.size() != 5)
    return invalid("expected exactly 5 fields, found " + std::to_string(fields.size()) + ": [" +
                   join(fields, " ") + "]");
  s.minute_ = TRY(field(fields[0], kMinutes));
  s.hour_ = TRY(field(fields[1], kHours));
  s.dom_ = TRY(field(fields[2], kDom));
  s.month_ = TRY(field(fields[3], kMonths));
  s.dow_ = TRY(field(fields[4], kDow));
  return s;
}

bool CronSchedule::dayMatches(const CivilTime& c) const {
  bool domMatch = (dom_ >> c.day) & 1;
  bool dowMatch = (dow_ >> c.weekday) & 1;
  // With either field "*", both must match; otherwise either (the classic cron rule).
  if ((dom_ & kStar) != 0 || (dow_ & kStar) != 0) return domMatch && dowMatch;
  return domMatch || dowMatch;
}

int64_t CronSchedule::next(int64_t at) const {
  if (every_ > 0) return at + every_;
  // The cron library's walk: advance the month, then the day, hour and minute until each
  // matches, restarting from the month whenever a field wraps. Hours and minutes advance on the
  // absolute clock (so skipped and repeated wall-clock times behave as described above), days
  // and months on the calendar.
  int64_t t = at + 1;
  t -= ((t % 60) + 60) % 60;  // the next whole minute, with seconds fixed at 0
  if (t <= at) t += 60;
  bool added = false;
  int yearLimit = zone_.civil(t).year + 5;
  for (;;) {
    CivilTime c = zone_.civil(t);
    if (c.year > yearLimit) return 0;
    bool wrapped = false;
    while (!((month_ >> c.month) & 1)) {
      if (!added) {
        added = true;
        t = zone_.instant(c.year, c.month, 1, 0, 0, 0);
        c = zone_.civil(t);
      }
      t = zone_.instant(c.year, c.month + 1, c.day, c.hour, c.minute, c.second);
      c = zone_.civil(t);
      if (c.month == 1) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    while (!dayMatches(c)) {
      if (!added) {
        added = true;
        t = zone_.instant(c.year, c.month, c.day, 0, 0, 0);
        c = zone_.civil(t);
      }
      t = zone_.instant(c.year, c.month, c.day + 1, c.hour, c.minute, c.second);
      c = zone_.civil(t);
      // A day that did not start at midnight (a transition at 00:00) is moved back onto it.
      if (c.hour != 0) {
        t += c.hour > 12 ? int64_t(24 - c.hour) * 3600 : -int64_t(c.hour) * 3600;
        c = zone_.civil(t);
      }
      if (c.day == 1) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    while (!((hour_ >> c.hour) & 1)) {
      if (!added) {
        added = true;
        t = zone_.instant(c.year, c.month, c.day, c.hour, 0, 0);
        c = zone_.civil(t);
      }
      t += 3600;
      c = zone_.civil(t);
      if (c.hour == 0) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    while (!((minute_ >> c.minute) & 1)) {
      if (!added) {
        added = true;
        t -= c.second;
        c = zone_.civil(t);
      }
      t += 60;
      c = zone_.civil(t);
      if (c.minute == 0) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    return t;
  }
}

}  // namespace nave::controllers::batch
