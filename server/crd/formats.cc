// String formats and patterns of CRD schemas.
#include <arpa/inet.h>

#include <map>
#include <memory>
#include <mutex>
#include <regex>

#include "common/strings.h"
#include "common/time.h"
#include "server/crd/internal.h"
#include "server/crd/value_validation.h"

namespace nave::crd {
namespace {

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isHex(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool isAlnum(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool allOf(std::string_view s, bool (*pred)(char)) {
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

// (?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?V[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$ where V is the
// version digit (0 for any) and the variant check applies to versions 4 and 5.
bool isUuid(std::string_view s, char version) {
  std::string hex;
  size_t groups[] = {8, 4, 4, 4, 12};
  size_t pos = 0;
  for (size_t g = 0; g < 5; ++g) {
    if (g > 0 && pos < s.size() && s[pos] == '-') ++pos;
    if (pos + groups[g] > s.size()) return false;
    for (size_t i = 0; i < groups[g]; ++i)
      if (!isHex(s[pos + i])) return false;
    hex += s.substr(pos, groups[g]);
    pos += groups[g];
  }
  if (pos != s.size()) return false;
  if (version != 0 && hex[12] != version) return false;
  if (version == '4' || version == '5') {
    char v = static_cast<char>(std::tolower(static_cast<unsigned char>(hex[16])));
    if (v != '8' && v != '9' && v != 'a' && v != 'b') return false;
  }
  return true;
}

bool isIpv4(std::string_view s) {
  in_addr a;
  return s.find(':') == s.npos && inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

bool isIpv6(std::string_view s) {
  in6_addr a;
  return s.find(':') != s.npos && inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

bool isCidr(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == s.npos) return false;
  std::string_view ip = s.substr(0, slash), bits = s.substr(slash + 1);
  if (bits.empty() || bits.size() > 3 || !allOf(bits, isDigit)) return false;
  int n = std::stoi(std::string(bits));
  if (isIpv4(ip)) return n <= 32;
  if (isIpv6(ip)) return n <= 128;
  return false;
}

// net.ParseMAC: 6, 8 or 20 octets as xx:xx:.., xx-xx-.. or xxxx.xxxx.xxxx.
bool isMac(std::string_view s) {
  auto validCount = [](size_t n) { return n == 6 || n == 8 || n == 20; };
  if (s.size() >= 14 && s[4] == '.') {
    auto parts = split(s, '.');
    for (const auto& p : parts)
      if (p.size() != 4 || !allOf(p, isHex)) return false;
    return validCount(parts.size() * 2);
  }
  for (char sep : {':', '-'}) {
    if (s.size() < 3 || s[2] != sep) continue;
    auto parts = split(s, sep);
    for (const auto& p : parts)
      if (p.size() != 2 || !allOf(p, isHex)) return false;
    return validCount(parts.size());
  }
  return false;
}

// RFC 1034 host names: dot-separated labels of letters, digits and '-', at most 255 bytes.
bool isHostname(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (const auto& label : split(s, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!isAlnum(c) && c != '-' && static_cast<unsigned char>(c) < 0x80) return false;
  }
  return true;
}

bool isEmail(std::string_view s) {
  size_t lt = s.find('<');
  if (lt != s.npos) {
    if (s.back() != '>') return false;
    s = s.substr(lt + 1, s.size() - lt - 2);
  }
  size_t at = s.rfind('@');
  if (at == s.npos || at == 0 || at + 1 >= s.size()) return false;
  for (char c : s)
    if (c == ' ' || c == '\t' || c == '\n') return false;
  return true;
}

// url.ParseRequestURI: an absolute URI (scheme:...) or an absolute path.
bool isUri(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  if (s.front() == '/') return true;
  size_t colon = s.find(':');
  if (colon == s.npos || colon == 0) return false;
  if (!std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (size_t i = 1; i < colon; ++i) {
    char c = s[i];
    if (!isAlnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

bool isDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!isDigit(s[i])) return false;
  int month = std::stoi(std::string(s.substr(5, 2)));
  int day = std::stoi(std::string(s.substr(8, 2)));
  int year = std::stoi(std::string(s.substr(0, 4)));
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1]) return false;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return !(month == 2 && day == 29 && !leap);
}

bool isDateTime(std::string_view s) {
  if (parseRfc3339(s).has_value()) return true;
  // strfmt also takes a space or lower-case t between date and time.
  if (s.size() > 10 && (s[10] == ' ' || s[10] == 't')) {
    std::string t(s);
    t[10] = 'T';
    return parseRfc3339(t).has_value();
  }
  return false;
}

// time.ParseDuration ("1h30m", "-1.5s", "300ms") or strfmt's "<n> <unit>" form ("3 days").
bool isDuration(std::string_view s) {
  std::string_view t = s;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
  if (t == "0") return true;
  auto goUnit = [](std::string_view u) {
    return u == "ns" || u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs" || u == "ms" ||
           u == "s" || u == "m" || u == "h";
  };
  bool goForm = !t.empty();
  std::string_view r = t;
  while (goForm && !r.empty()) {
    size_t i = 0;
    bool digits = false;
    while (i < r.size() && isDigit(r[i])) ++i, digits = true;
    if (i < r.size() && r[i] == '.') {
      ++i;
      while (i < r.size() && isDigit(r[i])) ++i, digits = true;
    }
    if (!digits) {
      goForm = false;
      break;
    }
    size_t u = i;
    while (u < r.size() && !isDigit(r[u]) && r[u] != '.') ++u;
    if (!goUnit(r.substr(i, u - i))) goForm = false;
    r.remove_prefix(u);
  }
  if (goForm) return true;
  // <digits> <unit>, units as strfmt spells them.
  size_t i = 0;
  while (i < s.size() && isDigit(s[i])) ++i;
  if (i == 0) return false;
  std::string_view unit = trim(s.substr(i));
  static const char* kUnits[] = {"ns",          "us",     "ms",  "s",          "m",
                                 "h",           "d",      "w",   "nanosecond", "microsecond",
                                 "millisecond", "second", "sec", "minute",     "min",
                                 "hour",        "hr",     "day", "week",       "wk"};
  for (const char* u : kUnits) {
    std::string_view k(u);
    if (unit == k ||
        (unit.size() == k.size() + 1 && unit.substr(0, k.size()) == k && unit.back() == 's'))
      return true;
  }
  return false;
}

bool isByte(std::string_view s) {
  std::string out;
  return s.size() % 4 == 0 && base64Decode(s, out);
}

std::string digitsOnly(std::string_view s) {
  std::string d;
  for (char c : s)
    if (isDigit(c)) d += c;
  return d;
}

bool isIsbn10(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (isDigit(c) || c == 'X' || c == 'x')
      d += c;
    else if (c != '-' && c != ' ')
      return false;
  }
  if (d.size() != 10) return false;
  int sum = 0;
  for (int i = 0; i < 10; ++i) {
    int v = (d[i] == 'X' || d[i] == 'x') ? (i == 9 ? 10 : -1000) : d[i] - '0';
    sum += (10 - i) * v;
  }
  return sum % 11 == 0;
}

bool isIsbn13(std::string_view s) {
  for (char c : s)
    if (!isDigit(c) && c != '-' && c != ' ') return false;
  std::string d = digitsOnly(s);
  if (d.size() != 13) return false;
  int sum = 0;
  for (int i = 0; i < 13; ++i) sum += (d[i] - '0') * (i % 2 == 0 ? 1 : 3);
  return sum % 10 == 0;
}

bool matchesRegex(const char* re, std::string_view s) {
  return detail::patternMatches(re, s).value_or(false);
}

}  // namespace

namespace detail {

std::string supportedFormat(std::string_view format) {
  static const char* kSupported[] = {"bsonobjectid", "uri",   "email",    "hostname", "ipv4",
                                     "ipv6",         "cidr",  "mac",      "uuid",     "uuid3",
                                     "uuid4",        "uuid5", "isbn",     "isbn10",   "isbn13",
                                     "creditcard",   "ssn",   "hexcolor", "rgbcolor", "byte",
                                     "password",     "date",  "duration", "datetime"};
  std::string normalized;
  for (char c : format)
    if (c != '-') normalized += c;
  for (const char* s : kSupported)
    if (normalized == s) return std::string(format);
  return "";
}

std::optional<bool> patternMatches(std::string_view pattern, std::string_view value,
                                   std::string* error) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const std::regex>, std::less<>> cache;
  std::shared_ptr<const std::regex> re;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(pattern);
    if (it != cache.end()) re = it->second;
  }
  if (!re) {
    // Go's RE2 syntax, translated where ECMAScript spells it differently.
    std::string p(pattern);
    auto flags = std::regex::ECMAScript | std::regex::optimize;
    if (p.starts_with("(?i)")) {
      flags |= std::regex::icase;
      p.erase(0, 4);
    }
    for (auto [from, to] :
         {std::pair<const char*, const char*>{"\\z", "$"}, {"\\A", "^"}, {"(?P<", "(?<"}}) {
      for (size_t at = p.find(from); at != p.npos; at = p.find(from, at + std::strlen(to)))
        p.replace(at, std::strlen(from), to);
    }
    // Named groups are not ECMAScript: keep the group, drop the name.
    for (size_t at = p.find("(?<"); at != p.npos; at = p.find("(?<", at)) {
      size_t close = p.find('>', at);
      if (close == p.npos) break;
      p.replace(at, close - at + 1, "(");
    }
    try {
      re = std::make_shared<const std::regex>(p, flags);
    } catch (const std::regex_error& e) {
      if (error != nullptr) *error = e.what();
      return std::nullopt;
    }
    std::lock_guard<std::mutex> lock(mu);
    if (cache.size() > 1024) cache.clear();
    cache.emplace(std::string(pattern), re);
  }
  // libstdc++'s matcher recurses per input character; very long values could exhaust the stack.
  if (value.size() > 16384) return false;
  try {
    return std::regex_search(value.begin(), value.end(), *re);
  } catch (const std::regex_error&) {
    return false;
  }
}

}  // namespace detail

bool formatMatches(std::string_view format, std::string_view value) {
  std::string f;
  for (char c : format)
    if (c != '-') f += c;
  if (f == "bsonobjectid") return value.size() == 24 && allOf(value, isHex);
  if (f == "uri") return isUri(value);
  if (f == "email") return isEmail(value);
  if (f == "hostname") return isHostname(value);
  if (f == "ipv4") return isIpv4(value);
  if (f == "ipv6") return isIpv6(value);
  if (f == "cidr") return isCidr(value);
  if (f == "mac") return isMac(value);
  if (f == "uuid") return isUuid(value, 0);
  if (f == "uuid3") return isUuid(value, '3');
  if (f == "uuid4") return isUuid(value, '4');
  if (f == "uuid5") return isUuid(value, '5');
  if (f == "isbn") return isIsbn10(value) || isIsbn13(value);
  if (f == "isbn10") return isIsbn10(value);
  if (f == "isbn13") return isIsbn13(value);
  if (f == "creditcard")
    return matchesRegex(
        "^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|"
        "3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\\d{3})\\d{11})$",
        digitsOnly(value));
  if (f == "ssn") return matchesRegex("^\\d{3}[- ]?\\d{2}[- ]?\\d{4}$", value);
  if (f == "hexcolor") return matchesRegex("^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", value);
  if (f == "rgbcolor")
    return matchesRegex(
        "^rgb\\(\\s*(0|[1-9]\\d?|1\\d\\d?|2[0-4]\\d|25[0-5])\\s*,\\s*(0|[1-9]\\d?|1\\d\\d?|"
        "2[0-4]\\d|25[0-5])\\s*,\\s*(0|[1-9]\\d?|1\\d\\d?|2[0-4]\\d|25[0-5])\\s*\\)$",
        value);
  if (f == "byte") return isByte(value);
  if (f == "date") return isDate(value);
  if (f == "datetime") return isDateTime(value);
  if (f == "duration") return isDuration(value);
  return true;  // password, and formats Kubernetes ignores
}

}  // namespace nave::crd
