// ResourceQuota arithmetic shared by the API server's admission and the quota controller:
// what one object uses of the resources a quota can limit (pods, count/..., requests.cpu,
// limits.memory, services.nodeports, requests.storage ...), sums, and the checks.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/json.h"
#include "server/validation/internal.h"

namespace nave::api::quota {

using Quantity = validation::detail::Quantity;
using Usage = std::map<std::string, Quantity>;

// The usage of `object` of resource `plural` in `group` ("" for core), as a quota counts it:
// "count/PLURAL[.GROUP]" always, the legacy names (pods, services, configmaps, secrets,
// persistentvolumeclaims, resourcequotas, replicationcontrollers), and for pods (not yet
// terminated) requests.* / limits.* (the pod's effective request: the larger of its
// containers' sum and any init container, plus overhead; "cpu" and "memory" are requests),
// for services nodeports and loadbalancers, for claims requests.storage.
Usage usageOf(const std::string& group, const std::string& plural, const Json& object);

// The containers of `pod` lacking a request or limit that `quotaKey` (e.g. "requests.cpu")
// needs: "requests.cpu for: c1,c2" or "".
std::string missingFor(const std::string& quotaKey, const Json& pod);

void add(Usage& into, const Usage& more);

// The keys of `hard` (a quota's spec.hard) that `usage` touches.
std::vector<std::string> touched(const Json& hard, const Usage& usage);

Quantity zero();

}  // namespace nave::api::quota
