// Conversions for resources served in more than one shape from one storage: events.k8s.io/v1
// Events are stored as core/v1 Events, autoscaling/v1 HorizontalPodAutoscalers as
// autoscaling/v2.
#pragma once

#include "common/json.h"
#include "server/registry/resource_type.h"

namespace nave::registry {

// Sets storage identity and toStorage/fromStorage on the types that need them.
void attachConversions(ResourceType& type);

Json coreEventFromEventsV1(const Json& event);
Json eventsV1FromCoreEvent(const Json& event);
Json hpaV2FromV1(const Json& hpa);
Json hpaV1FromV2(const Json& hpa);

}  // namespace nave::registry
