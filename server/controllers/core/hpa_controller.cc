#include "server/controllers/core/hpa_controller.h"

#include "common/log.h"
#include "common/time.h"
#include "server/registry/type_registry.h"

namespace nave::controllers {
namespace {

const client::Resource kHpas{"autoscaling", "v2", "horizontalpodautoscalers"};
constexpr char kTargetIndex[] = "scaleTarget";
constexpr char kComponent[] = "horizontal-pod-autoscaler";

// "KIND/NAME" of an HPA's target, the key targets are found by.
std::string targetKey(const std::string& ns, const std::string& kind, const std::string& name) {
  return ns + "/" + kind + "/" + name;
}

// Sets condition `type` in `conditions`, keeping lastTransitionTime when the status is the same.
void setCondition(Json& conditions, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message) {
  for (Json& c : conditions) {
    if (getString(c, "type") != type) continue;
    if (getString(c, "status") != status) c["lastTransitionTime"] = formatRfc3339(std::chrono::system_clock::now());
    c["status"] = status;
    c["reason"] = reason;
    c["message"] = message;
    return;
  }
  conditions.push_back({{"type", type}, {"status", status}, {"reason", reason}, {"message", message},
                        {"lastTransitionTime", formatRfc3339(std::chrono::system_clock::now())}});
}

// Why a metric cannot be had: Kubernetes' messages when the metrics APIs are absent.
std::string metricError(const Json& metric) {
  std::string type = getString(metric, "type");
  if (type == "Resource" || type == "ContainerResource") {
    const Json& spec = objectMember(metric, type == "Resource" ? "resource" : "containerResource");
    std::string name = getString(spec, "name");
    return "failed to get " + name + " utilization: unable to get metrics for resource " + name +
           ": no metrics returned from resource metrics API";
  }
  return "unable to get metric of type " + type + ": no custom or external metrics API is served";
}

}  // namespace

HorizontalPodAutoscalerController::HorizontalPodAutoscalerController(ControllerContext& ctx)
    : ctx_(ctx), hpas_(ctx.informers.informer(kHpas)),
      queue_(std::chrono::milliseconds(500), std::chrono::minutes(5)) {
  hpas_.addIndex(kTargetIndex, [](const Json& hpa) {
    const Json& ref = objectMember(objectMember(hpa, "spec"), "scaleTargetRef");
    return std::vector<std::string>{targetKey(getString(hpa["metadata"], "namespace"),
                                              getString(ref, "kind"), getString(ref, "name"))};
  });
  hpas_.addHandler([this](const std::string& key) { queue_.add(key); });
  // The usual targets: a change to one looks at its HPAs again.
  for (auto [resource, kind] : std::initializer_list<std::pair<client::Resource, const char*>>{
           {{"apps", "v1", "deployments"}, "Deployment"},
           {{"apps", "v1", "replicasets"}, "ReplicaSet"},
           {{"apps", "v1", "statefulsets"}, "StatefulSet"}}) {
    std::string k = kind;
    ctx.informers.informer(resource).addObjectHandler([this, k](const Json* before, const Json* after) {
      const Json& o = after ? *after : *before;
      const Json& md = o["metadata"];
      for (const std::string& key :
           hpas_.keysByIndex(kTargetIndex, targetKey(getString(md, "namespace"), k, getString(md, "name"))))
        queue_.add(key);
    });
  }
}

void HorizontalPodAutoscalerController::start() {
  workers_.start(queue_, 1, "horizontalpodautoscaler", [this](const std::string& key) { return reconcile(key); });
}

Result<Reconciled> HorizontalPodAutoscalerController::reconcile(const std::string& key) {
  auto found = hpas_.get(key);
  if (!found) return Reconciled{};
  Json hpa = *found;
  const Json& md = hpa["metadata"];
  std::string ns = getString(md, "namespace");
  const Json& spec = objectMember(hpa, "spec");
  const Json& ref = objectMember(spec, "scaleTargetRef");
  std::string apiVersion = getString(ref, "apiVersion"), kind = getString(ref, "kind"), name = getString(ref, "name");
  Json status = hpa.value("status", Json::object());
  Json conditions = status.value("conditions", Json::array());
  auto finish = [&](Json newStatus) -> Result<Reconciled> {
    newStatus["conditions"] = conditions;
    if (newStatus == hpa.value("status", Json::object())) return Reconciled{};
    hpa["status"] = newStatus;
    auto r = ctx_.client.update(kHpas, ns, hpa, {}, "status");
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
    return Reconciled{};
  };

  // The target's scale subresource.
  std::string group = apiVersion.find('/') == std::string::npos ? "" : apiVersion.substr(0, apiVersion.find('/'));
  std::string version = apiVersion.substr(apiVersion.find('/') == std::string::npos ? 0 : apiVersion.find('/') + 1);
  auto type = ctx_.types.findKind(group, version, kind);
  Result<Json> scale = Error(ErrorCode::kNotFound, "the server could not find the requested resource");
  if (type && type->scale) scale = ctx_.client.get({type->group, type->version, type->plural}, ns, name, "scale");
  if (!scale.ok()) {
    std::string message = "the HPA controller was unable to get the target's current scale: " +
                          (type && type->scale ? scale.error().message()
                                               : "no matches for kind \"" + kind + "\" in group \"" + group + "\"");
    setCondition(conditions, "AbleToScale", "False", "FailedGetScale", message);
    ctx_.events.eventAs(kComponent, hpa, "Warning", "FailedGetScale", message);
    return finish(status);
  }
  int64_t current = getInt(objectMember(*scale, "spec"), "replicas");
  int64_t minReplicas = getInt(spec, "minReplicas", 1), maxReplicas = getInt(spec, "maxReplicas", 1);
  status["currentReplicas"] = getInt(objectMember(*scale, "status"), "replicas");
  setCondition(conditions, "AbleToScale", "True", "SucceededGetScale",
               "the HPA controller was able to get the target's current scale");

  int64_t desired = current;
  std::string rescaleReason;
  if (current == 0 && minReplicas != 0) {
    setCondition(conditions, "ScalingActive", "False", "ScalingDisabled",
                 "scaling is disabled since the replica count of the target is zero");
    status["desiredReplicas"] = 0;
    return finish(status);
  }
  if (current > maxReplicas) {
    desired = maxReplicas;
    rescaleReason = "Current number of replicas above Spec.MaxReplicas";
  } else if (current < minReplicas) {
    desired = minReplicas;
    rescaleReason = "Current number of replicas below Spec.MinReplicas";
  } else {
    // Metrics: none can be had yet.
    Json metrics = spec.value("metrics", Json::array());
    if (metrics.empty())  // autoscaling/v2 defaults to 80% CPU
      metrics.push_back({{"type", "Resource"},
                         {"resource", {{"name", "cpu"}, {"target", {{"type", "Utilization"}, {"averageUtilization", 80}}}}}});
    std::string first = metricError(metrics[0]);
    std::string reason = getString(metrics[0], "type") == "Resource" ? "FailedGetResourceMetric" : "FailedGetExternalMetric";
    setCondition(conditions, "ScalingActive", "False", reason, "the HPA was unable to compute the replica count: " + first);
    ctx_.events.eventAs(kComponent, hpa, "Warning", reason, first);
    ctx_.events.eventAs(kComponent, hpa, "Warning", "FailedComputeMetricsReplicas",
                        "invalid metrics (" + std::to_string(metrics.size()) + " invalid out of " +
                            std::to_string(metrics.size()) + "), first error is: failed to get " +
                            (getString(metrics[0], "type") == "Resource"
                                 ? getString(objectMember(metrics[0], "resource"), "name") + " resource metric value: "
                                 : "metric value: ") +
                            first);
    status["desiredReplicas"] = current;
    status["currentMetrics"] = Json::array();
    return finish(status);
  }
  if (desired > current)
    setCondition(conditions, "ScalingLimited", "True", "TooFewReplicas",
                 "the desired replica count is less than the minimum replica count");
  else
    setCondition(conditions, "ScalingLimited", "True", "TooManyReplicas",
                 "the desired replica count is more than the maximum replica count");
  Json patch = {{"spec", {{"replicas", desired}}}};
  auto r = ctx_.client.patch({type->group, type->version, type->plural}, ns, name, api::PatchType::kMerge,
                             dumpJson(patch), {}, "scale");
  if (!r.ok()) return std::move(r).error();
  ctx_.events.eventAs(kComponent, hpa, "Normal", "SuccessfulRescale",
                      "New size: " + std::to_string(desired) + "; reason: " + rescaleReason);
  status["desiredReplicas"] = desired;
  status["lastScaleTime"] = formatRfc3339(std::chrono::system_clock::now());
  return finish(status);
}

}  // namespace nave::controllers
