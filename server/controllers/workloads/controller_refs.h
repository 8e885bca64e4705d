// Owner references between workload controllers and what they control (Kubernetes'
// ControllerRefManager): an object has at most one owner reference with controller: true; a
// controller adopts the orphans its selector matches and releases the objects it owns that its
// selector no longer matches.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "server/client/client.h"
#include "server/selectors/selectors.h"

namespace nave::controllers::workloads {

// The owner reference with controller: true, or null.
const Json* controllerRefOf(const Json& object);
// Whether `object`'s controller is the object with this UID.
bool isControlledBy(const Json& object, const std::string& ownerUid);
// The owner reference a controller puts on what it creates: controller and blockOwnerDeletion
// true (the garbage collector's foreground deletion waits on it).
Json newControllerRef(const Json& owner);
bool hasDeletionTimestamp(const Json& object);
const Json& labelsOf(const Json& object);

// Claims `candidates` (objects of `resource` in the owner's namespace) for `owner`: returns
// those it controls after adopting the orphans `selector` matches (when the owner, read again
// from the API server, is still there and not being deleted) and releasing the owned ones it
// no longer matches. Adoption and release are updates with the informer's resourceVersion, so
// a stale copy fails with a conflict and the caller retries. The first failure is returned
// (objects already gone are not failures).
Result<std::vector<Json>> claimObjects(client::Client& client, const client::Resource& resource,
                                       const client::Resource& ownerResource, const Json& owner,
                                       const selectors::LabelSelector& selector,
                                       const std::vector<Json>& candidates);

}  // namespace nave::controllers::workloads
