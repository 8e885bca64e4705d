// Defaults of the core ("") group, as pkg/apis/core/v1/defaults.go and the declarative
// +default tags of k8s.io/api/core/v1 set them. Pod specs are defaulted wherever they are
// embedded (templates of workloads included); Pod-only defaults are in defaultPod.
#include <algorithm>

#include "common/strings.h"
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

// The tag Kubernetes' parsers.ParseImageName reports: "latest" when neither tag nor digest
// is given, "" for digest-only references.
std::string imageTag(std::string_view image) {
  bool digested = false;
  if (size_t at = image.find('@'); at != std::string_view::npos) {
    image = image.substr(0, at);
    digested = true;
  }
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
    return std::string(image.substr(colon + 1));
  return digested ? "" : "latest";
}

void defaultFieldRef(Json& holder) {
  if (Json* ref = mutObject(holder, "fieldRef")) defaultIfZero(*ref, "apiVersion", "v1");
}

void defaultHttpGet(Json& handler) {
  if (Json* http = mutObject(handler, "httpGet")) {
    defaultIfZero(*http, "path", "/");
    defaultIfZero(*http, "scheme", "HTTP");
  }
}

void defaultProbe(Json& container, std::string_view key) {
  Json* probe = mutObject(container, key);
  if (probe == nullptr) return;
  defaultIfZero(*probe, "timeoutSeconds", 1);
  defaultIfZero(*probe, "periodSeconds", 10);
  defaultIfZero(*probe, "successThreshold", 1);
  defaultIfZero(*probe, "failureThreshold", 3);
  defaultHttpGet(*probe);
  if (Json* grpc = mutObject(*probe, "grpc")) defaultIfAbsent(*grpc, "service", "");
}

void defaultContainer(Json& c) {
  if (!c.is_object()) return;
  if (!isSet(c, "imagePullPolicy"))
    c["imagePullPolicy"] = imageTag(str(c, "image")) == "latest" ? "Always" : "IfNotPresent";
  defaultIfZero(c, "terminationMessagePath", "/dev/termination-log");
  defaultIfZero(c, "terminationMessagePolicy", "File");
  if (Json* ports = mutArray(c, "ports"))
    for (Json& p : *ports) defaultIfZero(p, "protocol", "TCP");
  if (Json* env = mutArray(c, "env"))
    for (Json& e : *env)
      if (Json* from = mutObject(e, "valueFrom")) defaultFieldRef(*from);
  defaultProbe(c, "livenessProbe");
  defaultProbe(c, "readinessProbe");
  defaultProbe(c, "startupProbe");
  if (Json* lifecycle = mutObject(c, "lifecycle")) {
    if (Json* h = mutObject(*lifecycle, "postStart")) defaultHttpGet(*h);
    if (Json* h = mutObject(*lifecycle, "preStop")) defaultHttpGet(*h);
  }
}

void defaultDownwardApiItems(Json& source) {
  if (Json* items = mutArray(source, "items"))
    for (Json& item : *items) defaultFieldRef(item);
}

void defaultVolume(Json& v) {
  if (!v.is_object()) return;
  bool hasSource = false;
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it.key() != "name" && !it->is_null()) hasSource = true;
  if (!hasSource) v["emptyDir"] = Json::object();
  if (Json* s = mutObject(v, "secret")) defaultIfAbsent(*s, "defaultMode", 420);
  if (Json* s = mutObject(v, "configMap")) defaultIfAbsent(*s, "defaultMode", 420);
  if (Json* s = mutObject(v, "downwardAPI")) {
    defaultIfAbsent(*s, "defaultMode", 420);
    defaultDownwardApiItems(*s);
  }
  if (Json* s = mutObject(v, "projected")) {
    defaultIfAbsent(*s, "defaultMode", 420);
    if (Json* sources = mutArray(*s, "sources")) {
      for (Json& src : *sources) {
        if (Json* token = mutObject(src, "serviceAccountToken"))
          defaultIfAbsent(*token, "expirationSeconds", 3600);
        if (Json* down = mutObject(src, "downwardAPI")) defaultDownwardApiItems(*down);
      }
    }
  }
  if (Json* s = mutObject(v, "hostPath")) defaultIfAbsent(*s, "type", "");
  if (Json* s = mutObject(v, "iscsi")) defaultIfZero(*s, "iscsiInterface", "default");
  if (Json* s = mutObject(v, "rbd")) {
    defaultIfZero(*s, "pool", "rbd");
    defaultIfZero(*s, "user", "admin");
    defaultIfZero(*s, "keyring", "/etc/ceph/keyring");
  }
  if (Json* s = mutObject(v, "azureDisk")) {
    defaultIfAbsent(*s, "cachingMode", "ReadWrite");
    defaultIfAbsent(*s, "kind", "Shared");
    defaultIfAbsent(*s, "fsType", "ext4");
    defaultIfAbsent(*s, "readOnly", false);
  }
  if (Json* s = mutObject(v, "scaleIO")) {
    defaultIfZero(*s, "storageMode", "ThinProvisioned");
    defaultIfZero(*s, "fsType", "xfs");
  }
  if (Json* e = mutObject(v, "ephemeral"))
    if (Json* t = mutObject(*e, "volumeClaimTemplate"))
      if (Json* spec = mutObject(*t, "spec")) defaultPersistentVolumeClaimSpec(*spec);
}

