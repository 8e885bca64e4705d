// Conversion of a CustomResourceDefinition version's openAPIV3Schema (JSONSchemaProps as JSON)
// into the schema model shared with built-in types (server/schema/schema.h).
//
// The tree is self-contained (no refs), so ResourceType::schemas is null for custom resources.
// A JSON Schema has a few shapes the model expresses by convention:
//   - no `type` (x-kubernetes-preserve-unknown-fields or int-or-string):  Type::kAny or
//     Type::kIntOrString; an untyped node may still carry `properties`/`additionalProperties`.
//   - `type: object` with `additionalProperties` (schema or true) and no properties: Type::kMap;
//     `additionalProperties: true` becomes a value node of Type::kAny that does not preserve
//     unknown fields (Kubernetes prunes inside such values).
//   - `type: object` with both properties and `additionalProperties: true`: Type::kObject with
//     `additionalProperties` set (unknown keys are kept).
// Value validations (allOf/anyOf/oneOf/not) convert with the same rules.
#pragma once

#include "common/json.h"
#include "server/schema/schema.h"

namespace nave::crd {

// Converts one JSONSchemaProps. Never fails: fields of the wrong JSON type are ignored (the CRD's
// validation reports them). `schema` null or not an object gives a node of Type::kAny that
// preserves unknown fields.
schema::NodePtr convertSchema(const Json& schema);

// The schema of a custom resource version: `convertSchema(openAPIV3Schema)` with apiVersion,
// kind and metadata (the full ObjectMeta, inlined from the built-in definitions) declared at the
// root when the CRD's schema does not, and `gvks` set. A null or missing schema gives an object
// that preserves unknown fields.
schema::NodePtr resourceSchema(const Json& openAPIV3Schema, const schema::GroupVersionKind& gvk);

// The built-in ObjectMeta definition as a self-contained tree (refs inlined), shared.
schema::NodePtr inlinedObjectMeta();

}  // namespace nave::crd
