// Name and format rules with the messages of k8s.io/apimachinery/pkg/util/validation (the
// 1.27-1.33 wording). The regular expressions are matched by hand: std::regex is slow and throws.
#include <arpa/inet.h>

#include <cstring>

#include "server/validation/internal.h"

namespace nave::validation {
namespace {

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Kubernetes' RegexError: "msg (e.g. 'a',  or 'b', regex used for validation is 're')".
std::string regexError(std::string_view msg, std::string_view re,
                       std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  if (examples.size() == 0) return out + " (regex used for validation is '" + std::string(re) + "')";
  out += " (e.g. ";
  bool first = true;
  for (std::string_view e : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'" + std::string(e) + "', ";
  }
  out += "regex used for validation is '" + std::string(re) + "')";
  return out;
}

constexpr std::string_view kDns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kDns1123LabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character";
constexpr std::string_view kDns1123SubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kDns1123SubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kDns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kDns1035LabelMsg =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character";
constexpr std::string_view kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kQualifiedNameMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr std::string_view kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kWildcardFmt =
    "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kWildcardMsg =
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
    "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
    "character";

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool matchDns1123Label(std::string_view s) {
  if (s.empty() || !isLowerAlnum(s.front()) || !isLowerAlnum(s.back())) return false;
  for (char c : s)
    if (!isLowerAlnum(c) && c != '-') return false;
  return true;
}

bool matchDns1123Subdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!matchDns1123Label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matchQualifiedNamePart(std::string_view s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  for (char c : s)
    if (!isAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

std::string maskTrailingDash(std::string_view name) {
  std::string s(name);
  if (s.size() > 1 && s.back() == '-') s.back() = 'a';
  return s;
}

}  // namespace

std::vector<std::string> isDns1123Subdomain(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(detail::maxLenError(253));
  if (!matchDns1123Subdomain(value))
    errs.push_back(regexError(kDns1123SubdomainMsg, kDns1123SubdomainFmt, {"example.com"}));
  return errs;
}

std::vector<std::string> isDns1123Label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(detail::maxLenError(63));
  if (!matchDns1123Label(value)) {
    if (matchDns1123Subdomain(value)) {
      errs.push_back("must not contain dots");
    } else {
      errs.push_back(regexError(kDns1123LabelMsg, kDns1123LabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errs;
}

std::vector<std::string> isQualifiedName(std::string_view value) {
  std::vector<std::string> errs;
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = value.find('/', start);
    parts.push_back(value.substr(start, slash == value.npos ? value.npos : slash - start));
    if (slash == value.npos) break;
    start = slash + 1;
  }
  std::string_view name;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {
    std::string_view prefix = parts[0];
    name = parts[1];
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (const std::string& m : isDns1123Subdomain(prefix)) errs.push_back("prefix part " + m);
    }
  } else {
    errs.push_back("a qualified name " +
                   regexError(kQualifiedNameMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part " + detail::maxLenError(63));
  }
  if (!matchQualifiedNamePart(name))
    errs.push_back("name part " + regexError(kQualifiedNameMsg, kQualifiedNameFmt,
                                             {"MyName", "my.name", "123-abc"}));
  return errs;
}

std::vector<std::string> isValidLabelValue(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(detail::maxLenError(63));
  if (!value.empty() && !matchQualifiedNamePart(value))
    errs.push_back(regexError(kLabelValueMsg, kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  return errs;
}

namespace detail {

std::string maxLenError(size_t length) {
  return "must be no more than " + std::to_string(length) + " characters";
}

std::string inclusiveRangeError(int64_t lo, int64_t hi) {
  return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", inclusive";
}

bool isDns1123LabelFormat(std::string_view value) { return matchDns1123Label(value); }

std::vector<std::string> nameIsDnsSubdomain(std::string_view name, bool prefix) {
  return isDns1123Subdomain(prefix ? maskTrailingDash(name) : std::string(name));
}

std::vector<std::string> nameIsDnsLabel(std::string_view name, bool prefix) {
  return isDns1123Label(prefix ? maskTrailingDash(name) : std::string(name));
}

std::vector<std::string> nameIsDns1035Label(std::string_view name, bool prefix) {
  return isDns1035Label(prefix ? maskTrailingDash(name) : std::string(name));
}

std::vector<std::string> nameIsPathSegment(std::string_view name, bool prefix) {
  if (!prefix) {
    if (name == ".") return {"may not be '.'"};
    if (name == "..") return {"may not be '..'"};
  }
  std::vector<std::string> errs;
  if (name.find('/') != name.npos) errs.push_back("may not contain '/'");
  if (name.find('%') != name.npos) errs.push_back("may not contain '%'");
  return errs;
}

std::vector<std::string> isDns1035Label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(maxLenError(63));
  bool ok = !value.empty() && value.front() >= 'a' && value.front() <= 'z' &&
            matchDns1123Label(value);
  if (!ok) errs.push_back(regexError(kDns1035LabelMsg, kDns1035LabelFmt, {"my-name", "abc-123"}));
  return errs;
}

std::vector<std::string> isWildcardDns1123Subdomain(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(maxLenError(253));
  bool ok = value.size() > 2 && value.substr(0, 2) == "*." && matchDns1123Subdomain(value.substr(2));
  if (!ok) errs.push_back(regexError(kWildcardMsg, kWildcardFmt, {"*.example.com"}));
  return errs;
}

std::vector<std::string> isConfigMapKey(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(maxLenError(253));
  bool ok = !value.empty();
  for (char c : value)
    if (!isAlnum(c) && c != '-' && c != '.' && c != '_') ok = false;
  if (!ok)
    errs.push_back(regexError("a valid config key must consist of alphanumeric characters, '-', "
                              "'_' or '.'",
                              "[-._a-zA-Z0-9]+", {"key.name", "KEY_NAME", "key-name"}));
  if (value == ".") {
    errs.push_back("must not be '.'");
  } else if (value == "..") {
    errs.push_back("must not be '..'");
  } else if (value.substr(0, 2) == "..") {
    errs.push_back("must not start with '..'");
  }
  return errs;
}

std::vector<std::string> isEnvVarName(std::string_view value) {
  std::vector<std::string> errs;
  if (value.empty()) errs.push_back("environment variable name must be non-empty");
  for (unsigned char c : value) {
    if (c < 0x20 || c > 0x7e || c == '=') {
      errs.push_back(
          "a valid environment variable name must consist only of printable ASCII characters "
          "other than '='");
      break;
    }
  }
  return errs;
}

std::vector<std::string> isValidPortName(std::string_view port) {
  std::vector<std::string> errs;
  if (port.size() > 15) errs.push_back(maxLenError(15));
  bool charset = !port.empty();
  bool letter = false;
  for (char c : port) {
    if (!isLowerAlnum(c) && c != '-') charset = false;
    if (c >= 'a' && c <= 'z') letter = true;
  }
  if (!charset) errs.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!letter) errs.push_back("must contain at least one letter (a-z)");
  if (port.find("--") != port.npos) errs.push_back("must not contain consecutive hyphens");
  if (!port.empty() && (port.front() == '-' || port.back() == '-'))
    errs.push_back("must not begin or end with a hyphen");
  return errs;
}

std::vector<std::string> isValidPortNum(int64_t port) {
  if (port >= 1 && port <= 65535) return {};
  return {inclusiveRangeError(1, 65535)};
}

std::vector<std::string> isInRange(int64_t value, int64_t lo, int64_t hi) {
  if (value >= lo && value <= hi) return {};
  return {inclusiveRangeError(lo, hi)};
}

std::vector<std::string> isHttpHeaderName(std::string_view value) {
  bool ok = !value.empty();
  for (char c : value)
    if (!isAlnum(c) && c != '-') ok = false;
  if (ok) return {};
  return {regexError("a valid HTTP header must consist of alphanumeric characters or '-'",
                     "[-A-Za-z0-9]+", {"X-Header-Name"})};
}

std::vector<std::string> isValidPercent(std::string_view value) {
  bool ok = value.size() >= 2 && value.back() == '%';
  for (size_t i = 0; ok && i + 1 < value.size(); ++i)
    if (value[i] < '0' || value[i] > '9') ok = false;
  if (ok) return {};
  return {regexError("a valid percent string must be a numeric string followed by an ending '%'",
                     "[0-9]+%", {"1%", "93%"})};
}

std::vector<std::string> isCIdentifier(std::string_view value) {
  bool ok = !value.empty() && (isAlpha(value.front()) || value.front() == '_');
  for (char c : value)
    if (!isAlnum(c) && c != '_') ok = false;
  if (ok) return {};
  return {regexError("a valid C identifier must start with alphabetic character or '_', followed "
                     "by a string of alphanumeric characters or '_'",
                     "[A-Za-z_][A-Za-z0-9_]*", {"my_name", "MY_NAME", "MyName"})};
}

bool parseIp(std::string_view value, bool& isV6) {
  if (value.empty() || value.size() > 64) return false;
  std::string s(value);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    isV6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    isV6 = true;
    return true;
  }
  return false;
}

bool isIp(std::string_view value) {
  bool v6 = false;
  return parseIp(value, v6);
}

void validateIp(const Json& value, const std::string& path, FieldErrors& errs) {
  if (!value.is_string() || !isIp(value.get<std::string>()))
    errs.invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
}

void validateCidr(const Json& value, const std::string& path, FieldErrors& errs) {
  bool ok = false;
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    size_t slash = s.find('/');
    bool v6 = false;
    if (slash != s.npos && slash + 1 < s.size() && s.size() - slash <= 4 &&
        parseIp(std::string_view(s).substr(0, slash), v6)) {
      int bits = 0;
      ok = true;
      for (size_t i = slash + 1; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') ok = false;
        bits = bits * 10 + (s[i] - '0');
      }
      if (ok && bits > (v6 ? 128 : 32)) ok = false;
    }
  }
  if (!ok) errs.invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
}

void invalidEach(FieldErrors& errs, const std::string& path, const Json& value,
                 const std::vector<std::string>& msgs) {
  for (const std::string& m : msgs) errs.invalid(path, value, m);
}

}  // namespace detail
}  // namespace nave::validation
