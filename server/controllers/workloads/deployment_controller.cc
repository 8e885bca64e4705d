#include "server/controllers/workloads/deployment_controller.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/log.h"
#include "server/controllers/workloads/controller_refs.h"
#include "server/controllers/workloads/deployment_util.h"
#include "server/controllers/workloads/replicaset_controller.h"

namespace nave::controllers::workloads {

namespace {

constexpr char kComponent[] = "deployment-controller";

// Progressing condition reasons (deployment/util).
constexpr char kNewRSReason[] = "NewReplicaSetCreated";
constexpr char kFoundNewRSReason[] = "FoundNewReplicaSet";
constexpr char kRSUpdatedReason[] = "ReplicaSetUpdated";
constexpr char kNewRSAvailableReason[] = "NewReplicaSetAvailable";
constexpr char kTimedOutReason[] = "ProgressDeadlineExceeded";
constexpr char kFailedRSCreateReason[] = "ReplicaSetCreateError";
constexpr char kPausedReason[] = "DeploymentPaused";
constexpr char kResumedReason[] = "DeploymentResumed";

const Json kEmpty = Json::object();

const Json& metadataOf(const Json& o) {
  const Json* md = findMember(o, "metadata");
  return md && md->is_object() ? *md : kEmpty;
}
const Json& specOf(const Json& o) {
  const Json* s = findMember(o, "spec");
  return s && s->is_object() ? *s : kEmpty;
}
const Json& statusOf(const Json& o) {
  const Json* s = findMember(o, "status");
  return s && s->is_object() ? *s : kEmpty;
}
std::string nameOf(const Json& o) {
  return getString(metadataOf(o), "name");
}
std::string uidOf(const Json& o) {
  return getString(metadataOf(o), "uid");
}
std::string nsOf(const Json& o) {
  return getString(metadataOf(o), "namespace");
}
int64_t replicasOf(const Json& o) {
  return desiredReplicas(o);
}
int64_t availableOf(const Json& rs) {
  return getInt(statusOf(rs), "availableReplicas");
}

// Older first; equal timestamps by name (ReplicaSetsByCreationTimestamp).
bool olderThan(const Json* a, const Json* b) {
  std::string ta = getString(metadataOf(*a), "creationTimestamp");
  std::string tb = getString(metadataOf(*b), "creationTimestamp");
  if (ta != tb) return ta < tb;
  return nameOf(*a) < nameOf(*b);
}

bool hasProgressDeadline(const Json& d) {
  const Json* pds = findMember(specOf(d), "progressDeadlineSeconds");
  return pds != nullptr && pds->is_number_integer() &&
         pds->get<int64_t>() != std::numeric_limits<int32_t>::max();
}

bool isPaused(const Json& d) {
  return getBool(specOf(d), "paused");
}

std::vector<const Json*> constPtrs(const std::vector<Json*>& v) {
  return {v.begin(), v.end()};
}

// Kubernetes' DeploymentComplete: every replica updated and available, status current.
bool deploymentComplete(const Json& d, const Json& status) {
  int64_t want = replicasOf(d);
  return getInt(status, "updatedReplicas") == want && getInt(status, "replicas") == want &&
         getInt(status, "availableReplicas") == want &&
         getInt(status, "observedGeneration") >= getInt(metadataOf(d), "generation");
}

// More updated pods, fewer old ones, or more ready or available pods than the last status.
bool deploymentProgressing(const Json& d, const Json& status) {
  const Json& old = statusOf(d);
  int64_t oldOld = getInt(old, "replicas") - getInt(old, "updatedReplicas");
  int64_t newOld = getInt(status, "replicas") - getInt(status, "updatedReplicas");
  return getInt(status, "updatedReplicas") > getInt(old, "updatedReplicas") || newOld < oldOld ||
         getInt(status, "readyReplicas") > getInt(old, "readyReplicas") ||
         getInt(status, "availableReplicas") > getInt(old, "availableReplicas");
}

bool deploymentTimedOut(const Json& d, const Json& status, WallTime now) {
  if (!hasProgressDeadline(d)) return false;
  const Json* cond = conditionOf(status, "Progressing");
  if (cond == nullptr) return false;
  std::string reason = getString(*cond, "reason");
  if (reason == kNewRSAvailableReason) return false;
  if (reason == kTimedOutReason) return true;
  auto from = parseRfc3339(getString(*cond, "lastUpdateTime"));
  if (!from) return false;
  return *from + std::chrono::seconds(getInt(specOf(d), "progressDeadlineSeconds")) < now;
}

void setCount(Json& status, const char* field, int64_t n) {
  if (n == 0)
    status.erase(field);
  else
    status[field] = n;
}

std::string controllerDeploymentKey(const Json& rs) {
  const Json* ref = controllerRefOf(rs);
  if (ref == nullptr || getString(*ref, "kind") != "Deployment") return "";
  return nsOf(rs) + "/" + getString(*ref, "name");
}

}  // namespace

std::vector<Json*> DeploymentController::ReplicaSets::all() {
  std::vector<Json*> out;
  for (Json& rs : old) out.push_back(&rs);
  if (current) out.push_back(&*current);
  return out;
}

std::vector<Json*> DeploymentController::ReplicaSets::activeOld() {
  std::vector<Json*> out;
  for (Json& rs : old)
    if (replicasOf(rs) > 0) out.push_back(&rs);
  return out;
}

DeploymentController::DeploymentController(ControllerContext& ctx, int workers)
    : ctx_(ctx),
      workerCount_(workers),
      deployments_(ctx.informers.informer(kDeployments)),
      replicaSets_(ctx.informers.informer(kReplicaSets)),
      pods_(ctx.informers.informer(kPods)) {
  deployments_.addHandler([this](const std::string& key) { queue_.add(key); });
  replicaSets_.addObjectHandler(
      [this](const Json* before, const Json* after) { onReplicaSet(before, after); });
  pods_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after == nullptr && before != nullptr) onPodDeleted(*before);
  });
}

