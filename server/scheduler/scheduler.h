// Scheduler: kube-scheduler's default profile ("default-scheduler") as a Controller. It
// watches pods, nodes, PriorityClasses, namespaces, PersistentVolumeClaims, PersistentVolumes
// and StorageClasses; assigns each pending pod of its own
// (spec.schedulerName "default-scheduler" or empty, no spec.nodeName) to a node, one pod at a
// time, highest priority first; binds it through pods/NAME/binding and records a Scheduled
// event. A pod that fits nowhere gets PodScheduled=False/Unschedulable with kube-scheduler's
// message and a FailedScheduling event, may preempt pods of lower priority, and waits until
// the cluster changes.
//
// Volumes (VolumeBinding): a pod waits while a claim is missing or unbound with Immediate
// binding; a bound volume's node affinity restricts the nodes; an unbound WaitForFirstConsumer
// claim of a provisioning class gets the annotation volume.kubernetes.io/selected-node before
// the pod is bound (kube-scheduler also waits for the claim to be bound first; this does not).
//
// PodTopologySpread's system defaults (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway)
// score pods that have no constraints of their own and are selected by a Service or owned by
// a ReplicaSet or StatefulSet.
//
// Threads: the informers' handlers update the cache and the queue; one scheduling loop; four
// binders, so that the loop goes on while bindings are written. Lock order: mu_, then the
// queue's own.
//
// Priority: nave's API server does not run the Priority admission plugin, so the scheduler
// resolves spec.priorityClassName itself (the PriorityClass's value, the globalDefault class,
// or 0) when spec.priority is absent.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/controllers/controller.h"
#include "server/scheduler/framework.h"
#include "server/scheduler/node_info.h"
#include "server/scheduler/scheduling_queue.h"

namespace nave::scheduler {

inline constexpr char kSchedulerName[] = "default-scheduler";

class Scheduler : public controllers::Controller {
 public:
  explicit Scheduler(controllers::ControllerContext& ctx);
  ~Scheduler() override;
  void start() override;
  void stop() override;

 private:
  struct Binding {
    SchedulingQueue::Entry entry;
    PodInfoPtr pod;
    std::string node;
    std::vector<std::string> provisionClaims;  // WaitForFirstConsumer claims to annotate
  };
  struct PriorityClass {
    int32_t value = 0;
    bool preemptNever = false;
    bool globalDefault = false;
  };

  void onPod(const Json* before, const Json* after);
  void onNode(const Json* before, const Json* after);
  void onPriorityClass(const Json* before, const Json* after);
  void onNamespace(const Json* before, const Json* after);
  // PersistentVolumeClaims, PersistentVolumes and StorageClasses into `map` (keyed like the
  // informer); any change may make a waiting pod schedulable.
  void onVolumeObject(std::map<std::string, Json>& map, const Json* before, const Json* after);

  void scheduleLoop();
  void scheduleOne(SchedulingQueue::Entry entry);
  void bindLoop();
  // Marks the pod unschedulable (condition, event, nominated node) and requeues it.
  void recordFailure(const SchedulingQueue::Entry& entry, const PodInfo& pod,
                     const std::string& message, const std::optional<std::string>& nominatedNode);
  void preempt(const PodInfo& pod, const std::string& node, const std::vector<PodInfoPtr>& victims);

  // Needs mu_.
  void addAssignedPodLocked(PodInfoPtr pod);
  void removeAssignedPodLocked(const std::string& key);
  // spec.priority, else the value of the pod's PriorityClass (or the global default).
  int32_t priorityLocked(const Json& pod, bool& preemptNever) const;
  PodInfo podInfoLocked(Json pod) const;
  Reservation reservationLocked(const std::string& node, const PodInfo& pod) const;
  // The selectors of the Services that select the pod and of its controller (a ReplicaSet or
  // StatefulSet), ANDed (kube-scheduler's DefaultSelector; nave serves no
  // ReplicationControllers).
  selectors::LabelSelector defaultSelector(const PodInfo& pod) const;

  controllers::ControllerContext& ctx_;
  controllers::Informer& pods_;
  controllers::Informer& nodes_;
  controllers::Informer& priorityClasses_;
  controllers::Informer& namespaces_;
  controllers::Informer& claims_;
  controllers::Informer& volumes_;
  controllers::Informer& storageClasses_;
  // For PodTopologySpread's system defaults: what selects a pod.
  controllers::Informer& services_;
  controllers::Informer& replicaSets_;
  controllers::Informer& statefulSets_;
  SchedulingQueue queue_;

  // The cache: guarded by mu_.
  mutable std::mutex mu_;
  Snapshot snapshot_;
  std::map<std::string, std::string> podNode_;  // assigned pod -> node
  std::map<std::string, std::map<std::string, PodInfoPtr>>
      orphans_;                                  // pods of nodes not (yet) seen
  std::set<std::string> assumed_;                // bound by us, not yet seen
  std::map<std::string, PodInfoPtr> nominated_;  // pending pods with a nominated node
  std::map<std::string, PriorityClass> priorityClassValues_;
  std::mt19937 rng_{std::random_device{}()};

  // Bindings waiting for a binder thread.
  std::mutex bindMu_;
  std::condition_variable bindCv_;
  std::deque<Binding> bindings_;  // guarded by bindMu_
  bool stopping_ = false;         // guarded by bindMu_

  std::thread loop_;
  std::vector<std::thread> binders_;
};

}  // namespace nave::scheduler
