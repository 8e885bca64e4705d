#include "server/controllers/core/node_lifecycle_controller.h"

#include <algorithm>
#include <optional>
#include <set>

#include "common/log.h"
#include "common/time.h"
#include "server/controllers/object_util.h"

namespace nave::controllers {
namespace {

const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kPods{"", "v1", "pods"};
const client::Resource kLeases{"coordination.k8s.io", "v1", "leases"};
constexpr char kNodeIndex[] = "nodeName";
constexpr char kNotReady[] = "node.kubernetes.io/not-ready";
constexpr char kUnreachable[] = "node.kubernetes.io/unreachable";

}  // namespace

NodeLifecycleController::NodeLifecycleController(ControllerContext& ctx, std::chrono::seconds gracePeriod)
    : ctx_(ctx),
      grace_(gracePeriod),
      nodes_(ctx.informers.informer(kNodes)),
      leases_(ctx.informers.informer(kLeases)),
      pods_(ctx.informers.informer(kPods)),
      nodeQueue_(std::chrono::milliseconds(100), std::chrono::seconds(30)),
      podQueue_(std::chrono::milliseconds(100), std::chrono::seconds(30)) {
  pods_.addIndex(kNodeIndex, [](const Json& pod) {
    return std::vector<std::string>{getString(pod.value("spec", Json::object()), "nodeName")};
  });
  nodes_.addObjectHandler([this](const Json* before, const Json* after) {
    const Json& node = after ? *after : *before;
    std::string name = getString(node["metadata"], "name");
    nodeQueue_.add(name);
    // Taints changed: the node's pods are looked at again.
    const Json noTaints = Json::array();
    auto taints = [&](const Json* n) {
      return n ? n->value("spec", Json::object()).value("taints", noTaints) : noTaints;
    };
    if (taints(before) != taints(after))
      for (const std::string& key : pods_.keysByIndex(kNodeIndex, name)) podQueue_.add(key);
  });
  leases_.addObjectHandler([this](const Json*, const Json* after) {
    if (after == nullptr || getString((*after)["metadata"], "namespace") != "kube-node-lease") return;
    nodeQueue_.add(getString((*after)["metadata"], "name"));
  });
  pods_.addHandler([this](const std::string& key) { podQueue_.add(key); });
}

void NodeLifecycleController::start() {
  nodeWorkers_.start(nodeQueue_, 1, "node-lifecycle",
                     [this](const std::string& name) { return reconcileNode(name); });
  podWorkers_.start(podQueue_, 1, "taint-eviction",
                    [this](const std::string& key) { return reconcilePod(key); });
}

void NodeLifecycleController::stop() {
  nodeWorkers_.stop();
  podWorkers_.stop();
}

Result<Reconciled> NodeLifecycleController::reconcileNode(const std::string& name) {
  auto node = nodes_.get(name);
  if (!node) {
    std::lock_guard lock(mu_);
    heard_.erase(name);
    return Reconciled{};
  }
  // When was it last heard from (on our clock)?
  std::string signature;
  if (auto lease = leases_.get(std::string("kube-node-lease/") + name))
    signature = getString(lease->value("spec", Json::object()), "renewTime");
  const Json* ready = findCondition(*node, "Ready");
  if (ready) signature += "|" + getString(*ready, "lastHeartbeatTime");
  auto now = Clock::now();
  Clock::time_point lastHeard;
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = heard_.try_emplace(name, Heard{signature, now});
    if (!fresh && it->second.signature != signature) it->second = Heard{signature, now};
    lastHeard = it->second.at;
  }
  std::string readyStatus = ready ? getString(*ready, "status", "Unknown") : "Unknown";
  Reconciled out;
  if (now - lastHeard >= grace_) {
    if (readyStatus != "Unknown" || ready == nullptr) {
      TRY(markUnknown(*node, ready == nullptr));
      return Reconciled{};  // the update brings the node back here
    }
  } else {
    // A node that never reported gets its grace period before it is judged (and tainted).
    if (ready == nullptr) {
      return Reconciled{std::chrono::duration_cast<std::chrono::milliseconds>(lastHeard + grace_ - now) +
                        std::chrono::milliseconds(100)};
    }
    out.requeueAfter = std::chrono::duration_cast<std::chrono::milliseconds>(lastHeard + grace_ - now) +
                       std::chrono::milliseconds(100);
  }
  TRY(setTaints(*node, readyStatus));
  return out;
}

