// Field management: metadata.managedFields on every write, and server-side apply
// (application/apply-patch+yaml) with ownership, conflicts and removal of fields a manager
// stopped applying, as Kubernetes' structured-merge-diff does. Field sets use the FieldsV1
// format ({"f:spec":{"f:replicas":{}}}, "k:{...}" for keyed list items, "v:..." for set
// values, "i:N" for atomic-less positional items, "." for the item itself).
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "common/time.h"
#include "server/schema/schema.h"

namespace nave::apply {

struct ManagerInfo {
  std::string manager;      // fieldManager, or derived from the User-Agent ("unknown" if empty)
  std::string apiVersion;   // "apps/v1"
  std::string subresource;  // "" or "status" / "scale"
  WallTime time;
  // The kind the endpoint serves ("Deployment"); an applied object of another kind is refused.
  // Empty: taken from the schema's x-kubernetes-group-version-kind, else from the live object.
  std::string kind;
  // Dotted field paths this endpoint resets and nobody may own through it (Kubernetes'
  // GetResetFields): {"status"} for the main resource of a kind with a status subresource,
  // {"spec", "metadata.labels", ...} for its /status. Changes to them are not recorded.
  std::vector<std::string> resetFields;
};

// Records an Update by `info.manager` in `updated`'s metadata.managedFields: the fields that
// differ from `old` (null on create: every field set) become this manager's and stop being
// anyone else's; managers left owning nothing are dropped. `updated` arrives with the
// managedFields the client sent (or old's); malformed entries are kBadRequest.
Result<void> recordUpdate(const Json* old, Json& updated, const schema::SchemaSet* set,
                          const schema::Node& schema, const ManagerInfo& info);

// Server-side apply of `applied` (a partial object of the same kind) by `info.manager` onto
// `live` (null when the object does not exist yet). Returns the merged object with
// managedFields updated. Without `force`, setting a field another manager owns to a different
// value fails with kConflict: `Apply failed with 1 conflict: conflict with "kubectl-client-side-
// apply" using apps/v1: .spec.replicas` (Status details carry one cause per field). Fields this
// manager applied before and no longer applies are removed unless another manager owns them.
Result<Json> serverSideApply(const Json* live, const Json& applied, const schema::SchemaSet* set,
                             const schema::Node& schema, const ManagerInfo& info, bool force);

}  // namespace nave::apply
