#include "server/api/quota.h"

#include <algorithm>

namespace nave::api::quota {
namespace {

Quantity count(int64_t n) {
  Quantity q;
  q.nanos = static_cast<__int128>(n) * 1000000000;
  return q;
}

void addTo(Usage& u, const std::string& key, const Quantity& q) {
  auto it = u.find(key);
  if (it == u.end()) {
    u[key] = q;
    return;
  }
  it->second.nanos += q.nanos;
  it->second.overflow = it->second.overflow || q.overflow;
}

// The sum over `containers` of resources.FIELD.NAME.
Usage containerSum(const Json& containers, const char* field) {
  Usage out;
  if (!containers.is_array()) return out;
  for (const Json& c : containers) {
    const Json* res = findMember(c, "resources");
    const Json* values = res ? findMember(*res, field) : nullptr;
    if (values == nullptr || !values->is_object()) continue;
    for (auto& [name, v] : values->items())
      if (auto q = validation::detail::parseQuantity(v)) addTo(out, name, *q);
  }
  return out;
}

// The pod's effective requests or limits: max(sum of app containers, each init container),
// plus overhead.
Usage podResources(const Json& spec, const char* field) {
  Usage total = containerSum(spec.value("containers", Json::array()), field);
  for (const Json& init : spec.value("initContainers", Json::array())) {
    Usage one = containerSum(Json::array({init}), field);
    for (auto& [name, q] : one) {
      auto it = total.find(name);
      if (it == total.end() || it->second.compare(q) < 0) total[name] = q;
    }
  }
  if (const Json* overhead = findMember(spec, "overhead"); overhead && overhead->is_object())
    for (auto& [name, v] : overhead->items())
      if (auto q = validation::detail::parseQuantity(v)) addTo(total, name, *q);
  return total;
}

}  // namespace

Quantity zero() { return Quantity{}; }

void add(Usage& into, const Usage& more) {
  for (const auto& [k, q] : more) addTo(into, k, q);
}

Usage usageOf(const std::string& group, const std::string& plural, const Json& object) {
  Usage u;
  u["count/" + plural + (group.empty() ? "" : "." + group)] = count(1);
  if (!group.empty()) return u;
  static const char* kLegacy[] = {"pods", "services", "configmaps", "secrets", "persistentvolumeclaims",
                                  "resourcequotas", "replicationcontrollers"};
  const Json spec = object.value("spec", Json::object());
  if (plural == "pods") {
    std::string phase = getString(object.value("status", Json::object()), "phase");
    if (phase == "Succeeded" || phase == "Failed") return Usage{};  // terminated pods use nothing
    u["pods"] = count(1);
    Usage requests = podResources(spec, "requests");
    Usage limits = podResources(spec, "limits");
    for (const auto& [name, q] : requests) {
      u["requests." + name] = q;
      if (name == "cpu" || name == "memory" || name == "ephemeral-storage") u[name] = q;
    }
    for (const auto& [name, q] : limits) u["limits." + name] = q;
    return u;
  }
  if (std::find(std::begin(kLegacy), std::end(kLegacy), plural) != std::end(kLegacy)) u[plural] = count(1);
  if (plural == "services") {
    std::string type = getString(spec, "type", "ClusterIP");
    int64_t nodePorts = 0;
    if (type == "NodePort" || type == "LoadBalancer")
      nodePorts = static_cast<int64_t>(spec.value("ports", Json::array()).size());
    if (type == "LoadBalancer") u["services.loadbalancers"] = count(1);
    if (nodePorts > 0) u["services.nodeports"] = count(nodePorts);
  } else if (plural == "persistentvolumeclaims") {
    const Json* res = findMember(spec, "resources");
    const Json* req = res ? findMember(*res, "requests") : nullptr;
    if (req && req->contains("storage"))
      if (auto q = validation::detail::parseQuantity((*req)["storage"])) {
        u["requests.storage"] = *q;
        std::string cls = getString(spec, "storageClassName");
        if (!cls.empty()) {
          u[cls + ".storageclass.storage.k8s.io/requests.storage"] = *q;
          u[cls + ".storageclass.storage.k8s.io/persistentvolumeclaims"] = count(1);
        }
      }
  }
  return u;
}

std::string missingFor(const std::string& quotaKey, const Json& pod) {
  std::string field, name;
  if (quotaKey.starts_with("requests.")) {
    field = "requests";
    name = quotaKey.substr(9);
  } else if (quotaKey.starts_with("limits.")) {
    field = "limits";
    name = quotaKey.substr(7);
  } else if (quotaKey == "cpu" || quotaKey == "memory") {
    field = "requests";
    name = quotaKey;
  } else {
    return "";
  }
  if (name != "cpu" && name != "memory") return "";
  std::vector<std::string> lacking;
  const Json spec = pod.value("spec", Json::object());
  for (const char* list : {"initContainers", "containers"}) {
    for (const Json& c : spec.value(list, Json::array())) {
      const Json* res = findMember(c, "resources");
      const Json* values = res ? findMember(*res, field) : nullptr;
      if (values == nullptr || !values->is_object() || !values->contains(name))
        lacking.push_back(getString(c, "name"));
    }
  }
  if (lacking.empty()) return "";
  std::string out = quotaKey + " for: ";
  for (size_t i = 0; i < lacking.size(); ++i) out += (i ? "," : "") + lacking[i];
  return out;
}

std::vector<std::string> touched(const Json& hard, const Usage& usage) {
  std::vector<std::string> out;
  if (!hard.is_object()) return out;
  for (auto& [key, v] : hard.items())
    if (usage.count(key)) out.push_back(key);
  return out;
}

}  // namespace nave::api::quota