DeploymentController::~DeploymentController() {
  stop();
}

void DeploymentController::start() {
  workers_.start(queue_, workerCount_, "deployment",
                 [this](const std::string& key) { return sync(key); });
}

void DeploymentController::stop() {
  workers_.stop();
}

void DeploymentController::event(const Json& d, const std::string& type, const std::string& reason,
                                 const std::string& message) {
  ctx_.events.eventAs(kComponent, d, type, reason, message);
}

void DeploymentController::enqueueSelecting(const Json& rs) {
  const Json& labels = labelsOf(rs);
  for (const Json& d : deployments_.list(nsOf(rs))) {
    auto selector =
        selectors::LabelSelector::fromObject(specOf(d).value("selector", Json(nullptr)));
    if (selector.ok() && !selector->empty() && selector->matches(labels))
      queue_.add(Informer::keyOf(d));
  }
}

void DeploymentController::onReplicaSet(const Json* before, const Json* after) {
  const Json& rs = after ? *after : *before;
  std::string key = controllerDeploymentKey(rs);
  if (before != nullptr) {
    std::string oldKey = controllerDeploymentKey(*before);
    if (!oldKey.empty() && oldKey != key) queue_.add(oldKey);
  }
  if (!key.empty()) {
    queue_.add(key);
    return;
  }
  if (after != nullptr && (before == nullptr || labelsOf(*before) != labelsOf(*after) ||
                           controllerRefOf(*before) != nullptr))
    enqueueSelecting(*after);
}

void DeploymentController::onPodDeleted(const Json& pod) {
  const Json* ref = controllerRefOf(pod);
  if (ref == nullptr || getString(*ref, "kind") != "ReplicaSet") return;
  auto rs = replicaSets_.get(nsOf(pod) + "/" + getString(*ref, "name"));
  if (!rs) return;
  if (std::string key = controllerDeploymentKey(*rs); !key.empty()) queue_.add(key);
}

Result<std::vector<Json>> DeploymentController::claimReplicaSets(const Json& d) {
  auto selector = selectors::LabelSelector::fromObject(specOf(d).value("selector", Json(nullptr)));
  if (!selector.ok()) return std::move(selector).error();
  return claimObjects(ctx_.client, kReplicaSets, kDeployments, d, *selector,
                      replicaSets_.list(nsOf(d)));
}

