// DeploymentController (kube-controller-manager's "deployment"): rolls a Deployment's pod
// template out through ReplicaSets, as pkg/controller/deployment does.
//
// Each template has one ReplicaSet, DEPLOYMENT-HASH, whose selector, labels and template carry
// pod-template-hash=HASH; the newest template's is the new ReplicaSet, the rest are old. A
// sync claims the ReplicaSets the selector matches, then:
//  - paused, or spec.replicas changed (a ReplicaSet's desired-replicas annotation differs):
//    scales the active ReplicaSets, proportionally to their sizes when several are active;
//  - RollingUpdate: scales the new ReplicaSet up within replicas + maxSurge and the old ones
//    down while at least replicas - maxUnavailable pods stay available;
//  - Recreate: scales the old ReplicaSets to 0, waits for their pods to go, then scales the
//    new one up.
// It numbers revisions (deployment.kubernetes.io/revision on the ReplicaSets and the
// Deployment; a rollback renumbers the old ReplicaSet and keeps its revision-history), keeps
// revisionHistoryLimit old ReplicaSets, and writes status: replicas, updatedReplicas,
// readyReplicas, availableReplicas, unavailableReplicas, observedGeneration, collisionCount,
// and the Available and Progressing conditions (progressDeadlineSeconds). Events
// ScalingReplicaSet (component deployment-controller).
#pragma once

#include <optional>
#include <vector>

#include "server/controllers/controller.h"

namespace nave::controllers::workloads {

inline const client::Resource kDeployments{"apps", "v1", "deployments"};

class DeploymentController : public Controller {
 public:
  explicit DeploymentController(ControllerContext& ctx, int workers = 5);
  ~DeploymentController() override;
  void start() override;
  void stop() override;

 private:
  // A Deployment's ReplicaSets during one sync: the new one (if it exists) and every old one.
  // Scaling replaces the objects in place with what the API server returned.
  struct ReplicaSets {
    std::optional<Json> current;  // the new ReplicaSet
    std::vector<Json> old;
    std::vector<Json*> all();
    std::vector<Json*> activeOld();
  };

  Result<Reconciled> sync(const std::string& key);
  Result<std::vector<Json>> claimReplicaSets(const Json& d);
  Result<ReplicaSets> replicaSetsSyncingRevision(Json& d, const std::vector<Json>& rsList,
                                                 bool createIfMissing);
  Result<std::optional<Json>> newReplicaSet(Json& d, const std::vector<Json>& rsList,
                                            const std::vector<Json>& old, bool createIfMissing);
  Result<Reconciled> syncScaling(Json& d, const std::vector<Json>& rsList);
  Result<void> scale(Json& d, ReplicaSets& sets);
  Result<bool> isScalingEvent(Json& d, const std::vector<Json>& rsList);
  Result<Reconciled> rolloutRolling(Json& d, const std::vector<Json>& rsList);
  Result<Reconciled> rolloutRecreate(Json& d, const std::vector<Json>& rsList);
  Result<bool> reconcileNewReplicaSet(Json& d, ReplicaSets& sets);
  Result<bool> reconcileOldReplicaSets(Json& d, ReplicaSets& sets);
  bool oldPodsRunning(const ReplicaSets& sets, const std::vector<Json>& rsList);
  Result<void> cleanupOldReplicaSets(const Json& d, const std::vector<Json>& old);
  Result<bool> scaleReplicaSet(Json& rs, int64_t newScale, const Json& d, const std::string& op);
  Result<bool> scaleReplicaSetAndRecordEvent(Json& rs, int64_t newScale, const Json& d);
  Json calculateStatus(const Json& d, ReplicaSets& sets);
  Result<Reconciled> syncRolloutStatus(Json& d, ReplicaSets& sets);
  Result<void> syncDeploymentStatus(Json& d, ReplicaSets& sets);
  Result<void> checkPausedConditions(Json& d);
  // Writes d's status (and, first, its revision annotation when `revision` differs).
  Result<void> writeStatus(Json& d);
  Result<void> setDeploymentRevision(Json& d, const std::string& revision);

  void onReplicaSet(const Json* before, const Json* after);
  void onPodDeleted(const Json& pod);
  void enqueueSelecting(const Json& replicaSet);
  void event(const Json& d, const std::string& type, const std::string& reason,
             const std::string& message);

  ControllerContext& ctx_;
  const int workerCount_;
  Informer& deployments_;
  Informer& replicaSets_;
  Informer& pods_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers::workloads
