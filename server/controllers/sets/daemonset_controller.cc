#include "server/controllers/sets/daemonset_controller.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/log.h"
#include "server/controllers/sets/daemon_placement.h"
#include "server/controllers/sets/revision_history.h"
#include "server/selectors/selectors.h"

namespace nave::controllers {
namespace {

using sets::isDeleting;
using sets::metadataOf;
using sets::phaseOf;

const client::Resource kDaemonSets{"apps", "v1", "daemonsets"};
const client::Resource kNodes{"", "v1", "nodes"};
constexpr char kComponent[] = "daemonset-controller";

std::string nameOf(const Json& object) {
  return getString(metadataOf(object), "name");
}
Json labelsOf(const Json& object) {
  Json labels = metadataOf(object).value("labels", Json::object());
  return labels.is_object() ? labels : Json::object();
}
bool isUpdated(const Json& pod, const std::string& hash) {
  return !hash.empty() && getString(labelsOf(pod), sets::kRevisionHashLabel) == hash;
}

// An IntOrString of a rolling update against `total`, percentages rounded up.
int64_t scaled(const Json& value, int64_t total) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_string()) {
    std::string s = value.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      int64_t percent = std::atoll(s.substr(0, s.size() - 1).c_str());
      return static_cast<int64_t>(
          std::ceil(static_cast<double>(percent) * static_cast<double>(total) / 100.0));
    }
    return std::atoll(s.c_str());
  }
  return 0;
}

}  // namespace

struct DaemonSetController::Sync {
  DaemonSetController& c;
  Json ds;
  std::string key, ns, name, uid, hash;
  int64_t minReadySeconds = 0;
  Json templ;                                           // daemonPodTemplate
  std::map<std::string, std::vector<Json>> podsByNode;  // by target node, oldest first
  std::vector<Json> nodes;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  std::optional<std::chrono::milliseconds> requeue;
  int writes = 0;

  void requeueWithin(std::chrono::milliseconds d) { requeue = requeue ? std::min(*requeue, d) : d; }
  bool isAvailable(const Json& pod) {
    if (sets::isPodAvailable(pod, minReadySeconds, now)) return true;
    if (auto d = sets::untilAvailable(pod, minReadySeconds, now)) requeueWithin(*d);
    return false;
  }

  Result<void> createOn(const std::string& node) {
    Json pinned = sets::pinToNode(templ, node);
    Json md = pinned.value("metadata", Json::object());
    md.erase("name");
    md["generateName"] = name + "-";
    md["namespace"] = ns;
    md["ownerReferences"] = Json::array({sets::controllerRefTo(ds, "DaemonSet")});
    Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", md}, {"spec", pinned["spec"]}};
    writes++;
    auto r = c.ctx_.client.create(sets::kPods, ns, pod);
    if (!r.ok()) {
      c.ctx_.events.eventAs(kComponent, ds, "Warning", "FailedCreate",
                            "Error creating: " + r.error().message());
      return std::move(r).error();
    }
    std::string podName = nameOf(*r);
    c.pending_.expectCreate(key, ns + "/" + podName);
    c.ctx_.events.eventAs(kComponent, ds, "Normal", "SuccessfulCreate", "Created pod: " + podName);
    return {};
  }

  Result<void> remove(const Json& pod) {
    api::DeleteOptions opts;
    opts.preconditionUid = getString(metadataOf(pod), "uid");
    writes++;
    auto r = c.ctx_.client.remove(sets::kPods, ns, nameOf(pod), opts);
    if (!r.ok() && (r.error().is(ErrorCode::kNotFound) || r.error().is(ErrorCode::kConflict)))
      return {};
    if (!r.ok()) {
      c.ctx_.events.eventAs(kComponent, ds, "Warning", "FailedDelete",
                            "Error deleting: " + r.error().message());
      return std::move(r).error();
    }
    c.pending_.expectDelete(key, ns + "/" + nameOf(pod), *opts.preconditionUid);
    c.ctx_.events.eventAs(kComponent, ds, "Normal", "SuccessfulDelete",
                          "Deleted pod: " + nameOf(pod));
    return {};
  }

