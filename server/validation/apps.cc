// apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision
// (pkg/apis/apps/v1/defaults.go and pkg/apis/apps/validation).
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

void validateStatus(const Json& o, std::initializer_list<std::string_view> fields, FieldErrors& errs) {
  const Json& status = objectOf(o, "status");
  for (std::string_view f : fields) nonNegative(status, f, child("status", f), errs);
}

// The selector rules shared by the workload kinds, then the template checks of
// ValidatePodTemplateSpecForReplicaSet (and friends).
void validateSelectorAndTemplate(const Json& spec, std::string_view kindWord, bool requireSelector,
                                 const PodSpecOptions& podOpts, FieldErrors& errs) {
  const Json* selector = getObject(spec, "selector");
  if (selector == nullptr) {
    if (requireSelector) errs.required("spec.selector");
  } else {
    validateLabelSelector(*selector, "spec.selector", errs);
    if (selectorIsEmpty(*selector))
      errs.invalid("spec.selector", *selector, "empty selector is invalid for " + std::string(kindWord));
  }
  const Json& templ = objectOf(spec, "template");
  const Json& labels = objectOf(objectOf(templ, "metadata"), "labels");
  // A missing selector selects nothing (so it also reports the mismatch); an empty one selects
  // everything.
  bool matches = selector == nullptr ? false : (selectorIsEmpty(*selector) || selectorMatches(*selector, labels));
  if (!matches)
    errs.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`");
  validatePodTemplateSpec(templ, "spec.template", podOpts, errs);
  const Json& tspec = objectOf(templ, "spec");
  if (str(tspec, "restartPolicy") != "Always")
    errs.notSupported("spec.template.spec.restartPolicy", str(tspec, "restartPolicy"), {"Always"});
}

void validateSelectorImmutable(const Json& o, const Json* old, FieldErrors& errs) {
  if (old == nullptr) return;
  const Json& a = memberOrNull(objectOf(o, "spec"), "selector");
  const Json& b = memberOrNull(objectOf(*old, "spec"), "selector");
  if (!jsonEqual(a, b)) errs.invalid("spec.selector", a, std::string(kImmutable));
}

void defaultRevisionHistory(Json& spec) { defaultIfAbsent(spec, "revisionHistoryLimit", 10); }

}  // namespace

void defaultDeployment(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  defaultIfAbsent(*spec, "replicas", 1);
  if (Json* strategy = ensureObject(*spec, "strategy")) {
    defaultIfZero(*strategy, "type", "RollingUpdate");
    if (str(*strategy, "type") == "RollingUpdate") {
      if (Json* ru = ensureObject(*strategy, "rollingUpdate")) {
        defaultIfAbsent(*ru, "maxUnavailable", "25%");
        defaultIfAbsent(*ru, "maxSurge", "25%");
      }
    }
  }
  defaultRevisionHistory(*spec);
  defaultIfAbsent(*spec, "progressDeadlineSeconds", 600);
  if (Json* t = mutObject(*spec, "template")) defaultPodTemplate(*t);
}

void defaultReplicaSet(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  defaultIfAbsent(*spec, "replicas", 1);
  if (Json* t = mutObject(*spec, "template")) defaultPodTemplate(*t);
}

void defaultStatefulSet(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  defaultIfZero(*spec, "podManagementPolicy", "OrderedReady");
  if (Json* strategy = ensureObject(*spec, "updateStrategy")) {
    if (!isSet(*strategy, "type")) {
      (*strategy)["type"] = "RollingUpdate";
      ensureObject(*strategy, "rollingUpdate");
    }
    if (str(*strategy, "type") == "RollingUpdate")
      if (Json* ru = mutObject(*strategy, "rollingUpdate")) defaultIfAbsent(*ru, "partition", 0);
  }
  if (Json* policy = ensureObject(*spec, "persistentVolumeClaimRetentionPolicy")) {
    defaultIfZero(*policy, "whenDeleted", "Retain");
    defaultIfZero(*policy, "whenScaled", "Retain");
  }
  defaultIfAbsent(*spec, "replicas", 1);
  defaultRevisionHistory(*spec);
  if (Json* t = mutObject(*spec, "template")) defaultPodTemplate(*t);
  if (Json* claims = mutArray(*spec, "volumeClaimTemplates")) {
    for (Json& claim : *claims) {
      if (Json* cs = mutObject(claim, "spec")) defaultPersistentVolumeClaimSpec(*cs);
      if (Json* status = ensureObject(claim, "status")) defaultIfZero(*status, "phase", "Pending");
    }
  }
}

void defaultDaemonSet(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  if (Json* strategy = ensureObject(*spec, "updateStrategy")) {
    defaultIfZero(*strategy, "type", "RollingUpdate");
    if (str(*strategy, "type") == "RollingUpdate") {
      if (Json* ru = ensureObject(*strategy, "rollingUpdate")) {
        defaultIfAbsent(*ru, "maxUnavailable", 1);
        defaultIfAbsent(*ru, "maxSurge", 0);
      }
    }
  }
  defaultRevisionHistory(*spec);
  if (Json* t = mutObject(*spec, "template")) defaultPodTemplate(*t);
}

void validateDeployment(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    validateStatus(o, {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas",
                       "observedGeneration", "collisionCount"},
                   errs);
    return;
  }
  const Json& spec = objectOf(o, "spec");
  nonNegative(spec, "replicas", "spec.replicas", errs);
  validateSelectorAndTemplate(spec, "deployment", true, PodSpecOptions{}, errs);
  const Json& tspec = objectOf(objectOf(spec, "template"), "spec");
  if (get(tspec, "activeDeadlineSeconds") != nullptr)
    errs.forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicaSet is not Supported");
  const Json& strategy = objectOf(spec, "strategy");
  std::string type = str(strategy, "type");
  if (type == "Recreate") {
    if (get(strategy, "rollingUpdate") != nullptr)
      errs.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
  } else if (type == "RollingUpdate") {
    const Json* ru = getObject(strategy, "rollingUpdate");
    if (ru == nullptr) {
      errs.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil");
    } else {
      const Json& maxUnavailable = memberOrNull(*ru, "maxUnavailable");
      const Json& maxSurge = memberOrNull(*ru, "maxSurge");
      validatePositiveIntOrPercent(maxUnavailable, "spec.strategy.rollingUpdate.maxUnavailable", errs);
      validatePositiveIntOrPercent(maxSurge, "spec.strategy.rollingUpdate.maxSurge", errs);
      if (intOrPercent(maxUnavailable).value_or(0) == 0 && intOrPercent(maxSurge).value_or(0) == 0)
        errs.invalid("spec.strategy.rollingUpdate.maxUnavailable", maxUnavailable, "may not be 0 when `maxSurge` is 0");
      validateNotMoreThan100Percent(maxUnavailable, "spec.strategy.rollingUpdate.maxUnavailable", errs);
    }
  } else {
    errs.notSupported("spec.strategy", strategy, {"Recreate", "RollingUpdate"});
  }
  nonNegative(spec, "minReadySeconds", "spec.minReadySeconds", errs);
  nonNegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit", errs);
  if (std::optional<int64_t> pds = optInt(spec, "progressDeadlineSeconds")) {
    nonNegative(spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds", errs);
    if (*pds <= optInt(spec, "minReadySeconds").value_or(0))
      errs.invalid("spec.progressDeadlineSeconds", *pds, "must be greater than minReadySeconds");
  }
  if (op == Operation::kUpdate) validateSelectorImmutable(o, old, errs);
}

void validateReplicaSet(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    validateStatus(o, {"replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"},
                   errs);
    return;
  }
  const Json& spec = objectOf(o, "spec");
  nonNegative(spec, "replicas", "spec.replicas", errs);
  nonNegative(spec, "minReadySeconds", "spec.minReadySeconds", errs);
  validateSelectorAndTemplate(spec, "deployment", true, PodSpecOptions{}, errs);
  if (get(objectOf(objectOf(spec, "template"), "spec"), "activeDeadlineSeconds") != nullptr)
    errs.forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicaSet is not Supported");
  if (op == Operation::kUpdate) validateSelectorImmutable(o, old, errs);
}

void validateStatefulSet(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    validateStatus(o, {"replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
                       "observedGeneration", "collisionCount"},
                   errs);
    return;
  }
  const Json& spec = objectOf(o, "spec");
  std::string policy = str(spec, "podManagementPolicy");
  if (policy.empty()) {
    errs.required("spec.podManagementPolicy");
  } else if (policy != "OrderedReady" && policy != "Parallel") {
    errs.invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'");
  }
  const Json& strategy = objectOf(spec, "updateStrategy");
  std::string type = str(strategy, "type");
  if (type.empty()) {
    errs.required("spec.updateStrategy");
  } else if (type == "OnDelete") {
    if (const Json* ru = get(strategy, "rollingUpdate"))
      errs.invalid("spec.updateStrategy.rollingUpdate", *ru, "only allowed for updateStrategy 'RollingUpdate'");
  } else if (type == "RollingUpdate") {
    if (const Json* ru = getObject(strategy, "rollingUpdate")) {
      nonNegative(*ru, "partition", "spec.updateStrategy.rollingUpdate.partition", errs);
      if (const Json* mu = get(*ru, "maxUnavailable")) {
        std::string p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
        validatePositiveIntOrPercent(*mu, p, errs);
        if (intOrPercent(*mu).value_or(1) == 0) errs.invalid(p, *mu, "cannot be 0");
        validateNotMoreThan100Percent(*mu, p, errs);
      }
    }
  } else {
    errs.invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'");
  }
  const Json& retention = objectOf(spec, "persistentVolumeClaimRetentionPolicy");
  for (std::string_view k : {"whenDeleted", "whenScaled"}) {
    if (const Json* v = get(retention, k); v != nullptr && *v != "Retain" && *v != "Delete")
      errs.notSupported(child("spec.persistentVolumeClaimRetentionPolicy", k), *v, {"Retain", "Delete"});
  }
  nonNegative(spec, "replicas", "spec.replicas", errs);
  nonNegative(spec, "minReadySeconds", "spec.minReadySeconds", errs);
  nonNegative(objectOf(spec, "ordinals"), "start", "spec.ordinals.start", errs);
  PodSpecOptions podOpts;
  for (const Json& claim : arrayOf(spec, "volumeClaimTemplates"))
    podOpts.extraVolumeNames.push_back(str(objectOf(claim, "metadata"), "name"));
  validateSelectorAndTemplate(spec, "statefulset", true, podOpts, errs);
  if (get(objectOf(objectOf(spec, "template"), "spec"), "activeDeadlineSeconds") != nullptr)
    errs.forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in StatefulSet is not Supported");
  if (op == Operation::kUpdate && old != nullptr) {
    Json a = spec, b = objectOf(*old, "spec");
    for (const char* k : {"replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                          "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}) {
      a.erase(k);
      b.erase(k);
    }
    if (!jsonEqual(a, b))
      errs.forbidden("spec",
                     "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                     "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                     "'minReadySeconds' are forbidden");
  }
}

void validateDaemonSet(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    validateStatus(o, {"currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
                       "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
                       "collisionCount"},
                   errs);
    return;
  }
  const Json& spec = objectOf(o, "spec");
  validateSelectorAndTemplate(spec, "daemonset", true, PodSpecOptions{}, errs);
  if (const Json* ads = get(objectOf(objectOf(spec, "template"), "spec"), "activeDeadlineSeconds"))
    errs.invalid("spec.template.spec.activeDeadlineSeconds", *ads, "activeDeadlineSeconds in DaemonSet is not Supported");
  nonNegative(spec, "minReadySeconds", "spec.minReadySeconds", errs);
  nonNegative(spec, "templateGeneration", "spec.templateGeneration", errs);
  const Json& strategy = objectOf(spec, "updateStrategy");
  std::string type = str(strategy, "type");
  if (type == "RollingUpdate") {
    const Json* ru = getObject(strategy, "rollingUpdate");
    if (ru == nullptr) {
      errs.required("spec.updateStrategy.rollingUpdate");
    } else {
      const Json& mu = memberOrNull(*ru, "maxUnavailable");
      const Json& ms = memberOrNull(*ru, "maxSurge");
      std::string p = "spec.updateStrategy.rollingUpdate";
      validatePositiveIntOrPercent(mu, child(p, "maxUnavailable"), errs);
      validatePositiveIntOrPercent(ms, child(p, "maxSurge"), errs);
      validateNotMoreThan100Percent(mu, child(p, "maxUnavailable"), errs);
      validateNotMoreThan100Percent(ms, child(p, "maxSurge"), errs);
      bool hasUnavailable = intOrPercent(mu).value_or(0) != 0;
      bool hasSurge = intOrPercent(ms).value_or(0) != 0;
      if (hasUnavailable && hasSurge) {
        errs.invalid(child(p, "maxSurge"), ms, "may not be set when maxUnavailable is non-zero");
      } else if (!hasUnavailable && !hasSurge) {
        errs.required(child(p, "maxUnavailable"), "cannot be 0 when maxSurge is 0");
      }
    }
  } else if (type != "OnDelete") {
    errs.notSupported("spec.updateStrategy", strategy, {"RollingUpdate", "OnDelete"});
  }
  nonNegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit", errs);
  if (op == Operation::kUpdate) validateSelectorImmutable(o, old, errs);
}

void validateControllerRevision(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  if (get(o, "data") == nullptr) errs.required("data", "data is mandatory");
  nonNegative(o, "revision", "revision", errs);
  if (op == Operation::kUpdate && old != nullptr) immutableField(o, *old, "data", "data", errs);
}

}  // namespace nave::validation::detail
