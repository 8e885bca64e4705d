// DisruptionController: the status of PodDisruptionBudgets (kube-controller-manager's
// disruption controller), which the eviction subresource reads.
//
// For a budget: the pods of its namespace its selector matches; expectedPods (the number of
// such pods for an integer minAvailable, else the replicas of their controllers: ReplicaSets,
// StatefulSets, ReplicationControllers); desiredHealthy (minAvailable, or expected minus
// maxUnavailable, percentages rounded up); currentHealthy (Ready pods not being deleted and not
// just evicted); disruptionsAllowed = currentHealthy - desiredHealthy (at least 0); the
// DisruptionAllowed condition (SufficientPods / InsufficientPods); disruptedPods kept while the
// API server has not yet deleted them (at most two minutes).
#pragma once

#include "server/controllers/controller.h"

namespace nave::controllers {

class DisruptionController final : public Controller {
 public:
  explicit DisruptionController(ControllerContext& ctx);
  ~DisruptionController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& key);
  // The replicas of the controllers of `pods`; nullopt when a pod has no known controller.
  std::optional<int64_t> controllerScale(const std::string& ns, const std::vector<Json>& pods);

  ControllerContext& ctx_;
  Informer& budgets_;
  Informer& pods_;
  Informer& replicaSets_;
  Informer& statefulSets_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