  // Failed pods are deleted at most once per backoff period per node.
  bool failedPodMayGo(const std::string& node) {
    std::lock_guard lock(c.mu_);
    auto& b = c.failedBackoff_[key + "/" + node];
    auto t = std::chrono::steady_clock::now();
    if (t < b.until) {
      requeueWithin(std::chrono::duration_cast<std::chrono::milliseconds>(b.until - t) +
                    std::chrono::milliseconds(10));
      return false;
    }
    b.delay = b.delay.count() == 0
                  ? std::chrono::milliseconds(1000)
                  : std::min<std::chrono::milliseconds>(b.delay * 2, std::chrono::minutes(15));
    b.until = t + b.delay;
    return true;
  }

  // manage + podsShouldBeOnNode.
  Result<void> manage(bool surge) {
    std::vector<std::string> createOnNodes;
    std::vector<Json> toDelete;
    std::set<std::string> known;
    for (const Json& node : nodes) {
      std::string nodeName = nameOf(node);
      known.insert(nodeName);
      sets::Placement place = sets::placeOn(templ, node);
      auto it = podsByNode.find(nodeName);
      bool exists = it != podsByNode.end() && !it->second.empty();
      if (place.shouldRun && !exists) {
        createOnNodes.push_back(nodeName);
        continue;
      }
      if (!exists) continue;
      if (!place.shouldContinueRunning) {
        for (const Json& pod : it->second)
          if (!isDeleting(pod)) toDelete.push_back(pod);
        continue;
      }
      if (!place.shouldRun) continue;  // tolerated NoExecute, untolerated NoSchedule: the pod stays
      std::vector<Json> running;
      for (const Json& pod : it->second) {
        if (isDeleting(pod)) continue;
        if (phaseOf(pod) == "Failed" || phaseOf(pod) == "Succeeded") {
          if (!failedPodMayGo(nodeName)) continue;
          if (phaseOf(pod) == "Failed")
            c.ctx_.events.eventAs(kComponent, ds, "Warning", "FailedDaemonPod",
                                  "Found failed daemon pod " + ns + "/" + nameOf(pod) +
                                      " on node " + nodeName + ", will try to kill it");
          toDelete.push_back(pod);
          continue;
        }
        running.push_back(pod);
      }
      if (!surge) {
        // All but the oldest go.
        for (size_t i = 1; i < running.size(); i++) toDelete.push_back(running[i]);
        continue;
      }
      if (running.size() <= 1) continue;
      // With surge, an old and a new pod may share a node while the new one is not yet
      // available and the old one is Ready; everything else goes.
      const Json* oldestNew = nullptr;
      const Json* oldestOld = nullptr;
      for (const Json& pod : running) {
        const Json*& slot = isUpdated(pod, hash) ? oldestNew : oldestOld;
        if (slot == nullptr)
          slot = &pod;
        else
          toDelete.push_back(pod);
      }
      if (oldestNew && oldestOld && (!sets::isPodReady(*oldestOld) || isAvailable(*oldestNew)))
        toDelete.push_back(*oldestOld);
    }
    // Pods meant for nodes that are gone.
    for (const auto& [node, pods] : podsByNode) {
      if (known.count(node)) continue;
      for (const Json& pod : pods)
        if (!isDeleting(pod)) toDelete.push_back(pod);
    }
    return syncNodes(toDelete, createOnNodes);
  }

  Result<void> syncNodes(const std::vector<Json>& toDelete,
                         const std::vector<std::string>& createOnNodes) {
    std::optional<Error> firstError;
    for (const std::string& node : createOnNodes)
      if (auto r = createOn(node); !r.ok() && !firstError) firstError = std::move(r).error();
    for (const Json& pod : toDelete)
      if (auto r = remove(pod); !r.ok() && !firstError) firstError = std::move(r).error();
    if (firstError) return *firstError;
    return {};
  }

