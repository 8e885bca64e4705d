// OpenAPI v2 (Swagger 2.0) for /openapi/v2, generated from the schema model, as JSON and as
// the protobuf encoding (gnostic's openapi_v2.Document) that kubectl 1.27-1.29 ask for
// (Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf) to explain types and
// to learn that the server validates fields.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "server/registry/resource_type.h"

namespace nave::openapiv2 {

// The Swagger 2.0 document for the served types: paths with operations (x-kubernetes-action,
// x-kubernetes-group-version-kind, query parameters including fieldValidation and dryRun on
// PATCH/POST/PUT), and definitions (#/definitions/io.k8s...) for every schema they use.
Json buildDocument(const std::vector<registry::ResourceTypePtr>& types);

// The same document in gnostic's protobuf encoding.
std::string encodeProtobuf(const Json& document);

}  // namespace nave::openapiv2
