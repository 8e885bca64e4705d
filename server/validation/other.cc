// The smaller groups: coordination.k8s.io Lease, discovery.k8s.io EndpointSlice, events.k8s.io
// Event, storage.k8s.io StorageClass, policy PodDisruptionBudget, scheduling.k8s.io
// PriorityClass and autoscaling/v2 HorizontalPodAutoscaler.
#include <algorithm>
#include <set>

#include "common/strings.h"
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

void validateCrossVersionReference(const Json& ref, const std::string& path, FieldErrors& errs) {
  for (std::string_view k : {"kind", "name"}) {
    std::string v = str(ref, k);
    if (v.empty()) {
      errs.required(child(path, k));
    } else {
      invalidEach(errs, child(path, k), v, nameIsPathSegment(v, false));
    }
  }
}

void validateMetricTarget(const Json& target, const std::string& path, FieldErrors& errs) {
  std::string type = str(target, "type");
  if (type.empty()) errs.required(child(path, "type"), "must specify a metric target type");
  if (type != "Utilization" && type != "Value" && type != "AverageValue")
    errs.invalid(child(path, "type"), type, "must be either Utilization, Value, or AverageValue");
  for (std::string_view k : {"value", "averageValue"}) {
    if (const Json* v = get(target, k)) {
      std::optional<Quantity> q = parseQuantity(*v);
      if (!q || q->nanos <= 0) errs.invalid(child(path, k), *v, "must be positive");
    }
  }
  if (std::optional<int64_t> u = optInt(target, "averageUtilization"); u && *u < 1)
    errs.invalid(child(path, "averageUtilization"), *u, "must be greater than 0");
}

void validateMetricSource(std::string_view kind, const Json& src, const std::string& path, FieldErrors& errs) {
  const Json& target = objectOf(src, "target");
  std::string tp = child(path, "target");
  if (kind == "resource" || kind == "containerResource") {
    if (str(src, "name").empty()) errs.required(child(path, "name"), "must specify a resource name");
    if (kind == "containerResource" && str(src, "container").empty())
      errs.required(child(path, "container"), "must specify a container");
    validateMetricTarget(target, tp, errs);
    bool util = get(target, "averageUtilization") != nullptr;
    bool avg = get(target, "averageValue") != nullptr;
    if (!util && !avg)
      errs.required(child(tp, "averageUtilization"), "must set either a target raw value or a target utilization");
    if (util && avg)
      errs.forbidden(child(tp, "averageValue"), "may not set both a target raw value and a target utilization");
    return;
  }
  std::string metricName = str(objectOf(src, "metric"), "name");
  if (metricName.empty()) errs.required(child(child(path, "metric"), "name"), "must specify a metric name");
  validateMetricTarget(target, tp, errs);
  if (kind == "pods") {
    if (get(target, "averageValue") == nullptr)
      errs.required(child(tp, "averageValue"), "must specify a positive target averageValue");
  } else {
    if (kind == "object") validateCrossVersionReference(objectOf(src, "describedObject"), child(path, "describedObject"), errs);
    if (get(target, "value") == nullptr && get(target, "averageValue") == nullptr)
      errs.required(child(tp, "averageValue"), "must set either a target value or averageValue");
  }
}

void validateScalingRules(const Json& rules, const std::string& path, FieldErrors& errs) {
  if (std::optional<int64_t> w = optInt(rules, "stabilizationWindowSeconds")) {
    if (*w < 0) errs.invalid(child(path, "stabilizationWindowSeconds"), *w, "must be greater than or equal to zero");
    if (*w > 3600) errs.invalid(child(path, "stabilizationWindowSeconds"), *w, "must be less than or equal to 3600");
  }
  if (const Json* sp = get(rules, "selectPolicy"); sp != nullptr && *sp != "Max" && *sp != "Min" && *sp != "Disabled")
    errs.notSupported(child(path, "selectPolicy"), *sp, {"Disabled", "Max", "Min"});
  const Json& policies = arrayOf(rules, "policies");
  if (policies.empty()) errs.required(child(path, "policies"), "must specify at least one Policy");
  for (size_t i = 0; i < policies.size(); ++i) {
    std::string p = index(child(path, "policies"), i);
    std::string type = str(policies[i], "type");
    if (type != "Pods" && type != "Percent") errs.notSupported(child(p, "type"), type, {"Percent", "Pods"});
    int64_t value = optInt(policies[i], "value").value_or(0);
    if (value <= 0) errs.invalid(child(p, "value"), value, "must be greater than zero");
    int64_t period = optInt(policies[i], "periodSeconds").value_or(0);
    if (period <= 0) errs.invalid(child(p, "periodSeconds"), period, "must be greater than zero");
    if (period > 1800) errs.invalid(child(p, "periodSeconds"), period, "must be less than or equal to 1800");
  }
}

