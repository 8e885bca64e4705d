#include "server/registry/conversions.h"

namespace nave::registry {
namespace {

// Copies src[from] to dst[to] when present.
void move(const Json& src, std::string_view from, Json& dst, std::string_view to) {
  if (const Json* v = findMember(src, from); v != nullptr && !v->is_null()) dst[std::string(to)] = *v;
}

constexpr const char* kHpaMetricsAnnotation = "autoscaling.alpha.kubernetes.io/metrics";
constexpr const char* kHpaCurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics";
constexpr const char* kHpaConditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions";
constexpr const char* kHpaBehaviorAnnotation = "autoscaling.alpha.kubernetes.io/behavior";

bool isCpuUtilization(const Json& metric) {
  return getString(metric, "type") == "Resource" && metric.contains("resource") &&
         getString(metric["resource"], "name") == "cpu" && metric["resource"].contains("target") &&
         getString(metric["resource"]["target"], "type") == "Utilization";
}

}  // namespace

Json coreEventFromEventsV1(const Json& e) {
  Json out = Json::object();
  out["apiVersion"] = "v1";
  out["kind"] = "Event";
  move(e, "metadata", out, "metadata");
  move(e, "regarding", out, "involvedObject");
  move(e, "related", out, "related");
  move(e, "note", out, "message");
  move(e, "reason", out, "reason");
  move(e, "type", out, "type");
  move(e, "eventTime", out, "eventTime");
  move(e, "action", out, "action");
  move(e, "reportingController", out, "reportingComponent");
  move(e, "reportingInstance", out, "reportingInstance");
  move(e, "deprecatedSource", out, "source");
  move(e, "deprecatedFirstTimestamp", out, "firstTimestamp");
  move(e, "deprecatedLastTimestamp", out, "lastTimestamp");
  move(e, "deprecatedCount", out, "count");
  move(e, "series", out, "series");
  if (!out.contains("involvedObject")) out["involvedObject"] = Json::object();
  return out;
}

Json eventsV1FromCoreEvent(const Json& e) {
  Json out = Json::object();
  out["apiVersion"] = "events.k8s.io/v1";
  out["kind"] = "Event";
  move(e, "metadata", out, "metadata");
  move(e, "involvedObject", out, "regarding");
  move(e, "related", out, "related");
  move(e, "message", out, "note");
  move(e, "reason", out, "reason");
  move(e, "type", out, "type");
  move(e, "eventTime", out, "eventTime");
  move(e, "action", out, "action");
  move(e, "reportingComponent", out, "reportingController");
  move(e, "reportingInstance", out, "reportingInstance");
  move(e, "source", out, "deprecatedSource");
  move(e, "firstTimestamp", out, "deprecatedFirstTimestamp");
  move(e, "lastTimestamp", out, "deprecatedLastTimestamp");
  move(e, "count", out, "deprecatedCount");
  move(e, "series", out, "series");
  // events.k8s.io requires eventTime; core events written by old clients lack it.
  if (!out.contains("eventTime")) out["eventTime"] = nullptr;
  return out;
}

Json hpaV2FromV1(const Json& h) {
  Json out = Json::object();
  out["apiVersion"] = "autoscaling/v2";
  out["kind"] = "HorizontalPodAutoscaler";
  Json meta = h.value("metadata", Json::object());
  Json annotations = meta.value("annotations", Json::object());
  Json spec = Json::object();
  const Json& in = h.value("spec", Json::object());
  move(in, "scaleTargetRef", spec, "scaleTargetRef");
  move(in, "minReplicas", spec, "minReplicas");
  move(in, "maxReplicas", spec, "maxReplicas");
  Json metrics = Json::array();
  if (annotations.is_object() && annotations.contains(kHpaMetricsAnnotation)) {
    if (auto parsed = parseJson(annotations[kHpaMetricsAnnotation].get<std::string>());
        parsed.ok() && parsed->value.is_array())
      metrics = parsed->value;
    annotations.erase(kHpaMetricsAnnotation);
  }
  if (const Json* cpu = findMember(in, "targetCPUUtilizationPercentage"); cpu && cpu->is_number()) {
    metrics.insert(metrics.begin(),
                   Json{{"type", "Resource"},
                        {"resource", {{"name", "cpu"},
                                      {"target", {{"type", "Utilization"},
                                                  {"averageUtilization", *cpu}}}}}});
  }
  if (!metrics.empty()) spec["metrics"] = metrics;
  if (annotations.is_object() && annotations.contains(kHpaBehaviorAnnotation)) {
    if (auto parsed = parseJson(annotations[kHpaBehaviorAnnotation].get<std::string>()); parsed.ok())
      spec["behavior"] = parsed->value;
    annotations.erase(kHpaBehaviorAnnotation);
  }
  out["spec"] = spec;
  Json status = Json::object();
  const Json& st = h.value("status", Json::object());
  move(st, "observedGeneration", status, "observedGeneration");
  move(st, "lastScaleTime", status, "lastScaleTime");
  move(st, "currentReplicas", status, "currentReplicas");
  move(st, "desiredReplicas", status, "desiredReplicas");
  Json current = Json::array();
  if (annotations.is_object() && annotations.contains(kHpaCurrentMetricsAnnotation)) {
    if (auto parsed = parseJson(annotations[kHpaCurrentMetricsAnnotation].get<std::string>());
        parsed.ok() && parsed->value.is_array())
      current = parsed->value;
    annotations.erase(kHpaCurrentMetricsAnnotation);
  }
  if (const Json* cpu = findMember(st, "currentCPUUtilizationPercentage"); cpu && cpu->is_number()) {
    current.insert(current.begin(),
                   Json{{"type", "Resource"},
                        {"resource", {{"name", "cpu"},
                                      {"current", {{"averageUtilization", *cpu}}}}}});
  }
  if (!current.empty()) status["currentMetrics"] = current;
  if (annotations.is_object() && annotations.contains(kHpaConditionsAnnotation)) {
    if (auto parsed = parseJson(annotations[kHpaConditionsAnnotation].get<std::string>()); parsed.ok())
      status["conditions"] = parsed->value;
    annotations.erase(kHpaConditionsAnnotation);
  }
  out["status"] = status;
  if (annotations.is_object() && annotations.empty()) meta.erase("annotations");
  else meta["annotations"] = annotations;
  out["metadata"] = meta;
  return out;
}

Json hpaV1FromV2(const Json& h) {
  Json out = Json::object();
  out["apiVersion"] = "autoscaling/v1";
  out["kind"] = "HorizontalPodAutoscaler";
  Json meta = h.value("metadata", Json::object());
  Json annotations = meta.value("annotations", Json::object());
  if (!annotations.is_object()) annotations = Json::object();
  Json spec = Json::object();
  const Json& in = h.value("spec", Json::object());
  move(in, "scaleTargetRef", spec, "scaleTargetRef");
  move(in, "minReplicas", spec, "minReplicas");
  move(in, "maxReplicas", spec, "maxReplicas");
  Json others = Json::array();
  if (const Json* metrics = findMember(in, "metrics"); metrics && metrics->is_array()) {
    for (const Json& m : *metrics) {
      if (isCpuUtilization(m) && !spec.contains("targetCPUUtilizationPercentage") &&
          m["resource"]["target"].contains("averageUtilization")) {
        spec["targetCPUUtilizationPercentage"] = m["resource"]["target"]["averageUtilization"];
      } else {
        others.push_back(m);
      }
    }
  }
  if (!others.empty()) annotations[kHpaMetricsAnnotation] = dumpJson(others);
  if (const Json* b = findMember(in, "behavior"); b && !b->is_null())
    annotations[kHpaBehaviorAnnotation] = dumpJson(*b);
  out["spec"] = spec;
  Json status = Json::object();
  const Json& st = h.value("status", Json::object());
  move(st, "observedGeneration", status, "observedGeneration");
  move(st, "lastScaleTime", status, "lastScaleTime");
  move(st, "currentReplicas", status, "currentReplicas");
  move(st, "desiredReplicas", status, "desiredReplicas");
  Json otherCurrent = Json::array();
  if (const Json* cm = findMember(st, "currentMetrics"); cm && cm->is_array()) {
    for (const Json& m : *cm) {
      bool cpu = getString(m, "type") == "Resource" && m.contains("resource") &&
                 getString(m["resource"], "name") == "cpu" &&
                 m["resource"].contains("current") &&
                 m["resource"]["current"].contains("averageUtilization");
      if (cpu && !status.contains("currentCPUUtilizationPercentage"))
        status["currentCPUUtilizationPercentage"] = m["resource"]["current"]["averageUtilization"];
      else otherCurrent.push_back(m);
    }
  }
  if (!otherCurrent.empty()) annotations[kHpaCurrentMetricsAnnotation] = dumpJson(otherCurrent);
  if (const Json* c = findMember(st, "conditions"); c && c->is_array() && !c->empty())
    annotations[kHpaConditionsAnnotation] = dumpJson(*c);
  out["status"] = status;
  if (annotations.empty()) meta.erase("annotations");
  else meta["annotations"] = annotations;
  out["metadata"] = meta;
  return out;
}

void attachConversions(ResourceType& t) {
  if (t.group == "events.k8s.io" && t.kind == "Event") {
    t.storageGroup = "";
    t.storagePlural = "events";
    t.storageVersion = "v1";
    t.toStorage = coreEventFromEventsV1;
    t.fromStorage = eventsV1FromCoreEvent;
  } else if (t.group == "autoscaling" && t.version == "v1") {
    t.storageVersion = "v2";
    t.toStorage = hpaV2FromV1;
    t.fromStorage = hpaV1FromV2;
  }
}

}  // namespace nave::registry
