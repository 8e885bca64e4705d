// The downward API's values, shared by environment variables (valueFrom) and downwardAPI /
// projected volume files. Internal to runtime/agent/pod.
#pragma once

#include <string>

#include "common/json.h"
#include "common/result.h"
#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {

// A pod's metadata field as Kubernetes' fieldpath.ExtractFieldPathAsString reads it:
// metadata.name, metadata.namespace, metadata.uid, metadata.labels and metadata.annotations
// (one `key="value"` line per entry, sorted, values quoted as Go's %q), and
// metadata.labels['k'] / metadata.annotations['k'] (empty when absent). Anything else is an
// error ("unsupported fieldPath: ...").
Result<std::string> podMetadataField(const Json& pod, const std::string& fieldPath);

// A resourceFieldRef's value for `container`: its limits or requests of cpu (in units of the
// divisor's millicores), memory, ephemeral-storage or hugepages-<size> (in units of the
// divisor), rounded up. Limits that are not set (or zero) of cpu, memory and ephemeral-storage
// are the node's allocatable amounts from `facts`, as the kubelet defaults them.
Result<std::string> containerResourceValue(const Json& resourceFieldRef, const Json& container,
                                           const PodFacts& facts);

}  // namespace nave::agent
