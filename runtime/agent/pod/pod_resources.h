// Pod-wide resource figures the volumes need. Internal to runtime/agent/pod.
#pragma once

#include <cstdint>

#include "common/json.h"

namespace nave::agent {

// The pod cgroup's memory limit as the kubelet sets it (cm.ResourceConfigForPod): the sum of
// the containers' limits (with sidecars, and at least each init container's), plus the pod's
// overhead; 0 when the pod is BestEffort or some container declares no memory limit.
int64_t podMemoryLimitBytes(const Json& pod);

}  // namespace nave::agent
