// Field management: metadata.managedFields on every write, and server-side apply
// (application/apply-patch+yaml) with ownership, conflicts and removal of fields a manager
// stopped applying, as Kubernetes' structured-merge-diff does. Field sets use the FieldsV1
// format ({"f:spec":{"f:replicas":{}}}, "k:{...}" for keyed list items, "v:..." for set
// values, "i:N" for positional items, "." for a field that is owned and has owned children).
// Stateless and thread-safe.
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

// Records an Update (create, update, non-apply patch) by `info.manager` in `updated`'s
// metadata.managedFields: the fields that differ from `old` (null on create: every field set)
// become this manager's and stop being anyone else's; fields it removed stop being anyone's;
// managers left owning nothing are dropped, and past ten update entries the oldest are folded
// into "ancient-changes". The manager's time is `info.time` when it changed something.
//
// `updated` arrives with the managedFields the client sent, which replace the stored ones:
// absent or null keeps old's, [] or [{}] wipes them (and an existing object without
// managedFields stays untracked until someone applies to it). On subresources the client's
// are ignored. Malformed entries (client's or stored) are kBadRequest; `updated` is then
// untouched. The schema only shapes the field sets: values it cannot place are not an error.
Result<void> recordUpdate(const Json* old, Json& updated, const schema::SchemaSet* set,
                          const schema::Node& schema, const ManagerInfo& info);

// Server-side apply of `applied` (a partial object of the same kind) by `info.manager` onto
// `live` (null when the object does not exist yet). Returns the merged object with
// managedFields updated; the caller still defaults, validates and stores it. Without `force`,
// setting a field another manager owns to a different value fails with kConflict:
// `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1:
// .spec.replicas` (Status details carry one FieldManagerConflict cause per field). Setting it
// to the value it already has shares ownership. Fields this manager applied before and no
// longer applies are removed unless another manager owns them; maps and lists left empty go.
//
// As in Kubernetes: the fields of a live object without managedFields belong to
// "before-first-apply"; for the manager "kubectl", conflicts on fields the
// kubectl.kubernetes.io/last-applied-configuration annotation still describes are taken over
// (client-side to server-side apply migration) and the annotation, when present, is rewritten
// to the applied configuration. kBadRequest for an applied object of another apiVersion/kind
// ("invalid object type: apps/v1, Kind=StatefulSet"), one carrying metadata.managedFields, one
// the schema cannot place (wrong shapes, list items without their keys, duplicates), and for
// malformed stored managedFields. The applier's time becomes `info.time` when the object
// changed or the applier had no entry yet.
Result<Json> serverSideApply(const Json* live, const Json& applied, const schema::SchemaSet* set,
                             const schema::Node& schema, const ManagerInfo& info, bool force);

}  // namespace nave::apply
