// resource.Quantity: parsing, comparison and the canonical string form used in messages.
// Values are held in nano units (enough for every suffix up to Ei with room to spare).
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

constexpr __int128 kLimit = static_cast<__int128>(1000000000000000000LL) * 10000000000000000000ULL;

bool mulChecked(__int128& v, __int128 factor) {
  if (v == 0) return true;
  __int128 a = v < 0 ? -v : v;
  if (a > kLimit / factor) return false;
  v *= factor;
  return true;
}

__int128 pow10(int n) {
  __int128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

std::string int128ToString(__int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  if (neg) v = -v;
  std::string s;
  while (v > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return neg ? "-" + s : s;
}

}  // namespace

std::optional<Quantity> parseQuantity(const Json& value) {
  if (value.is_string()) return parseQuantityText(value.get_ref<const std::string&>());
  if (value.is_number_integer() || value.is_number_unsigned()) {
    return parseQuantityText(value.dump());
  }
  if (value.is_number_float()) {
    std::string s = value.dump();
    return parseQuantityText(s);
  }
  return std::nullopt;
}

std::optional<Quantity> parseQuantityText(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t pos = 0;
  bool negative = false;
  if (s[pos] == '+' || s[pos] == '-') {
    negative = s[pos] == '-';
    ++pos;
  }
  __int128 digits = 0;
  int fraction = 0;
  int digitCount = 0;
  bool seenDot = false;
  bool tooPrecise = false;  // digits beyond what we keep: round away from zero
  for (; pos < s.size(); ++pos) {
    char c = s[pos];
    if (c == '.') {
      if (seenDot) return std::nullopt;
      seenDot = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    ++digitCount;
    if (digits > kLimit / 100) {
      // Keep magnitude: integer digits scale the value, fraction digits only add precision.
      if (seenDot) {
        if (c != '0') tooPrecise = true;
      } else {
        return std::nullopt;  // absurdly large
      }
      continue;
    }
    digits = digits * 10 + (c - '0');
    if (seenDot) ++fraction;
  }
  if (digitCount == 0) return std::nullopt;
  // The suffix: [eEinumkKMGTP]* then an optional sign and digits.
  size_t suffixStart = pos;
  while (pos < s.size() && std::string_view("eEinumkKMGTP").find(s[pos]) != std::string_view::npos)
    ++pos;
  size_t lettersEnd = pos;
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) ++pos;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  if (pos != s.size()) return std::nullopt;
  std::string_view suffix = s.substr(suffixStart);

  Quantity q;
  int power10 = 0;
  int binaryShift = 0;
  static constexpr std::pair<std::string_view, int> kDecimal[] = {
      {"n", -9}, {"u", -6}, {"m", -3}, {"", 0}, {"k", 3}, {"M", 6},
      {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  static constexpr std::pair<std::string_view, int> kBinary[] = {
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  bool known = false;
  for (const auto& [name, p] : kDecimal) {
    if (suffix == name) {
      power10 = p;
      q.format = QuantityFormat::kDecimalSI;
      known = true;
    }
  }
  for (const auto& [name, shift] : kBinary) {
    if (suffix == name) {
      binaryShift = shift;
      q.format = QuantityFormat::kBinarySI;
      known = true;
    }
  }
  if (!known) {
    if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E') || lettersEnd != suffixStart + 1)
      return std::nullopt;
    std::string_view exp = suffix.substr(1);
    bool expNeg = false;
    if (exp[0] == '+' || exp[0] == '-') {
      expNeg = exp[0] == '-';
      exp.remove_prefix(1);
    }
    if (exp.empty() || exp.size() > 4) return std::nullopt;
    int e = 0;
    for (char c : exp) e = e * 10 + (c - '0');
    power10 = expNeg ? -e : e;
    q.format = QuantityFormat::kDecimalExponent;
  }

  __int128 v = digits;
  if (!mulChecked(v, static_cast<__int128>(1) << binaryShift)) q.overflow = true;
  int p = 9 - fraction + power10;
  if (!q.overflow) {
    if (p >= 0) {
      if (p > 38 || !mulChecked(v, pow10(p))) q.overflow = v != 0;
    } else {
      int down = -p;
      if (down > 38) {
        if (v != 0) v = 1;
        else v = 0;
      } else {
        __int128 d = pow10(down);
        __int128 rem = v % d;
        v /= d;
        if (rem != 0) ++v;  // round up below nano precision, as RoundUp does
      }
    }
  }
  if (tooPrecise && !q.overflow) ++v;
  q.nanos = negative ? -v : v;
  if (q.overflow && negative) q.nanos = -1;
  if (q.overflow && !negative) q.nanos = 1;
  return q;
}

int Quantity::compare(const Quantity& other) const {
  if (overflow || other.overflow) {
    int a = nanos < 0 ? -1 : (nanos > 0 ? 1 : 0);
    int b = other.nanos < 0 ? -1 : (other.nanos > 0 ? 1 : 0);
    if (overflow && other.overflow) return a == b ? 0 : (a < b ? -1 : 1);
    if (overflow) return a < 0 ? -1 : 1;
    return b < 0 ? 1 : -1;
  }
  return nanos < other.nanos ? -1 : (nanos > other.nanos ? 1 : 0);
}

std::string Quantity::toString() const {
  if (overflow) return nanos < 0 ? "-9223372036854775807" : "9223372036854775807";
  if (nanos == 0) return "0";
  __int128 v = nanos < 0 ? -nanos : nanos;
  std::string sign = nanos < 0 ? "-" : "";
  const __int128 kOne = 1000000000;
  if (format == QuantityFormat::kBinarySI && v % kOne == 0) {
    __int128 whole = v / kOne;
    static constexpr std::string_view kSuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int k = 0;
    while (k < 6 && whole % 1024 == 0 && whole >= 1024) {
      whole /= 1024;
      ++k;
    }
    // Values below 1Ki print as decimal SI, as Kubernetes does.
    if (k > 0 || whole < 1024) {
      if (k == 0) return sign + int128ToString(whole);
      return sign + int128ToString(whole) + std::string(kSuffixes[k]);
    }
  }
  if (format == QuantityFormat::kDecimalExponent) {
    int e = -9;
    while (e < 18 && v % 1000 == 0) {
      v /= 1000;
      e += 3;
    }
    std::string out = sign + int128ToString(v);
    if (e != 0) out += "e" + std::to_string(e);
    return out;
  }
  static constexpr std::string_view kSi[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
  int idx = 0;
  while (idx < 9 && v % 1000 == 0) {
    v /= 1000;
    ++idx;
  }
  return sign + int128ToString(v) + std::string(kSi[idx]);
}

}  // namespace nave::validation::detail