  // findUpdatedPodsOnNode: false when a node has two old or two new pods (manage sorts it out).
  bool splitPods(const std::vector<Json>& pods, const Json*& newPod, const Json*& oldPod) {
    newPod = oldPod = nullptr;
    for (const Json& pod : pods) {
      if (isDeleting(pod)) continue;
      const Json*& slot = isUpdated(pod, hash) ? newPod : oldPod;
      if (slot != nullptr) return false;
      slot = &pod;
    }
    return true;
  }

  Result<void> rollingUpdate(int64_t desired) {
    const Json& ru =
        ds["spec"].value("updateStrategy", Json::object()).value("rollingUpdate", Json::object());
    int64_t maxSurge = std::max<int64_t>(0, scaled(ru.value("maxSurge", Json(0)), desired));
    int64_t maxUnavailable =
        std::max<int64_t>(0, scaled(ru.value("maxUnavailable", Json(1)), desired));
    if (maxSurge == 0 && maxUnavailable == 0) maxUnavailable = 1;
    std::set<std::string> eligible;
    for (const Json& node : nodes)
      if (sets::placeOn(templ, node).shouldRun) eligible.insert(nameOf(node));
    if (maxSurge == 0) {
      int64_t unavailable = 0;
      std::vector<Json> replace, candidates;
      for (const auto& [node, pods] : podsByNode) {
        const Json *newPod, *oldPod;
        if (!splitPods(pods, newPod, oldPod)) {
          unavailable++;
          continue;
        }
        if ((newPod == nullptr) == (oldPod == nullptr)) {
          unavailable++;
        } else if (newPod != nullptr) {
          if (!isAvailable(*newPod)) unavailable++;
        } else if (!isAvailable(*oldPod)) {
          replace.push_back(*oldPod);
        } else if (unavailable < maxUnavailable) {
          candidates.push_back(*oldPod);
        }
      }
      int64_t room = std::clamp<int64_t>(maxUnavailable - unavailable, 0,
                                         static_cast<int64_t>(candidates.size()));
      replace.insert(replace.end(), candidates.begin(), candidates.begin() + room);
      return syncNodes(replace, {});
    }
    int64_t surging = 0;
    std::vector<Json> oldToDelete;
    std::vector<std::string> allowed, candidates;
    for (const auto& [node, pods] : podsByNode) {
      const Json *newPod, *oldPod;
      if (!splitPods(pods, newPod, oldPod)) continue;
      if (oldPod == nullptr) continue;
      if (newPod == nullptr) {
        if (!isAvailable(*oldPod)) {
          if (!eligible.count(node))
            oldToDelete.push_back(*oldPod);
          else
            allowed.push_back(node);
        } else if (surging < maxSurge) {
          candidates.push_back(node);
        }
        continue;
      }
      if (!isAvailable(*newPod)) {
        surging++;
        continue;
      }
      oldToDelete.push_back(*oldPod);
    }
    int64_t room =
        std::clamp<int64_t>(maxSurge - surging, 0, static_cast<int64_t>(candidates.size()));
    allowed.insert(allowed.end(), candidates.begin(), candidates.begin() + room);
    return syncNodes(oldToDelete, allowed);
  }

  Json computeStatus(const Json& oldStatus, int64_t& desired) {
    int64_t current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
    desired = 0;
    for (const Json& node : nodes) {
      bool shouldRun = sets::placeOn(templ, node).shouldRun;
      auto it = podsByNode.find(nameOf(node));
      bool scheduled = it != podsByNode.end() && !it->second.empty();
      if (!shouldRun) {
        if (scheduled) misscheduled++;
        continue;
      }
      desired++;
      if (!scheduled) continue;
      current++;
      const Json& pod = it->second.front();
      if (sets::isPodReady(pod)) {
        ready++;
        if (isAvailable(pod)) available++;
      }
      if (isUpdated(pod, hash)) updated++;
    }
    Json status = oldStatus;
    status["desiredNumberScheduled"] = desired;
    status["currentNumberScheduled"] = current;
    status["numberMisscheduled"] = misscheduled;
    status["numberReady"] = ready;
    status["observedGeneration"] = getInt(metadataOf(ds), "generation");
    status["updatedNumberScheduled"] = updated;
    status["numberAvailable"] = available;
    status["numberUnavailable"] = desired - available;
    for (const char* k :
         {"observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable"})
      if (status[k] == 0) status.erase(k);
    return status;
  }
};

