// DaemonSetController: kube-controller-manager's daemonset controller (pkg/controller/daemon).
//
// One pod per node that should run it: the template's nodeName, node selector and required
// node affinity admit the node, and its NoSchedule/NoExecute taints are tolerated (daemon pods
// get the tolerations of daemonPodTemplate). Every node object counts, agent or not. Pods are
// created for their node with a required node affinity on metadata.name (the scheduler binds
// them, as in Kubernetes since 1.12); surplus pods on a node, failed pods, pods on nodes that
// no longer admit them (untolerated NoExecute taints) and pods of vanished nodes are deleted.
//
// Templates are kept as ControllerRevisions, and pods carry their revision's hash in the
// controller-revision-hash label. RollingUpdate replaces old pods with at most maxUnavailable
// nodes unavailable at a time (default 1), or, with maxSurge, starts the new pod next to the
// old one and deletes the old one once the new one is available; OnDelete waits for deletes.
#pragma once

#include <chrono>
#include <map>
#include <mutex>

#include "server/controllers/controller.h"
#include "server/controllers/sets/pod_state.h"

namespace nave::controllers {

class DaemonSetController final : public Controller {
 public:
  explicit DaemonSetController(ControllerContext& ctx);
  ~DaemonSetController() override { stop(); }
  void start() override;
  void stop() override;

 private:
  struct Sync;  // one reconcile's state (daemonset_controller.cc)

  Result<Reconciled> reconcile(const std::string& key);
  void enqueueAll();

  ControllerContext& ctx_;
  Informer& sets_;
  Informer& pods_;
  Informer& nodes_;
  Informer& revisions_;
  sets::PendingWrites pending_;
  WorkQueue queue_;
  Workers workers_;
  // Failed pods are replaced with a backoff per set and node (1 s doubling to 15 min).
  struct Backoff {
    std::chrono::steady_clock::time_point until;
    std::chrono::milliseconds delay{0};
  };
  std::mutex mu_;
  std::map<std::string, Backoff> failedBackoff_;  // "ns/set/node"; guarded by mu_
};

}  // namespace nave::controllers
