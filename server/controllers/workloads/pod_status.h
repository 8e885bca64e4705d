// What the workload controllers read from pods: activity, readiness and availability
// (Kubernetes' podutil), and the order in which a ReplicaSet gives up surplus pods.
#pragma once

#include <optional>
#include <vector>

#include "common/json.h"
#include "server/controllers/object_util.h"
#include "common/time.h"

namespace nave::controllers::workloads {

// Not Succeeded, not Failed, and not being deleted: the pods that count towards a ReplicaSet.
bool isPodActive(const Json& pod);
using controllers::isPodReady;  // server/controllers/object_util.h
// When the Ready condition last became True; nullopt when the pod is not ready.
std::optional<WallTime> podReadySince(const Json& pod);
// Ready for at least minReadySeconds at `now`.
bool isPodAvailable(const Json& pod, int64_t minReadySeconds, WallTime now);
// When the pod becomes available, if it is ready but not yet available.
std::optional<WallTime> podAvailableAt(const Json& pod, int64_t minReadySeconds);

// Orders `pods` so that the ones to delete first come first (Kubernetes' ActivePodsWithRanks):
// unscheduled before scheduled, Pending before Unknown before Running, not ready before ready,
// lower controller.kubernetes.io/pod-deletion-cost first, more pods of the same owner on the
// node first (`ranks`, one per pod), ready for less time first (in powers of two), more
// container restarts first, newer first.
void sortPodsForDeletion(std::vector<Json>& pods, std::vector<int> ranks, WallTime now);

}  // namespace nave::controllers::workloads