DaemonSetController::DaemonSetController(ControllerContext& ctx)
    : ctx_(ctx),
      sets_(ctx.informers.informer(kDaemonSets)),
      pods_(ctx.informers.informer(sets::kPods)),
      nodes_(ctx.informers.informer(kNodes)),
      revisions_(ctx.informers.informer(sets::kControllerRevisions)),
      queue_(std::chrono::milliseconds(50), std::chrono::seconds(60)) {
  sets_.addHandler([this](const std::string& key) { queue_.add(key); });
  pods_.addObjectHandler([this](const Json* before, const Json* after) {
    if (before) sets::enqueueOwningSet(*before, "DaemonSet", sets_, queue_);
    if (after) sets::enqueueOwningSet(*after, "DaemonSet", sets_, queue_);
  });
  nodes_.addObjectHandler([this](const Json* before, const Json* after) {
    // Only what placement looks at: labels, taints, existence.
    auto relevant = [](const Json* n) {
      if (n == nullptr) return Json();
      return Json{{"labels", labelsOf(*n)},
                  {"taints", n->value("spec", Json::object()).value("taints", Json::array())}};
    };
    if (before == nullptr || after == nullptr || relevant(before) != relevant(after)) enqueueAll();
  });
  revisions_.addObjectHandler([this](const Json* before, const Json* after) {
    const Json& r = after ? *after : *before;
    const Json* ref = sets::controllerRef(r);
    if (ref && getString(*ref, "kind") == "DaemonSet")
      queue_.add(getString(metadataOf(r), "namespace") + "/" + getString(*ref, "name"));
  });
}

void DaemonSetController::enqueueAll() {
  for (const Json& ds : sets_.list()) queue_.add(Informer::keyOf(ds));
}

void DaemonSetController::start() {
  workers_.start(queue_, 2, "daemonset", [this](const std::string& key) { return reconcile(key); });
}

void DaemonSetController::stop() {
  workers_.stop();
}

