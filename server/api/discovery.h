// API discovery documents: the legacy per-group documents (/api, /apis, /api/v1,
// /apis/GROUP/VERSION) and aggregated discovery (apidiscovery.k8s.io v2 and v2beta1), built from
// the TypeRegistry on each request (cheap: a few hundred entries).
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"
#include "common/result.h"
#include "server/registry/type_registry.h"

namespace nave::api {

class Discovery {
 public:
  Discovery(registry::TypeRegistry& types, std::string serverAddress)
      : types_(types), serverAddress_(std::move(serverAddress)) {}

  Json apiVersions() const;   // /api
  Json apiGroupList() const;  // /apis
  Result<Json> apiGroup(std::string_view group) const;
  Result<Json> resourceList(std::string_view group, std::string_view version) const;
  // Aggregated discovery of the core group (`core` true, /api) or the named groups (/apis),
  // apidiscovery.k8s.io/`version` ("v2" or "v2beta1").
  Json aggregated(bool core, std::string_view version) const;

 private:
  Json groupJson(const registry::GroupVersions& g) const;

  registry::TypeRegistry& types_;
  std::string serverAddress_;
};

// Kubernetes' storageVersionHash: base64 of the first 8 bytes of sha256("group/version/kind").
std::string storageVersionHash(std::string_view group, std::string_view version,
                               std::string_view kind);

}  // namespace nave::api
