// Small accessors for the parts of a Pod (as JSON) that the rest of runtime/agent/pod reads.
// Internal to runtime/agent/pod.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::agent {

// A shared empty object, for absent members.
const Json& emptyObject();
// obj[key] when obj is an object holding an object there, else an empty object.
const Json& objectMember(const Json& obj, std::string_view key);
// obj[key] when obj is an object holding an array there, else an empty array.
const Json& arrayMember(const Json& obj, std::string_view key);
// obj[key] when it is a boolean true (Kubernetes' `x != nil && *x`).
bool isTrue(const Json& obj, std::string_view key);
// obj[key] as an integer when present and integral.
std::optional<int64_t> optionalInt(const Json& obj, std::string_view key);

std::string podName(const Json& pod);
std::string podNamespace(const Json& pod);  // "default" when absent
// metadata.uid, checked to be usable as a directory name.
Result<std::string> podUid(const Json& pod);

// Whether `name` can be one component of a host path: not empty, not "." or "..", no '/' or
// NUL, at most 255 bytes.
bool isPathComponent(std::string_view name);

// Go's path.Clean: the shortest equivalent path ("a//b/./c/.." -> "a/b"; "" -> ".").
std::string cleanPath(std::string_view path);

// spec.initContainers then spec.containers (the order Kubernetes visits them in).
std::vector<const Json*> podContainers(const Json& pod);
// The container of that name among spec.containers and spec.initContainers.
const Json* findContainer(const Json& pod, std::string_view name);

// Whether `s` is a DNS-1123 label (RFC 1123: [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63).
bool isDns1123Label(std::string_view s);
// The message Kubernetes' IsDNS1123Label gives for an invalid label.
std::string dns1123LabelError(std::string_view s);

}  // namespace nave::agent
