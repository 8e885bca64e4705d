#include "server/registry/builtin_types.h"

#include <initializer_list>

#include "common/log.h"
#include "server/registry/conversions.h"
#include "server/registry/strategies.h"

namespace nave::registry {
namespace {

enum Flags : unsigned {
  kNone = 0,
  kStatus = 1u << 0,      // has a status subresource
  kScale = 1u << 1,       // has a scale subresource
  kGeneration = 1u << 2,  // tracks metadata.generation
  kCluster = 1u << 3,     // cluster-scoped
  kCreateOnUpdate = 1u << 4,
};

using Strings = std::initializer_list<const char*>;

struct Entry {
  const char* group;
  const char* version;
  const char* kind;
  const char* plural;
  unsigned flags;
  Strings shortNames;
  Strings categories;
  Strings fields;  // selectable fields beyond metadata.name / metadata.namespace
};

const Strings kAll = {"all"};

// Order: groups appear in discovery in this order; within a group the first version listed
// is the preferred one.
const Entry kEntries[] = {
    {"", "v1", "Binding", "bindings", kNone, {}, {}, {}},
    {"", "v1", "ConfigMap", "configmaps", kNone, {"cm"}, {}, {}},
    {"", "v1", "Endpoints", "endpoints", kCreateOnUpdate, {"ep"}, {}, {}},
    {"", "v1", "Event", "events", kCreateOnUpdate, {"ev"}, {},
     {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
      "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
      "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}},
    {"", "v1", "LimitRange", "limitranges", kNone, {"limits"}, {}, {}},
    {"", "v1", "Namespace", "namespaces", kStatus | kCluster, {"ns"}, {}, {"status.phase"}},
    {"", "v1", "Node", "nodes", kStatus | kCluster, {"no"}, {}, {"spec.unschedulable"}},
    {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", kStatus, {"pvc"}, {}, {}},
    {"", "v1", "PersistentVolume", "persistentvolumes", kStatus | kCluster, {"pv"}, {}, {}},
    {"", "v1", "Pod", "pods", kStatus, {"po"}, kAll,
     {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
      "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}},
    {"", "v1", "PodTemplate", "podtemplates", kNone, {}, {}, {}},
    {"", "v1", "ResourceQuota", "resourcequotas", kStatus, {"quota"}, {}, {}},
    {"", "v1", "Secret", "secrets", kNone, {}, {}, {"type"}},
    {"", "v1", "ServiceAccount", "serviceaccounts", kNone, {"sa"}, {}, {}},
    {"", "v1", "Service", "services", kStatus, {"svc"}, kAll, {}},
    {"apps", "v1", "ControllerRevision", "controllerrevisions", kNone, {}, {}, {}},
    {"apps", "v1", "DaemonSet", "daemonsets", kStatus | kGeneration, {"ds"}, kAll, {}},
    {"apps", "v1", "Deployment", "deployments", kStatus | kScale | kGeneration, {"deploy"}, kAll, {}},
    {"apps", "v1", "ReplicaSet", "replicasets", kStatus | kScale | kGeneration, {"rs"}, kAll,
     {"status.replicas"}},
    {"apps", "v1", "StatefulSet", "statefulsets", kStatus | kScale | kGeneration, {"sts"}, kAll, {}},
    {"events.k8s.io", "v1", "Event", "events", kCreateOnUpdate, {"ev"}, {},
     {"regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
      "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath", "reason",
      "reportingController", "type"}},
    {"autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", kStatus, {"hpa"},
     kAll, {}},
    {"autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", kStatus, {"hpa"},
     kAll, {}},
    {"batch", "v1", "CronJob", "cronjobs", kStatus | kGeneration, {"cj"}, kAll, {}},
    {"batch", "v1", "Job", "jobs", kStatus | kGeneration, {}, kAll, {"status.successful"}},
    {"coordination.k8s.io", "v1", "Lease", "leases", kCreateOnUpdate, {}, {}, {}},
    {"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", kGeneration, {}, {}, {}},
    {"networking.k8s.io", "v1", "IngressClass", "ingressclasses", kCluster, {}, {}, {}},
    {"networking.k8s.io", "v1", "Ingress", "ingresses", kStatus | kGeneration, {"ing"}, {}, {}},
    {"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", kGeneration, {"netpol"}, {}, {}},
    {"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", kStatus | kGeneration, {"pdb"},
     {}, {}},
    {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", kCluster, {},
     {}, {}},
    {"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", kCluster, {}, {}, {}},
    {"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", kNone, {}, {}, {}},
    {"rbac.authorization.k8s.io", "v1", "Role", "roles", kNone, {}, {}, {}},
    {"scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", kCluster, {"pc"}, {}, {}},
    {"storage.k8s.io", "v1", "StorageClass", "storageclasses", kCluster, {"sc"}, {}, {}},
    {"apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
     kStatus | kCluster | kGeneration, {"crd", "crds"}, {"api-extensions"}, {}},
};

std::string lowerKind(std::string_view kind) {
  std::string s(kind);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::optional<std::string> fieldValueByPath(const Json& object, std::string_view field) {
  const Json* cur = &object;
  size_t start = 0;
  while (start <= field.size()) {
    size_t dot = field.find('.', start);
    std::string_view part =
        field.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const Json* next = findMember(*cur, part);
    if (next == nullptr) return std::string();
    cur = next;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_boolean()) return std::string(cur->get<bool>() ? "true" : "false");
  if (cur->is_number()) return cur->dump();
  if (cur->is_null()) return std::string();
  return std::string();
}

void registerBuiltinTypes(TypeRegistry& registry, const StrategyDeps& deps) {
  const schema::SchemaSet& schemas = schema::builtinSchemas();
  for (const Entry& e : kEntries) {
    auto t = std::make_shared<ResourceType>();
    t->group = e.group;
    t->version = e.version;
    t->kind = e.kind;
    t->plural = e.plural;
    t->singular = lowerKind(e.kind);
    t->namespaced = (e.flags & kCluster) == 0;
    for (const char* s : e.shortNames) t->shortNames.emplace_back(s);
    for (const char* c : e.categories) t->categories.emplace_back(c);
    for (const char* f : e.fields) t->selectableFields.emplace_back(f);
    t->statusSubresource = (e.flags & kStatus) != 0;
    if (e.flags & kScale) t->scale = ScaleSubresource{};
    t->tracksGeneration = (e.flags & kGeneration) != 0;
    t->allowCreateOnUpdate = (e.flags & kCreateOnUpdate) != 0;
    t->storageGroup = t->group;
    t->storagePlural = t->plural;
    t->storageVersion = t->version;
    t->schemas = &schemas;
    t->schema = schemas.findKind({t->group, t->version, t->kind});
    if (t->schema == nullptr) log::warning("no schema for built-in type", {{"kind", e.kind}});
    if (t->plural == std::string("bindings")) t->verbs = {"create"};
    if (t->plural == std::string("namespaces"))
      t->verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};

    // Types stored in another version's shape.
    attachConversions(*t);
    std::string storageGroup = t->storageGroup;
    std::string storageKind = t->kind;
    t->printer = printers::findPrinter(storageGroup, storageKind);
    t->defaulter = [storageGroup, storageKind](Json& obj) {
      validation::applyDefaults(storageGroup, storageKind, obj);
    };
    t->validator = [storageGroup, storageKind](const Json& obj, const Json* old,
                                               validation::Operation op) {
      return validation::validate(storageGroup, storageKind, obj, old, op);
    };
    if (storageGroup == "" && storageKind == "Event") t->ttlSeconds = 3600;
    attachStrategy(*t, deps);
    registry.add(std::move(t));
  }
}

}  // namespace nave::registry
