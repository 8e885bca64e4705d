#include "server/scheduler/resources.h"

#include <cctype>
#include <cmath>
#include <string_view>

#include "server/scheduler/pod_info.h"

namespace nave::scheduler {

namespace {

using Int = __int128;
constexpr Int kCap = static_cast<Int>(INT64_MAX);

Int pow10(int e) {
  Int r = 1;
  while (e-- > 0) r *= 10;
  return r;
}

std::optional<int64_t> parseText(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') negative = s[i++] == '-';
  Int digits = 0;
  int fraction = 0, seen = 0;
  bool dot = false;
  for (; i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'); ++i) {
    if (s[i] == '.') {
      if (dot) return std::nullopt;
      dot = true;
      continue;
    }
    ++seen;
    if (digits < pow10(30)) {  // beyond that only the magnitude matters, and it saturates
      digits = digits * 10 + (s[i] - '0');
      if (dot) ++fraction;
    } else if (!dot) {
      digits *= 10;
    }
  }
  if (seen == 0) return std::nullopt;
  std::string_view suffix = s.substr(i);
  int exp10 = 0;
  Int binary = 1;
  if (suffix.empty()) {
  } else if (suffix == "n")
    exp10 = -9;
  else if (suffix == "u")
    exp10 = -6;
  else if (suffix == "m")
    exp10 = -3;
  else if (suffix == "k")
    exp10 = 3;
  else if (suffix == "M")
    exp10 = 6;
  else if (suffix == "G")
    exp10 = 9;
  else if (suffix == "T")
    exp10 = 12;
  else if (suffix == "P")
    exp10 = 15;
  else if (suffix == "E")
    exp10 = 18;
  else if (suffix.size() == 2 && suffix[1] == 'i') {
    static constexpr std::string_view kBinary = "KMGTPE";
    size_t k = kBinary.find(suffix[0]);
    if (k == std::string_view::npos) return std::nullopt;
    binary = static_cast<Int>(1) << (10 * (k + 1));
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::string_view e = suffix.substr(1);
    bool eneg = !e.empty() && e[0] == '-';
    if (!e.empty() && (e[0] == '-' || e[0] == '+')) e.remove_prefix(1);
    if (e.empty() || e.size() > 3) return std::nullopt;
    for (char c : e)
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    exp10 = std::stoi(std::string(e)) * (eneg ? -1 : 1);
  } else {
    return std::nullopt;
  }
  // millis = digits * binary * 10^(exp10 + 3 - fraction), rounded up.
  int shift = exp10 + 3 - fraction;
  Int value = digits * binary;
  if (shift >= 0) {
    for (int k = 0; k < shift && value <= kCap; ++k) value *= 10;
  } else if (-shift > 36) {
    value = value == 0 ? 0 : 1;
  } else {
    Int d = pow10(-shift);
    value = (value + d - 1) / d;
  }
  if (value > kCap) value = kCap;
  int64_t out = static_cast<int64_t>(value);
  return negative ? -out : out;
}

Int saturate(Int v) {
  return v > kCap ? kCap : v;
}

}  // namespace

std::optional<int64_t> parseMilliQuantity(const Json& value) {
  if (value.is_string()) return parseText(value.get_ref<const std::string&>());
  if (value.is_number_integer())
    return static_cast<int64_t>(saturate(static_cast<Int>(value.get<int64_t>()) * 1000));
  if (value.is_number()) return static_cast<int64_t>(std::ceil(value.get<double>() * 1000));
  return std::nullopt;
}

Resources Resources::fromList(const Json& list) {
  Resources r;
  if (!list.is_object()) return r;
  for (const auto& [name, q] : list.items()) {
    auto milli = parseMilliQuantity(q);
    if (!milli || *milli < 0) continue;
    if (name == "cpu")
      r.milliCpu = *milli;
    else if (name == "memory")
      r.memory = (*milli + 999) / 1000;
    else if (name == "ephemeral-storage")
      r.ephemeralStorage = (*milli + 999) / 1000;
    else if (name != "pods")
      r.scalar[name] = (*milli + 999) / 1000;
  }
  return r;
}

void Resources::add(const Resources& o) {
  milliCpu += o.milliCpu;
  memory += o.memory;
  ephemeralStorage += o.ephemeralStorage;
  for (const auto& [k, v] : o.scalar) scalar[k] += v;
}

void Resources::subtract(const Resources& o) {
  milliCpu -= o.milliCpu;
  memory -= o.memory;
  ephemeralStorage -= o.ephemeralStorage;
  for (const auto& [k, v] : o.scalar) {
    auto it = scalar.find(k);
    if (it == scalar.end()) continue;
    it->second -= v;
    if (it->second == 0) scalar.erase(it);
  }
}

void Resources::setMax(const Resources& o) {
  milliCpu = std::max(milliCpu, o.milliCpu);
  memory = std::max(memory, o.memory);
  ephemeralStorage = std::max(ephemeralStorage, o.ephemeralStorage);
  for (const auto& [k, v] : o.scalar) scalar[k] = std::max(scalar[k], v);
}

bool Resources::isZero() const {
  if (milliCpu != 0 || memory != 0 || ephemeralStorage != 0) return false;
  for (const auto& [k, v] : scalar)
    if (v != 0) return false;
  return true;
}

namespace {

Resources containerRequests(const Json& c, bool nonZero) {
  const Json* res = findMember(c, "resources");
  const Json* req = res ? findMember(*res, "requests") : nullptr;
  Resources r = req ? Resources::fromList(*req) : Resources{};
  if (nonZero) {
    bool hasCpu = req && req->contains("cpu");
    bool hasMemory = req && req->contains("memory");
    if (!hasCpu) r.milliCpu = kDefaultMilliCpuRequest;
    if (!hasMemory) r.memory = kDefaultMemoryRequest;
  }
  return r;
}

Resources requests(const Json& pod, bool nonZero) {
  Resources sum;
  const Json& spec = objectField(pod, "spec");
  if (const Json* cs = findMember(spec, "containers"); cs && cs->is_array())
    for (const Json& c : *cs) sum.add(containerRequests(c, nonZero));
  // Init containers run one after another, before the app containers; restartable ones
  // (sidecars) keep running, so they add to everything started after them.
  Resources sidecars, initMax;
  if (const Json* ics = findMember(spec, "initContainers"); ics && ics->is_array()) {
    for (const Json& c : *ics) {
      Resources r = containerRequests(c, nonZero);
      if (getString(c, "restartPolicy") == "Always") {
        sidecars.add(r);
        initMax.setMax(sidecars);
      } else {
        Resources during = sidecars;
        during.add(r);
        initMax.setMax(during);
      }
    }
  }
  sum.add(sidecars);
  sum.setMax(initMax);
  if (const Json* overhead = findMember(spec, "overhead")) sum.add(Resources::fromList(*overhead));
  return sum;
}

}  // namespace

Resources podRequests(const Json& pod) {
  return requests(pod, false);
}
Resources podNonZeroRequests(const Json& pod) {
  return requests(pod, true);
}

}  // namespace nave::scheduler
