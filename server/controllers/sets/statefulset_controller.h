// StatefulSetController: kube-controller-manager's statefulset controller
// (pkg/controller/statefulset).
//
// A set of N replicas owns pods SET-0 .. SET-(N-1) (from spec.ordinals.start), each with its
// hostname, the set's serviceName as subdomain, the statefulset.kubernetes.io/pod-name and
// apps.kubernetes.io/pod-index labels, the controller-revision-hash label of the revision it was
// made from, and, for each volumeClaimTemplate, a PersistentVolumeClaim TEMPLATE-POD made
// before the pod and kept when the pod goes (the retention policy may hand it to the set or the
// pod as owner, for the garbage collector). OrderedReady creates in ordinal order, each pod
// Running, Ready and available for minReadySeconds before the next, and removes in reverse
// order one at a time; Parallel does both at once. Failed and succeeded pods are replaced.
//
// Templates are kept as ControllerRevisions; status.currentRevision is the revision every pod
// had when the last rollout completed, status.updateRevision the set's template now.
// RollingUpdate replaces pods at or above the partition from the highest ordinal down, one at a
// time, each Ready before the next (with rollingUpdate.maxUnavailable, as many at once as leave
// at most that many pods of the set unavailable: Kubernetes' MaxUnavailableStatefulSet);
// OnDelete waits for pods to be deleted by someone else.
#pragma once

#include "server/controllers/controller.h"
#include "server/controllers/sets/pod_state.h"

namespace nave::controllers {

class StatefulSetController final : public Controller {
 public:
  explicit StatefulSetController(ControllerContext& ctx);
  ~StatefulSetController() override { stop(); }
  void start() override;
  void stop() override;

 private:
  struct Sync;  // one reconcile's state (statefulset_controller.cc)

  Result<Reconciled> reconcile(const std::string& key);

  ControllerContext& ctx_;
  Informer& sets_;
  Informer& pods_;
  Informer& claims_;
  Informer& revisions_;
  sets::PendingWrites pending_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
