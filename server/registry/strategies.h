// Type-specific strategy hooks of built-in types (what Kubernetes' pkg/registry/*/strategy.go
// files do beyond the generic rules): initial status on create, address allocation, and
// field selector names that differ between served shapes.
#pragma once

#include "server/registry/builtin_types.h"
#include "server/registry/resource_type.h"

namespace nave::registry {

void attachStrategy(ResourceType& type, const StrategyDeps& deps);

// The pod's QoS class from its containers' requests and limits: Guaranteed, Burstable or
// BestEffort, as Kubernetes computes it.
std::string podQosClass(const Json& pod);

}  // namespace nave::registry
