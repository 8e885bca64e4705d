// Resource requests and allocatable amounts as the scheduler counts them (the scheduler
// framework's Resource): cpu in millicores, memory and ephemeral-storage in bytes, anything
// else (extended resources, hugepages) as a scalar in whole units.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/json.h"

namespace nave::scheduler {

// A resource.Quantity in thousandths of a unit, rounded up (1 -> 1000, 100m -> 100,
// 1Ki -> 1024000). nullopt when it is not a quantity. JSON numbers are accepted (YAML `cpu: 1`).
std::optional<int64_t> parseMilliQuantity(const Json& value);

struct Resources {
  int64_t milliCpu = 0;
  int64_t memory = 0;
  int64_t ephemeralStorage = 0;
  std::map<std::string, int64_t> scalar;  // e.g. "nvidia.com/gpu", "hugepages-2Mi"

  // From a ResourceList ({"cpu": "500m", "memory": "1Gi", ...}); "pods" is left out.
  static Resources fromList(const Json& list);
  void add(const Resources& other);
  void subtract(const Resources& other);
  // Each dimension becomes the larger of the two (init containers run one at a time).
  void setMax(const Resources& other);
  bool isZero() const;
};

// What a pod asks of a node: the sum of its containers' requests, raised to any init
// container's (restartable init containers, i.e. sidecars, add to what follows them), plus
// spec.overhead.
Resources podRequests(const Json& pod);
// The same with the scheduler's defaults for containers that request no cpu or memory
// (100m and 200Mi), used only for scoring so that many request-less pods spread out.
Resources podNonZeroRequests(const Json& pod);

inline constexpr int64_t kDefaultMilliCpuRequest = 100;
inline constexpr int64_t kDefaultMemoryRequest = 200 * 1024 * 1024;

}  // namespace nave::scheduler