Result<void> NodeLifecycleController::markUnknown(const Json& node, bool neverReported) {
  std::string name = getString(node["metadata"], "name");
  Json updated = node;
  std::string now = formatRfc3339(std::chrono::system_clock::now());
  Json& conditions = updated["status"]["conditions"];
  if (!conditions.is_array()) conditions = Json::array();
  for (const char* type : {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}) {
    Json* found = nullptr;
    for (Json& c : conditions)
      if (getString(c, "type") == type) found = &c;
    if (found == nullptr) {
      conditions.push_back({{"type", type}, {"lastHeartbeatTime", now}});
      found = &conditions.back();
    }
    if (getString(*found, "status") == "Unknown") continue;
    (*found)["status"] = "Unknown";
    (*found)["reason"] = neverReported ? "NodeStatusNeverUpdated" : "NodeStatusUnknown";
    (*found)["message"] = neverReported ? "Kubelet never posted node status." : "Kubelet stopped posting node status.";
    (*found)["lastTransitionTime"] = now;
  }
  auto r = ctx_.client.update(kNodes, "", updated, {}, "status");
  if (!r.ok()) return std::move(r).error();
  log::info("node stopped reporting: conditions Unknown", {{"node", name}});
  ctx_.events.eventAs("node-controller", node, "Normal", "NodeNotReady",
                      "Node " + name + " status is now: NodeNotReady");
  // Its pods are not Ready any more (MarkPodsNotReady).
  for (const Json& pod : pods_.byIndex(kNodeIndex, name)) {
    const Json* podReady = findCondition(pod, "Ready");
    if (podReady == nullptr || getString(*podReady, "status") == "False") continue;
    Json status = pod.value("status", Json::object());
    for (Json& c : status["conditions"])
      if (getString(c, "type") == "Ready") {
        c["status"] = "False";
        c["lastTransitionTime"] = now;
      }
    Json patch = {{"status", {{"conditions", status["conditions"]}}}};
    const Json& md = pod["metadata"];
    auto p = ctx_.client.patch(kPods, getString(md, "namespace"), getString(md, "name"),
                               api::PatchType::kStrategic, dumpJson(patch), {}, "status");
    if (!p.ok() && !p.error().is(ErrorCode::kNotFound))
      log::warning("marking a pod not ready failed", {{"pod", getString(md, "name")}, {"error", p.error().message()}});
  }
  return {};
}

Result<void> NodeLifecycleController::setTaints(const Json& node, const std::string& readyStatus) {
  std::string wanted = readyStatus == "Unknown" ? kUnreachable : readyStatus == "False" ? kNotReady : "";
  Json spec = node.value("spec", Json::object());
  Json taints = spec.value("taints", Json::array());
  Json kept = Json::array();
  std::set<std::string> present;
  bool changed = false;
  for (const Json& t : taints) {
    std::string key = getString(t, "key");
    std::string effect = getString(t, "effect");
    if ((key == kNotReady || key == kUnreachable) && key != wanted &&
        (effect == "NoSchedule" || effect == "NoExecute")) {
      changed = true;
      continue;
    }
    if (key == wanted) present.insert(effect);
    kept.push_back(t);
  }
  if (!wanted.empty()) {
    std::string now = formatRfc3339(std::chrono::system_clock::now());
    for (const char* effect : {"NoSchedule", "NoExecute"}) {
      if (present.count(effect)) continue;
      Json t = {{"key", wanted}, {"effect", effect}};
      if (std::string(effect) == "NoExecute") t["timeAdded"] = now;
      kept.push_back(t);
      changed = true;
    }
  }
  if (!changed) return {};
  Json updated = node;
  if (kept.empty()) updated["spec"].erase("taints");
  else updated["spec"]["taints"] = kept;
  auto r = ctx_.client.update(kNodes, "", updated);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  return {};
}

Result<Reconciled> NodeLifecycleController::reconcilePod(const std::string& key) {
  auto pod = pods_.get(key);
  if (!pod || isDeleting(*pod)) return Reconciled{};
  std::string nodeName = getString(pod->value("spec", Json::object()), "nodeName");
  if (nodeName.empty()) return Reconciled{};
  std::string phase = getString(pod->value("status", Json::object()), "phase");
  if (phase == "Succeeded" || phase == "Failed") return Reconciled{};
  auto node = nodes_.get(nodeName);
  if (!node) return Reconciled{};
  const Json tolerations = pod->value("spec", Json::object()).value("tolerations", Json::array());
  // The earliest time the pod must go: now for an untolerated NoExecute taint, else when the
  // shortest tolerationSeconds of the taints runs out.
  std::optional<WallTime> evictAt;
  std::string because;
  for (const Json& taint : node->value("spec", Json::object()).value("taints", Json::array())) {
    if (getString(taint, "effect") != "NoExecute") continue;
    std::optional<int64_t> seconds;
    bool tolerated = false;
    for (const Json& t : tolerations) {
      if (!tolerates(t, taint)) continue;
      tolerated = true;
      if (const Json* s = findMember(t, "tolerationSeconds"); s && s->is_number()) {
        int64_t v = std::max<int64_t>(0, s->get<int64_t>());
        seconds = seconds ? std::min(*seconds, v) : v;
      } else {
        seconds.reset();  // tolerated forever by this toleration
        break;
      }
    }
    WallTime at;
    if (!tolerated) {
      at = std::chrono::system_clock::now();
    } else if (seconds) {
      auto added = parseRfc3339(getString(taint, "timeAdded")).value_or(std::chrono::system_clock::now());
      at = added + std::chrono::seconds(*seconds);
    } else {
      continue;
    }
    if (!evictAt || at < *evictAt) {
      evictAt = at;
      because = getString(taint, "key");
    }
  }
  if (!evictAt) return Reconciled{};
  auto wait = *evictAt - std::chrono::system_clock::now();
  if (wait > std::chrono::milliseconds(0)) {
    return Reconciled{std::chrono::duration_cast<std::chrono::milliseconds>(wait) + std::chrono::milliseconds(50)};
  }
  const Json& md = (*pod)["metadata"];
  std::string ns = getString(md, "namespace"), name = getString(md, "name");
  ctx_.events.eventAs("taint-eviction-controller", *pod, "Normal", "TaintManagerEviction",
                      "Marking for deletion Pod " + ns + "/" + name);
  api::DeleteOptions opts;
  opts.preconditionUid = getString(md, "uid");
  auto r = ctx_.client.remove(kPods, ns, name, opts);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kConflict))
    return std::move(r).error();
  log::info("evicted a pod for a NoExecute taint", {{"pod", ns + "/" + name}, {"node", nodeName}, {"taint", because}});
  return Reconciled{};
}

}  // namespace nave::controllers
