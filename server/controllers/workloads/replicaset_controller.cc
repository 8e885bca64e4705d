#include "server/controllers/workloads/replicaset_controller.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "server/controllers/workloads/controller_refs.h"
#include "server/controllers/workloads/pod_status.h"
#include "server/controllers/workloads/slow_start.h"

namespace nave::controllers::workloads {

namespace {

constexpr char kComponent[] = "replicaset-controller";

std::string keyOf(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

const Json& metadataOf(const Json& o) {
  static const Json empty = Json::object();
  const Json* md = findMember(o, "metadata");
  return md ? *md : empty;
}

Json conditionOf(const Json& status, const std::string& type) {
  if (const Json* conditions = findMember(status, "conditions");
      conditions && conditions->is_array())
    for (const Json& c : *conditions)
      if (getString(c, "type") == type) return c;
  return nullptr;
}

void removeCondition(Json& status, const std::string& type) {
  if (!status.contains("conditions")) return;
  Json kept = Json::array();
  for (const Json& c : status["conditions"])
    if (getString(c, "type") != type) kept.push_back(c);
  if (kept.empty())
    status.erase("conditions");
  else
    status["conditions"] = kept;
}

// Kubernetes omits zero counts (omitempty), except replicas.
void setCount(Json& status, const char* field, int64_t n) {
  if (n == 0)
    status.erase(field);
  else
    status[field] = n;
}

}  // namespace

ReplicaSetController::ReplicaSetController(ControllerContext& ctx, int workers)
    : ctx_(ctx),
      workerCount_(workers),
      replicaSets_(ctx.informers.informer(kReplicaSets)),
      pods_(ctx.informers.informer(kPods)) {
  replicaSets_.addHandler([this](const std::string& key) { queue_.add(key); });
  pods_.addObjectHandler([this](const Json* before, const Json* after) { onPod(before, after); });
}

ReplicaSetController::~ReplicaSetController() {
  stop();
}

void ReplicaSetController::start() {
  workers_.start(queue_, workerCount_, "replicaset",
                 [this](const std::string& key) { return sync(key); });
}

void ReplicaSetController::stop() {
  workers_.stop();
}

std::string ReplicaSetController::controllerKey(const Json& pod) {
  const Json* ref = controllerRefOf(pod);
  if (ref == nullptr || getString(*ref, "kind") != "ReplicaSet") return "";
  std::string key = keyOf(getString(metadataOf(pod), "namespace"), getString(*ref, "name"));
  auto rs = replicaSets_.get(key);
  if (!rs || getString(metadataOf(*rs), "uid") != getString(*ref, "uid")) return "";
  return key;
}

void ReplicaSetController::enqueueSelecting(const Json& pod) {
  const Json& labels = labelsOf(pod);
  for (const Json& rs : replicaSets_.list(getString(metadataOf(pod), "namespace"))) {
    const Json* selector = findMember(rs.value("spec", Json::object()), "selector");
    if (selector == nullptr) continue;
    auto parsed = selectors::LabelSelector::fromObject(*selector);
    if (!parsed.ok() || parsed->empty() || !parsed->matches(labels)) continue;
    queue_.add(Informer::keyOf(rs));
  }
}

void ReplicaSetController::onPod(const Json* before, const Json* after) {
  const Json& pod = after ? *after : *before;
  std::string podKey = Informer::keyOf(pod);
  if (after == nullptr) {  // deleted
    if (std::string key = controllerKey(pod); !key.empty()) {
      expectations_.deletionObserved(key, podKey);
      queue_.add(key);
    }
    return;
  }
  std::string key = controllerKey(*after);
  if (before == nullptr) {  // added
    if (!key.empty()) {
      if (hasDeletionTimestamp(*after))
        expectations_.deletionObserved(key, podKey);
      else
        expectations_.creationObserved(key);
      queue_.add(key);
    } else if (controllerRefOf(*after) == nullptr) {
      enqueueSelecting(*after);
    }
    return;
  }
  // Updated.
  if (!key.empty() && hasDeletionTimestamp(*after) && !hasDeletionTimestamp(*before))
    expectations_.deletionObserved(key, podKey);
  std::string oldKey = controllerKey(*before);
  if (!oldKey.empty() && oldKey != key) queue_.add(oldKey);
  if (!key.empty()) queue_.add(key);
  const bool relabeled = labelsOf(*before) != labelsOf(*after);
  if (controllerRefOf(*after) == nullptr && (relabeled || !oldKey.empty()))
    enqueueSelecting(*after);
}

Result<Reconciled> ReplicaSetController::sync(const std::string& key) {
  auto found = replicaSets_.get(key);
  if (!found) {
    expectations_.forget(key);
    return Reconciled{};
  }
  const Json& rs = *found;
  const Json& md = metadataOf(rs);
  const std::string ns = getString(md, "namespace");
  const Json& spec = rs.value("spec", Json::object());
  const bool needsSync = expectations_.satisfied(key);

  auto selector = selectors::LabelSelector::fromObject(spec.value("selector", Json(nullptr)));
  if (!selector.ok()) return std::move(selector).error().context("selector of " + key);

  std::vector<Json> candidates;
  for (Json& pod : pods_.list(ns))
    if (isPodActive(pod)) candidates.push_back(std::move(pod));
  std::vector<Json> pods;
  if (!selector->empty()) {
    auto claimed = claimObjects(ctx_.client, kPods, kReplicaSets, rs, *selector, candidates);
    if (!claimed.ok()) return std::move(claimed.error());
    pods = std::move(*claimed);
  }

  Result<void> managed;
  if (needsSync && !hasDeletionTimestamp(rs)) managed = manageReplicas(rs, key, pods);

  // Status, from the pods as this sync found them (the informer shows the rest later).
  const int64_t replicas = getInt(spec, "replicas", 1);
  const int64_t minReadySeconds = getInt(spec, "minReadySeconds");
  const auto now = std::chrono::system_clock::now();
  auto templateLabels = selectors::LabelSelector::fromObject(
      Json{{"matchLabels", labelsOf(spec.value("template", Json::object()))}});
  int64_t fullyLabeled = 0, ready = 0, available = 0;
  std::optional<WallTime> nextAvailable;
  for (const Json& pod : pods) {
    if (templateLabels.ok() && templateLabels->matches(labelsOf(pod))) ++fullyLabeled;
    if (!isPodReady(pod)) continue;
    ++ready;
    if (isPodAvailable(pod, minReadySeconds, now)) {
      ++available;
    } else if (auto at = podAvailableAt(pod, minReadySeconds)) {
      if (!nextAvailable || *at < *nextAvailable) nextAvailable = *at;
    }
  }
  Json status = rs.value("status", Json::object());
  Json failure = conditionOf(status, "ReplicaFailure");
  if (!managed.ok() && failure.is_null()) {
    int64_t diff = static_cast<int64_t>(pods.size()) - replicas;
    std::string stamp = formatRfc3339(now);
    removeCondition(status, "ReplicaFailure");
    if (!status.contains("conditions")) status["conditions"] = Json::array();
    status["conditions"].push_back({{"type", "ReplicaFailure"},
                                    {"status", "True"},
                                    {"lastTransitionTime", stamp},
                                    {"reason", diff < 0 ? "FailedCreate" : "FailedDelete"},
                                    {"message", managed.error().message()}});
  } else if (managed.ok() && !failure.is_null()) {
    removeCondition(status, "ReplicaFailure");
  }
  status["replicas"] = static_cast<int64_t>(pods.size());
  setCount(status, "fullyLabeledReplicas", fullyLabeled);
  setCount(status, "readyReplicas", ready);
  setCount(status, "availableReplicas", available);
  setCount(status, "observedGeneration", getInt(md, "generation"));
  if (status != rs.value("status", Json::object())) {
    auto written = writeStatus(rs, status);
    if (!written.ok()) return std::move(written.error());
  }
  if (!managed.ok()) return std::move(managed.error());

  Reconciled out;
  if (nextAvailable) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*nextAvailable - now) +
                std::chrono::milliseconds(100);
    out.requeueAfter = std::max(wait, std::chrono::milliseconds(100));
  }
  return out;
}

