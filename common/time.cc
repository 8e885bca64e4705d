#include "common/time.h"

#include <cstdio>
#include <ctime>

namespace nave {

std::string formatRfc3339(WallTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string formatRfc3339Micro(WallTime t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t tt = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[48];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(us % 1000000));
  return buf;
}

std::optional<WallTime> parseRfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (s.size() < 20) return std::nullopt;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
    return std::nullopt;
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < str.size() && str[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < str.size() && str[pos] >= '0' && str[pos] <= '9') {
      if (digits < 6) {
        micros = micros * 10 + (str[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    while (digits++ < 6) micros *= 10;
  }
  int offset = 0;
  if (pos < str.size() && (str[pos] == 'Z' || str[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == str.size() && (str[pos] == '+' || str[pos] == '-')) {
    int oh, om;
    if (std::sscanf(str.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (oh * 60 + om) * 60 * (str[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != str.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t tt = timegm(&tm) - offset;
  return std::chrono::system_clock::from_time_t(tt) + std::chrono::microseconds(micros);
}

std::string humanDuration(std::chrono::seconds d) {
  // Mirrors the shape of Kubernetes' duration.HumanDuration. A clock skew of up to a second in
  // the future still reads "0s"; anything further ahead is "<invalid>", as kubectl shows it.
  int64_t s = d.count();
  if (s < -1) return "<invalid>";
  if (s < 0) s = 0;
  auto str = [](int64_t v, const char* unit) { return std::to_string(v) + unit; };
  if (s < 60 * 2) return str(s, "s");
  int64_t m = s / 60;
  if (m < 10) {
    int64_t rs = s % 60;
    return rs == 0 ? str(m, "m") : str(m, "m") + str(rs, "s");
  }
  if (m < 60 * 3) return str(m, "m");
  int64_t h = s / 3600;
  if (h < 8) {
    int64_t rm = m % 60;
    return rm == 0 ? str(h, "h") : str(h, "h") + str(rm, "m");
  }
  if (h < 48) return str(h, "h");
  if (h < 24 * 8) {
    int64_t rh = h % 24;
    return rh == 0 ? str(h / 24, "d") : str(h / 24, "d") + str(rh, "h");
  }
  if (h < 24 * 365 * 2) return str(h / 24, "d");
  if (h < 24 * 365 * 8) {
    int64_t dy = (h / 24) % 365;
    return dy == 0 ? str(h / 24 / 365, "y") : str(h / 24 / 365, "y") + str(dy, "d");
  }
  return str(h / 24 / 365, "y");
}

}  // namespace nave
