// Small readings of API objects that many controllers make.
#pragma once

#include <string_view>

#include "common/json.h"

namespace nave::controllers {

// metadata.deletionTimestamp is set: the object is being deleted (finalizers or grace).
bool isDeleting(const Json& object);

// The condition of `type` in status.conditions, or null.
const Json* findCondition(const Json& object, std::string_view type);

// The pod's Ready condition is True.
bool isPodReady(const Json& pod);

// Whether `toleration` tolerates `taint` (core/v1 Toleration.ToleratesTaint): same effect (or
// none), and the key matched by Exists or by Equal with the same value (an empty key with
// Exists tolerates everything).
bool tolerates(const Json& toleration, const Json& taint);

}  // namespace nave::controllers