// With limits but no request for a resource, the request defaults to the limit (Pods only).
void defaultRequestsFromLimits(Json& container) {
  Json* resources = mutObject(container, "resources");
  if (resources == nullptr) return;
  Json* limits = mutObject(*resources, "limits");
  if (limits == nullptr) return;
  Json* requests = ensureObject(*resources, "requests");
  if (requests == nullptr) return;
  for (auto it = limits->begin(); it != limits->end(); ++it)
    if (!requests->contains(it.key())) (*requests)[it.key()] = *it;
}

void defaultPortsToHost(Json& containers) {
  if (!containers.is_array()) return;
  for (Json& c : containers)
    if (Json* ports = mutArray(c, "ports"))
      for (Json& p : *ports)
        if (p.is_object() && !isSet(p, "hostPort") && get(p, "containerPort") != nullptr)
          p["hostPort"] = p["containerPort"];
}


}  // namespace

void defaultPersistentVolumeClaimSpec(Json& spec) { defaultIfAbsent(spec, "volumeMode", "Filesystem"); }

void defaultPodSpec(Json& spec) {
  if (!spec.is_object()) return;
  defaultIfZero(spec, "dnsPolicy", "ClusterFirst");
  defaultIfZero(spec, "restartPolicy", "Always");
  defaultIfAbsent(spec, "securityContext", Json::object());
  defaultIfAbsent(spec, "terminationGracePeriodSeconds", 30);
  defaultIfZero(spec, "schedulerName", "default-scheduler");
  for (std::string_view key : {"containers", "initContainers", "ephemeralContainers"})
    if (Json* list = mutArray(spec, key))
      for (Json& c : *list) defaultContainer(c);
  if (Json* volumes = mutArray(spec, "volumes"))
    for (Json& v : *volumes) defaultVolume(v);
}

void defaultPodTemplate(Json& templ) {
  if (Json* spec = mutObject(templ, "spec")) defaultPodSpec(*spec);
}

void defaultPod(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  defaultPodSpec(*spec);
  for (std::string_view key : {"containers", "initContainers"})
    if (Json* list = mutArray(*spec, key))
      for (Json& c : *list) defaultRequestsFromLimits(c);
  defaultIfAbsent(*spec, "enableServiceLinks", true);
  if (truthy(*spec, "hostNetwork")) {
    if (Json* list = mutArray(*spec, "containers")) defaultPortsToHost(*list);
    if (Json* list = mutArray(*spec, "initContainers")) defaultPortsToHost(*list);
  }
}

void defaultPodTemplateObject(Json& o) {
  if (Json* t = mutObject(o, "template")) defaultPodTemplate(*t);
}

void defaultReplicationController(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  defaultIfAbsent(*spec, "replicas", 1);
  Json* templ = mutObject(*spec, "template");
  if (templ == nullptr) return;
  defaultPodTemplate(*templ);
  const Json* labels = getObject(objectOf(*templ, "metadata"), "labels");
  if (labels == nullptr) return;
  if (!isSet(*spec, "selector")) (*spec)["selector"] = *labels;
  if (Json* meta = ensureObject(o, "metadata"))
    if (!isSet(*meta, "labels")) (*meta)["labels"] = *labels;
}