Result<Json> ReplicaSetController::writeStatus(const Json& rs, const Json& status) {
  Json updated = rs;
  updated["status"] = status;
  const std::string ns = getString(metadataOf(rs), "namespace");
  auto r = ctx_.client.update(kReplicaSets, ns, updated, {}, "status");
  if (r.ok() || !r.error().is(ErrorCode::kConflict)) return r;
  // One retry on a fresh copy, as Kubernetes' updateReplicaSetStatus.
  auto fresh = ctx_.client.get(kReplicaSets, ns, getString(metadataOf(rs), "name"));
  if (!fresh.ok()) return std::move(fresh.error());
  Json again = *fresh;
  again["status"] = status;
  if (getInt(metadataOf(again), "generation") != getInt(metadataOf(rs), "generation"))
    again["status"].erase("observedGeneration");
  return ctx_.client.update(kReplicaSets, ns, again, {}, "status");
}

Result<void> ReplicaSetController::manageReplicas(const Json& rs, const std::string& key,
                                                  std::vector<Json>& pods) {
  const int64_t replicas = getInt(rs.value("spec", Json::object()), "replicas", 1);
  int64_t diff = static_cast<int64_t>(pods.size()) - replicas;
  if (diff < 0) {
    int want = static_cast<int>(std::min<int64_t>(-diff, kBurstReplicas));
    expectations_.expectCreations(key, want);
    SlowStartOutcome outcome = slowStartBatch(want, 1, [&] { return createPod(rs); });
    // The creates not made (or failed) will never be observed.
    for (int i = outcome.succeeded; i < want; ++i) expectations_.creationObserved(key);
    return outcome.firstError;
  }
  if (diff == 0) return {};

  int surplus = static_cast<int>(std::min<int64_t>(diff, kBurstReplicas));
  std::vector<int> ranks = relatedPodsOnSameNode(rs, pods);
  sortPodsForDeletion(pods, ranks, std::chrono::system_clock::now());
  std::vector<Json> doomed(pods.begin(), pods.begin() + surplus);
  std::set<std::string> doomedKeys;
  for (const Json& pod : doomed) doomedKeys.insert(Informer::keyOf(pod));
  expectations_.expectDeletions(key, doomedKeys);

  std::mutex mu;
  std::optional<Error> firstError;  // guarded by mu
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (size_t i = next++; i < doomed.size(); i = next++) {
      const Json& pod = doomed[i];
      std::string name = getString(metadataOf(pod), "name");
      auto r = ctx_.client.remove(kPods, getString(metadataOf(pod), "namespace"), name);
      if (r.ok()) {
        ctx_.events.eventAs(kComponent, rs, "Normal", "SuccessfulDelete", "Deleted pod: " + name);
        continue;
      }
      // A delete that failed will not be observed.
      expectations_.deletionObserved(key, Informer::keyOf(pod));
      if (r.error().is(ErrorCode::kNotFound)) continue;
      ctx_.events.eventAs(kComponent, rs, "Warning", "FailedDelete",
                          "Error deleting: " + r.error().message());
      std::lock_guard lock(mu);
      if (!firstError) firstError = r.error();
    }
  };
  std::vector<std::thread> pool;
  for (size_t i = 1; i < std::min<size_t>(doomed.size(), 16); ++i) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  if (firstError) return std::move(*firstError);
  return {};
}

