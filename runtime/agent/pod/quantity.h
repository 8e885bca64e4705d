// Quantity: an exact Kubernetes resource quantity (resource.Quantity), for the sums and
// comparisons the QoS class needs and the rounding the cgroup settings need. Internal to
// runtime/agent/pod.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/result.h"

namespace nave::agent {

class Quantity {
 public:
  Quantity() = default;

  // Parses "<sign><digits>[.<digits>]<suffix>" with the suffixes of resource.ParseQuantity:
  // n u m "" k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary), e<int>/E<int> (exponent).
  // The value is rounded up (away from zero) to a billionth and capped at +-(2^63-1) units,
  // as Kubernetes does. Errors (kInvalid) carry Kubernetes' wording.
  static Result<Quantity> parse(std::string_view text);
  // A quantity as JSON holds it: a string, or a number (what YAML `cpu: 1` decodes to).
  static Result<Quantity> fromJson(const Json& value);
  static Quantity fromUnits(int64_t units);
  static Quantity fromMillis(int64_t millis);

  // Rounded up (away from zero) to whole units / thousandths, saturating at int64's range.
  int64_t value() const;
  int64_t milliValue() const;

  bool isZero() const { return nanos_ == 0; }
  bool isNegative() const { return nanos_ < 0; }

  Quantity operator+(const Quantity& other) const;
  std::strong_ordering operator<=>(const Quantity& other) const { return nanos_ <=> other.nanos_; }
  bool operator==(const Quantity& other) const = default;

 private:
  explicit Quantity(__int128 nanos) : nanos_(nanos) {}
  __int128 nanos_ = 0;  // billionths of a unit; |nanos_| <= (2^63-1) * 10^9
};

}  // namespace nave::agent
