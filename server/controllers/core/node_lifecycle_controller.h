// NodeLifecycleController: notices nodes that stopped reporting, and evicts pods from nodes
// with NoExecute taints (kube-controller-manager's nodelifecycle and tainteviction
// controllers).
//
// A node is heard from when its Lease in kube-node-lease is renewed or its Ready condition's
// heartbeat moves, as observed on this process's clock. Silent for 40 s (the node monitor grace
// period; a node first seen gets it from then on), its conditions become Unknown ("Kubelet
// stopped posting node status."), and its pods are marked not Ready. The Ready condition is
// reflected in taints: Unknown -> node.kubernetes.io/unreachable, False ->
// node.kubernetes.io/not-ready, both NoSchedule and NoExecute; True -> neither.
//
// Every NoExecute taint then evicts (deletes, with a TaintManagerEviction event) the node's
// pods that do not tolerate it at once, and those that tolerate it for tolerationSeconds when
// that time has passed since the taint was added (the API server gives every pod 300 s for
// not-ready and unreachable). Everything waits on timers: no periodic scan.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "server/controllers/controller.h"

namespace nave::controllers {

class NodeLifecycleController final : public Controller {
 public:
  explicit NodeLifecycleController(ControllerContext& ctx,
                                   std::chrono::seconds gracePeriod = std::chrono::seconds(40));
  ~NodeLifecycleController() override { stop(); }
  void start() override;
  void stop() override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Heard {
    std::string signature;  // lease renewTime + Ready heartbeat, as last seen
    Clock::time_point at;   // when it last changed
  };

  Result<Reconciled> reconcileNode(const std::string& name);
  Result<Reconciled> reconcilePod(const std::string& key);
  Result<void> markUnknown(const Json& node);
  Result<void> setTaints(const Json& node, const std::string& readyStatus);

  ControllerContext& ctx_;
  std::chrono::seconds grace_;
  Informer& nodes_;
  Informer& leases_;
  Informer& pods_;
  WorkQueue nodeQueue_, podQueue_;
  Workers nodeWorkers_, podWorkers_;
  std::mutex mu_;
  std::map<std::string, Heard> heard_;  // by node name; guarded by mu_
};

}  // namespace nave::controllers
