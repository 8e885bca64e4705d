// ObjectSource lookups worded as the kubelet's configmap and secret managers word them, and
// the decoding of their data. Internal to runtime/agent/pod.
#pragma once

#include <map>
#include <string>

#include "common/json.h"
#include "common/result.h"
#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {

// kNotFound as `configmap "NAME" not found` / `secret "NAME" not found`; other errors as the
// source gave them.
Result<Json> fetchConfigMap(ObjectSource& objects, const std::string& ns, const std::string& name);
Result<Json> fetchSecret(ObjectSource& objects, const std::string& ns, const std::string& name);

// A secret's .data with the base64 values decoded (stringData is merged into data by the API
// server). An invalid value is an error naming the key.
Result<std::map<std::string, std::string>> secretData(const Json& secret);
// A configMap's .data (text) or .binaryData (base64, decoded).
std::map<std::string, std::string> configMapData(const Json& configMap);
Result<std::map<std::string, std::string>> configMapBinaryData(const Json& configMap);

}  // namespace nave::agent
