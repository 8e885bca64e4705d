// OpenAPI v3 documents generated from the schema model: /openapi/v3 (the index with
// content hashes) and /openapi/v3/api/v1, /openapi/v3/apis/GROUP/VERSION (paths with their
// operations, and the component schemas of every type they use). kubectl reads them for
// `kubectl explain` and to learn that the server validates fields (the fieldValidation
// parameter of PATCH operations).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/result.h"
#include "server/registry/type_registry.h"

namespace nave::api {

struct OpenApiDocument {
  std::string json;
  std::string hash;  // hex SHA-512 of json, as Kubernetes computes it
};

class OpenApi {
 public:
  explicit OpenApi(registry::TypeRegistry& types) : types_(types) {}

  // The /openapi/v3 index.
  Json index();
  // "api/v1" or "apis/apps/v1"; kNotFound for a group version not served.
  Result<OpenApiDocument> document(std::string_view path);

 private:
  void refresh();  // rebuilds the documents when the registry changed; needs mu_

  registry::TypeRegistry& types_;
  std::mutex mu_;
  uint64_t generation_ = ~0ULL;                     // guarded by mu_
  std::map<std::string, OpenApiDocument> documents_;  // guarded by mu_
};

// The OpenAPI v3 JSON schema of one node (exposed for tests and for CRD documents).
Json schemaToOpenApi(const registry::ResourceType& type);

}  // namespace nave::api
