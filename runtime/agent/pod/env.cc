// containerEnv: the kubelet's makeEnvironmentVariables (pkg/kubelet/kubelet_pods.go).
#include <arpa/inet.h>

#include <map>
#include <optional>
#include <set>

#include "common/strings.h"
#include "runtime/agent/pod/downward_api.h"
#include "runtime/agent/pod/expansion.h"
#include "runtime/agent/pod/objects.h"
#include "runtime/agent/pod/pod_json.h"
#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {
namespace {

// Variables in the order they were first set; setting a name again replaces its value.
class OrderedEnv {
 public:
  void set(const std::string& name, std::string value) {
    auto [it, inserted] = values_.try_emplace(name, value);
    if (inserted) {
      order_.push_back(name);
    } else {
      it->second = std::move(value);
    }
  }
  const std::map<std::string, std::string>& values() const { return values_; }
  const std::vector<std::string>& order() const { return order_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> order_;
};

// The API's relaxed rule for variable names (Kubernetes 1.32, RelaxedEnvironmentVariable
// Validation): printable ASCII other than '='. Names breaking it cannot be passed at all.
bool isEnvVarName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < 0x20 || c > 0x7e || c == '=') return false;
  }
  return true;
}

bool isIpv4(const std::string& ip) {
  in_addr a;
  return ::inet_pton(AF_INET, ip.c_str(), &a) == 1;
}

bool isIpv6(const std::string& ip) {
  in6_addr a;
  return ::inet_pton(AF_INET6, ip.c_str(), &a) == 1;
}

