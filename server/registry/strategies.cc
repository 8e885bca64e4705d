#include "server/registry/strategies.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/time.h"

namespace nave::registry {
namespace {

void forEachContainer(const Json& pod, const std::function<void(const Json&)>& fn) {
  const Json* spec = findMember(pod, "spec");
  if (spec == nullptr) return;
  for (const char* list : {"initContainers", "containers"}) {
    const Json* cs = findMember(*spec, list);
    if (cs == nullptr || !cs->is_array()) continue;
    for (const Json& c : *cs) fn(c);
  }
}

// Resource names whose requests/limits count for QoS.
bool qosResource(const std::string& name) { return name == "cpu" || name == "memory"; }

bool isZeroQuantity(const Json& q) {
  if (q.is_number()) return q.get<double>() == 0;
  if (!q.is_string()) return true;
  std::string s = q.get<std::string>();
  for (char c : s)
    if (c >= '1' && c <= '9') return false;
  return true;
}

}  // namespace

std::string podQosClass(const Json& pod) {
  std::map<std::string, Json> requests, limits;
  bool anyRequestOrLimit = false;
  bool guaranteed = true;
  forEachContainer(pod, [&](const Json& c) {
    const Json* res = findMember(c, "resources");
    std::set<std::string> limitNames;
    if (res != nullptr) {
      if (const Json* r = findMember(*res, "requests"); r && r->is_object())
        for (auto& [k, v] : r->items())
          if (qosResource(k) && !isZeroQuantity(v)) {
            anyRequestOrLimit = true;
            requests[k] = v;
          }
      if (const Json* l = findMember(*res, "limits"); l && l->is_object())
        for (auto& [k, v] : l->items())
          if (qosResource(k) && !isZeroQuantity(v)) {
            anyRequestOrLimit = true;
            limitNames.insert(k);
            limits[k] = v;
          }
    }
    if (limitNames.size() != 2) guaranteed = false;
    // Requests (defaulted from limits) must equal limits for Guaranteed.
    if (res != nullptr) {
      const Json* r = findMember(*res, "requests");
      const Json* l = findMember(*res, "limits");
      if (r && r->is_object() && l && l->is_object()) {
        for (auto& [k, v] : r->items())
          if (qosResource(k) && l->contains(k) && (*l)[k] != v) guaranteed = false;
      }
    }
  });
  if (!anyRequestOrLimit) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

// The DefaultTolerationSeconds admission plugin: a pod that does not tolerate the
// node.kubernetes.io/not-ready and unreachable NoExecute taints already tolerates them for
// 300 s, so that it is evicted five minutes after its node stopped responding.
static void addDefaultTolerations(Json& pod) {
  Json& spec = pod["spec"];
  if (!spec.is_object()) return;
  Json& tolerations = spec["tolerations"];
  if (!tolerations.is_array()) tolerations = Json::array();
  for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
    bool tolerated = false;
    for (const Json& t : tolerations) {
      std::string effect = getString(t, "effect");
      std::string k = getString(t, "key");
      bool keyMatches = k == key || (k.empty() && getString(t, "operator") == "Exists");
      if (keyMatches && (effect.empty() || effect == "NoExecute")) tolerated = true;
    }
    if (!tolerated)
      tolerations.push_back({{"key", key}, {"operator", "Exists"}, {"effect", "NoExecute"},
                             {"tolerationSeconds", 300}});
  }
}

void attachStrategy(ResourceType& t, const StrategyDeps& deps) {
  const bool clearsStatusOnCreate = t.statusSubresource && !(t.group.empty() && t.kind == "Node");
  if (clearsStatusOnCreate) {
    t.prepareForCreate = [](Json& obj) -> Result<void> {
      obj.erase("status");
      return {};
    };
  }
  if (t.group.empty() && t.kind == "Pod") {
    t.prepareForCreate = [](Json& pod) -> Result<void> {
      pod["status"] = Json{{"phase", "Pending"}, {"qosClass", podQosClass(pod)}};
      addDefaultTolerations(pod);
      return {};
    };
  } else if (t.group.empty() && t.kind == "Namespace") {
    // spec.finalizers: "kubernetes" is added on create; updates keep the stored list (only the
    // finalize subresource changes it).
    t.prepareForCreate = [](Json& ns) -> Result<void> {
      ns["status"] = Json{{"phase", "Active"}};
      Json& spec = ns["spec"];
      if (!spec.is_object()) spec = Json::object();
      Json finalizers = spec.value("finalizers", Json::array());
      if (!finalizers.is_array()) finalizers = Json::array();
      if (std::find(finalizers.begin(), finalizers.end(), Json("kubernetes")) == finalizers.end())
        finalizers.push_back("kubernetes");
      spec["finalizers"] = finalizers;
      return {};
    };
    t.prepareForUpdate = [](Json& ns, const Json& old) -> Result<void> {
      const Json* spec = findMember(old, "spec");
      const Json* finalizers = spec ? findMember(*spec, "finalizers") : nullptr;
      if (finalizers) ns["spec"]["finalizers"] = *finalizers;
      else if (ns.contains("spec") && ns["spec"].is_object()) ns["spec"].erase("finalizers");
      return {};
    };
  } else if (t.group.empty() && t.kind == "PersistentVolume") {
    t.prepareForCreate = [](Json& pv) -> Result<void> {
      pv["status"] = Json{{"phase", "Pending"},
                          {"lastPhaseTransitionTime", formatRfc3339(std::chrono::system_clock::now())}};
      return {};
    };
  } else if (t.group.empty() && t.kind == "PersistentVolumeClaim") {
    t.prepareForCreate = [](Json& pvc) -> Result<void> {
      pvc["status"] = Json{{"phase", "Pending"}};
      return {};
    };
  } else if (t.group.empty() && t.kind == "Service") {
    auto allocate = deps.allocateServiceAddresses;
    t.prepareForCreate = [allocate](Json& svc) -> Result<void> {
      svc["status"] = Json{{"loadBalancer", Json::object()}};
      if (allocate) TRY(allocate(svc));
      return {};
    };
    auto update = deps.updateServiceAddresses;
    if (update) {
      t.prepareForUpdate = [update](Json& svc, const Json& old) -> Result<void> {
        return update(svc, old);
      };
    }
  }
  if (t.group == "events.k8s.io" && t.kind == "Event") {
    // Field selectors name events.k8s.io fields; objects are stored as core events.
    t.fieldValue = [](const Json& obj, std::string_view field) -> std::optional<std::string> {
      std::string f(field);
      if (f.starts_with("regarding.")) f = "involvedObject." + f.substr(10);
      else if (f == "reportingController") f = "reportingComponent";
      return fieldValueByPath(obj, f);
    };
  } else if (t.group.empty() && t.kind == "Event") {
    t.fieldValue = [](const Json& obj, std::string_view field) -> std::optional<std::string> {
      if (field == "source") return fieldValueByPath(obj, "source.component");
      return fieldValueByPath(obj, field);
    };
  }
}

}  // namespace nave::registry