Result<Reconciled> DeploymentController::sync(const std::string& key) {
  auto found = deployments_.get(key);
  if (!found) return Reconciled{};
  Json d = *found;

  const Json* selector = findMember(specOf(d), "selector");
  auto parsed = selectors::LabelSelector::fromObject(selector ? *selector : Json(nullptr));
  if (!parsed.ok() || parsed->empty()) {
    event(d, "Warning", "SelectingAll",
          "This deployment is selecting all pods. A non-empty selector is required.");
    if (getInt(statusOf(d), "observedGeneration") < getInt(metadataOf(d), "generation")) {
      d["status"]["observedGeneration"] = getInt(metadataOf(d), "generation");
      TRY(writeStatus(d));
    }
    return Reconciled{};
  }

  std::vector<Json> rsList = TRY(claimReplicaSets(d));

  if (hasDeletionTimestamp(d)) {
    ReplicaSets sets = TRY(replicaSetsSyncingRevision(d, rsList, false));
    TRY(syncDeploymentStatus(d, sets));
    return Reconciled{};
  }

  TRY(checkPausedConditions(d));
  if (isPaused(d)) return syncScaling(d, rsList);
  if (TRY(isScalingEvent(d, rsList))) return syncScaling(d, rsList);
  if (getString(specOf(d).value("strategy", kEmpty), "type") == "Recreate")
    return rolloutRecreate(d, rsList);
  return rolloutRolling(d, rsList);
}

Result<void> DeploymentController::writeStatus(Json& d) {
  auto r = ctx_.client.update(kDeployments, nsOf(d), d, {}, "status");
  if (!r.ok()) return std::move(r).error();
  d = std::move(*r);
  return {};
}

Result<void> DeploymentController::setDeploymentRevision(Json& d, const std::string& revision) {
  if (revision.empty() || getString(annotationsOf(d), kRevisionAnnotation) == revision) return {};
  Json patch = {{"metadata", {{"annotations", {{kRevisionAnnotation, revision}}}}}};
  auto r =
      ctx_.client.patch(kDeployments, nsOf(d), nameOf(d), api::PatchType::kMerge, dumpJson(patch));
  if (!r.ok()) return std::move(r).error();
  // Keep the status this sync has computed so far.
  Json status = d.value("status", Json::object());
  d = std::move(*r);
  d["status"] = std::move(status);
  return {};
}

Result<void> DeploymentController::checkPausedConditions(Json& d) {
  if (!hasProgressDeadline(d)) return {};
  const Json* cond = conditionOf(statusOf(d), "Progressing");
  if (cond != nullptr && getString(*cond, "reason") == kTimedOutReason) return {};
  bool pausedCond = cond != nullptr && getString(*cond, "reason") == kPausedReason;
  auto now = std::chrono::system_clock::now();
  if (isPaused(d) && !pausedCond) {
    setCondition(d["status"], newCondition("Progressing", "Unknown", kPausedReason,
                                           "Deployment is paused", now));
  } else if (!isPaused(d) && pausedCond) {
    setCondition(d["status"], newCondition("Progressing", "Unknown", kResumedReason,
                                           "Deployment is resumed", now));
  } else {
    return {};
  }
  return writeStatus(d);
}

Result<DeploymentController::ReplicaSets> DeploymentController::replicaSetsSyncingRevision(
    Json& d, const std::vector<Json>& rsList, bool createIfMissing) {
  // Old: every ReplicaSet but the first (oldest) whose template is the Deployment's.
  ReplicaSets sets;
  std::vector<const Json*> sorted;
  for (const Json& rs : rsList) sorted.push_back(&rs);
  std::sort(sorted.begin(), sorted.end(), olderThan);
  const Json& tmpl = specOf(d).value("template", kEmpty);
  const Json* existing = nullptr;
  for (const Json* rs : sorted)
    if (equalIgnoreHash(specOf(*rs).value("template", kEmpty), tmpl)) {
      existing = rs;
      break;
    }
  for (const Json* rs : sorted)
    if (rs != existing) sets.old.push_back(*rs);
  sets.current = TRY(newReplicaSet(d, rsList, sets.old, createIfMissing));
  return sets;
}

