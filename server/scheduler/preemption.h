// Preemption (the DefaultPreemption PostFilter plugin): when a pod fits no node, find a node
// where evicting pods of lower priority makes it fit, evicting as few and as unimportant pods
// as possible.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "server/scheduler/framework.h"

namespace nave::scheduler {

struct PreemptionResult {
  std::string node;                 // the node to nominate; empty when preemption cannot help
  std::vector<PodInfoPtr> victims;  // most important first
  // The PostFilter message when no node was found ("preemption: 0/3 nodes are available:
  // ..."), for the end of the FitError message; empty on success.
  std::string message;
};

using ReservationFor = std::function<Reservation(const std::string& node)>;

// `statuses` are the filters' verdicts of the scheduling attempt (every node failed).
// The snapshot is changed during the search and restored before returning.
PreemptionResult findPreemption(const PodInfo& pod, Snapshot& snapshot,
                                const std::map<std::string, Status>& statuses,
                                const ReservationFor& reserved);

// Whether a pod is being deleted because the scheduler preempted it (its DisruptionTarget
// condition says so).
bool terminatingByPreemption(const PodInfo& pod);

}  // namespace nave::scheduler