// Fills the scaling rules' unset fields from Kubernetes' defaults.
void defaultScalingRules(Json& behavior, std::string_view key, const Json& defaults) {
  Json* rules = mutObject(behavior, key);
  if (rules == nullptr) {
    if (behavior.is_object()) behavior[std::string(key)] = defaults;
    return;
  }
  for (auto it = defaults.begin(); it != defaults.end(); ++it)
    if (get(*rules, it.key()) == nullptr) (*rules)[it.key()] = *it;
}

}  // namespace

// ---- coordination.k8s.io -----------------------------------------------------------------

void validateLease(const Json& o, const Json*, Operation, FieldErrors& errs) {
  const Json& spec = objectOf(o, "spec");
  if (std::optional<int64_t> d = optInt(spec, "leaseDurationSeconds"); d && *d <= 0)
    errs.invalid("spec.leaseDurationSeconds", *d, "must be greater than 0");
  if (std::optional<int64_t> t = optInt(spec, "leaseTransitions"); t && *t < 0)
    errs.invalid("spec.leaseTransitions", *t, std::string(kNegative));
}

// ---- discovery.k8s.io ------------------------------------------------------------------------

void defaultEndpointSlice(Json& o) {
  if (Json* ports = mutArray(o, "ports")) {
    for (Json& p : *ports) {
      defaultIfAbsent(p, "name", "");
      defaultIfAbsent(p, "protocol", "TCP");
    }
  }
}

void validateEndpointSlice(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  std::string type = str(o, "addressType");
  if (type.empty()) {
    errs.required("addressType");
  } else if (type != "IPv4" && type != "IPv6" && type != "FQDN") {
    errs.notSupported("addressType", type, {"FQDN", "IPv4", "IPv6"});
  }
  const Json& endpoints = arrayOf(o, "endpoints");
  if (endpoints.size() > 1000) errs.tooMany("endpoints", endpoints.size(), 1000);
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const Json& ep = endpoints[i];
    std::string p = index("endpoints", i);
    std::string ap = child(p, "addresses");
    const Json& addresses = arrayOf(ep, "addresses");
    if (addresses.empty()) {
      errs.required(ap, "must contain at least 1 address");
    } else if (addresses.size() > 100) {
      errs.tooMany(ap, addresses.size(), 100);
    }
    for (size_t j = 0; j < addresses.size(); ++j) {
      std::string s = addresses[j].is_string() ? addresses[j].get<std::string>() : "";
      bool v6 = false;
      bool ip = parseIp(s, v6);
      if (type == "IPv4" && (!ip || v6)) {
        errs.invalid(index(ap, j), addresses[j], "must be a valid IPv4 address");
      } else if (type == "IPv6" && (!ip || !v6)) {
        errs.invalid(index(ap, j), addresses[j], "must be a valid IPv6 address");
      } else if (type == "FQDN") {
        std::string name = s;
        if (!name.empty() && name.back() == '.') name.pop_back();
        if (name.empty()) {
          errs.required(index(ap, j));
        } else if (!isDns1123Subdomain(name).empty()) {
          invalidEach(errs, index(ap, j), name, {join(isDns1123Subdomain(name), ",")});
        } else if (name.find('.') == std::string::npos) {
          errs.invalid(index(ap, j), name, "should be a domain with at least two segments separated by dots");
        }
      }
    }
    if (const Json* node = get(ep, "nodeName"); node != nullptr && node->is_string())
      invalidEach(errs, child(p, "nodeName"), *node, isDns1123Subdomain(node->get<std::string>()));
    validateLabels(memberOrNull(ep, "deprecatedTopology"), child(p, "deprecatedTopology"), errs);
    if (const Json* h = get(ep, "hostname"); h != nullptr && h->is_string())
      invalidEach(errs, child(p, "hostname"), *h, isDns1123Label(h->get<std::string>()));
  }
  const Json& ports = arrayOf(o, "ports");
  std::set<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string p = index("ports", i);
    std::string name = str(ports[i], "name");
    if (!name.empty()) invalidEach(errs, child(p, "name"), name, isDns1123Label(name));
    if (!names.insert(name).second) errs.duplicate(child(p, "name"), name);
    const Json* protocol = get(ports[i], "protocol");
    if (protocol == nullptr) {
      errs.required(child(p, "protocol"));
    } else if (*protocol != "TCP" && *protocol != "UDP" && *protocol != "SCTP") {
      errs.notSupported(child(p, "protocol"), *protocol, {"SCTP", "TCP", "UDP"});
    }
    if (const Json* app = get(ports[i], "appProtocol")) validateQualifiedName(*app, child(p, "appProtocol"), errs);
  }
  if (op == Operation::kUpdate && old != nullptr && str(*old, "addressType") != type)
    errs.invalid("addressType", type, std::string(kImmutable));
}

