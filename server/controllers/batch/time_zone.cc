#include "server/controllers/batch/time_zone.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace nave::controllers::batch {
namespace {

constexpr int64_t kDay = 86400;

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool isLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysInMonth(int64_t y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// Big-endian reads over the TZif data.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool has(size_t n) const { return pos_ + n <= data_.size(); }
  int64_t be(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
    pos_ += n;
    if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  uint8_t byte() { return static_cast<uint8_t>(data_[pos_++]); }
  void skip(size_t n) { pos_ += n; }
  std::string_view rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// POSIX TZ pieces: a zone abbreviation, then an offset "[+-]hh[:mm[:ss]]" (west positive).
bool skipAbbreviation(std::string_view& s) {
  if (!s.empty() && s[0] == '<') {
    size_t close = s.find('>');
    if (close == std::string_view::npos) return false;
    s.remove_prefix(close + 1);
    return true;
  }
  size_t n = 0;
  while (n < s.size() && ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))) ++n;
  if (n < 3) return false;
  s.remove_prefix(n);
  return true;
}

bool parseNumber(std::string_view& s, int& out) {
  size_t n = 0;
  int v = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
  if (n == 0) return false;
  s.remove_prefix(n);
  out = v;
  return true;
}

// "[+-]hh[:mm[:ss]]" into seconds (the sign as written).
bool parseClock(std::string_view& s, int& out) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int h = 0, m = 0, sec = 0;
  if (!parseNumber(s, h)) return false;
  if (!s.empty() && s[0] == ':') {
    s.remove_prefix(1);
    if (!parseNumber(s, m)) return false;
    if (!s.empty() && s[0] == ':') {
      s.remove_prefix(1);
      if (!parseNumber(s, sec)) return false;
    }
  }
  out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

}  // namespace

