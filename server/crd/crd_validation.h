// Validation of CustomResourceDefinition objects (apiextensions-apiserver's
// ValidateCustomResourceDefinition), with Kubernetes' field paths and messages:
//   spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be
//   empty for specified object fields
#pragma once

#include <string>

#include "common/json.h"
#include "server/validation/field_errors.h"

namespace nave::crd {

// One version's openAPIV3Schema at `path` ("spec.versions[0].schema.openAPIV3Schema"): the
// OpenAPI subset CRDs allow, structural-schema rules, list/map-type markers, that defaults
// validate and are pruned, and (with the status subresource) the fields allowed at the root.
// x-kubernetes-validations rules are checked for shape only: nave does not evaluate CEL.
validation::FieldErrors validateOpenApiV3Schema(const Json& schema, const std::string& path,
                                                bool statusSubresource);

// Everything about the served versions of a CRD that depends on their schemas: each version's
// openAPIV3Schema (required), subresources (scale paths), additionalPrinterColumns and
// selectableFields.
validation::FieldErrors validateCrdSchemas(const Json& crd);

// The whole CRD: validateCrdSchemas plus the name (plural.group), group, scope, names (and the
// accepted names in status), versions (names, exactly one storage version), conversion,
// preserveUnknownFields and storedVersions; on update (`old` non-null) the immutable group and
// plural, and scope and kind once established.
validation::FieldErrors validateCrd(const Json& crd, const Json* old);

// The status part only, for updates through the status subresource.
validation::FieldErrors validateCrdStatus(const Json& crd);

}  // namespace nave::crd
