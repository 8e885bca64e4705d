#include "server/controllers/sets/daemon_placement.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <vector>

namespace nave::controllers::sets {
namespace {

const Json kEmptyObject = Json::object();
const Json kEmptyArray = Json::array();

const Json& member(const Json& obj, const char* key, const Json& fallback) {
  const Json* m = findMember(obj, key);
  return m && m->type() == fallback.type() ? *m : fallback;
}

void addToleration(Json& tolerations, const char* key, const char* effect) {
  Json wanted = {{"key", key}, {"operator", "Exists"}, {"effect", effect}};
  // AddOrUpdateTolerationInPodSpec: one of the same key, operator, value and effect is replaced.
  Json kept = Json::array();
  for (const Json& t : tolerations) {
    bool same = getString(t, "key") == key && getString(t, "operator", "Equal") == "Exists" &&
                getString(t, "value").empty() && getString(t, "effect") == effect;
    if (!same) kept.push_back(t);
  }
  kept.push_back(wanted);
  tolerations = std::move(kept);
}

bool parseInt(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return end != nullptr && *end == '\0';
}

// One NodeSelectorRequirement against a value that may be absent.
bool requirementHolds(const Json& req, const std::optional<std::string>& value) {
  std::string op = getString(req, "operator");
  std::vector<std::string> values;
  for (const Json& v : member(req, "values", kEmptyArray))
    if (v.is_string()) values.push_back(v.get<std::string>());
  auto in = [&] {
    return value && std::find(values.begin(), values.end(), *value) != values.end();
  };
  if (op == "In") return in();
  if (op == "NotIn") return !in();
  if (op == "Exists") return value.has_value();
  if (op == "DoesNotExist") return !value.has_value();
  if (op == "Gt" || op == "Lt") {
    int64_t have = 0, bound = 0;
    if (!value || values.size() != 1 || !parseInt(*value, have) || !parseInt(values[0], bound))
      return false;
    return op == "Gt" ? have > bound : have < bound;
  }
  return false;
}

bool termMatches(const Json& term, const Json& node) {
  const Json& exprs = member(term, "matchExpressions", kEmptyArray);
  const Json& fields = member(term, "matchFields", kEmptyArray);
  if (exprs.empty() && fields.empty()) return false;  // an empty term matches nothing
  const Json& labels = member(member(node, "metadata", kEmptyObject), "labels", kEmptyObject);
  for (const Json& req : exprs) {
    std::optional<std::string> value;
    if (const Json* v = findMember(labels, getString(req, "key")); v && v->is_string())
      value = v->get<std::string>();
    if (!requirementHolds(req, value)) return false;
  }
  for (const Json& req : fields) {
    if (getString(req, "key") != "metadata.name") return false;
    if (!requirementHolds(req, getString(member(node, "metadata", kEmptyObject), "name")))
      return false;
  }
  return true;
}

}  // namespace

Json daemonPodTemplate(const Json& daemonSet, const std::string& hash) {
  Json templ = member(member(daemonSet, "spec", kEmptyObject), "template", kEmptyObject);
  Json& md = templ["metadata"];
  if (!md.is_object()) md = Json::object();
  if (!md["labels"].is_object()) md["labels"] = Json::object();
  if (!hash.empty()) md["labels"][kRevisionHashLabel] = hash;
  Json& spec = templ["spec"];
  if (!spec.is_object()) spec = Json::object();
  Json& tolerations = spec["tolerations"];
  if (!tolerations.is_array()) tolerations = Json::array();
  addToleration(tolerations, "node.kubernetes.io/not-ready", "NoExecute");
  addToleration(tolerations, "node.kubernetes.io/unreachable", "NoExecute");
  addToleration(tolerations, "node.kubernetes.io/disk-pressure", "NoSchedule");
  addToleration(tolerations, "node.kubernetes.io/memory-pressure", "NoSchedule");
  addToleration(tolerations, "node.kubernetes.io/pid-pressure", "NoSchedule");
  addToleration(tolerations, "node.kubernetes.io/unschedulable", "NoSchedule");
  if (getBool(spec, "hostNetwork"))
    addToleration(tolerations, "node.kubernetes.io/network-unavailable", "NoSchedule");
  return templ;
}

Json pinToNode(Json templ, const std::string& node) {
  Json term = {{"matchFields",
                Json::array({{{"key", "metadata.name"}, {"operator", "In"}, {"values", {node}}}})}};
  Json& spec = templ["spec"];
  Json& affinity = spec["affinity"];
  if (!affinity.is_object()) affinity = Json::object();
  Json& nodeAffinity = affinity["nodeAffinity"];
  if (!nodeAffinity.is_object()) nodeAffinity = Json::object();
  Json& required = nodeAffinity["requiredDuringSchedulingIgnoredDuringExecution"];
  if (!required.is_object()) required = Json::object();
  required["nodeSelectorTerms"] = Json::array({term});
  return templ;
}

bool matchesNodeSelectorTerms(const Json& nodeSelector, const Json& node) {
  for (const Json& term : member(nodeSelector, "nodeSelectorTerms", kEmptyArray))
    if (termMatches(term, node)) return true;
  return false;
}

Placement placeOn(const Json& templ, const Json& node) {
  const Json& spec = member(templ, "spec", kEmptyObject);
  const Json& nodeMeta = member(node, "metadata", kEmptyObject);
  std::string nodeName = getString(nodeMeta, "name");
  std::string wanted = getString(spec, "nodeName");
  if (!wanted.empty() && wanted != nodeName) return {};
  const Json& labels = member(nodeMeta, "labels", kEmptyObject);
  for (const auto& [k, v] : member(spec, "nodeSelector", kEmptyObject).items()) {
    const Json* have = findMember(labels, k);
    if (have == nullptr || *have != v) return {};
  }
  const Json& affinity =
      member(member(spec, "affinity", kEmptyObject), "nodeAffinity", kEmptyObject);
  if (const Json* required = findMember(affinity, "requiredDuringSchedulingIgnoredDuringExecution");
      required && required->is_object() && !matchesNodeSelectorTerms(*required, node))
    return {};
  const Json& tolerations = member(spec, "tolerations", kEmptyArray);
  bool noSchedule = false, noExecute = false;
  for (const Json& taint : member(member(node, "spec", kEmptyObject), "taints", kEmptyArray)) {
    std::string effect = getString(taint, "effect");
    if (effect != "NoSchedule" && effect != "NoExecute") continue;
    bool tolerated = std::any_of(tolerations.begin(), tolerations.end(),
                                 [&](const Json& t) { return tolerates(t, taint); });
    if (tolerated) continue;
    (effect == "NoExecute" ? noExecute : noSchedule) = true;
  }
  return {!noSchedule && !noExecute, !noExecute};
}

std::string targetNodeOf(const Json& pod) {
  const Json& spec = member(pod, "spec", kEmptyObject);
  if (std::string n = getString(spec, "nodeName"); !n.empty()) return n;
  const Json& required =
      member(member(member(spec, "affinity", kEmptyObject), "nodeAffinity", kEmptyObject),
             "requiredDuringSchedulingIgnoredDuringExecution", kEmptyObject);
  for (const Json& term : member(required, "nodeSelectorTerms", kEmptyArray))
    for (const Json& req : member(term, "matchFields", kEmptyArray)) {
      const Json& values = member(req, "values", kEmptyArray);
      if (getString(req, "key") == "metadata.name" && getString(req, "operator") == "In" &&
          values.size() == 1 && values[0].is_string())
        return values[0].get<std::string>();
    }
  return "";
}

}  // namespace nave::controllers::sets
