#include "server/controllers/sets/statefulset_controller.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "common/log.h"
#include "server/controllers/sets/revision_history.h"
#include "server/selectors/selectors.h"

namespace nave::controllers {
namespace {

using sets::isDeleting;
using sets::kPods;
using sets::metadataOf;
using sets::phaseOf;

const client::Resource kStatefulSets{"apps", "v1", "statefulsets"};
const client::Resource kClaims{"", "v1", "persistentvolumeclaims"};
constexpr char kComponent[] = "statefulset-controller";
constexpr char kPodNameLabel[] = "statefulset.kubernetes.io/pod-name";
constexpr char kPodIndexLabel[] = "apps.kubernetes.io/pod-index";
constexpr char kRevisionLabel[] = "controller-revision-hash";
constexpr char kRevisionHashLabel[] = "controller.kubernetes.io/hash";

// The parent name and ordinal of a pod named PARENT-ORDINAL; ordinal -1 when it is not.
std::pair<std::string, int64_t> parentAndOrdinal(const std::string& name) {
  size_t dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 == name.size() || name.size() - dash - 1 > 9)
    return {"", -1};
  int64_t ordinal = 0;
  for (size_t i = dash + 1; i < name.size(); i++) {
    if (name[i] < '0' || name[i] > '9') return {"", -1};
    ordinal = ordinal * 10 + (name[i] - '0');
  }
  return {name.substr(0, dash), ordinal};
}

int64_t ordinalOf(const Json& pod) {
  return parentAndOrdinal(getString(metadataOf(pod), "name")).second;
}
std::string nameOf(const Json& object) {
  return getString(metadataOf(object), "name");
}
bool isCreated(const Json& pod) {
  return !phaseOf(pod).empty();
}
bool isRunningAndReady(const Json& pod) {
  return phaseOf(pod) == "Running" && sets::isPodReady(pod);
}
bool isHealthy(const Json& pod) {
  return isRunningAndReady(pod) && !isDeleting(pod);
}
std::string revisionOf(const Json& pod) {
  return getString(metadataOf(pod).value("labels", Json::object()), kRevisionLabel);
}

Json labelsOf(const Json& object) {
  Json labels = metadataOf(object).value("labels", Json::object());
  return labels.is_object() ? labels : Json::object();
}

}  // namespace

// The state of one reconcile of one StatefulSet, and the steps of Kubernetes'
// updateStatefulSet over it.
struct StatefulSetController::Sync {
  StatefulSetController& c;
  Json set;
  std::string key, ns, name, uid;
  const Json& spec() const { return set["spec"]; }
  int64_t replicas = 1, start = 0, minReadySeconds = 0;
  bool monotonic = true;
  Json currentTemplate, updateTemplate;
  std::string currentRevision, updateRevision;
  int64_t collisionCount = 0;
  std::vector<Json>
      slots;  // the pods of ordinals start..start+replicas-1 (not yet created: no phase)
  std::vector<Json> condemned;  // pods beyond the range, highest ordinal first
  std::string firstUnhealthy;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  std::optional<std::chrono::milliseconds> requeue;
  Json status = Json::object();

  void requeueWithin(std::chrono::milliseconds d) { requeue = requeue ? std::min(*requeue, d) : d; }
  bool isAvailable(const Json& pod) {
    if (phaseOf(pod) != "Running") return false;
    if (sets::isPodAvailable(pod, minReadySeconds, now)) return true;
    if (auto d = sets::untilAvailable(pod, minReadySeconds, now)) requeueWithin(*d);
    return false;
  }
  std::string podName(int64_t ordinal) const { return name + "-" + std::to_string(ordinal); }
  std::string claimName(const Json& claimTemplate, const std::string& pod) const {
    return nameOf(claimTemplate) + "-" + pod;
  }
  const Json& claimTemplates() const {
    static const Json kNone = Json::array();
    const Json* t = findMember(spec(), "volumeClaimTemplates");
    return t && t->is_array() ? *t : kNone;
  }

