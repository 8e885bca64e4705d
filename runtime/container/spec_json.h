// ContainerSpec <-> JSON, for ROOT/ID/spec.json (written by ContainerRuntime::create, read by the
// shim and by exec).
#pragma once

#include "common/json.h"
#include "common/result.h"
#include "runtime/container/container_runtime.h"

namespace nave::runtime {

Json containerSpecToJson(const ContainerSpec& spec);
// kBadRequest when a field has the wrong type.
Result<ContainerSpec> containerSpecFromJson(const Json& json);

}  // namespace nave::runtime