int64_t daysFromCivil(int64_t y, int m, int d) {
  // Normalise the month first, then count days from March 1st of year 0 (Hinnant's algorithm).
  y += floorDiv(m - 1, 12);
  m = static_cast<int>(m - 1 - 12 * floorDiv(m - 1, 12)) + 1;
  y -= m <= 2;
  int64_t era = floorDiv(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468 + (d - 1);
}

Result<TimeZone> TimeZone::load(std::string_view name, const std::string& zoneinfoDir) {
  if (name.empty() || name == "UTC") return TimeZone();
  if (name[0] == '/' || name.find("..") != std::string_view::npos ||
      name.find('\\') != std::string_view::npos)
    return Error(ErrorCode::kInvalid, "time: invalid location name");
  std::ifstream in(zoneinfoDir + "/" + std::string(name), std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "unknown time zone " + std::string(name));
  std::ostringstream data;
  data << in.rdbuf();
  return parse(name, data.str());
}

Result<TimeZone> TimeZone::parse(std::string_view name, std::string_view data) {
  auto bad = [&](std::string_view why) {
    return Error(ErrorCode::kInvalid, "time zone " + std::string(name) + ": " + std::string(why));
  };
  Reader r(data);
  if (!r.has(44) || data.substr(0, 4) != "TZif") return bad("not a TZif file");
  char version = data[4];
  // The version 1 block (32-bit times) comes first; files of version 2 and later repeat the
  // data with 64-bit times after it, followed by the footer.
  size_t timeSize = 4;
  for (int pass = 0; pass < 2; ++pass) {
    if (!r.has(44)) return bad("truncated header");
    r.skip(20);
    int64_t isutcnt = r.be(4), isstdcnt = r.be(4), leapcnt = r.be(4), timecnt = r.be(4),
            typecnt = r.be(4), charcnt = r.be(4);
    if (typecnt <= 0 || timecnt < 0 || leapcnt < 0 || charcnt < 0 || isutcnt < 0 || isstdcnt < 0)
      return bad("bad counts");
    size_t blockSize = timecnt * timeSize + timecnt + typecnt * 6 + charcnt +
                       leapcnt * (timeSize + 4) + isstdcnt + isutcnt;
    if (!r.has(blockSize)) return bad("truncated data");
    if (pass == 0 && version >= '2') {
      r.skip(blockSize);
      timeSize = 8;
      continue;
    }
    TimeZone tz;
    tz.name_ = std::string(name);
    for (int64_t i = 0; i < timecnt; ++i) tz.transitions_.push_back(r.be(timeSize));
    for (int64_t i = 0; i < timecnt; ++i) {
      uint8_t t = r.byte();
      if (t >= typecnt) return bad("bad transition type");
      tz.transitionTypes_.push_back(t);
    }
    for (int64_t i = 0; i < typecnt; ++i) {
      tz.typeOffsets_.push_back(static_cast<int>(r.be(4)));
      r.skip(2);
    }
    r.skip(charcnt + leapcnt * (timeSize + 4) + isstdcnt + isutcnt);
    if (timeSize == 8) {
      std::string_view footer = r.rest();
      if (footer.size() >= 2 && footer[0] == '\n') {
        footer.remove_prefix(1);
        footer = footer.substr(0, footer.find('\n'));
        if (!footer.empty() && !parseRule(footer, tz.rule_)) return bad("bad footer rule");
      }
    }
    return tz;
  }
  return bad("unreachable");
}

bool TimeZone::parseRule(std::string_view s, Rule& rule) {
  int off = 0;
  if (!skipAbbreviation(s) || !parseClock(s, off)) return false;
  rule.stdOffset = -off;
  rule.dstOffset = rule.stdOffset + 3600;
  rule.valid = true;
  if (s.empty()) return true;
  if (!skipAbbreviation(s)) return false;
  rule.hasDst = true;
  if (!s.empty() && s[0] != ',') {
    if (!parseClock(s, off)) return false;
    rule.dstOffset = -off;
  }
  // Without dates, POSIX defaults to the US rules.
  if (s.empty()) s = ",M3.2.0,M11.1.0";
  for (Rule::Date* d : {&rule.start, &rule.end}) {
    if (s.empty() || s[0] != ',') return false;
    s.remove_prefix(1);
    if (!s.empty() && s[0] == 'M') {
      s.remove_prefix(1);
      d->kind = 'M';
      if (!parseNumber(s, d->month) || s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
      if (!parseNumber(s, d->week) || s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
      if (!parseNumber(s, d->day)) return false;
      if (d->month < 1 || d->month > 12 || d->week < 1 || d->week > 5 || d->day > 6) return false;
    } else if (!s.empty() && s[0] == 'J') {
      s.remove_prefix(1);
      d->kind = 'J';
      if (!parseNumber(s, d->day)) return false;
    } else {
      d->kind = 'D';
      if (!parseNumber(s, d->day)) return false;
    }
    d->time = 7200;
    if (!s.empty() && s[0] == '/') {
      s.remove_prefix(1);
      if (!parseClock(s, d->time)) return false;
    }
  }
  return s.empty();
}

int64_t TimeZone::ruleTransition(const Rule::Date& d, int year, int offset) {
  int64_t day = 0;
  if (d.kind == 'M') {
    int64_t first = daysFromCivil(year, d.month, 1);
    int firstWeekday = static_cast<int>(((first % 7) + 11) % 7);  // 1970-01-01 was a Thursday
    int64_t dom = 1 + (d.day - firstWeekday + 7) % 7 + 7 * (d.week - 1);
    while (dom > daysInMonth(year, d.month)) dom -= 7;
    day = first + dom - 1;
  } else if (d.kind == 'J') {
    day = daysFromCivil(year, 1, 1) + d.day - 1 + (isLeap(year) && d.day >= 60 ? 1 : 0);
  } else {
    day = daysFromCivil(year, 1, 1) + d.day;
  }
  return day * kDay + d.time - offset;
}

int TimeZone::ruleOffsetAt(int64_t at) const {
  if (!rule_.hasDst) return rule_.stdOffset;
  int year = civilOf(at, rule_.stdOffset).year;
  int64_t start = ruleTransition(rule_.start, year, rule_.stdOffset);
  int64_t end = ruleTransition(rule_.end, year, rule_.dstOffset);
  bool dst = start < end ? (at >= start && at < end) : (at < end || at >= start);
  return dst ? rule_.dstOffset : rule_.stdOffset;
}

int TimeZone::offsetAt(int64_t at) const {
  if (transitions_.empty()) {
    if (rule_.valid) return ruleOffsetAt(at);
    return typeOffsets_.empty() ? 0 : typeOffsets_[0];
  }
  if (at < transitions_.front()) return typeOffsets_[0];
  if (at >= transitions_.back() && rule_.valid) return ruleOffsetAt(at);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), at);
  size_t i = static_cast<size_t>(it - transitions_.begin()) - 1;
  return typeOffsets_[transitionTypes_[i]];
}

CivilTime TimeZone::civilOf(int64_t at, int offset) {
  int64_t local = at + offset;
  int64_t days = floorDiv(local, kDay);
  int64_t secs = local - days * kDay;
  // Hinnant's civil_from_days.
  int64_t z = days + 719468;
  int64_t era = floorDiv(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  CivilTime c;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = static_cast<int>(yoe + era * 400 + (c.month <= 2));
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs / 60 % 60);
  c.second = static_cast<int>(secs % 60);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);
  return c;
}

CivilTime TimeZone::civil(int64_t at) const { return civilOf(at, offsetAt(at)); }

int64_t TimeZone::instant(int year, int month, int day, int hour, int minute, int second) const {
  int64_t local = daysFromCivil(year, month, 1) * kDay + int64_t(day - 1) * kDay +
                  int64_t(hour) * 3600 + int64_t(minute) * 60 + second;
  // As Go's time.Date: take the offset of the reading as if it were UTC, and if the instant
  // that gives lies under another offset, use that one.
  int offset = offsetAt(local);
  int other = offsetAt(local - offset);
  if (other != offset) offset = other;
  return local - offset;
}

}  // namespace nave::controllers::batch