  // newVersionedStatefulSetPod: below the partition at the current revision, else the update's.
  Json newPod(int64_t ordinal) const {
    const Json& strategy = spec().value("updateStrategy", Json::object());
    bool atCurrent = false;
    if (getString(strategy, "type", "RollingUpdate") == "RollingUpdate") {
      const Json* ru = findMember(strategy, "rollingUpdate");
      int64_t partition = ru ? getInt(*ru, "partition")
                             : getInt(set.value("status", Json::object()), "currentReplicas");
      atCurrent = ordinal < start + partition;
    }
    const Json& templ = atCurrent ? currentTemplate : updateTemplate;
    std::string podName = this->podName(ordinal);
    Json templMeta = templ.value("metadata", Json::object());
    Json labels = templMeta.value("labels", Json::object());
    if (!labels.is_object()) labels = Json::object();
    labels[kPodNameLabel] = podName;
    labels[kPodIndexLabel] = std::to_string(ordinal);
    labels[kRevisionLabel] = atCurrent ? currentRevision : updateRevision;
    Json md = {{"name", podName},
               {"namespace", ns},
               {"labels", labels},
               {"ownerReferences", Json::array({sets::controllerRefTo(set, "StatefulSet")})}};
    for (const char* k : {"annotations", "finalizers"})
      if (templMeta.contains(k)) md[k] = templMeta[k];
    Json podSpec = templ.value("spec", Json::object());
    podSpec["hostname"] = podName;
    if (std::string svc = getString(spec(), "serviceName"); !svc.empty())
      podSpec["subdomain"] = svc;
    // The claims' volumes first, then the template's other volumes (updateStorage).
    Json volumes = Json::array();
    std::set<std::string> claimed;
    for (const Json& ct : claimTemplates()) {
      claimed.insert(nameOf(ct));
      volumes.push_back({{"name", nameOf(ct)},
                         {"persistentVolumeClaim", {{"claimName", claimName(ct, podName)}}}});
    }
    for (const Json& v : podSpec.value("volumes", Json::array()))
      if (!claimed.count(getString(v, "name"))) volumes.push_back(v);
    if (!volumes.empty()) podSpec["volumes"] = volumes;
    return Json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", md}, {"spec", podSpec}};
  }

  bool inRange(const Json& pod) const {
    int64_t o = ordinalOf(pod);
    return o >= start && o < start + replicas;
  }

