// Server-side printing: meta.k8s.io/v1 Table (and PartialObjectMetadata) renderings of objects,
// as `kubectl get` asks for them.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "server/cache/watch_cache.h"
#include "server/registry/resource_type.h"

namespace nave::api {

enum class IncludeObject { kNone, kMetadata, kObject };

// A Table of `objects` (storage shape). `listMeta` is the Table's metadata (resourceVersion,
// continue, remainingItemCount). `headers` false omits columnDefinitions (watch events after
// the first). `tableVersion` is "v1" or "v1beta1".
Json renderTable(const registry::ResourceType& type, const std::vector<const Json*>& objects,
                 IncludeObject include, const Json& listMeta, bool headers,
                 const std::string& tableVersion);

// The PartialObjectMetadata of one object (storage shape) in meta.k8s.io/`version`.
Json partialMetadata(const registry::ResourceType& type, const Json& object,
                     const std::string& version);

}  // namespace nave::api
