#include "runtime/agent/pod/quantity.h"

#include <cstdlib>
#include <limits>
#include <optional>

#include "common/strings.h"

namespace nave::agent {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr __int128 kNanosPerUnit = 1'000'000'000;
// Kubernetes caps parsed quantities at 2^63-1 units.
constexpr __int128 kMaxNanos = static_cast<__int128>(kInt64Max) * kNanosPerUnit;
// kMaxNanos has 28 decimal digits; anything with more is over the cap.
constexpr size_t kMaxNanosDigits = 28;

Error formatError(std::string_view text) {
  return Error(ErrorCode::kInvalid, "invalid quantity " + goQuote(text) +
                                        ": quantities must match the regular expression "
                                        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
}

Error suffixError(std::string_view text) {
  return Error(ErrorCode::kInvalid,
               "invalid quantity " + goQuote(text) + ": unable to parse quantity's suffix");
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

struct Scale {
  int64_t exp10 = 0;
  int exp2 = 0;
};

// The suffixes resource.Quantity knows; "e<int32>" and "E<int32>" are decimal exponents ("E"
// alone is exa).
std::optional<Scale> interpretSuffix(std::string_view s) {
  static const struct {
    std::string_view name;
    Scale scale;
  } kSuffixes[] = {
      {"", {0, 0}},    {"n", {-9, 0}},  {"u", {-6, 0}},  {"m", {-3, 0}},
      {"k", {3, 0}},   {"M", {6, 0}},   {"G", {9, 0}},   {"T", {12, 0}},
      {"P", {15, 0}},  {"E", {18, 0}},  {"Ki", {0, 10}}, {"Mi", {0, 20}},
      {"Gi", {0, 30}}, {"Ti", {0, 40}}, {"Pi", {0, 50}}, {"Ei", {0, 60}},
  };
  for (const auto& known : kSuffixes) {
    if (s == known.name) return known.scale;
  }
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E')) {
    // strconv.ParseInt(s[1:], 10, 32): an optional sign, then digits only.
    std::string_view digits = s.substr(1);
    bool negative = false;
    if (digits[0] == '+' || digits[0] == '-') {
      negative = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (digits.empty()) return std::nullopt;
    int64_t v = 0;
    for (char c : digits) {
      if (!isDigit(c)) return std::nullopt;
      v = v * 10 + (c - '0');
      if (v > (int64_t{1} << 31)) return std::nullopt;
    }
    if (negative) v = -v;
    if (v > std::numeric_limits<int32_t>::max() || v < std::numeric_limits<int32_t>::min()) {
      return std::nullopt;
    }
    return Scale{v, 0};
  }
  return std::nullopt;
}

// `digits` (decimal, no leading zeros) times two.
void doubleDigits(std::string& digits) {
  int carry = 0;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = (digits[i] - '0') * 2 + carry;
    digits[i] = static_cast<char>('0' + d % 10);
    carry = d / 10;
  }
  if (carry) digits.insert(digits.begin(), static_cast<char>('0' + carry));
}

__int128 parseDigits(std::string_view digits) {
  __int128 v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

// digits * 10^shift rounded up to an integer, or kMaxNanos + 1 when beyond the cap.
__int128 scaleDigits(const std::string& digits, int64_t shift) {
  if (shift >= 0) {
    if (static_cast<int64_t>(digits.size()) + shift > static_cast<int64_t>(kMaxNanosDigits)) {
      return kMaxNanos + 1;
    }
    __int128 v = parseDigits(digits);
    for (int64_t i = 0; i < shift; ++i) v *= 10;
    return v;
  }
  int64_t intLength = static_cast<int64_t>(digits.size()) + shift;
  if (intLength <= 0) return 1;  // a nonzero fraction of a nano rounds up to one
  if (intLength > static_cast<int64_t>(kMaxNanosDigits)) return kMaxNanos + 1;
  std::string_view all(digits);
  __int128 v = parseDigits(all.substr(0, static_cast<size_t>(intLength)));
  for (char c : all.substr(static_cast<size_t>(intLength))) {
    if (c != '0') return v + 1;
  }
  return v;
}

}  // namespace

Result<Quantity> Quantity::parse(std::string_view text) {
  if (text.empty()) return formatError(text);
  size_t pos = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    ++pos;
  }
  size_t numStart = pos;
  while (pos < text.size() && isDigit(text[pos])) ++pos;
  std::string_view num = text.substr(numStart, pos - numStart);
  std::string_view denom;
  if (pos < text.size() && text[pos] == '.') {
    size_t denomStart = ++pos;
    while (pos < text.size() && isDigit(text[pos])) ++pos;
    denom = text.substr(denomStart, pos - denomStart);
  }
  // The suffix: letters of the known suffixes, then an optional signed integer (exponents).
  size_t suffixStart = pos;
  static constexpr std::string_view kSuffixLetters = "eEinumkKMGTP";
  while (pos < text.size() && kSuffixLetters.find(text[pos]) != std::string_view::npos) ++pos;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
  while (pos < text.size() && isDigit(text[pos])) ++pos;
  if (pos != text.size()) return formatError(text);
  std::optional<Scale> scale = interpretSuffix(text.substr(suffixStart));
  if (!scale) return suffixError(text);

  std::string digits;
  digits.reserve(num.size() + denom.size());
  digits.append(num);
  digits.append(denom);
  size_t firstNonZero = digits.find_first_not_of('0');
  if (firstNonZero == std::string::npos) return Quantity();
  digits.erase(0, firstNonZero);
  for (int i = 0; i < scale->exp2; ++i) doubleDigits(digits);
  int64_t shift = scale->exp10 - static_cast<int64_t>(denom.size()) + 9;
  __int128 nanos = scaleDigits(digits, shift);
  if (nanos > kMaxNanos) nanos = kMaxNanos;
  return Quantity(negative ? -nanos : nanos);
}

Result<Quantity> Quantity::fromJson(const Json& value) {
  if (value.is_string()) return parse(value.get_ref<const std::string&>());
  if (value.is_number()) return parse(value.dump());
  return Error(ErrorCode::kInvalid, "invalid quantity " + value.dump() + ": not a string");
}

Quantity Quantity::fromUnits(int64_t units) {
  return Quantity(static_cast<__int128>(units) * kNanosPerUnit);
}

Quantity Quantity::fromMillis(int64_t millis) {
  return Quantity(static_cast<__int128>(millis) * 1'000'000);
}

int64_t Quantity::value() const {
  __int128 magnitude = nanos_ < 0 ? -nanos_ : nanos_;
  __int128 units = (magnitude + kNanosPerUnit - 1) / kNanosPerUnit;  // <= 2^63-1 by the cap
  return static_cast<int64_t>(nanos_ < 0 ? -units : units);
}

int64_t Quantity::milliValue() const {
  __int128 magnitude = nanos_ < 0 ? -nanos_ : nanos_;
  __int128 millis = (magnitude + 999'999) / 1'000'000;
  if (millis > kInt64Max) millis = kInt64Max;
  return static_cast<int64_t>(nanos_ < 0 ? -millis : millis);
}

Quantity Quantity::operator+(const Quantity& other) const {
  __int128 sum = nanos_ + other.nanos_;
  if (sum > kMaxNanos) sum = kMaxNanos;
  if (sum < -kMaxNanos) sum = -kMaxNanos;
  return Quantity(sum);
}

}  // namespace nave::agent
