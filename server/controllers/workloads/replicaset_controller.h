// ReplicaSetController (kube-controller-manager's "replicaset"): keeps spec.replicas pods of
// each ReplicaSet's template.
//
// A sync claims the active pods the selector matches (adopting orphans, releasing owned pods
// that no longer match), creates the missing ones from the template (generateName NAME-, in
// slow-start batches of 1, 2, 4, ... so that a failing create is not repeated hundreds of
// times), deletes the surplus (unscheduled, pending, not ready and newest first), and writes
// status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (ready for
// minReadySeconds), observedGeneration and the ReplicaFailure condition when creates or
// deletes fail. Expectations keep a sync from acting again before the informer has seen its
// previous creates and deletes. Events: SuccessfulCreate, SuccessfulDelete, FailedCreate,
// FailedDelete (component replicaset-controller).
#pragma once

#include "server/controllers/controller.h"
#include "server/controllers/workloads/expectations.h"

namespace nave::controllers::workloads {

inline const client::Resource kReplicaSets{"apps", "v1", "replicasets"};
inline const client::Resource kPods{"", "v1", "pods"};

class ReplicaSetController : public Controller {
 public:
  // At most this many pods are created or deleted by one sync (Kubernetes' burstReplicas).
  static constexpr int kBurstReplicas = 500;

  explicit ReplicaSetController(ControllerContext& ctx, int workers = 5);
  ~ReplicaSetController() override;
  void start() override;
  void stop() override;

 private:
  Result<Reconciled> sync(const std::string& key);
  // Creates or deletes pods towards spec.replicas; the error of the first failed call.
  Result<void> manageReplicas(const Json& rs, const std::string& key, std::vector<Json>& pods);
  Result<void> createPod(const Json& rs);
  // Ranks for deletion: how many pods of the same owner share each pod's node.
  std::vector<int> relatedPodsOnSameNode(const Json& rs, const std::vector<Json>& pods);
  Result<Json> writeStatus(const Json& rs, const Json& status);

  void onPod(const Json* before, const Json* after);
  // The key of the ReplicaSet that controls `pod`, if it is one the informer knows.
  std::string controllerKey(const Json& pod);
  void enqueueSelecting(const Json& pod);

  ControllerContext& ctx_;
  const int workerCount_;
  Informer& replicaSets_;
  Informer& pods_;
  WorkQueue queue_;
  Workers workers_;
  Expectations expectations_;
};

}  // namespace nave::controllers::workloads
