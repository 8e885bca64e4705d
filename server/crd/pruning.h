// Structural pruning and defaulting of custom resources, as apiextensions-apiserver does when it
// decodes a request body:
//   1. fields the schema does not specify are dropped, except under
//      x-kubernetes-preserve-unknown-fields and the apiVersion/kind/metadata of the object and of
//      x-kubernetes-embedded-resource values;
//   2. unknown fields of metadata (the object's and embedded resources') are dropped;
//   3. nulls of non-nullable fields without a default are dropped;
//   4. `default` values fill absent fields (and nulls of non-nullable fields).
// The dropped fields' paths are returned for fieldValidation=Strict/Warn ("spec.foo",
// "spec.items[0].bar", "metadata.foo").
//
// Kubernetes also defaults objects read from storage, so that defaults added to a schema later
// show up on old objects; nave defaults on writes only: an object written before a default was
// added keeps the field absent until its next update.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "server/schema/schema.h"

namespace nave::crd {

// Step 1 on `value` against `schema` (null: every field of objects below is unknown).
// `isResourceRoot` treats `value` as a whole object: apiVersion, kind and metadata are kept.
// Returns the pruned paths, sorted, relative to `value`.
std::vector<std::string> pruneUnknownFields(Json& value, const schema::Node* schema,
                                            bool isResourceRoot);

// Steps 1 and 2 on a custom resource: pruned paths, sorted, then unknown metadata fields.
std::vector<std::string> pruneCustomResource(Json& object, const schema::Node& schema);

// Step 3.
void pruneNonNullableNulls(Json& value, const schema::Node* schema);

// Step 4. A default value put in place is itself defaulted further below.
void applyDefaults(Json& value, const schema::Node* schema);

}  // namespace nave::crd