Result<void> ReplicaSetController::createPod(const Json& rs) {
  const Json& md = metadataOf(rs);
  const Json& tmpl = rs.value("spec", Json::object()).value("template", Json::object());
  const Json& tmd = metadataOf(tmpl);
  Json podMeta = {{"generateName", getString(md, "name") + "-"},
                  {"namespace", getString(md, "namespace")},
                  {"ownerReferences", Json::array({newControllerRef(rs)})}};
  for (const char* field : {"labels", "annotations", "finalizers"})
    if (const Json* v = findMember(tmd, field); v && !v->is_null() && !v->empty())
      podMeta[field] = *v;
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", std::move(podMeta)},
              {"spec", tmpl.value("spec", Json::object())}};
  auto created = ctx_.client.create(kPods, getString(md, "namespace"), pod);
  if (!created.ok()) {
    ctx_.events.eventAs(kComponent, rs, "Warning", "FailedCreate",
                        "Error creating: " + created.error().message());
    return std::move(created.error());
  }
  ctx_.events.eventAs(kComponent, rs, "Normal", "SuccessfulCreate",
                      "Created pod: " + getString(metadataOf(*created), "name"));
  return {};
}

std::vector<int> ReplicaSetController::relatedPodsOnSameNode(const Json& rs,
                                                             const std::vector<Json>& pods) {
  // Related pods: those of every ReplicaSet with the same controller (a Deployment's old and
  // new ReplicaSets), else this ReplicaSet's own.
  std::vector<Json> related;
  const Json* owner = controllerRefOf(rs);
  if (owner != nullptr) {
    for (const Json& sibling :
         replicaSets_.byIndex(Informer::kOwnerIndex, getString(*owner, "uid"))) {
      if (!isControlledBy(sibling, getString(*owner, "uid"))) continue;
      for (Json& pod : pods_.byIndex(Informer::kOwnerIndex, getString(metadataOf(sibling), "uid")))
        if (isPodActive(pod)) related.push_back(std::move(pod));
    }
  } else {
    related = pods;
  }
  std::map<std::string, int> perNode;
  for (const Json& pod : related) {
    std::string node = getString(pod.value("spec", Json::object()), "nodeName");
    if (!node.empty()) ++perNode[node];
  }
  std::vector<int> ranks;
  for (const Json& pod : pods) {
    std::string node = getString(pod.value("spec", Json::object()), "nodeName");
    ranks.push_back(node.empty() ? 0 : perNode[node]);
  }
  return ranks;
}

}  // namespace nave::controllers::workloads