Result<Reconciled> DaemonSetController::reconcile(const std::string& key) {
  auto dsObject = sets_.get(key);
  if (!dsObject) {
    pending_.forget(key);
    std::lock_guard lock(mu_);
    std::erase_if(failedBackoff_, [&](const auto& e) { return e.first.starts_with(key + "/"); });
    return Reconciled{};
  }
  if (!pending_.settled(key, pods_)) return Reconciled{std::chrono::seconds(1)};

  Sync s{*this, *dsObject};
  s.key = key;
  const Json& md = metadataOf(s.ds);
  s.ns = getString(md, "namespace");
  s.name = getString(md, "name");
  s.uid = getString(md, "uid");
  if (!s.ds["spec"].is_object()) return Reconciled{};
  const Json& spec = s.ds["spec"];
  s.minReadySeconds = getInt(spec, "minReadySeconds");
  const Json oldStatus = s.ds.value("status", Json::object());

  auto selector = selectors::LabelSelector::fromObject(spec.value("selector", Json()));
  if (!selector.ok()) return Reconciled{};
  if (selector->empty()) {
    ctx_.events.eventAs(kComponent, s.ds, "Warning", "SelectingAll",
                        "This daemon set is selecting all pods. A non-empty selector is required.");
    return Reconciled{};
  }

  // The revision of the template now (constructHistory): an equal older one is renumbered.
  std::vector<Json> revisions = sets::ownedRevisions(revisions_, s.ds);
  Json patch = sets::templatePatch(s.ds);
  int64_t collisionCount = getInt(oldStatus, "collisionCount");
  Json current;
  if (const Json* equal = sets::findEqualRevision(revisions, patch)) {
    current = *equal;
    if (getInt(current, "revision") < getInt(revisions.back(), "revision"))
      current =
          TRY(sets::renumberRevision(ctx_.client, current, sets::nextRevisionNumber(revisions)));
  } else {
    sets::NewRevision nr{"DaemonSet", sets::kRevisionHashLabel,
                         spec.value("template", Json::object())
                             .value("metadata", Json::object())
                             .value("labels", Json::object()),
                         md.value("annotations", Json())};
    current = TRY(sets::createRevision(ctx_.client, s.ds, nr, patch,
                                       sets::nextRevisionNumber(revisions), collisionCount));
    revisions.push_back(current);
  }
  s.hash = getString(labelsOf(current), sets::kRevisionHashLabel);
  if (s.hash.empty()) {
    // A revision made elsewhere: its name is SET-HASH.
    std::string revName = nameOf(current);
    s.hash = revName.substr(std::min(revName.size(), s.name.size() + 1));
  }
  s.templ = sets::daemonPodTemplate(s.ds, s.hash);

  // Its pods, adopting orphans its selector matches.
  for (Json& pod : pods_.list(s.ns)) {
    const Json* ref = sets::controllerRef(pod);
    bool matches = selector->matches(labelsOf(pod));
    if (ref != nullptr) {
      if (getString(*ref, "uid") != s.uid) continue;
      if (!matches) {
        if (!isDeleting(pod)) {
          // No longer selected: released (it keeps running, as nobody's).
          auto r = ctx_.client.patch(sets::kPods, s.ns, nameOf(pod), api::PatchType::kMerge,
                                     sets::releasePatch(pod, s.uid));
          if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kConflict))
            return std::move(r).error();
        }
        continue;
      }
    } else {
      if (!matches || isDeleting(s.ds) || isDeleting(pod)) continue;
      auto r = ctx_.client.patch(sets::kPods, s.ns, nameOf(pod), api::PatchType::kMerge,
                                 sets::adoptionPatch(pod, s.ds, "DaemonSet"));
      if (!r.ok()) continue;
      pod = std::move(r).value();
    }
    // A pod meant for no node in particular is left alone, as Kubernetes does.
    std::string node = sets::targetNodeOf(pod);
    if (!node.empty()) s.podsByNode[node].push_back(std::move(pod));
  }
  for (auto& [node, pods] : s.podsByNode) std::sort(pods.begin(), pods.end(), sets::createdBefore);
  s.nodes = nodes_.list();

  const Json& strategy = spec.value("updateStrategy", Json::object());
  bool rolling = getString(strategy, "type", "RollingUpdate") == "RollingUpdate";
  int64_t desired = 0;
  s.computeStatus(oldStatus, desired);
  Result<void> outcome;
  if (!isDeleting(s.ds)) {
    bool surge = rolling &&
                 scaled(strategy.value("rollingUpdate", Json::object()).value("maxSurge", Json(0)),
                        desired) > 0;
    outcome = s.manage(surge);
    // A rolling update waits until what manage did shows in the informer.
    if (outcome.ok() && s.writes == 0 && rolling) outcome = s.rollingUpdate(desired);
  }

  Json status = s.computeStatus(oldStatus, desired);
  if (collisionCount != 0 || status.contains("collisionCount"))
    status["collisionCount"] = collisionCount;
  if (status != oldStatus) {
    Json updated = s.ds;
    updated["status"] = status;
    auto r = ctx_.client.update(kDaemonSets, s.ns, updated, {}, "status");
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  }
  if (!outcome.ok()) return std::move(outcome).error();

  // cleanupHistory: revisions no pod uses beyond revisionHistoryLimit.
  std::set<std::string> live = {nameOf(current)};
  std::set<std::string> hashes;
  for (const auto& [node, pods] : s.podsByNode)
    for (const Json& pod : pods) hashes.insert(getString(labelsOf(pod), sets::kRevisionHashLabel));
  for (const Json& r : revisions)
    if (hashes.count(getString(labelsOf(r), sets::kRevisionHashLabel))) live.insert(nameOf(r));
  TRY(sets::truncateHistory(ctx_.client, revisions, live,
                            getInt(spec, "revisionHistoryLimit", 10)));
  return Reconciled{s.requeue};
}

}  // namespace nave::controllers
