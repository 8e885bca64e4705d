#include "server/scheduler/scheduler.h"

#include "common/log.h"
#include "common/time.h"
#include "server/scheduler/preemption.h"

namespace nave::scheduler {

namespace {

const client::Resource kPods{"", "v1", "pods"};
const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kPriorityClasses{"scheduling.k8s.io", "v1", "priorityclasses"};
const client::Resource kClaims{"", "v1", "persistentvolumeclaims"};
const client::Resource kVolumes{"", "v1", "persistentvolumes"};
const client::Resource kStorageClasses{"storage.k8s.io", "v1", "storageclasses"};
const client::Resource kServices{"", "v1", "services"};
const client::Resource kReplicaSets{"apps", "v1", "replicasets"};
const client::Resource kStatefulSets{"apps", "v1", "statefulsets"};

constexpr int kBinders = 4;
// Priorities of the built-in classes, which nave does not create as objects.
constexpr int32_t kSystemClusterCritical = 2000000000;
constexpr int32_t kSystemNodeCritical = 2000001000;

const Json& field(const Json& o, const char* name) {
  static const Json kEmpty = Json::object();
  const Json* f = findMember(o, name);
  return f ? *f : kEmpty;
}

std::string keyOf(const Json& pod) {
  return controllers::Informer::keyOf(pod);
}

bool responsible(const Json& pod) {
  std::string name = getString(field(pod, "spec"), "schedulerName");
  return name.empty() || name == kSchedulerName;
}

bool terminal(const Json& pod) {
  std::string phase = getString(field(pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

bool deleting(const Json& pod) {
  const Json* ts = findMember(field(pod, "metadata"), "deletionTimestamp");
  return ts && !ts->is_null();
}

// What makes a pending pod worth another try: its spec or labels, not its status.
bool podChanged(const Json& before, const Json& after) {
  return field(before, "spec") != field(after, "spec") ||
         field(field(before, "metadata"), "labels") != field(field(after, "metadata"), "labels") ||
         field(field(before, "metadata"), "annotations") !=
             field(field(after, "metadata"), "annotations");
}

// What of a node the filters look at (not its heartbeat).
bool nodeChanged(const Json& before, const Json& after) {
  return field(before, "spec") != field(after, "spec") ||
         field(field(before, "metadata"), "labels") != field(field(after, "metadata"), "labels") ||
         field(field(before, "status"), "allocatable") !=
             field(field(after, "status"), "allocatable");
}

const Json* podScheduledCondition(const Json& pod) {
  const Json* conds = findMember(field(pod, "status"), "conditions");
  if (!conds || !conds->is_array()) return nullptr;
  for (const Json& c : *conds)
    if (getString(c, "type") == "PodScheduled") return &c;
  return nullptr;
}

}  // namespace

Scheduler::Scheduler(controllers::ControllerContext& ctx)
    : ctx_(ctx),
      pods_(ctx.informers.informer(kPods)),
      nodes_(ctx.informers.informer(kNodes)),
      priorityClasses_(ctx.informers.informer(kPriorityClasses)),
      namespaces_(ctx.informers.informer(client::kNamespaces)),
      claims_(ctx.informers.informer(kClaims)),
      volumes_(ctx.informers.informer(kVolumes)),
      storageClasses_(ctx.informers.informer(kStorageClasses)),
      services_(ctx.informers.informer(kServices)),
      replicaSets_(ctx.informers.informer(kReplicaSets)),
      statefulSets_(ctx.informers.informer(kStatefulSets)) {
  // PriorityClasses and namespaces first: a pod's priority needs its class.
  priorityClasses_.addObjectHandler(
      [this](const Json* b, const Json* a) { onPriorityClass(b, a); });
  namespaces_.addObjectHandler([this](const Json* b, const Json* a) { onNamespace(b, a); });
  claims_.addObjectHandler(
      [this](const Json* b, const Json* a) { onVolumeObject(snapshot_.claims, b, a); });
  volumes_.addObjectHandler(
      [this](const Json* b, const Json* a) { onVolumeObject(snapshot_.volumes, b, a); });
  storageClasses_.addObjectHandler(
      [this](const Json* b, const Json* a) { onVolumeObject(snapshot_.storageClasses, b, a); });
  nodes_.addObjectHandler([this](const Json* b, const Json* a) { onNode(b, a); });
  pods_.addObjectHandler([this](const Json* b, const Json* a) { onPod(b, a); });
}

Scheduler::~Scheduler() {
  stop();
}

void Scheduler::start() {
  // The informers listed before start(): their handlers have filled the cache and queue,
  // though a PriorityClass may have come after pods that use it. Re-read the pending pods.
  for (const Json& pod : pods_.list()) onPod(nullptr, &pod);
  loop_ = std::thread([this] { scheduleLoop(); });
  for (int i = 0; i < kBinders; ++i) binders_.emplace_back([this] { bindLoop(); });
}

void Scheduler::stop() {
  queue_.shutdown();
  {
    std::lock_guard lock(bindMu_);
    stopping_ = true;
  }
  bindCv_.notify_all();
  if (loop_.joinable()) loop_.join();
  for (auto& t : binders_)
    if (t.joinable()) t.join();
  binders_.clear();
}

int32_t Scheduler::priorityLocked(const Json& pod, bool& preemptNever) const {
  const Json& spec = field(pod, "spec");
  std::string policy = getString(spec, "preemptionPolicy");
  int32_t priority = 0;
  if (const Json* p = findMember(spec, "priority"); p && p->is_number_integer()) {
    priority = p->get<int32_t>();
  } else {
    std::string className = getString(spec, "priorityClassName");
    const PriorityClass* found = nullptr;
    if (!className.empty()) {
      auto it = priorityClassValues_.find(className);
      if (it != priorityClassValues_.end())
        found = &it->second;
      else if (className == "system-cluster-critical")
        priority = kSystemClusterCritical;
      else if (className == "system-node-critical")
        priority = kSystemNodeCritical;
    } else {
      for (const auto& [name, pc] : priorityClassValues_)
        if (pc.globalDefault) found = &pc;
    }
    if (found) {
      priority = found->value;
      if (policy.empty() && found->preemptNever) policy = "Never";
    }
  }
  preemptNever = policy == "Never";
  return priority;
}

PodInfo Scheduler::podInfoLocked(Json pod) const {
  bool never = false;
  int32_t priority = priorityLocked(pod, never);
  return makePodInfo(std::move(pod), priority, never);
}

void Scheduler::addAssignedPodLocked(PodInfoPtr pod) {
  const std::string key = pod->key;
  const std::string node = pod->nodeName;
  removeAssignedPodLocked(key);
  podNode_[key] = node;
  auto it = snapshot_.nodes.find(node);
  if (it != snapshot_.nodes.end())
    it->second.addPod(std::move(pod));
  else
    orphans_[node][key] = std::move(pod);
}

void Scheduler::removeAssignedPodLocked(const std::string& key) {
  auto it = podNode_.find(key);
  if (it == podNode_.end()) return;
  if (auto n = snapshot_.nodes.find(it->second); n != snapshot_.nodes.end())
    n->second.removePod(key);
  if (auto o = orphans_.find(it->second); o != orphans_.end()) {
    o->second.erase(key);
    if (o->second.empty()) orphans_.erase(o);
  }
  podNode_.erase(it);
}

void Scheduler::onPod(const Json* before, const Json* after) {
  std::lock_guard lock(mu_);
  if (after == nullptr) {
    std::string key = keyOf(*before);
    queue_.remove(key);
    nominated_.erase(key);
    if (podNode_.contains(key)) {
      removeAssignedPodLocked(key);
      assumed_.erase(key);
      queue_.moveAllToActive();  // its resources are free
    }
    return;
  }
  std::string key = keyOf(*after);
  std::string nodeName = getString(field(*after, "spec"), "nodeName");
  if (!nodeName.empty()) {
    queue_.remove(key);
    nominated_.erase(key);
    if (terminal(*after)) {
      if (podNode_.contains(key)) {
        removeAssignedPodLocked(key);
        queue_.moveAllToActive();
      }
      return;
    }
    bool wasAssigned = before && !getString(field(*before, "spec"), "nodeName").empty();
    bool labelsChanged = wasAssigned && field(field(*before, "metadata"), "labels") !=
                                            field(field(*after, "metadata"), "labels");
    assumed_.erase(key);
    addAssignedPodLocked(std::make_shared<const PodInfo>(podInfoLocked(*after)));
    if (labelsChanged) queue_.moveAllToActive();  // affinity and spread count labels
    return;
  }
  if (!responsible(*after)) return;
  if (deleting(*after) || terminal(*after)) {
    queue_.remove(key);
    nominated_.erase(key);
    return;
  }
  if (assumed_.contains(key)) return;  // bound by us; the informer has not caught up yet
  // Only the queue's order is needed now; the PodInfo is built when the pod is scheduled.
  bool never = false;
  int32_t priority = priorityLocked(*after, never);
  if (!getString(field(*after, "status"), "nominatedNodeName").empty())
    nominated_[key] = std::make_shared<const PodInfo>(podInfoLocked(*after));
  else
    nominated_.erase(key);
  queue_.add(key, priority, getString(field(*after, "metadata"), "creationTimestamp"),
             before == nullptr || podChanged(*before, *after));
}

void Scheduler::onNode(const Json* before, const Json* after) {
  std::lock_guard lock(mu_);
  if (after == nullptr) {
    std::string name = getString(field(*before, "metadata"), "name");
    auto it = snapshot_.nodes.find(name);
    if (it == snapshot_.nodes.end()) return;
    for (const auto& [key, pod] : it->second.pods()) orphans_[name][key] = pod;
    snapshot_.nodes.erase(it);
    return;
  }
  std::string name = getString(field(*after, "metadata"), "name");
  auto it = snapshot_.nodes.find(name);
  if (it == snapshot_.nodes.end()) {
    NodeInfo info(*after);
    if (auto o = orphans_.find(name); o != orphans_.end()) {
      for (auto& [key, pod] : o->second) info.addPod(pod);
      orphans_.erase(o);
    }
    snapshot_.nodes.emplace(name, std::move(info));
    queue_.moveAllToActive();
    return;
  }
  it->second.setNode(*after);
  if (before == nullptr || nodeChanged(*before, *after)) queue_.moveAllToActive();
}

void Scheduler::onPriorityClass(const Json* before, const Json* after) {
  std::lock_guard lock(mu_);
  if (after == nullptr) {
    priorityClassValues_.erase(getString(field(*before, "metadata"), "name"));
    return;
  }
  PriorityClass pc;
  pc.value = static_cast<int32_t>(getInt(*after, "value", 0));
  pc.preemptNever = getString(*after, "preemptionPolicy") == "Never";
  pc.globalDefault = getBool(*after, "globalDefault");
  priorityClassValues_[getString(field(*after, "metadata"), "name")] = pc;
}

void Scheduler::onNamespace(const Json* before, const Json* after) {
  std::lock_guard lock(mu_);
  if (after == nullptr) {
    snapshot_.namespaceLabels.erase(getString(field(*before, "metadata"), "name"));
    return;
  }
  snapshot_.namespaceLabels[getString(field(*after, "metadata"), "name")] =
      field(field(*after, "metadata"), "labels");
}

void Scheduler::onVolumeObject(std::map<std::string, Json>& map, const Json* before,
                               const Json* after) {
  std::lock_guard lock(mu_);
  if (after == nullptr) {
    map.erase(keyOf(*before));
    return;
  }
  map[keyOf(*after)] = *after;
  queue_.moveAllToActive();
}

selectors::LabelSelector Scheduler::defaultSelector(const PodInfo& pod) const {
  Json matchLabels = Json::object();
  Json expressions = Json::array();
  auto mergeMap = [&](const Json& selector) {
    for (const auto& [k, v] : selector.items()) matchLabels[k] = v;
  };
  auto selectsPod = [&](const Json& selector) {
    if (selector.empty()) return false;
    for (const auto& [k, v] : selector.items()) {
      const Json* have = findMember(pod.labels, k);
      if (!have || *have != v) return false;
    }
    return true;
  };
  for (const Json& svc : services_.list(pod.ns)) {
    const Json& selector = objectField(field(svc, "spec"), "selector");
    if (selectsPod(selector)) mergeMap(selector);
  }
  for (const Json& ref : arrayField(field(pod.pod, "metadata"), "ownerReferences")) {
    if (!getBool(ref, "controller")) continue;
    std::string kind = getString(ref, "kind"), apiVersion = getString(ref, "apiVersion");
    std::string key = pod.ns + "/" + getString(ref, "name");
    if ((kind == "ReplicaSet" || kind == "StatefulSet") && apiVersion == "apps/v1") {
      auto owner = kind == "ReplicaSet" ? replicaSets_.get(key) : statefulSets_.get(key);
      if (!owner) continue;
      const Json& selector = objectField(field(*owner, "spec"), "selector");
      mergeMap(objectField(selector, "matchLabels"));
      for (const Json& e : arrayField(selector, "matchExpressions")) expressions.push_back(e);
    }
  }
  auto parsed = selectors::LabelSelector::fromObject(
      Json{{"matchLabels", std::move(matchLabels)}, {"matchExpressions", std::move(expressions)}});
  return parsed.ok() ? std::move(*parsed) : selectors::LabelSelector{};
}

Reservation Scheduler::reservationLocked(const std::string& node, const PodInfo& pod) const {
  Reservation r;
  for (const auto& [key, p] : nominated_) {
    if (key == pod.key || p->nominatedNodeName != node || p->priority < pod.priority) continue;
    r.requests.add(p->requests);
    ++r.pods;
  }
  return r;
}

void Scheduler::scheduleLoop() {
  while (auto entry = queue_.pop()) {
    std::string key = entry->key;
    scheduleOne(std::move(*entry));
    queue_.done(key);
  }
}

void Scheduler::scheduleOne(SchedulingQueue::Entry entry) {
  auto obj = pods_.get(entry.key);
  if (!obj) return;
  const Json& spec = field(*obj, "spec");
  if (!getString(spec, "nodeName").empty() || deleting(*obj) || !responsible(*obj)) return;
  if (const Json* gates = findMember(spec, "schedulingGates");
      gates && gates->is_array() && !gates->empty()) {
    // Waits for its gates to be removed (an update of the spec queues it again).
    const Json* cond = podScheduledCondition(*obj);
    if (!cond || getString(*cond, "reason") != "SchedulingGated") {
      Json patch = {
          {"status",
           {{"conditions",
             Json::array(
                 {{{"type", "PodScheduled"},
                   {"status", "False"},
                   {"reason", "SchedulingGated"},
                   {"message", "Scheduling is blocked due to non-empty scheduling gates"},
                   {"lastProbeTime", nullptr},
                   {"lastTransitionTime", formatRfc3339(std::chrono::system_clock::now())}}})}}}};
      (void)ctx_.client.patch(kPods, getString(field(*obj, "metadata"), "namespace"),
                              getString(field(*obj, "metadata"), "name"),
                              api::PatchType::kStrategic, dumpJson(patch), {}, "status");
    }
    return;
  }

  PodInfo pod;
  std::string message;
  PreemptionResult preemption;
  {
    std::lock_guard lock(mu_);
    if (assumed_.contains(entry.key)) return;
    pod = podInfoLocked(std::move(*obj));
    if (pod.spread.empty()) addDefaultSpread(pod, defaultSelector(pod));
    if (snapshot_.nodes.empty()) {
      message = "no nodes available to schedule pods";
    } else {
      CycleState state = preFilter(pod, snapshot_);
      std::map<std::string, Status> statuses;
      std::vector<const NodeInfo*> feasible;
      if (!state.volumeError.empty()) {
        // PreFilter failed: no node will do, and preemption cannot help.
        for (const auto& [name, node] : snapshot_.nodes)
          statuses[name] = Status::unschedulable("VolumeBinding", state.volumeError, true);
        preemption = findPreemption(pod, snapshot_, statuses, [&](const std::string& node) {
          return reservationLocked(node, pod);
        });
        message = fitErrorMessage(snapshot_.nodes.size(), statuses, preemption.message,
                                  state.volumeError);
      } else {
        // A pod nominated by an earlier preemption goes to its node when it fits there now.
        if (auto n = snapshot_.nodes.find(pod.nominatedNodeName); n != snapshot_.nodes.end()) {
          Reservation r = reservationLocked(n->first, pod);
          if (runFilters(pod, n->second, state, &r).ok()) feasible.push_back(&n->second);
        }
        if (feasible.empty()) {
          for (const auto& [name, node] : snapshot_.nodes) {
            Reservation r = reservationLocked(name, pod);
            Status s = runFilters(pod, node, state, &r);
            if (s.ok())
              feasible.push_back(&node);
            else
              statuses[name] = std::move(s);
          }
        }
        if (!feasible.empty()) {
          std::string host = feasible.size() == 1
                                 ? feasible.front()->name()
                                 : selectHost(scoreNodes(pod, snapshot_, feasible), rng_);
          // Assume: count the pod on its node now, so that the next pods see it taken.
          PodInfo assumed = std::move(pod);
          assumed.nodeName = host;
          assumed.pod["spec"]["nodeName"] = host;
          auto ptr = std::make_shared<const PodInfo>(std::move(assumed));
          addAssignedPodLocked(ptr);
          assumed_.insert(entry.key);
          nominated_.erase(entry.key);
          std::vector<std::string> provision;
          for (const CycleState::Claim& c : state.claims)
            if (c.waitForConsumer) provision.push_back(c.name);
          {
            std::lock_guard bl(bindMu_);
            bindings_.push_back({std::move(entry), ptr, host, std::move(provision)});
          }
          bindCv_.notify_one();
          return;
        }
        preemption = findPreemption(pod, snapshot_, statuses, [&](const std::string& node) {
          return reservationLocked(node, pod);
        });
        message = fitErrorMessage(snapshot_.nodes.size(), statuses, preemption.message);
        if (!preemption.node.empty()) {
          PodInfo nominated = pod;
          nominated.nominatedNodeName = preemption.node;
          nominated_[entry.key] = std::make_shared<const PodInfo>(std::move(nominated));
        }
      }
    }
  }
  std::optional<std::string> nominate;
  if (!preemption.node.empty()) {
    preempt(pod, preemption.node, preemption.victims);
    nominate = preemption.node;
  } else if (preemption.message.starts_with("preemption: 0/")) {
    nominate = "";  // preemption cannot help: clear an earlier nomination
  }
  recordFailure(entry, pod, message, nominate);
}

void Scheduler::preempt(const PodInfo& pod, const std::string& node,
                        const std::vector<PodInfoPtr>& victims) {
  for (const PodInfoPtr& v : victims) {
    Json patch = {
        {"status",
         {{"conditions",
           Json::array(
               {{{"type", "DisruptionTarget"},
                 {"status", "True"},
                 {"reason", "PreemptionByScheduler"},
                 {"message", std::string(kSchedulerName) +
                                 ": preempting to accommodate a higher priority pod"},
                 {"lastTransitionTime", formatRfc3339(std::chrono::system_clock::now())}}})}}}};
    auto patched = ctx_.client.patch(kPods, v->ns, v->name, api::PatchType::kStrategic,
                                     dumpJson(patch), {}, "status");
    if (!patched.ok() && !patched.error().is(ErrorCode::kNotFound))
      log::warning("preemption: marking the victim failed",
                   {{"pod", v->key}, {"error", patched.error().message()}});
    api::DeleteOptions opts;
    opts.preconditionUid = v->uid;
    auto removed = ctx_.client.remove(kPods, v->ns, v->name, opts);
    if (!removed.ok() && !removed.error().is(ErrorCode::kNotFound)) {
      log::warning("preemption: deleting the victim failed",
                   {{"pod", v->key}, {"error", removed.error().message()}});
      continue;
    }
    ctx_.events.eventAs(kSchedulerName, v->pod, "Normal", "Preempted",
                        "Preempted by pod " + pod.uid + " on node " + node);
    log::info("preempted", {{"preemptor", pod.key}, {"victim", v->key}, {"node", node}});
  }
  // Lower-priority pods nominated to the node may no longer fit there: clear their nomination.
  std::vector<PodInfoPtr> lower;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, p] : nominated_)
      if (key != pod.key && p->nominatedNodeName == node && p->priority < pod.priority)
        lower.push_back(p);
  }
  for (const PodInfoPtr& p : lower)
    (void)ctx_.client.patch(kPods, p->ns, p->name, api::PatchType::kMerge,
                            R"({"status":{"nominatedNodeName":null}})", {}, "status");
}

void Scheduler::recordFailure(const SchedulingQueue::Entry& entry, const PodInfo& pod,
                              const std::string& message,
                              const std::optional<std::string>& nominatedNode) {
  log::v(2, "unable to schedule pod", {{"pod", pod.key}, {"message", message}});
  const Json* cond = podScheduledCondition(pod.pod);
  bool conditionSame = cond && getString(*cond, "status") == "False" &&
                       getString(*cond, "reason") == "Unschedulable" &&
                       getString(*cond, "message") == message;
  bool nominationSame = !nominatedNode || *nominatedNode == pod.nominatedNodeName;
  if (!conditionSame || !nominationSame) {
    std::string since = cond && getString(*cond, "status") == "False"
                            ? getString(*cond, "lastTransitionTime")
                            : formatRfc3339(std::chrono::system_clock::now());
    Json status = {{"conditions", Json::array({{{"type", "PodScheduled"},
                                                {"status", "False"},
                                                {"reason", "Unschedulable"},
                                                {"message", message},
                                                {"lastProbeTime", nullptr},
                                                {"lastTransitionTime", since}}})}};
    if (nominatedNode)
      status["nominatedNodeName"] = nominatedNode->empty() ? Json(nullptr) : Json(*nominatedNode);
    auto r = ctx_.client.patch(kPods, pod.ns, pod.name, api::PatchType::kStrategic,
                               dumpJson(Json{{"status", status}}), {}, "status");
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound))
      log::warning("updating the pod's PodScheduled condition failed",
                   {{"pod", pod.key}, {"error", r.error().message()}});
  }
  ctx_.events.eventAs(kSchedulerName, pod.pod, "Warning", "FailedScheduling", message);
  queue_.addUnschedulable(entry);
}