// ---- events.k8s.io ---------------------------------------------------------------------------

void validateEventsEvent(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kUpdate && old != nullptr) {
    for (std::string_view k : {"regarding", "reason", "note", "deprecatedSource", "deprecatedFirstTimestamp", "action",
                               "related", "reportingController", "reportingInstance", "type"})
      immutableField(o, *old, k, std::string(k), errs);
    return;
  }
  if (const Json* series = getObject(o, "series")) {
    if (optInt(*series, "count").value_or(0) < 2) errs.invalid("series.count", "", "should be at least 2");
    if (!isSet(*series, "lastObservedTime")) errs.required("series.lastObservedTime");
  }
  if (!isSet(o, "eventTime")) errs.required("eventTime");
  std::string type = str(o, "type");
  if (type != "Normal" && type != "Warning") errs.invalid("type", "", "has invalid value: " + type);
  if (isSet(o, "deprecatedFirstTimestamp")) errs.invalid("deprecatedFirstTimestamp", "", "needs to be unset");
  if (isSet(o, "deprecatedLastTimestamp")) errs.invalid("deprecatedLastTimestamp", "", "needs to be unset");
  if (optInt(o, "deprecatedCount").value_or(0) != 0) errs.invalid("deprecatedCount", "", "needs to be unset");
  const Json& source = objectOf(o, "deprecatedSource");
  if (!str(source, "component").empty() || !str(source, "host").empty())
    errs.invalid("deprecatedSource", "", "needs to be unset");
  std::string ns = str(objectOf(o, "metadata"), "namespace");
  if (str(objectOf(o, "regarding"), "namespace").empty() && ns != "default" && ns != "kube-system")
    errs.invalid("involvedObject.namespace", "", "does not match event.namespace");
  std::string controller = str(o, "reportingController");
  if (controller.empty()) errs.required("reportingController");
  invalidEach(errs, "reportingController", controller, isQualifiedName(controller));
  std::string instance = str(o, "reportingInstance");
  if (instance.empty()) errs.required("reportingInstance");
  if (instance.size() > 128) errs.invalid("reportingInstance", "", "can have at most 128 characters");
  std::string action = str(o, "action");
  if (action.empty()) errs.required("action");
  if (action.size() > 128) errs.invalid("action", "", "can have at most 128 characters");
  std::string reason = str(o, "reason");
  if (reason.empty()) errs.required("reason");
  if (reason.size() > 128) errs.invalid("reason", "", "can have at most 128 characters");
  if (str(o, "note").size() > 1024) errs.invalid("note", "", "can have at most 1024 characters");
}

// ---- storage.k8s.io ------------------------------------------------------------------------

void defaultStorageClass(Json& o) {
  defaultIfAbsent(o, "reclaimPolicy", "Delete");
  defaultIfAbsent(o, "volumeBindingMode", "Immediate");
}