void defaultService(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  defaultIfZero(*spec, "sessionAffinity", "None");
  std::string affinity = str(*spec, "sessionAffinity");
  if (affinity == "None") {
    spec->erase("sessionAffinityConfig");
  } else if (affinity == "ClientIP") {
    const Json& cfg = objectOf(*spec, "sessionAffinityConfig");
    if (!get(objectOf(cfg, "clientIP"), "timeoutSeconds"))
      (*spec)["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 10800}}}};
  }
  defaultIfZero(*spec, "type", "ClusterIP");
  std::string type = str(*spec, "type");
  if (Json* ports = mutArray(*spec, "ports")) {
    for (Json& p : *ports) {
      if (!p.is_object()) continue;
      defaultIfZero(p, "protocol", "TCP");
      const Json* target = get(p, "targetPort");
      bool unset = target == nullptr || (target->is_string() && target->get<std::string>().empty()) ||
                   (target->is_number() && target->get<double>() == 0);
      if (unset && get(p, "port") != nullptr) p["targetPort"] = p["port"];
    }
  }
  bool external = type == "NodePort" || type == "LoadBalancer" ||
                  (type == "ClusterIP" && !arrayOf(*spec, "externalIPs").empty());
  if (external) defaultIfZero(*spec, "externalTrafficPolicy", "Cluster");
  if (type == "NodePort" || type == "LoadBalancer" || type == "ClusterIP")
    defaultIfAbsent(*spec, "internalTrafficPolicy", "Cluster");
  if (type == "LoadBalancer") defaultIfAbsent(*spec, "allocateLoadBalancerNodePorts", true);

  // The IP family fields, as the Service REST storage initialises them on a single-stack IPv4
  // cluster (IP allocation itself happens in the API server).
  if (type == "ExternalName") return;
  std::string clusterIP = str(*spec, "clusterIP");
  if (!clusterIP.empty() && !isSet(*spec, "clusterIPs"))
    (*spec)["clusterIPs"] = Json::array({clusterIP});
  bool headless = clusterIP == "None";
  if (headless && objectOf(*spec, "selector").empty()) {
    defaultIfAbsent(*spec, "ipFamilyPolicy", "RequireDualStack");
  } else {
    defaultIfAbsent(*spec, "ipFamilyPolicy", "SingleStack");
  }
  if (!isSet(*spec, "ipFamilies")) {
    Json families = Json::array();
    bool v6 = false;
    for (const Json& ip : arrayOf(*spec, "clusterIPs"))
      if (ip.is_string() && parseIp(ip.get<std::string>(), v6)) families.push_back(v6 ? "IPv6" : "IPv4");
    if (families.empty()) families.push_back("IPv4");
    (*spec)["ipFamilies"] = families;
  }
}

void defaultEndpoints(Json& o) {
  if (Json* subsets = mutArray(o, "subsets"))
    for (Json& s : *subsets)
      if (Json* ports = mutArray(s, "ports"))
        for (Json& p : *ports) defaultIfZero(p, "protocol", "TCP");
}

void defaultSecret(Json& o) {
  // stringData is write-only: the v1 conversion folds it into data, overwriting equal keys.
  if (const Json* stringData = getObject(o, "stringData")) {
    Json data = objectOf(o, "data");
    for (auto it = stringData->begin(); it != stringData->end(); ++it)
      if (it->is_string()) data[it.key()] = base64Encode(it->get<std::string>());
    o["data"] = std::move(data);
  }
  if (o.is_object()) o.erase("stringData");
  defaultIfZero(o, "type", "Opaque");
}

void defaultNamespace(Json& o) {
  Json* meta = ensureObject(o, "metadata");
  if (meta == nullptr) return;
  std::string name = str(*meta, "name");
  if (!name.empty())
    if (Json* labels = ensureObject(*meta, "labels")) (*labels)["kubernetes.io/metadata.name"] = name;
  // spec.finalizers is the registry strategy's: "kubernetes" is added on create and kept
  // from the stored object on updates (only namespaces/NAME/finalize changes it).
  if (Json* status = ensureObject(o, "status")) defaultIfZero(*status, "phase", "Active");
}

void defaultNode(Json& o) {
  Json* status = mutObject(o, "status");
  if (status == nullptr) return;
  if (const Json* cap = getObject(*status, "capacity"); cap != nullptr && !get(*status, "allocatable"))
    (*status)["allocatable"] = *cap;
}

void defaultPersistentVolume(Json& o) {
  if (Json* spec = mutObject(o, "spec")) {
    defaultIfZero(*spec, "persistentVolumeReclaimPolicy", "Retain");
    defaultIfAbsent(*spec, "volumeMode", "Filesystem");
    if (Json* hp = mutObject(*spec, "hostPath")) defaultIfAbsent(*hp, "type", "");
  }
  if (Json* status = ensureObject(o, "status")) defaultIfZero(*status, "phase", "Pending");
}

void defaultPersistentVolumeClaim(Json& o) {
  if (Json* spec = mutObject(o, "spec")) defaultPersistentVolumeClaimSpec(*spec);
  if (Json* status = ensureObject(o, "status")) defaultIfZero(*status, "phase", "Pending");
}

void defaultLimitRange(Json& o) {
  Json* spec = mutObject(o, "spec");
  Json* limits = spec != nullptr ? mutArray(*spec, "limits") : nullptr;
  if (limits == nullptr) return;
  for (Json& item : *limits) {
    if (str(item, "type") != "Container") continue;
    Json def = objectOf(item, "default");
    Json defReq = objectOf(item, "defaultRequest");
    const Json& max = objectOf(item, "max");
    const Json& min = objectOf(item, "min");
    for (auto it = max.begin(); it != max.end(); ++it)
      if (!def.contains(it.key())) def[it.key()] = *it;
    for (auto it = def.begin(); it != def.end(); ++it)
      if (!defReq.contains(it.key())) defReq[it.key()] = *it;
    for (auto it = min.begin(); it != min.end(); ++it)
      if (!defReq.contains(it.key())) defReq[it.key()] = *it;
    if (!def.empty()) item["default"] = def;
    if (!defReq.empty()) item["defaultRequest"] = defReq;
  }
}

}  // namespace nave::validation::detail