// The pod's IPs, at most one per family, the node IP's family first (the kubelet's sortPodIPs).
std::vector<std::string> sortedPodIps(const Json& pod, const PodFacts& facts) {
  std::vector<std::string> ips;
  for (const std::string& ip : facts.podIps) {
    if (!ip.empty()) ips.push_back(ip);
  }
  const Json& status = objectMember(pod, "status");
  if (ips.empty()) {
    for (const Json& ip : arrayMember(status, "podIPs")) ips.push_back(getString(ip, "ip"));
  }
  if (ips.empty() && !getString(status, "podIP").empty()) ips.push_back(getString(status, "podIP"));
  bool v6First = !facts.hostIp.empty() && isIpv6(facts.hostIp);
  std::vector<std::string> out;
  for (int pass = 0; pass < 2; ++pass) {
    bool wantV6 = (pass == 0) == v6First;
    for (const std::string& ip : ips) {
      if (wantV6 ? isIpv6(ip) : isIpv4(ip)) {
        out.push_back(ip);
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> hostIps(const Json& pod, const PodFacts& facts) {
  if (!facts.hostIp.empty()) return {facts.hostIp};
  const Json& status = objectMember(pod, "status");
  std::vector<std::string> out;
  for (const Json& ip : arrayMember(status, "hostIPs")) out.push_back(getString(ip, "ip"));
  if (out.empty() && !getString(status, "hostIP").empty())
    out.push_back(getString(status, "hostIP"));
  return out;
}

// The kubelet's podFieldSelectorRuntimeValue, with the labels the v1 API accepts
// (ConvertDownwardAPIFieldLabel) checked first.
Result<std::string> fieldRefValue(const Json& pod, const Json& fieldRef, const PodFacts& facts) {
  std::string version = getString(fieldRef, "apiVersion");
  if (version.empty()) version = "v1";
  if (version != "v1") return Error(ErrorCode::kInvalid, "unsupported pod version: " + version);
  std::string path = getString(fieldRef, "fieldPath");
  if (path.size() > 2 && path.ends_with("']") && path.find("['") != std::string::npos &&
      path.find("['") > 0) {
    std::string base = path.substr(0, path.find("['"));
    if (base != "metadata.annotations" && base != "metadata.labels") {
      return Error(ErrorCode::kInvalid, "field label does not support subscript: " + path);
    }
    return podMetadataField(pod, path);
  }
  static const std::set<std::string> kSupported = {
      "metadata.annotations", "metadata.labels", "metadata.name",      "metadata.namespace",
      "metadata.uid",         "spec.nodeName",   "spec.restartPolicy", "spec.serviceAccountName",
      "spec.schedulerName",   "status.phase",    "status.hostIP",      "status.hostIPs",
      "status.podIP",         "status.podIPs"};
  if (path == "spec.host") path = "spec.nodeName";  // what old v1 clients send
  if (kSupported.count(path) == 0) {
    return Error(ErrorCode::kInvalid, "field label not supported: " + path);
  }
  const Json& spec = objectMember(pod, "spec");
  if (path == "spec.nodeName") {
    std::string node = getString(spec, "nodeName");
    return node.empty() ? facts.nodeName : node;
  }
  if (path == "spec.serviceAccountName") {
    std::string sa = getString(spec, "serviceAccountName");
    return sa.empty() ? facts.serviceAccountName : sa;
  }
  if (path == "status.hostIP") {
    std::vector<std::string> ips = hostIps(pod, facts);
    return ips.empty() ? std::string() : ips[0];
  }
  if (path == "status.hostIPs") return join(hostIps(pod, facts), ",");
  if (path == "status.podIP") {
    std::vector<std::string> ips = sortedPodIps(pod, facts);
    return ips.empty() ? std::string() : ips[0];
  }
  if (path == "status.podIPs") return join(sortedPodIps(pod, facts), ",");
  // spec.restartPolicy, spec.schedulerName and status.phase pass the label check but, as in
  // the kubelet, have no runtime value: podMetadataField refuses them.
  return podMetadataField(pod, path);
}

using KeyValues = std::map<std::string, std::string>;

// ConfigMaps and secrets fetched once per call, as the kubelet's maps in
// makeEnvironmentVariables. Lookups give nullopt for a missing optional object.
class EnvObjects {
 public:
  EnvObjects(ObjectSource& objects, std::string ns) : objects_(objects), ns_(std::move(ns)) {}

  Result<std::optional<KeyValues>> configMap(const std::string& name, bool optional) {
    if (auto it = configMaps_.find(name); it != configMaps_.end()) {
      return std::optional<KeyValues>(it->second);
    }
    Result<Json> cm = fetchConfigMap(objects_, ns_, name);
    if (!cm.ok()) {
      if (cm.error().is(ErrorCode::kNotFound) && optional) return std::optional<KeyValues>();
      return std::move(cm).error();
    }
    return std::optional<KeyValues>(configMaps_[name] = configMapData(*cm));
  }

  Result<std::optional<KeyValues>> secret(const std::string& name, bool optional) {
    if (auto it = secrets_.find(name); it != secrets_.end()) {
      return std::optional<KeyValues>(it->second);
    }
    Result<Json> s = fetchSecret(objects_, ns_, name);
    if (!s.ok()) {
      if (s.error().is(ErrorCode::kNotFound) && optional) return std::optional<KeyValues>();
      return std::move(s).error();
    }
    KeyValues data = TRY(secretData(*s));
    return std::optional<KeyValues>(secrets_[name] = std::move(data));
  }

 private:
  ObjectSource& objects_;
  std::string ns_;
  std::map<std::string, KeyValues> configMaps_, secrets_;
};

}  // namespace

Result<std::vector<std::string>> containerEnv(const Json& pod, const Json& container,
                                              ObjectSource& objects, const PodFacts& facts,
                                              const std::vector<std::string>& serviceEnv,
                                              std::vector<std::string>* warnings) {
  const std::string ns = podNamespace(pod);
  EnvObjects sources(objects, ns);
  OrderedEnv services;
  for (const std::string& entry : serviceEnv) {
    size_t eq = entry.find('=');
    if (eq != std::string::npos) services.set(entry.substr(0, eq), entry.substr(eq + 1));
  }
  OrderedEnv env;

  // envFrom first: env overrides it.
  for (const Json& from : arrayMember(container, "envFrom")) {
    std::string prefix = getString(from, "prefix");
    std::optional<KeyValues> data;
    std::string kind, name;
    if (const Json* ref = findMember(from, "configMapRef"); ref != nullptr && ref->is_object()) {
      kind = "configMap";
      name = getString(*ref, "name");
      data = TRY(sources.configMap(name, isTrue(*ref, "optional")));
    } else if (const Json* sref = findMember(from, "secretRef");
               sref != nullptr && sref->is_object()) {
      kind = "secret";
      name = getString(*sref, "name");
      data = TRY(sources.secret(name, isTrue(*sref, "optional")));
    }
    if (!data) continue;  // optional and missing, or no source at all
    std::vector<std::string> invalidKeys;
    for (const auto& [key, value] : *data) {
      std::string varName = prefix + key;
      if (!isEnvVarName(varName)) {
        invalidKeys.push_back(varName);
        continue;
      }
      env.set(varName, value);
    }
    if (!invalidKeys.empty() && warnings != nullptr) {
      warnings->push_back("Keys [" + join(invalidKeys, ", ") + "] from the EnvFrom " + kind + " " +
                          ns + "/" + name +
                          " were skipped since they are considered invalid environment "
                          "variable names.");
    }
  }

  // env in declaration order: a value expands references to the variables so far and to the
  // service variables; valueFrom sources are resolved (and not expanded).
  for (const Json& var : arrayMember(container, "env")) {
    std::string name = getString(var, "name");
    std::string value = getString(var, "value");
    const Json* valueFrom = findMember(var, "valueFrom");
    if (!value.empty()) {
      value = expandVariables(value, mappingFor({&env.values(), &services.values()}));
    } else if (valueFrom != nullptr && valueFrom->is_object()) {
      if (const Json* f = findMember(*valueFrom, "fieldRef"); f != nullptr && f->is_object()) {
        value = TRY(fieldRefValue(pod, *f, facts));
      } else if (const Json* r = findMember(*valueFrom, "resourceFieldRef");
                 r != nullptr && r->is_object()) {
        std::string target = getString(*r, "containerName");
        const Json* c = target.empty() ? &container : findContainer(pod, target);
        if (c == nullptr) return Error(ErrorCode::kInvalid, "container " + target + " not found");
        value = TRY(containerResourceValue(*r, *c, facts));
      } else if (const Json* cm = findMember(*valueFrom, "configMapKeyRef");
                 cm != nullptr && cm->is_object()) {
        std::string cmName = getString(*cm, "name"), key = getString(*cm, "key");
        bool optional = isTrue(*cm, "optional");
        auto data = TRY(sources.configMap(cmName, optional));
        if (!data) continue;
        auto it = data->find(key);
        if (it == data->end()) {
          if (optional) continue;
          return Error(ErrorCode::kNotFound,
                       "couldn't find key " + key + " in ConfigMap " + ns + "/" + cmName);
        }
        value = it->second;
      } else if (const Json* s = findMember(*valueFrom, "secretKeyRef");
                 s != nullptr && s->is_object()) {
        std::string secretName = getString(*s, "name"), key = getString(*s, "key");
        bool optional = isTrue(*s, "optional");
        auto data = TRY(sources.secret(secretName, optional));
        if (!data) continue;
        auto it = data->find(key);
        if (it == data->end()) {
          if (optional) continue;
          return Error(ErrorCode::kNotFound,
                       "couldn't find key " + key + " in Secret " + ns + "/" + secretName);
        }
        value = it->second;
      }
    }
    env.set(name, value);
  }

  std::vector<std::string> out;
  out.reserve(env.order().size() + services.order().size());
  for (const std::string& name : env.order()) out.push_back(name + "=" + env.values().at(name));
  for (const std::string& name : services.order()) {
    if (env.values().count(name) == 0) out.push_back(name + "=" + services.values().at(name));
  }
  return out;
}

}  // namespace nave::agent