void validateStorageClass(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  std::string provisioner = str(o, "provisioner");
  if (provisioner.empty()) {
    errs.required("provisioner");
  } else {
    std::string lower = toLower(provisioner);
    invalidEach(errs, "provisioner", lower, isQualifiedName(lower));
  }
  const Json& params = objectOf(o, "parameters");
  if (params.size() > 512) {
    errs.tooLong("parameters", "Provisioner Parameters exceeded max allowed", 512);
  } else {
    size_t total = 0;
    for (auto it = params.begin(); it != params.end(); ++it) {
      if (it.key().empty()) errs.invalid("parameters", it.key(), "field can not be empty.");
      total += it.key().size() + (it->is_string() ? it->get_ref<const std::string&>().size() : 0);
    }
    if (total > 256 * 1024) errs.tooLong("parameters", "", 256 * 1024);
  }
  if (const Json* rp = get(o, "reclaimPolicy"); rp != nullptr && *rp != "Delete" && *rp != "Retain")
    errs.notSupported("reclaimPolicy", *rp, {"Delete", "Retain"});
  const Json* mode = get(o, "volumeBindingMode");
  if (mode == nullptr) {
    errs.required("volumeBindingMode");
  } else if (*mode != "Immediate" && *mode != "WaitForFirstConsumer") {
    errs.notSupported("volumeBindingMode", *mode, {"Immediate", "WaitForFirstConsumer"});
  }
  const Json& topologies = arrayOf(o, "allowedTopologies");
  for (size_t i = 0; i < topologies.size(); ++i) {
    const Json& exprs = arrayOf(topologies[i], "matchLabelExpressions");
    std::string p = child(index("allowedTopologies", i), "matchLabelExpressions");
    std::set<std::string> keys;
    for (size_t j = 0; j < exprs.size(); ++j) {
      std::string ep = index(p, j);
      if (arrayOf(exprs[j], "values").empty()) errs.required(child(ep, "values"));
      validateLabelName(str(exprs[j], "key"), child(ep, "key"), errs);
      if (!keys.insert(str(exprs[j], "key")).second) errs.duplicate(child(ep, "key"), str(exprs[j], "key"));
    }
  }
  if (op == Operation::kUpdate && old != nullptr) {
    if (!jsonEqual(memberOrNull(o, "parameters"), memberOrNull(*old, "parameters")))
      errs.forbidden("parameters", "updates to parameters are forbidden.");
    if (provisioner != str(*old, "provisioner")) errs.forbidden("provisioner", "updates to provisioner are forbidden.");
    if (str(o, "reclaimPolicy") != str(*old, "reclaimPolicy"))
      errs.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.");
    immutableField(o, *old, "volumeBindingMode", "volumeBindingMode", errs);
  }
}

// ---- policy ------------------------------------------------------------------------------

void validatePodDisruptionBudget(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    const Json& status = objectOf(o, "status");
    for (std::string_view k : {"disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"})
      nonNegative(status, k, child("status", k), errs);
    return;
  }
  const Json& spec = objectOf(o, "spec");
  const Json* minAvailable = get(spec, "minAvailable");
  const Json* maxUnavailable = get(spec, "maxUnavailable");
  if (minAvailable != nullptr && maxUnavailable != nullptr)
    errs.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set");
  if (minAvailable != nullptr) {
    validatePositiveIntOrPercent(*minAvailable, "spec.minAvailable", errs);
    validateNotMoreThan100Percent(*minAvailable, "spec.minAvailable", errs);
  }
  if (maxUnavailable != nullptr) {
    validatePositiveIntOrPercent(*maxUnavailable, "spec.maxUnavailable", errs);
    validateNotMoreThan100Percent(*maxUnavailable, "spec.maxUnavailable", errs);
  }
  validateLabelSelector(memberOrNull(spec, "selector"), "spec.selector", errs);
  if (const Json* p = get(spec, "unhealthyPodEvictionPolicy"); p != nullptr && *p != "IfHealthyBudget" && *p != "AlwaysAllow")
    errs.notSupported("spec.unhealthyPodEvictionPolicy", *p, {"AlwaysAllow", "IfHealthyBudget"});
}

// ---- scheduling.k8s.io ---------------------------------------------------------------------

void defaultPriorityClass(Json& o) { defaultIfAbsent(o, "preemptionPolicy", "PreemptLowerPriority"); }

void validatePriorityClass(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  std::string name = str(objectOf(o, "metadata"), "name");
  int64_t value = optInt(o, "value").value_or(0);
  bool globalDefault = truthy(o, "globalDefault");
  if (name.rfind("system-", 0) == 0) {
    std::string err;
    if (name == "system-cluster-critical" || name == "system-node-critical") {
      int64_t expected = name == "system-cluster-critical" ? 2000000000 : 2000001000;
      if (value != expected) err = "value of " + name + " PriorityClass must be " + std::to_string(expected);
      else if (globalDefault) err = "globalDefault of " + name + " PriorityClass must be false";
    } else {
      err = name + " is not a known system priority class";
    }
    if (!err.empty())
      errs.forbidden("metadata.name",
                     "priority class names with 'system-' prefix are reserved for system use only. error: " + err);
  } else if (value > 1000000000) {
    errs.forbidden("value", "maximum allowed value of a user defined priority is 1000000000");
  }
  if (const Json* pp = get(o, "preemptionPolicy")) {
    if (*pp == "") errs.required("preemptionPolicy");
    else if (*pp != "PreemptLowerPriority" && *pp != "Never")
      errs.notSupported("preemptionPolicy", *pp, {"PreemptLowerPriority", "Never"});
  }
  if (op == Operation::kUpdate && old != nullptr) {
    if (value != optInt(*old, "value").value_or(0)) errs.forbidden("value", "may not be changed in an update.");
    immutableField(o, *old, "preemptionPolicy", "preemptionPolicy", errs);
  }
}