void Scheduler::bindLoop() {
  for (;;) {
    Binding b;
    {
      std::unique_lock lock(bindMu_);
      bindCv_.wait(lock, [&] { return stopping_ || !bindings_.empty(); });
      if (stopping_) return;
      b = std::move(bindings_.front());
      bindings_.pop_front();
    }
    for (const std::string& claim : b.provisionClaims) {
      // The provisioner creates the volume where the pod goes.
      Json patch = {
          {"metadata", {{"annotations", {{"volume.kubernetes.io/selected-node", b.node}}}}}};
      auto r =
          ctx_.client.patch(kClaims, b.pod->ns, claim, api::PatchType::kMerge, dumpJson(patch));
      if (!r.ok())
        log::warning("annotating the claim with its node failed",
                     {{"claim", b.pod->ns + "/" + claim}, {"error", r.error().message()}});
    }
    Json binding = {
        {"apiVersion", "v1"},
        {"kind", "Binding"},
        {"metadata", {{"name", b.pod->name}, {"namespace", b.pod->ns}, {"uid", b.pod->uid}}},
        {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", b.node}}}};
    auto r = ctx_.client.create(kPods, b.pod->ns, binding, {}, "binding");
    if (r.ok()) {
      ctx_.events.eventAs(kSchedulerName, b.pod->pod, "Normal", "Scheduled",
                          "Successfully assigned " + b.pod->key + " to " + b.node);
      log::v(3, "bound pod", {{"pod", b.pod->key}, {"node", b.node}});
      continue;
    }
    log::warning("binding failed",
                 {{"pod", b.pod->key}, {"node", b.node}, {"error", r.error().message()}});
    {
      std::lock_guard lock(mu_);
      if (assumed_.erase(b.pod->key) > 0) {
        auto it = podNode_.find(b.pod->key);
        if (it != podNode_.end() && it->second == b.node) removeAssignedPodLocked(b.pod->key);
      }
    }
    if (!r.error().is(ErrorCode::kNotFound)) queue_.addBackoff(b.entry);
    queue_.moveAllToActive();
  }
}

}  // namespace nave::scheduler
