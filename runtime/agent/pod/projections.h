// The file sets of configMap, secret, downwardAPI and projected volumes, as the kubelet's
// volume plugins compute them (configmap.MakePayload, secret.MakePayload,
// downwardapi.CollectData, projected's collectData). Internal to runtime/agent/pod.
#pragma once

#include <cstdint>
#include <string>

#include "common/json.h"
#include "common/result.h"
#include "runtime/agent/pod/atomic_writer.h"
#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {

// obj[key] as a file mode: `fallback` when absent; 0 to 0777 (kInvalid otherwise).
Result<uint32_t> fileMode(const Json& obj, const char* key, uint32_t fallback);

// All keys of data and binaryData (no items), or the listed items (key, path, mode). A
// missing key is an error ("configmap references non-existent config key: K") unless
// `optional`.
Result<Payload> configMapPayload(const Json& items, const Json& configMap, uint32_t defaultMode,
                                 bool optional);
// The same for a secret's (base64-decoded) data ("references non-existent secret key: K").
Result<Payload> secretPayload(const Json& items, const Json& secret, uint32_t defaultMode,
                              bool optional);
// downwardAPI items: fieldRef (metadata fields) or resourceFieldRef (a container's resources).
// Errors of several items are reported together.
Result<Payload> downwardApiPayload(const Json& items, const Json& pod, const PodFacts& facts,
                                   uint32_t defaultMode);
// A projected volume's sources (secret, configMap, downwardAPI), later sources overriding
// earlier ones at the same path. serviceAccountToken and clusterTrustBundle sources are not
// projected yet. Errors of several sources are reported together ("[e1, e2]").
Result<Payload> projectedPayload(const Json& projected, const Json& pod, ObjectSource& objects,
                                 const PodFacts& facts);

}  // namespace nave::agent