Result<std::optional<Json>> DeploymentController::newReplicaSet(Json& d,
                                                                const std::vector<Json>& rsList,
                                                                const std::vector<Json>& old,
                                                                bool createIfMissing) {
  const Json& tmpl = specOf(d).value("template", kEmpty);
  const Json* existing = nullptr;
  {
    std::vector<const Json*> sorted;
    for (const Json& rs : rsList) sorted.push_back(&rs);
    std::sort(sorted.begin(), sorted.end(), olderThan);
    for (const Json* rs : sorted)
      if (equalIgnoreHash(specOf(*rs).value("template", kEmpty), tmpl)) {
        existing = rs;
        break;
      }
  }
  int64_t maxOldRevision = 0;
  for (const Json& rs : old) maxOldRevision = std::max(maxOldRevision, revisionOf(rs));
  const std::string newRevision = std::to_string(maxOldRevision + 1);
  const int64_t minReadySeconds = getInt(specOf(d), "minReadySeconds");
  auto now = std::chrono::system_clock::now();

  if (existing != nullptr) {
    Json rs = *existing;
    bool annotationsUpdated = setNewReplicaSetAnnotations(d, rs, newRevision, true);
    bool minReadyChanged = getInt(specOf(rs), "minReadySeconds") != minReadySeconds;
    if (annotationsUpdated || minReadyChanged) {
      rs["spec"]["minReadySeconds"] = minReadySeconds;
      auto updated = ctx_.client.update(kReplicaSets, nsOf(rs), rs);
      if (!updated.ok()) return std::move(updated).error();
      return std::optional<Json>(std::move(*updated));
    }
    bool needsUpdate = false;
    std::string revision = getString(annotationsOf(rs), kRevisionAnnotation);
    TRY(setDeploymentRevision(d, revision));
    if (hasProgressDeadline(d) && conditionOf(statusOf(d), "Progressing") == nullptr) {
      setCondition(d["status"], newCondition("Progressing", "True", kFoundNewRSReason,
                                             "Found new replica set \"" + nameOf(rs) + "\"", now));
      needsUpdate = true;
    }
    if (needsUpdate) TRY(writeStatus(d));
    return std::optional<Json>(std::move(rs));
  }
  if (!createIfMissing) return std::optional<Json>();

  // A new ReplicaSet for the template.
  std::optional<int64_t> collisions;
  if (const Json* cc = findMember(statusOf(d), "collisionCount"); cc && cc->is_number_integer())
    collisions = cc->get<int64_t>();
  const std::string hash = computeTemplateHash(tmpl, collisions);
  Json rsTemplate = tmpl;
  rsTemplate["metadata"]["labels"][kPodTemplateHashLabel] = hash;
  Json selector = specOf(d).value("selector", kEmpty);
  selector["matchLabels"][kPodTemplateHashLabel] = hash;
  Json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata",
              {{"name", nameOf(d) + "-" + hash},
               {"namespace", nsOf(d)},
               {"labels", rsTemplate["metadata"]["labels"]},
               {"ownerReferences", Json::array({newControllerRef(d)})}}},
             {"spec",
              {{"replicas", 0},
               {"minReadySeconds", minReadySeconds},
               {"selector", selector},
               {"template", rsTemplate}}}};
  // Its size: spec.replicas for Recreate; for RollingUpdate what the surge leaves room for.
  int64_t newReplicas = replicasOf(d);
  if (isRollingUpdate(d)) {
    std::vector<const Json*> all;
    for (const Json& o : old) all.push_back(&o);
    int64_t current = specReplicas(all);
    int64_t maxTotal = replicasOf(d) + maxSurge(d);
    newReplicas = current >= maxTotal ? 0 : std::min(maxTotal - current, replicasOf(d));
  }
  rs["spec"]["replicas"] = newReplicas;
  setNewReplicaSetAnnotations(d, rs, newRevision, false);

  auto created = ctx_.client.create(kReplicaSets, nsOf(d), rs);
  bool alreadyExists = false;
  Json createdRS;
  if (created.ok()) {
    createdRS = std::move(*created);
  } else if (created.error().is(ErrorCode::kAlreadyExists)) {
    alreadyExists = true;
    auto other = ctx_.client.get(kReplicaSets, nsOf(d), nameOf(rs));
    if (other.ok() && isControlledBy(*other, uidOf(d)) &&
        equalIgnoreHash(specOf(*other).value("template", kEmpty), tmpl)) {
      createdRS = std::move(*other);
    } else {
      // A hash collision: another template (or object) has the name; hash again with a
      // higher collision count.
      d["status"]["collisionCount"] = collisions.value_or(0) + 1;
      TRY(writeStatus(d));
      log::v(2, "hash collision for deployment, bumping collisionCount",
             {{"deployment", nsOf(d) + "/" + nameOf(d)}});
      return std::move(created).error();
    }
  } else {
    std::string msg =
        "Failed to create new replica set \"" + nameOf(rs) + "\": " + created.error().message();
    if (hasProgressDeadline(d)) {
      setCondition(d["status"],
                   newCondition("Progressing", "False", kFailedRSCreateReason, msg, now));
      (void)writeStatus(d);
    }
    event(d, "Warning", kFailedRSCreateReason, msg);
    return std::move(created).error();
  }
  if (!alreadyExists && newReplicas > 0)
    event(d, "Normal", "ScalingReplicaSet",
          "Scaled up replica set " + nameOf(createdRS) + " to " + std::to_string(newReplicas) +
              " from 0");
  TRY(setDeploymentRevision(d, newRevision));
  if (!alreadyExists && hasProgressDeadline(d)) {
    setCondition(d["status"],
                 newCondition("Progressing", "True", kNewRSReason,
                              "Created new replica set \"" + nameOf(createdRS) + "\"", now));
    TRY(writeStatus(d));
  }
  return std::optional<Json>(std::move(createdRS));
}

