// The three PATCH formats: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386) and Kubernetes'
// strategic merge patch, which uses the schema's patch strategies and merge keys.
#pragma once

#include "common/json.h"
#include "common/result.h"
#include "server/schema/schema.h"

namespace nave::patch {

// application/json-patch+json. The patch must be an array of operations (add, remove, replace,
// move, copy, test). Errors are kInvalid (a failed test, a missing path, a malformed
// operation) with messages like Kubernetes' ("the server rejected our request due to an error
// in our request"-class messages are chosen by the caller).
Result<Json> applyJsonPatch(const Json& document, const Json& patch);

// application/merge-patch+json: objects merge recursively, null deletes, anything else
// replaces. The patch must be an object.
Result<Json> applyMergePatch(const Json& document, const Json& patch);

// application/strategic-merge-patch+json against a built-in type. `schema` is the type's
// top-level node, `set` resolves its refs. Lists with patchStrategy "merge" merge by their
// patchMergeKey (or as sets for primitive lists); "retainKeys" drops fields missing from the
// patch; the directives $patch (replace, merge, delete), $retainKeys, $setElementOrder/FIELD and
// $deleteFromPrimitiveList/FIELD are honoured. kBadRequest for malformed directives.
Result<Json> applyStrategicMergePatch(const Json& document, const Json& patch,
                                      const schema::SchemaSet& set, const schema::Node& schema);

}  // namespace nave::patch
