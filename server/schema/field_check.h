// Schema-driven decoding checks for request bodies of typed resources: unknown fields (reported
// for fieldValidation Strict/Warn, always pruned, as Kubernetes' typed decoding drops them),
// values of the wrong JSON type (always an error), and duplicate fields from the decoder.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "server/schema/schema.h"

namespace nave::schema {

struct FieldCheckResult {
  std::vector<std::string> unknownFields;  // "spec.template.spec.containers[0].imagePullPolcy"
  std::string typeError;  // first type mismatch, in Go's decoder wording; empty when none
};

// Walks `object` against `schema`, removing fields the schema does not declare (except under
// preserve-unknown-fields). `set` resolves refs (null for self-contained trees).
FieldCheckResult checkAndPruneFields(Json& object, const schema::SchemaSet* set,
                                     const schema::Node& schema);

}  // namespace nave::schema