// ---- autoscaling/v2 --------------------------------------------------------------------------

void defaultHorizontalPodAutoscaler(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  defaultIfAbsent(*spec, "minReplicas", 1);
  if (arrayOf(*spec, "metrics").empty()) {
    (*spec)["metrics"] = Json::array(
        {{{"type", "Resource"},
          {"resource", {{"name", "cpu"}, {"target", {{"type", "Utilization"}, {"averageUtilization", 80}}}}}}});
  }
  if (Json* behavior = mutObject(*spec, "behavior")) {
    static const Json kScaleUp = {
        {"stabilizationWindowSeconds", 0},
        {"selectPolicy", "Max"},
        {"policies", Json::array({{{"type", "Pods"}, {"value", 4}, {"periodSeconds", 15}},
                                  {{"type", "Percent"}, {"value", 100}, {"periodSeconds", 15}}})}};
    static const Json kScaleDown = {
        {"selectPolicy", "Max"},
        {"policies", Json::array({{{"type", "Percent"}, {"value", 100}, {"periodSeconds", 15}}})}};
    defaultScalingRules(*behavior, "scaleUp", kScaleUp);
    defaultScalingRules(*behavior, "scaleDown", kScaleDown);
  }
}

void validateHorizontalPodAutoscaler(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    const Json& status = objectOf(o, "status");
    nonNegative(status, "currentReplicas", "status.currentReplicas", errs);
    nonNegative(status, "desiredReplicas", "status.desiredReplicas", errs);
    return;
  }
  const Json& spec = objectOf(o, "spec");
  std::optional<int64_t> minReplicas = optInt(spec, "minReplicas");
  int64_t maxReplicas = optInt(spec, "maxReplicas").value_or(0);
  if (minReplicas && *minReplicas < 1)
    errs.invalid("spec.minReplicas", *minReplicas, "must be greater than or equal to 1");
  if (maxReplicas < 1) errs.invalid("spec.maxReplicas", maxReplicas, "must be greater than 0");
  if (minReplicas && maxReplicas < *minReplicas)
    errs.invalid("spec.maxReplicas", maxReplicas, "must be greater than or equal to `minReplicas`");
  validateCrossVersionReference(objectOf(spec, "scaleTargetRef"), "spec.scaleTargetRef", errs);
  const Json& metrics = arrayOf(spec, "metrics");
  static const std::vector<std::string> kTypes = {"Object", "Pods", "Resource", "External", "ContainerResource"};
  static const std::pair<std::string_view, std::string_view> kSources[] = {
      {"Object", "object"}, {"Pods", "pods"}, {"Resource", "resource"}, {"External", "external"},
      {"ContainerResource", "containerResource"}};
  for (size_t i = 0; i < metrics.size(); ++i) {
    std::string p = index("spec.metrics", i);
    std::string type = str(metrics[i], "type");
    if (type.empty()) errs.required(child(p, "type"), "must specify a metric source type");
    std::string expected;
    for (const auto& [t, field] : kSources)
      if (t == type) expected = std::string(field);
    if (expected.empty()) errs.notSupported(child(p, "type"), type, kTypes);
    std::vector<std::string> present;
    for (const auto& [t, field] : kSources) {
      const Json* src = getObject(metrics[i], field);
      if (src == nullptr) continue;
      present.push_back(std::string(field));
      if (present.size() == 1) validateMetricSource(field, *src, child(p, field), errs);
    }
    if (!expected.empty() && getObject(metrics[i], expected) == nullptr)
      errs.required(child(p, expected), "must populate information for the given metric source");
    if (present.size() != 1) {
      std::sort(present.begin(), present.end());
      for (const std::string& f : present)
        if (f != expected) errs.forbidden(child(p, f), "must populate the given metric source only");
    }
  }
  if (const Json* behavior = getObject(spec, "behavior")) {
    for (std::string_view k : {"scaleUp", "scaleDown"})
      if (const Json* rules = getObject(*behavior, k)) validateScalingRules(*rules, child("spec.behavior", k), errs);
  }
}

}  // namespace nave::validation::detail
