// Deployment arithmetic and bookkeeping shared by the Deployment controller and its tests
// (Kubernetes' deployment/util and controller.ComputeHash): the pod-template-hash, surge and
// unavailability bounds, revision annotations, and status conditions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/time.h"

namespace nave::controllers::workloads {

inline constexpr char kPodTemplateHashLabel[] = "pod-template-hash";
inline constexpr char kRevisionAnnotation[] = "deployment.kubernetes.io/revision";
inline constexpr char kRevisionHistoryAnnotation[] = "deployment.kubernetes.io/revision-history";
inline constexpr char kDesiredReplicasAnnotation[] = "deployment.kubernetes.io/desired-replicas";
inline constexpr char kMaxReplicasAnnotation[] = "deployment.kubernetes.io/max-replicas";
// Longest revision-history annotation kept (Kubernetes' default).
inline constexpr size_t kMaxRevisionHistoryChars = 2000;

// Kubernetes' rand.SafeEncodeString: each character mapped onto an alphabet without vowels
// and look-alike digits, so that generated names spell no words.
std::string safeEncodeString(const std::string& s);
// The pod-template-hash of a template: FNV-32a of the template (here its canonical JSON, with
// sorted keys) followed by the collision count as 8 little-endian bytes, in decimal, safely
// encoded, e.g. "7c5ddbdf54".
std::string computeTemplateHash(const Json& podTemplate, std::optional<int64_t> collisionCount);
// Whether two pod templates are equal but for the pod-template-hash label.
bool equalIgnoreHash(const Json& a, const Json& b);

// An IntOrString (3 or "25%") resolved against `total`, percentages rounded up or down.
// nullopt when malformed.
std::optional<int64_t> scaledValue(const Json& intOrPercent, int64_t total, bool roundUp);
bool isRollingUpdate(const Json& deployment);
// spec.replicas (default 1).
int64_t desiredReplicas(const Json& object);
// The surge allowed above spec.replicas during a rolling update (0 for Recreate).
int64_t maxSurge(const Json& deployment);
// The pods that may be unavailable during a rolling update (0 for Recreate or 0 replicas),
// at most spec.replicas; both bounds 0 makes this 1, as Kubernetes' ResolveFenceposts.
int64_t maxUnavailable(const Json& deployment);

const Json& annotationsOf(const Json& object);
// The revision annotation of a ReplicaSet as a number (0 when absent or malformed).
int64_t revisionOf(const Json& replicaSet);
// Sets desired-replicas and max-replicas; true when they changed.
bool setReplicasAnnotations(Json& replicaSet, int64_t desired, int64_t max);
bool replicasAnnotationsNeedUpdate(const Json& replicaSet, int64_t desired, int64_t max);
std::optional<int64_t> desiredReplicasAnnotation(const Json& replicaSet);
// Copies the Deployment's annotations (but kubectl's last-applied-configuration and the
// deployment.kubernetes.io ones) onto the new ReplicaSet, raises its revision to
// `newRevision` (keeping the one it had in revision-history: a rollback), and on a
// ReplicaSet being created sets the replicas annotations. True when anything changed.
bool setNewReplicaSetAnnotations(const Json& deployment, Json& replicaSet,
                                 const std::string& newRevision, bool exists);

// Conditions ({type, status, lastUpdateTime, lastTransitionTime, reason, message}).
const Json* conditionOf(const Json& status, const std::string& type);
Json newCondition(const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message, WallTime now);
// Kubernetes' SetDeploymentCondition: nothing when status and reason are unchanged; keeps
// lastTransitionTime when only the reason changed.
void setCondition(Json& status, Json condition);
void removeCondition(Json& status, const std::string& type);

// Status counts summed over ReplicaSets.
int64_t specReplicas(const std::vector<const Json*>& replicaSets);
int64_t statusCount(const std::vector<const Json*>& replicaSets, const char* field);

}  // namespace nave::controllers::workloads