  // The ownerReferences the retention policy wants on a claim of `pod`
  // (updateClaimOwnerRefForSetAndPod): the set's when whenDeleted is Delete (and the pod is in
  // range), the pod's when whenScaled is Delete and the pod is beyond the replicas.
  Json claimOwners(const Json& claim, const Json* pod) const {
    const Json& policy = spec().value("persistentVolumeClaimRetentionPolicy", Json::object());
    bool deleteWithSet = getString(policy, "whenDeleted", "Retain") == "Delete";
    bool deleteWhenScaled = getString(policy, "whenScaled", "Retain") == "Delete";
    bool scaledDown = pod != nullptr && !inRange(*pod);
    std::string podUid = pod ? getString(metadataOf(*pod), "uid") : "";
    bool wantSet = deleteWithSet && !(deleteWhenScaled && scaledDown);
    bool wantPod = deleteWhenScaled && scaledDown && !podUid.empty();
    Json refs = Json::array();
    bool hasSet = false, hasPod = false;
    for (const Json& r : metadataOf(claim).value("ownerReferences", Json::array())) {
      std::string u = getString(r, "uid");
      if (u == uid) {
        hasSet = true;
        if (!wantSet) continue;
      } else if (!podUid.empty() && u == podUid) {
        hasPod = true;
        if (!wantPod) continue;
      }
      refs.push_back(r);
    }
    if (wantSet && !hasSet)
      refs.push_back(
          {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"name", name}, {"uid", uid}});
    if (wantPod && !hasPod)
      refs.push_back(
          {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", nameOf(*pod)}, {"uid", podUid}});
    return refs;
  }

  // Creates the pod's missing claims (createPersistentVolumeClaims).
  Result<void> ensureClaims(const Json& pod) {
    std::string podName = nameOf(pod);
    for (const Json& ct : claimTemplates()) {
      std::string claimName = this->claimName(ct, podName);
      if (auto existing = c.claims_.get(ns + "/" + claimName)) {
        if (isDeleting(*existing))
          return Error(ErrorCode::kConflict, "pvc " + claimName + " is being deleted");
        continue;
      }
      Json ctMeta = ct.value("metadata", Json::object());
      Json labels = ctMeta.value("labels", Json::object());
      if (!labels.is_object()) labels = Json::object();
      const Json matchLabels =
          spec().value("selector", Json::object()).value("matchLabels", Json::object());
      for (auto& [k, v] : matchLabels.items()) labels[k] = v;
      Json claim = {{"apiVersion", "v1"},
                    {"kind", "PersistentVolumeClaim"},
                    {"metadata", {{"name", claimName}, {"namespace", ns}, {"labels", labels}}},
                    {"spec", ct.value("spec", Json::object())}};
      if (ctMeta.contains("annotations")) claim["metadata"]["annotations"] = ctMeta["annotations"];
      Json owners = claimOwners(claim, nullptr);
      if (!owners.empty()) claim["metadata"]["ownerReferences"] = owners;
      auto r = c.ctx_.client.create(kClaims, ns, claim);
      if (!r.ok() && r.error().is(ErrorCode::kAlreadyExists)) continue;
      if (!r.ok()) {
        c.ctx_.events.eventAs(kComponent, set, "Warning", "FailedCreate",
                              "create Claim " + claimName + " for Pod " + podName +
                                  " in StatefulSet " + name +
                                  " failed error: " + r.error().message());
        return std::move(r).error();
      }
      c.ctx_.events.eventAs(
          kComponent, set, "Normal", "SuccessfulCreate",
          "create Claim " + claimName + " Pod " + podName + " in StatefulSet " + name + " success");
    }
    return {};
  }

  // Sets the claims' owners as the retention policy wants them.
  Result<void> fixClaimOwners(const Json& pod) {
    for (const Json& ct : claimTemplates()) {
      auto claim = c.claims_.get(ns + "/" + claimName(ct, nameOf(pod)));
      if (!claim || isDeleting(*claim)) continue;
      Json owners = claimOwners(*claim, &pod);
      if (owners == metadataOf(*claim).value("ownerReferences", Json::array())) continue;
      Json patch = {{"metadata", {{"ownerReferences", owners}}}};
      auto r =
          c.ctx_.client.patch(kClaims, ns, nameOf(*claim), api::PatchType::kMerge, dumpJson(patch));
      if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
    }
    return {};
  }

  Result<void> createPod(const Json& pod) {
    std::string podName = nameOf(pod);
    auto claims = ensureClaims(pod);
    if (!claims.ok()) {
      c.ctx_.events.eventAs(kComponent, set, "Warning", "FailedCreate",
                            "create Pod " + podName + " in StatefulSet " + name +
                                " failed error: " + claims.error().message());
      return claims;
    }
    auto r = c.ctx_.client.create(kPods, ns, pod);
    if (!r.ok() && r.error().is(ErrorCode::kAlreadyExists)) {
      c.pending_.expectCreate(key, ns + "/" + podName);
      return {};
    }
    if (!r.ok()) {
      c.ctx_.events.eventAs(kComponent, set, "Warning", "FailedCreate",
                            "create Pod " + podName + " in StatefulSet " + name +
                                " failed error: " + r.error().message());
      return std::move(r).error();
    }
    c.pending_.expectCreate(key, ns + "/" + podName);
    c.ctx_.events.eventAs(kComponent, set, "Normal", "SuccessfulCreate",
                          "create Pod " + podName + " in StatefulSet " + name + " successful");
    return {};
  }

  Result<void> deletePod(const Json& pod) {
    std::string podName = nameOf(pod);
    api::DeleteOptions opts;
    opts.preconditionUid = getString(metadataOf(pod), "uid");
    auto r = c.ctx_.client.remove(kPods, ns, podName, opts);
    if (!r.ok() && (r.error().is(ErrorCode::kNotFound) || r.error().is(ErrorCode::kConflict)))
      return {};
    if (!r.ok()) {
      c.ctx_.events.eventAs(kComponent, set, "Warning", "FailedDelete",
                            "delete Pod " + podName + " in StatefulSet " + name +
                                " failed error: " + r.error().message());
      return std::move(r).error();
    }
    c.pending_.expectDelete(key, ns + "/" + podName, *opts.preconditionUid);
    c.ctx_.events.eventAs(kComponent, set, "Normal", "SuccessfulDelete",
                          "delete Pod " + podName + " in StatefulSet " + name + " successful");
    return {};
  }

  // processReplica: true when, in OrderedReady, nothing further may happen this round.
  Result<bool> processReplica(size_t i) {
    Json& pod = slots[i];
    if (isCreated(pod) && (phaseOf(pod) == "Failed" || phaseOf(pod) == "Succeeded")) {
      if (phaseOf(pod) == "Failed")
        c.ctx_.events.eventAs(
            kComponent, set, "Warning", "RecreatingFailedPod",
            "StatefulSet " + ns + "/" + name + " is recreating failed Pod " + nameOf(pod));
      else
        c.ctx_.events.eventAs(
            kComponent, set, "Normal", "RecreatingTerminatedPod",
            "StatefulSet " + ns + "/" + name + " is recreating terminated Pod " + nameOf(pod));
      TRY(deletePod(pod));
      // It is made again once the informer shows it gone.
      return true;
    }
    if (!isCreated(pod)) {
      TRY(createPod(pod));
      return monotonic;
    }
    if (phaseOf(pod) == "Pending") TRY(ensureClaims(pod));
    if (isDeleting(pod) && monotonic) return true;
    if (!isRunningAndReady(pod) && monotonic) return true;
    if (!isAvailable(pod) && monotonic) return true;
    Json labels = labelsOf(pod);
    if (getString(labels, kPodNameLabel) != nameOf(pod) ||
        getString(labels, kPodIndexLabel) != std::to_string(ordinalOf(pod))) {
      Json patch = {
          {"metadata",
           {{"labels",
             {{kPodNameLabel, nameOf(pod)}, {kPodIndexLabel, std::to_string(ordinalOf(pod))}}}}}};
      auto r = c.ctx_.client.patch(kPods, ns, nameOf(pod), api::PatchType::kMerge, dumpJson(patch));
      if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
    }
    TRY(fixClaimOwners(pod));
    return false;
  }

  // processCondemned: true when, in OrderedReady, nothing further may happen this round.
  Result<bool> processCondemned(const Json& pod) {
    if (isDeleting(pod)) return monotonic;
    if (monotonic && nameOf(pod) != firstUnhealthy &&
        (!isRunningAndReady(pod) || !isAvailable(pod)))
      return true;
    log::v(2, "StatefulSet pod terminating for scale down",
           {{"statefulset", key}, {"pod", nameOf(pod)}});
    TRY(deletePod(pod));
    return true;
  }

  // updateStatefulSetAfterInvariantEstablished (MaxUnavailableStatefulSet): up to
  // maxUnavailable pods of the whole set may be unavailable; old pods at or above the partition
  // go from the highest ordinal until that many are.
  Result<void> rollWithMaxUnavailable(int64_t partition, const Json& maxUnavailable) {
    int64_t allowed = 1;
    if (maxUnavailable.is_number_integer()) {
      allowed = maxUnavailable.get<int64_t>();
    } else if (maxUnavailable.is_string()) {
      std::string v = maxUnavailable.get<std::string>();
      if (!v.empty() && v.back() == '%') v.pop_back();
      allowed = std::atoll(v.c_str()) * replicas / 100;  // rounded down
    }
    allowed = std::max<int64_t>(allowed, 1);
    int64_t unavailable = 0;
    for (const Json& pod : slots)
      if (!isCreated(pod) || !isHealthy(pod) || !isAvailable(pod)) unavailable++;
    for (int64_t target = static_cast<int64_t>(slots.size()) - 1;
         target >= std::max<int64_t>(partition, 0) && unavailable < allowed; target--) {
      const Json& pod = slots[static_cast<size_t>(target)];
      if (!isCreated(pod) || revisionOf(pod) == updateRevision || isDeleting(pod)) continue;
      TRY(deletePod(pod));
      unavailable++;
    }
    return {};
  }

  void computeStatus(Json& out) {
    int64_t created = 0, ready = 0, available = 0, current = 0, updated = 0;
    auto count = [&](const Json& pod) {
      if (!isCreated(pod)) return;
      created++;
      if (isRunningAndReady(pod)) {
        ready++;
        if (sets::isPodAvailable(pod, minReadySeconds, now)) available++;
      }
      if (isDeleting(pod)) return;
      if (revisionOf(pod) == currentRevision) current++;
      if (revisionOf(pod) == updateRevision) updated++;
    };
    for (const Json& p : slots) count(p);
    for (const Json& p : condemned) count(p);
    out["replicas"] = created;
    out["readyReplicas"] = ready;
    out["availableReplicas"] = available;
    out["currentReplicas"] = current;
    out["updatedReplicas"] = updated;
  }
};

StatefulSetController::StatefulSetController(ControllerContext& ctx)
    : ctx_(ctx),
      sets_(ctx.informers.informer(kStatefulSets)),
      pods_(ctx.informers.informer(sets::kPods)),
      claims_(ctx.informers.informer(kClaims)),
      revisions_(ctx.informers.informer(sets::kControllerRevisions)),
      queue_(std::chrono::milliseconds(50), std::chrono::seconds(60)) {
  sets_.addHandler([this](const std::string& key) { queue_.add(key); });
  pods_.addObjectHandler([this](const Json* before, const Json* after) {
    if (before) sets::enqueueOwningSet(*before, "StatefulSet", sets_, queue_);
    if (after) sets::enqueueOwningSet(*after, "StatefulSet", sets_, queue_);
  });
  revisions_.addObjectHandler([this](const Json* before, const Json* after) {
    const Json& r = after ? *after : *before;
    const Json* ref = sets::controllerRef(r);
    if (ref && getString(*ref, "kind") == "StatefulSet")
      queue_.add(getString(metadataOf(r), "namespace") + "/" + getString(*ref, "name"));
  });
}

void StatefulSetController::start() {
  workers_.start(queue_, 2, "statefulset",
                 [this](const std::string& key) { return reconcile(key); });
}

void StatefulSetController::stop() {
  workers_.stop();
}

Result<Reconciled> StatefulSetController::reconcile(const std::string& key) {
  auto setObject = sets_.get(key);
  if (!setObject) {
    pending_.forget(key);
    return Reconciled{};
  }
  // Our own creates and deletes are not all in the informer yet: it will call again.
  if (!pending_.settled(key, pods_)) return Reconciled{std::chrono::seconds(1)};

  Sync s{*this, *setObject};
  s.key = key;
  const Json& md = metadataOf(s.set);
  s.ns = getString(md, "namespace");
  s.name = getString(md, "name");
  s.uid = getString(md, "uid");
  if (!s.set["spec"].is_object()) return Reconciled{};
  const Json& spec = s.spec();
  s.replicas = std::max<int64_t>(0, getInt(spec, "replicas", 1));
  s.start = getInt(spec.value("ordinals", Json::object()), "start", 0);
  s.minReadySeconds = getInt(spec, "minReadySeconds");
  s.monotonic = getString(spec, "podManagementPolicy", "OrderedReady") != "Parallel";
  const Json oldStatus = s.set.value("status", Json::object());
  s.collisionCount = getInt(oldStatus, "collisionCount");

  auto selector = selectors::LabelSelector::fromObject(spec.value("selector", Json()));
  if (!selector.ok() || selector->empty()) {
    log::warning("StatefulSet has an invalid selector", {{"statefulset", key}});
    return Reconciled{};
  }

  // The pods it owns, adopting orphans that match its selector and names (ClaimPods).
  std::vector<Json> owned;
  for (Json& pod : pods_.list(s.ns)) {
    auto [parent, ordinal] = parentAndOrdinal(nameOf(pod));
    bool member = ordinal >= 0 && parent == s.name && selector->matches(labelsOf(pod));
    const Json* ref = sets::controllerRef(pod);
    if (ref != nullptr) {
      if (getString(*ref, "uid") != s.uid) continue;
      if (member) {
        owned.push_back(std::move(pod));
      } else if (!isDeleting(pod)) {
        // No longer selected: released (it keeps running, as nobody's).
        auto r = ctx_.client.patch(kPods, s.ns, nameOf(pod), api::PatchType::kMerge,
                                   sets::releasePatch(pod, s.uid));
        if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kConflict))
          return std::move(r).error();
      }
      continue;
    }
    if (!member || isDeleting(s.set) || isDeleting(pod)) continue;
    auto r = ctx_.client.patch(kPods, s.ns, nameOf(pod), api::PatchType::kMerge,
                               sets::adoptionPatch(pod, s.set, "StatefulSet"));
    if (r.ok()) owned.push_back(std::move(r).value());
  }

  // The revisions: the set's template now (update) and the one of the last completed rollout.
  std::vector<Json> revisions = sets::ownedRevisions(revisions_, s.set);
  Json patch = sets::templatePatch(s.set);
  int64_t next = sets::nextRevisionNumber(revisions);
  Json updateRevision;
  if (const Json* equal = sets::findEqualRevision(revisions, patch)) {
    if (nameOf(*equal) == nameOf(revisions.back())) {
      updateRevision = *equal;
    } else {
      updateRevision = TRY(sets::renumberRevision(ctx_.client, *equal, next));
      for (Json& r : revisions)
        if (nameOf(r) == nameOf(updateRevision)) r = updateRevision;
    }
  } else {
    sets::NewRevision nr{"StatefulSet", kRevisionHashLabel,
                         spec.value("template", Json::object())
                             .value("metadata", Json::object())
                             .value("labels", Json::object()),
                         Json()};
    updateRevision =
        TRY(sets::createRevision(ctx_.client, s.set, nr, patch, next, s.collisionCount));
    revisions.push_back(updateRevision);
  }
  Json currentRevision = updateRevision;
  for (const Json& r : revisions)
    if (nameOf(r) == getString(oldStatus, "currentRevision")) currentRevision = r;
  s.updateRevision = nameOf(updateRevision);
  s.currentRevision = nameOf(currentRevision);
  s.updateTemplate = spec.value("template", Json::object());
  s.currentTemplate = sets::templateOf(currentRevision);

  // Pods in range by ordinal, and those beyond it.
  s.slots.assign(static_cast<size_t>(s.replicas), Json());
  for (Json& pod : owned) {
    int64_t o = ordinalOf(pod);
    if (s.inRange(pod))
      s.slots[static_cast<size_t>(o - s.start)] = std::move(pod);
    else
      s.condemned.push_back(std::move(pod));
  }
  for (size_t i = 0; i < s.slots.size(); i++)
    if (s.slots[i].is_null()) s.slots[i] = s.newPod(s.start + static_cast<int64_t>(i));
  std::sort(s.condemned.begin(), s.condemned.end(),
            [](const Json& a, const Json& b) { return ordinalOf(a) > ordinalOf(b); });
  for (const Json& p : s.slots)
    if (s.firstUnhealthy.empty() && !isHealthy(p)) s.firstUnhealthy = nameOf(p);
  for (const Json& p : s.condemned)
    if (s.firstUnhealthy.empty() && !isHealthy(p)) s.firstUnhealthy = nameOf(p);

  Result<void> outcome;
  auto run = [&]() -> Result<void> {
    if (isDeleting(s.set)) return {};
    // Replicas in ordinal order; condemned pods from the highest ordinal; in Parallel mode an
    // error stops nothing but is returned.
    std::optional<Error> firstError;
    for (size_t i = 0; i < s.slots.size(); i++) {
      auto r = s.processReplica(i);
      if (!r.ok()) {
        if (s.monotonic) return std::move(r).error();
        if (!firstError) firstError = std::move(r).error();
        continue;
      }
      if (*r && s.monotonic) return {};
    }
    if (firstError) return *firstError;
    for (const Json& pod : s.condemned) TRY(s.fixClaimOwners(pod));
    for (const Json& pod : s.condemned) {
      auto r = s.processCondemned(pod);
      if (!r.ok()) {
        if (s.monotonic) return std::move(r).error();
        if (!firstError) firstError = std::move(r).error();
        continue;
      }
      if (*r && s.monotonic) return {};
    }
    if (firstError) return *firstError;
    const Json& strategy = spec.value("updateStrategy", Json::object());
    if (getString(strategy, "type", "RollingUpdate") == "OnDelete") return {};
    // Rolling update: the highest ordinal at or above the partition whose revision is not the
    // update's goes; each replacement is healthy before the next.
    const Json rollingUpdate = strategy.value("rollingUpdate", Json::object());
    int64_t partition = getInt(rollingUpdate, "partition");
    if (const Json* mu = findMember(rollingUpdate, "maxUnavailable"); mu && !mu->is_null())
      return s.rollWithMaxUnavailable(partition, *mu);
    for (int64_t target = static_cast<int64_t>(s.slots.size()) - 1;
         target >= std::max<int64_t>(partition, 0); target--) {
      const Json& pod = s.slots[static_cast<size_t>(target)];
      if (!isCreated(pod)) continue;
      if (revisionOf(pod) != s.updateRevision && !isDeleting(pod)) {
        log::v(2, "StatefulSet pod terminating for update",
               {{"statefulset", key}, {"pod", nameOf(pod)}});
        return s.deletePod(pod);
      }
      if (!isHealthy(pod) || !s.isAvailable(pod)) return {};
    }
    return {};
  };
  outcome = run();

  // Status (updateStatefulSetStatus with completeRollingUpdate).
  Json status = oldStatus;
  s.computeStatus(status);
  status["observedGeneration"] = getInt(md, "generation");
  status["currentRevision"] = s.currentRevision;
  status["updateRevision"] = s.updateRevision;
  status["collisionCount"] = s.collisionCount;
  std::string strategyType =
      getString(spec.value("updateStrategy", Json::object()), "type", "RollingUpdate");
  if (strategyType == "RollingUpdate" && status["updatedReplicas"] == status["replicas"] &&
      status["readyReplicas"] == status["replicas"]) {
    status["currentReplicas"] = status["updatedReplicas"];
    status["currentRevision"] = status["updateRevision"];
  }
  for (const char* k :
       {"readyReplicas", "currentReplicas", "updatedReplicas", "observedGeneration"})
    if (status[k] == 0) status.erase(k);
  if (status != oldStatus) {
    Json updated = s.set;
    updated["status"] = status;
    auto r = ctx_.client.update(kStatefulSets, s.ns, updated, {}, "status");
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  }
  if (!outcome.ok()) return std::move(outcome).error();

  // History beyond revisionHistoryLimit, except what pods still use.
  std::set<std::string> live = {getString(status, "currentRevision"), s.updateRevision};
  for (const Json& p : s.slots) live.insert(revisionOf(p));
  for (const Json& p : s.condemned) live.insert(revisionOf(p));
  TRY(sets::truncateHistory(ctx_.client, revisions, live,
                            getInt(spec, "revisionHistoryLimit", 10)));
  return Reconciled{s.requeue};
}

}  // namespace nave::controllers
