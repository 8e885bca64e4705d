// The template history of StatefulSets and DaemonSets, kept in ControllerRevisions (apps/v1) as
// kube-controller-manager keeps it (pkg/controller/history): each revision is named
// OWNER-HASH, holds the set's template as the strategic merge patch that restores it
// ({"spec":{"template":{..., "$patch":"replace"}}}, which `kubectl rollout undo` applies), carries
// an increasing revision number, and is controlled by its set. A template that returns to an
// earlier revision's gets that revision renumbered instead of a new one.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "server/client/client.h"
#include "server/controllers/informer.h"

namespace nave::controllers::sets {

inline const client::Resource kControllerRevisions{"apps", "v1", "controllerrevisions"};

// The revision data for a set's current template.
Json templatePatch(const Json& set);
// The template a revision's data holds (its "$patch" directive removed).
Json templateOf(const Json& revision);
// fnv32 of the patch as Go's encoding/json writes it, then of the collision count, encoded
// with apimachinery's SafeEncodeString alphabet (no vowels, no look-alikes).
std::string revisionHash(const Json& patch, int64_t collisionCount);

// The revisions `set` controls, oldest first (by revision number, then creation and name).
std::vector<Json> ownedRevisions(const Informer& revisions, const Json& set);
int64_t nextRevisionNumber(const std::vector<Json>& revisions);
// The newest of `revisions` whose data equals `patch`, or null.
const Json* findEqualRevision(const std::vector<Json>& revisions, const Json& patch);

struct NewRevision {
  std::string kind;       // "StatefulSet" or "DaemonSet"
  std::string hashLabel;  // the label that carries the hash on the revision
  Json labels;            // the template's labels (the set's selector finds its history by them)
  Json annotations;       // copied onto the revision (the DaemonSet's), or null
};

// Creates a revision of `set` with `patch` and `number`. A name already taken by a different
// revision (a hash collision) bumps `collisionCount` and tries the next name, as Kubernetes
// does; a name taken by an equal revision of this set returns that one.
Result<Json> createRevision(client::Client& client, const Json& set, const NewRevision& spec,
                            const Json& patch, int64_t number, int64_t& collisionCount);
// Gives an existing revision a new number (a rollback to it).
Result<Json> renumberRevision(client::Client& client, const Json& revision, int64_t number);
// Deletes the oldest revisions not in `live` beyond `limit` of them.
Result<void> truncateHistory(client::Client& client, const std::vector<Json>& revisions,
                             const std::set<std::string>& live, int64_t limit);

}  // namespace nave::controllers::sets
