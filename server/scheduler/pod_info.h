// PodInfo: what the scheduler needs of a pod, parsed once from its JSON (the framework's
// PodInfo): requests, priority, tolerations, node selection, pod affinity terms, host ports
// and topology spread constraints.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "server/scheduler/resources.h"
#include "server/selectors/selectors.h"

namespace nave::scheduler {

// A member that must be an object (or array): a shared empty one when it is missing or of
// another type, so that malformed input never throws.
const Json& objectField(const Json& o, std::string_view key);
const Json& arrayField(const Json& o, std::string_view key);

struct Toleration {
  std::string key, op, value, effect;  // op "Equal" (default) or "Exists"
};

struct Taint {
  std::string key, value, effect;  // NoSchedule, PreferNoSchedule, NoExecute
};

// Whether one toleration tolerates a taint (corev1 Toleration.ToleratesTaint).
bool tolerates(const Toleration& t, const Taint& taint);
bool anyTolerates(const std::vector<Toleration>& ts, const Taint& taint);

// A pod (anti-)affinity term, with its label selectors parsed.
struct AffinityTerm {
  std::optional<selectors::LabelSelector> selector;  // none: selects no pod
  std::set<std::string> namespaces;                  // plus the selected ones below
  std::optional<selectors::LabelSelector> namespaceSelector;
  std::string topologyKey;
  int32_t weight = 0;  // preferred terms only
};

struct HostPort {
  std::string ip = "0.0.0.0";
  std::string protocol = "TCP";
  int32_t port = 0;
  auto operator<=>(const HostPort&) const = default;
};

struct SpreadConstraint {
  int32_t maxSkew = 1;
  std::string topologyKey;
  bool doNotSchedule = true;  // whenUnsatisfiable: DoNotSchedule (else ScheduleAnyway)
  std::optional<selectors::LabelSelector> selector;
  int32_t minDomains = 1;
  bool honorNodeAffinity = true;  // nodeAffinityPolicy (default Honor)
  bool honorNodeTaints = false;   // nodeTaintsPolicy (default Ignore)
};

struct PodInfo {
  Json pod;  // the object itself
  std::string key, ns, name, uid, nodeName, nominatedNodeName, creationTimestamp;
  Json labels = Json::object();
  Resources requests, nonZeroRequests;
  int32_t priority = 0;
  bool preemptNever = false;  // preemptionPolicy: Never
  bool terminating = false;   // deletionTimestamp set
  std::string startTime;      // status.startTime, or the creation time
  std::vector<Toleration> tolerations;
  Json nodeSelector = Json::object();
  Json requiredNodeTerms;                   // nodeSelectorTerms, or null
  Json preferredNodeTerms = Json::array();  // preferredDuringScheduling... (weight, preference)
  std::vector<AffinityTerm> requiredAffinity, requiredAntiAffinity;
  std::vector<AffinityTerm> preferredAffinity, preferredAntiAffinity;
  std::vector<HostPort> hostPorts;
  std::vector<SpreadConstraint> spread;
  bool spreadDefaulted = false;  // `spread` holds the system defaults (see addDefaultSpread)
  std::vector<std::string>
      claims;  // PersistentVolumeClaims of its volumes (ephemeral ones included)

  bool hasAffinityTerms() const {
    return !requiredAffinity.empty() || !requiredAntiAffinity.empty() ||
           !preferredAffinity.empty() || !preferredAntiAffinity.empty();
  }
};

using PodInfoPtr = std::shared_ptr<const PodInfo>;

// Parses a pod; `priority` is spec.priority as already resolved (see Scheduler).
PodInfo makePodInfo(Json pod, int32_t priority, bool preemptNever);
// The same with spec.priority and spec.preemptionPolicy as the pod has them.
PodInfo makePodInfo(const Json& pod);

// PodTopologySpread's system defaults for a pod without constraints of its own: spread
// (ScheduleAnyway) over hostnames with maxSkew 3 and zones with maxSkew 5, counting the pods
// that `selector` selects (the selectors of the Services that select the pod and of its
// ReplicaSet or StatefulSet, ANDed). Nothing when the selector is empty.
void addDefaultSpread(PodInfo& pod, const selectors::LabelSelector& selector);

// Whether an affinity term selects `other` (its namespace, then its labels).
// `nsLabels` are the labels of other's namespace (for namespaceSelector).
bool termMatches(const AffinityTerm& term, const PodInfo& other, const Json& nsLabels);

}  // namespace nave::scheduler
