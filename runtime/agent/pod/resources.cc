// QoS classes (pkg/apis/core/v1/helper/qos) and container cgroup settings
// (pkg/kubelet/kuberuntime/kuberuntime_container_linux.go, pkg/kubelet/cm/helpers_linux.go).
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "runtime/agent/pod/pod_json.h"
#include "runtime/agent/pod/pod_resources.h"
#include "runtime/agent/pod/pod_spec.h"
#include "runtime/agent/pod/quantity.h"

namespace nave::agent {
namespace {

// The kernel's limits for cpu.shares, and the kubelet's CFS quota period and minimum quota.
constexpr int64_t kMinShares = 2;
constexpr int64_t kMaxShares = 262144;
constexpr int64_t kSharesPerCpu = 1024;
constexpr int64_t kMilliCpuPerCpu = 1000;
constexpr int64_t kQuotaPeriodMicros = 100000;
constexpr int64_t kMinQuotaMicros = 1000;

int64_t milliCpuToShares(int64_t milliCpu) {
  if (milliCpu == 0) return kMinShares;
  int64_t shares = milliCpu > INT64_MAX / kSharesPerCpu
                       ? kMaxShares
                       : milliCpu * kSharesPerCpu / kMilliCpuPerCpu;
  return std::clamp(shares, kMinShares, kMaxShares);
}

int64_t milliCpuToQuota(int64_t milliCpu, int64_t period) {
  if (milliCpu == 0) return 0;
  int64_t quota = milliCpu > INT64_MAX / period ? INT64_MAX : milliCpu * period / kMilliCpuPerCpu;
  return std::max(quota, kMinQuotaMicros);
}

// A quantity of a resource list, checked: nullopt when absent.
Result<std::optional<Quantity>> listQuantity(const Json& resources, const char* list,
                                             const char* name) {
  const Json* q = findMember(objectMember(resources, list), name);
  if (q == nullptr || q->is_null()) return std::optional<Quantity>();
  Result<Quantity> parsed = Quantity::fromJson(*q);
  if (!parsed.ok()) {
    return Error(ErrorCode::kInvalid,
                 std::string("resources.") + list + "." + name + ": " + parsed.error().message());
  }
  if (parsed->isNegative()) {
    return Error(ErrorCode::kInvalid, std::string("resources.") + list + "." + name + ": " +
                                          q->dump() + " must be greater than or equal to 0");
  }
  return std::optional<Quantity>(*parsed);
}

// A quantity of a resource list, or zero when absent or not a valid quantity.
Quantity quantityOrZero(const Json& list, const char* name) {
  const Json* q = findMember(list, name);
  if (q == nullptr) return Quantity();
  Result<Quantity> parsed = Quantity::fromJson(*q);
  return parsed.ok() ? *parsed : Quantity();
}

Quantity containerMemoryLimit(const Json& container) {
  return quantityOrZero(objectMember(objectMember(container, "resources"), "limits"), "memory");
}

}  // namespace

std::string qosClass(const Json& pod) {
  std::string recorded = getString(objectMember(pod, "status"), "qosClass");
  if (!recorded.empty()) return recorded;
  static const std::set<std::string> kComputeResources = {"cpu", "memory"};
  std::map<std::string, Quantity> requests, limits;
  bool guaranteed = true;
  for (const Json* container : podContainers(pod)) {
    const Json& resources = objectMember(*container, "resources");
    const Json& containerRequests = objectMember(resources, "requests");
    for (auto it = containerRequests.begin(); it != containerRequests.end(); ++it) {
      if (kComputeResources.count(it.key()) == 0) continue;
      Result<Quantity> q = Quantity::fromJson(*it);
      if (q.ok() && *q > Quantity()) requests[it.key()] = requests[it.key()] + *q;
    }
    std::set<std::string> limitsFound;
    const Json& containerLimits = objectMember(resources, "limits");
    for (auto it = containerLimits.begin(); it != containerLimits.end(); ++it) {
      if (kComputeResources.count(it.key()) == 0) continue;
      Result<Quantity> q = Quantity::fromJson(*it);
      if (q.ok() && *q > Quantity()) {
        limitsFound.insert(it.key());
        limits[it.key()] = limits[it.key()] + *q;
      }
    }
    if (limitsFound.size() != kComputeResources.size()) guaranteed = false;
  }
  if (requests.empty() && limits.empty()) return "BestEffort";
  if (guaranteed) {
    for (const auto& [name, request] : requests) {
      auto it = limits.find(name);
      if (it == limits.end() || it->second != request) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size() == limits.size() ? "Guaranteed" : "Burstable";
}

Result<runtime::Resources> containerResources(const Json& container) {
  const Json& resources = objectMember(container, "resources");
  std::optional<Quantity> cpuRequest = TRY(listQuantity(resources, "requests", "cpu"));
  Quantity cpuLimit = TRY(listQuantity(resources, "limits", "cpu")).value_or(Quantity());
  Quantity memoryLimit = TRY(listQuantity(resources, "limits", "memory")).value_or(Quantity());
  runtime::Resources out;
  // A request defaults to the limit (the API server does so for new pods; the kubelet repeats
  // it); neither gives the minimum shares.
  out.cpuShares = milliCpuToShares(cpuRequest ? cpuRequest->milliValue() : cpuLimit.milliValue());
  out.cpuPeriodMicros = kQuotaPeriodMicros;
  out.cpuQuotaMicros = milliCpuToQuota(cpuLimit.milliValue(), kQuotaPeriodMicros);
  out.memoryLimitBytes = memoryLimit.value();
  return out;
}

Result<int64_t> parseQuantityMilli(const std::string& quantity) {
  return TRY(Quantity::parse(quantity)).milliValue();
}

Result<int64_t> parseQuantity(const std::string& quantity) {
  return TRY(Quantity::parse(quantity)).value();
}

int64_t podMemoryLimitBytes(const Json& pod) {
  if (qosClass(pod) == "BestEffort") return 0;
  const Json& spec = objectMember(pod, "spec");
  bool declared = true;
  Quantity total;
  for (const Json& c : arrayMember(spec, "containers")) {
    Quantity limit = containerMemoryLimit(c);
    if (limit.isZero()) declared = false;
    total = total + limit;
  }
  // An init container runs next to the sidecars (restartable init containers) declared before
  // it; the sidecars keep running next to the app containers.
  Quantity sidecars, initMax;
  for (const Json& c : arrayMember(spec, "initContainers")) {
    Quantity limit = containerMemoryLimit(c);
    Quantity during;
    if (getString(c, "restartPolicy") == "Always") {
      total = total + limit;
      sidecars = sidecars + limit;
      during = sidecars;
    } else {
      during = limit + sidecars;
    }
    if (during.isZero()) declared = false;
    initMax = std::max(initMax, during);
  }
  total = std::max(total, initMax);
  if (!declared || total.isZero()) return 0;
  total = total + quantityOrZero(objectMember(spec, "overhead"), "memory");
  return total.value();
}

}  // namespace nave::agent