Result<bool> DeploymentController::isScalingEvent(Json& d, const std::vector<Json>& rsList) {
  ReplicaSets sets = TRY(replicaSetsSyncingRevision(d, rsList, false));
  for (Json* rs : sets.all()) {
    if (replicasOf(*rs) == 0) continue;
    auto desired = desiredReplicasAnnotation(*rs);
    if (desired && *desired != replicasOf(d)) return true;
  }
  return false;
}

Result<Reconciled> DeploymentController::syncScaling(Json& d, const std::vector<Json>& rsList) {
  ReplicaSets sets = TRY(replicaSetsSyncingRevision(d, rsList, false));
  TRY(scale(d, sets));
  if (isPaused(d)) TRY(cleanupOldReplicaSets(d, sets.old));
  TRY(syncDeploymentStatus(d, sets));
  return Reconciled{};
}

Result<bool> DeploymentController::scaleReplicaSet(Json& rs, int64_t newScale, const Json& d,
                                                   const std::string& op) {
  const int64_t oldScale = replicasOf(rs);
  const bool sizeChanges = oldScale != newScale;
  const int64_t desired = replicasOf(d);
  const int64_t max = desired + maxSurge(d);
  if (!sizeChanges && !replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
  Json copy = rs;
  copy["spec"]["replicas"] = newScale;
  setReplicasAnnotations(copy, desired, max);
  auto updated = ctx_.client.update(kReplicaSets, nsOf(rs), copy);
  if (!updated.ok()) return std::move(updated).error();
  rs = std::move(*updated);
  if (!sizeChanges) return false;
  event(d, "Normal", "ScalingReplicaSet",
        "Scaled " + op + " replica set " + nameOf(rs) + " to " + std::to_string(newScale) +
            " from " + std::to_string(oldScale));
  return true;
}

Result<bool> DeploymentController::scaleReplicaSetAndRecordEvent(Json& rs, int64_t newScale,
                                                                 const Json& d) {
  if (replicasOf(rs) == newScale) return false;
  return scaleReplicaSet(rs, newScale, d, replicasOf(rs) < newScale ? "up" : "down");
}

Result<void> DeploymentController::scale(Json& d, ReplicaSets& sets) {
  const int64_t want = replicasOf(d);
  // One active ReplicaSet (or none: the newest) takes the whole size.
  {
    std::vector<Json*> oldNewestFirst;
    for (Json& rs : sets.old) oldNewestFirst.push_back(&rs);
    std::sort(oldNewestFirst.begin(), oldNewestFirst.end(),
              [](const Json* a, const Json* b) { return olderThan(b, a); });
    std::vector<Json*> active;
    for (Json* rs : sets.all())
      if (replicasOf(*rs) > 0) active.push_back(rs);
    Json* target = nullptr;
    if (active.empty()) {
      if (sets.current)
        target = &*sets.current;
      else if (!oldNewestFirst.empty())
        target = oldNewestFirst.front();
      else
        return {};
    } else if (active.size() == 1) {
      target = active.front();
    }
    if (target != nullptr) {
      if (replicasOf(*target) == want) return {};
      TRY(scaleReplicaSetAndRecordEvent(*target, want, d));
      return {};
    }
  }
  // The new ReplicaSet is saturated: the old ones go to 0.
  if (sets.current && desiredReplicasAnnotation(*sets.current) == want &&
      replicasOf(*sets.current) == want && availableOf(*sets.current) == want) {
    for (Json* rs : sets.activeOld()) TRY(scaleReplicaSetAndRecordEvent(*rs, 0, d));
    return {};
  }
  if (!isRollingUpdate(d)) return {};

  // Several active ReplicaSets in a rolling update: spread the change over them in proportion
  // to their sizes (Kubernetes' proportional scaling).
  std::vector<Json*> active;
  for (Json* rs : sets.all())
    if (replicasOf(*rs) > 0) active.push_back(rs);
  int64_t current = specReplicas(constPtrs(active));
  int64_t allowed = want > 0 ? want + maxSurge(d) : 0;
  int64_t toAdd = allowed - current;
  std::string op;
  if (toAdd > 0) {
    std::stable_sort(active.begin(), active.end(), [](const Json* a, const Json* b) {
      if (replicasOf(*a) != replicasOf(*b)) return replicasOf(*a) > replicasOf(*b);
      return olderThan(b, a);  // newer first
    });
    op = "up";
  } else if (toAdd < 0) {
    std::stable_sort(active.begin(), active.end(), [](const Json* a, const Json* b) {
      if (replicasOf(*a) != replicasOf(*b)) return replicasOf(*a) > replicasOf(*b);
      return olderThan(a, b);  // older first
    });
    op = "down";
  }
  std::map<std::string, int64_t> sizes;
  int64_t added = 0;
  const int64_t targetTotal = want + maxSurge(d);
  for (Json* rs : active) {
    int64_t size = replicasOf(*rs);
    int64_t proportion = 0;
    if (toAdd != 0 && size != 0 && toAdd != added) {
      int64_t fraction;
      if (want == 0) {
        fraction = -size;
      } else {
        auto annotated = std::optional<int64_t>();
        std::string maxAnn = getString(annotationsOf(*rs), kMaxReplicasAnnotation);
        if (!maxAnn.empty()) annotated = std::strtoll(maxAnn.c_str(), nullptr, 10);
        int64_t base = annotated.value_or(getInt(statusOf(d), "replicas"));
        double scaled =
            base == 0 ? 0.0 : static_cast<double>(size * targetTotal) / static_cast<double>(base);
        fraction = static_cast<int64_t>(std::lround(scaled)) - size;
      }
      int64_t remaining = toAdd - added;
      proportion = toAdd > 0 ? std::min(fraction, remaining) : std::max(fraction, remaining);
    }
    sizes[nameOf(*rs)] = size + proportion;
    added += proportion;
  }
  if (toAdd != 0 && !active.empty()) {
    int64_t leftover = toAdd - added;
    if (leftover != 0) {
      int64_t& first = sizes[nameOf(*active.front())];
      first = std::max<int64_t>(first + leftover, 0);
    }
  }
  for (Json* rs : active) TRY(scaleReplicaSet(*rs, sizes[nameOf(*rs)], d, op));
  return {};
}

Result<Reconciled> DeploymentController::rolloutRolling(Json& d, const std::vector<Json>& rsList) {
  ReplicaSets sets = TRY(replicaSetsSyncingRevision(d, rsList, true));
  if (TRY(reconcileNewReplicaSet(d, sets))) return syncRolloutStatus(d, sets);
  if (TRY(reconcileOldReplicaSets(d, sets))) return syncRolloutStatus(d, sets);
  if (deploymentComplete(d, statusOf(d))) TRY(cleanupOldReplicaSets(d, sets.old));
  return syncRolloutStatus(d, sets);
}

Result<bool> DeploymentController::reconcileNewReplicaSet(Json& d, ReplicaSets& sets) {
  if (!sets.current) return false;
  Json& rs = *sets.current;
  const int64_t want = replicasOf(d);
  if (replicasOf(rs) == want) return false;
  if (replicasOf(rs) > want) return scaleReplicaSetAndRecordEvent(rs, want, d);
  // Up within replicas + maxSurge.
  int64_t current = specReplicas(constPtrs(sets.all()));
  int64_t maxTotal = want + maxSurge(d);
  int64_t newSize = replicasOf(rs);
  if (current < maxTotal) newSize += std::min(maxTotal - current, want - replicasOf(rs));
  return scaleReplicaSetAndRecordEvent(rs, newSize, d);
}

Result<bool> DeploymentController::reconcileOldReplicaSets(Json& d, ReplicaSets& sets) {
  std::vector<Json*> old = sets.activeOld();
  int64_t oldPods = specReplicas(constPtrs(old));
  if (oldPods == 0) return false;
  int64_t allPods = specReplicas(constPtrs(sets.all()));
  const int64_t minAvailable = replicasOf(d) - maxUnavailable(d);
  int64_t newUnavailable =
      sets.current ? replicasOf(*sets.current) - availableOf(*sets.current) : 0;
  int64_t maxScaledDown = allPods - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return false;

  // First the old ReplicaSets' unhealthy pods, oldest ReplicaSet first: they count for no
  // availability.
  std::sort(old.begin(), old.end(), [](const Json* a, const Json* b) { return olderThan(a, b); });
  int64_t cleaned = 0;
  for (Json* rs : old) {
    if (cleaned >= maxScaledDown) break;
    int64_t size = replicasOf(*rs);
    if (size == 0 || size == availableOf(*rs)) continue;
    int64_t down = std::min(maxScaledDown - cleaned, size - availableOf(*rs));
    TRY(scaleReplicaSetAndRecordEvent(*rs, size - down, d));
    cleaned += down;
  }

  // Then as many as availability allows.
  int64_t scaledDown = 0;
  int64_t available = statusCount(constPtrs(sets.all()), "availableReplicas");
  if (available > minAvailable) {
    int64_t total = available - minAvailable;
    for (Json* rs : old) {
      if (scaledDown >= total) break;
      int64_t size = replicasOf(*rs);
      if (size == 0) continue;
      int64_t down = std::min(size, total - scaledDown);
      TRY(scaleReplicaSetAndRecordEvent(*rs, size - down, d));
      scaledDown += down;
    }
  }
  return cleaned + scaledDown > 0;
}

bool DeploymentController::oldPodsRunning(const ReplicaSets& sets,
                                          const std::vector<Json>& rsList) {
  for (const Json& rs : sets.old)
    if (getInt(statusOf(rs), "replicas") > 0) return true;
  std::string newUid = sets.current ? uidOf(*sets.current) : "";
  for (const Json& rs : rsList) {
    std::string uid = uidOf(rs);
    if (uid == newUid) continue;
    for (const Json& pod : pods_.byIndex(Informer::kOwnerIndex, uid)) {
      if (!isControlledBy(pod, uid)) continue;
      std::string phase = getString(statusOf(pod), "phase");
      if (phase == "Failed" || phase == "Succeeded") continue;
      return true;
    }
  }
  return false;
}

Result<Reconciled> DeploymentController::rolloutRecreate(Json& d, const std::vector<Json>& rsList) {
  ReplicaSets sets = TRY(replicaSetsSyncingRevision(d, rsList, false));
  bool scaledDown = false;
  for (Json* rs : sets.activeOld())
    if (TRY(scaleReplicaSetAndRecordEvent(*rs, 0, d))) scaledDown = true;
  if (scaledDown) return syncRolloutStatus(d, sets);
  if (oldPodsRunning(sets, rsList)) return syncRolloutStatus(d, sets);
  if (!sets.current) sets = TRY(replicaSetsSyncingRevision(d, rsList, true));
  if (sets.current) TRY(scaleReplicaSetAndRecordEvent(*sets.current, replicasOf(d), d));
  if (deploymentComplete(d, statusOf(d))) TRY(cleanupOldReplicaSets(d, sets.old));
  return syncRolloutStatus(d, sets);
}

Result<void> DeploymentController::cleanupOldReplicaSets(const Json& d,
                                                         const std::vector<Json>& old) {
  const Json* limit = findMember(specOf(d), "revisionHistoryLimit");
  if (limit == nullptr || !limit->is_number_integer()) return {};
  std::vector<const Json*> alive;
  for (const Json& rs : old)
    if (!hasDeletionTimestamp(rs)) alive.push_back(&rs);
  int64_t diff = static_cast<int64_t>(alive.size()) - limit->get<int64_t>();
  if (diff <= 0) return {};
  std::sort(alive.begin(), alive.end(), [](const Json* a, const Json* b) {
    if (revisionOf(*a) != revisionOf(*b)) return revisionOf(*a) < revisionOf(*b);
    return olderThan(a, b);
  });
  for (int64_t i = 0; i < diff; ++i) {
    const Json& rs = *alive[i];
    if (getInt(statusOf(rs), "replicas") != 0 || replicasOf(rs) != 0 ||
        getInt(metadataOf(rs), "generation") > getInt(statusOf(rs), "observedGeneration"))
      continue;
    auto r = ctx_.client.remove(kReplicaSets, nsOf(rs), nameOf(rs));
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  }
  return {};
}

Json DeploymentController::calculateStatus(const Json& d, ReplicaSets& sets) {
  std::vector<const Json*> all = constPtrs(sets.all());
  int64_t available = statusCount(all, "availableReplicas");
  int64_t total = specReplicas(all);
  Json status = statusOf(d);
  setCount(status, "observedGeneration", getInt(metadataOf(d), "generation"));
  setCount(status, "replicas", statusCount(all, "replicas"));
  setCount(status, "updatedReplicas",
           sets.current ? getInt(statusOf(*sets.current), "replicas") : 0);
  setCount(status, "readyReplicas", statusCount(all, "readyReplicas"));
  setCount(status, "availableReplicas", available);
  setCount(status, "unavailableReplicas", std::max<int64_t>(total - available, 0));
  auto now = std::chrono::system_clock::now();
  if (available >= replicasOf(d) - maxUnavailable(d))
    setCondition(status, newCondition("Available", "True", "MinimumReplicasAvailable",
                                      "Deployment has minimum availability.", now));
  else
    setCondition(status, newCondition("Available", "False", "MinimumReplicasUnavailable",
                                      "Deployment does not have minimum availability.", now));
  return status;
}

Result<void> DeploymentController::syncDeploymentStatus(Json& d, ReplicaSets& sets) {
  Json status = calculateStatus(d, sets);
  if (status == statusOf(d)) return {};
  d["status"] = std::move(status);
  return writeStatus(d);
}

Result<Reconciled> DeploymentController::syncRolloutStatus(Json& d, ReplicaSets& sets) {
  Json status = calculateStatus(d, sets);
  auto now = std::chrono::system_clock::now();
  if (!hasProgressDeadline(d)) removeCondition(status, "Progressing");
  const Json* current = conditionOf(statusOf(d), "Progressing");
  const bool complete = getInt(status, "replicas") == getInt(status, "updatedReplicas") &&
                        current != nullptr &&
                        getString(*current, "reason") == kNewRSAvailableReason;
  const std::string rsName = sets.current ? nameOf(*sets.current) : "";
  if (hasProgressDeadline(d) && !complete) {
    if (deploymentComplete(d, status)) {
      std::string msg = sets.current
                            ? "ReplicaSet \"" + rsName + "\" has successfully progressed."
                            : "Deployment \"" + nameOf(d) + "\" has successfully progressed.";
      setCondition(status, newCondition("Progressing", "True", kNewRSAvailableReason, msg, now));
    } else if (deploymentProgressing(d, status)) {
      Json cond = newCondition("Progressing", "True", kRSUpdatedReason,
                               "ReplicaSet \"" + rsName + "\" is progressing.", now);
      if (current != nullptr) {
        // Refresh lastUpdateTime: progress restarts the deadline.
        if (getString(*current, "status") == "True")
          cond["lastTransitionTime"] = current->value("lastTransitionTime", Json(nullptr));
        removeCondition(status, "Progressing");
      }
      setCondition(status, cond);
    } else if (deploymentTimedOut(d, status, now)) {
      setCondition(status,
                   newCondition("Progressing", "False", kTimedOutReason,
                                "ReplicaSet \"" + rsName + "\" has timed out progressing.", now));
    }
  }
  // ReplicaFailure from the ReplicaSets, the new one first.
  std::optional<Json> failure;
  std::vector<Json*> order;
  if (sets.current) order.push_back(&*sets.current);
  for (Json& rs : sets.old) order.push_back(&rs);
  for (Json* rs : order)
    if (const Json* c = conditionOf(statusOf(*rs), "ReplicaFailure"); c && !failure) {
      failure = newCondition("ReplicaFailure", getString(*c, "status"), getString(*c, "reason"),
                             getString(*c, "message"), now);
    }
  if (failure)
    setCondition(status, *failure);
  else
    removeCondition(status, "ReplicaFailure");

  if (status == statusOf(d)) {
    // Nothing changed: look again when the progress deadline would pass.
    const Json* cond = conditionOf(status, "Progressing");
    if (!hasProgressDeadline(d) || cond == nullptr) return Reconciled{};
    if (deploymentComplete(d, status) || getString(*cond, "reason") == kTimedOutReason)
      return Reconciled{};
    auto from = parseRfc3339(getString(*cond, "lastUpdateTime"));
    if (!from) return Reconciled{};
    auto at = *from + std::chrono::seconds(getInt(specOf(d), "progressDeadlineSeconds"));
    auto after = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
    Reconciled r;
    r.requeueAfter = after < std::chrono::seconds(1) ? std::chrono::milliseconds(100)
                                                     : after + std::chrono::seconds(1);
    return r;
  }
  d["status"] = std::move(status);
  TRY(writeStatus(d));
  return Reconciled{};
}

}  // namespace nave::controllers::workloads
