// The (group, kind) table behind applyDefaults and validate: scope, the name rule of each kind,
// and its defaulting and validation functions.
#include <set>

#include "server/validation/internal.h"

namespace nave::validation {
namespace {

using namespace detail;

enum class MetaRule {
  kFull,      // ValidateObjectMeta with the kind's name rule
  kNameOnly,  // core/v1 Events: only a name is required (legacy events skip metadata checks)
  kNone,      // Binding: a subresource body, not a stored object
};

struct KindInfo {
  std::string_view group;
  std::string_view kind;
  bool namespaced;
  NameFn nameFn;
  MetaRule meta;
  DefaultFn defaults;  // may be null
  ValidateFn validate;
};

constexpr bool kNamespaced = true;
constexpr bool kCluster = false;

const KindInfo kKinds[] = {
    {"", "Namespace", kCluster, nameIsDnsLabel, MetaRule::kFull, defaultNamespace, validateNamespace},
    {"", "Pod", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultPod, validatePod},
    {"", "Service", kNamespaced, nameIsDns1035Label, MetaRule::kFull, defaultService, validateService},
    {"", "Endpoints", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultEndpoints, validateEndpoints},
    {"", "ConfigMap", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, nullptr, validateConfigMap},
    {"", "Secret", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultSecret, validateSecret},
    {"", "ServiceAccount", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, nullptr, validateServiceAccount},
    {"", "Event", kNamespaced, nameIsDnsSubdomain, MetaRule::kNameOnly, nullptr, validateCoreEvent},
    {"", "Node", kCluster, nameIsDnsSubdomain, MetaRule::kFull, defaultNode, validateNode},
    {"", "PersistentVolume", kCluster, nameIsDnsSubdomain, MetaRule::kFull, defaultPersistentVolume,
     validatePersistentVolume},
    {"", "PersistentVolumeClaim", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultPersistentVolumeClaim,
     validatePersistentVolumeClaim},
    {"", "ResourceQuota", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, nullptr, validateResourceQuota},
    {"", "LimitRange", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultLimitRange, validateLimitRange},
    {"", "PodTemplate", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultPodTemplateObject,
     validatePodTemplateObject},
    {"", "ReplicationController", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultReplicationController,
     validateReplicationController},
    {"", "Binding", kNamespaced, nameIsDnsSubdomain, MetaRule::kNone, nullptr, validateBinding},

    {"apps", "Deployment", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultDeployment, validateDeployment},
    {"apps", "ReplicaSet", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultReplicaSet, validateReplicaSet},
    {"apps", "StatefulSet", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultStatefulSet,
     validateStatefulSet},
    {"apps", "DaemonSet", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultDaemonSet, validateDaemonSet},
    {"apps", "ControllerRevision", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, nullptr,
     validateControllerRevision},

    {"batch", "Job", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultJob, validateJob},
    {"batch", "CronJob", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultCronJob, validateCronJob},

    {"coordination.k8s.io", "Lease", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, nullptr, validateLease},
    {"discovery.k8s.io", "EndpointSlice", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultEndpointSlice,
     validateEndpointSlice},
    {"events.k8s.io", "Event", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, nullptr, validateEventsEvent},

    {"networking.k8s.io", "Ingress", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, nullptr, validateIngress},
    {"networking.k8s.io", "IngressClass", kCluster, nameIsDnsSubdomain, MetaRule::kFull, nullptr,
     validateIngressClass},
    {"networking.k8s.io", "NetworkPolicy", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, defaultNetworkPolicy,
     validateNetworkPolicy},

    {"storage.k8s.io", "StorageClass", kCluster, nameIsDnsSubdomain, MetaRule::kFull, defaultStorageClass,
     validateStorageClass},

    {"rbac.authorization.k8s.io", "Role", kNamespaced, nameIsPathSegment, MetaRule::kFull, nullptr, validateRole},
    {"rbac.authorization.k8s.io", "ClusterRole", kCluster, nameIsPathSegment, MetaRule::kFull, nullptr,
     validateClusterRole},
    {"rbac.authorization.k8s.io", "RoleBinding", kNamespaced, nameIsPathSegment, MetaRule::kFull,
     defaultRoleBinding, validateRoleBinding},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding", kCluster, nameIsPathSegment, MetaRule::kFull,
     defaultRoleBinding, validateClusterRoleBinding},

    {"policy", "PodDisruptionBudget", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull, nullptr,
     validatePodDisruptionBudget},
    {"scheduling.k8s.io", "PriorityClass", kCluster, nameIsDnsSubdomain, MetaRule::kFull, defaultPriorityClass,
     validatePriorityClass},
    {"autoscaling", "HorizontalPodAutoscaler", kNamespaced, nameIsDnsSubdomain, MetaRule::kFull,
     defaultHorizontalPodAutoscaler, validateHorizontalPodAutoscaler},
    {"apiextensions.k8s.io", "CustomResourceDefinition", kCluster, nameIsDnsSubdomain, MetaRule::kFull,
     defaultCustomResourceDefinition, validateCustomResourceDefinition},
};

const KindInfo* findKind(std::string_view group, std::string_view kind) {
  for (const KindInfo& k : kKinds)
    if (k.group == group && k.kind == kind) return &k;
  return nullptr;
}

// Kubernetes' aggregate drops repeated messages.
FieldErrors dedupe(const FieldErrors& errs) {
  FieldErrors out;
  std::set<std::string> seen;
  for (const FieldError& e : errs.errors())
    if (seen.insert(e.toString()).second) out.add(e);
  return out;
}

}  // namespace

void applyDefaults(std::string_view group, std::string_view kind, Json& object) {
  const KindInfo* info = findKind(group, kind);
  if (info == nullptr || !object.is_object()) return;
  // The API server ignores a namespace on cluster-scoped objects (kubectl may send one from a
  // manifest); drop it so that validation does not refuse the object for it.
  if (!info->namespaced)
    if (Json* meta = mutObject(object, "metadata")) meta->erase("namespace");
  if (info->defaults != nullptr) info->defaults(object);
}

FieldErrors validate(std::string_view group, std::string_view kind, const Json& object, const Json* old,
                     Operation operation) {
  FieldErrors errs;
  const KindInfo* info = findKind(group, kind);
  if (info == nullptr) return errs;
  if (!object.is_object()) {
    errs.typeInvalid("", object, "must be an object");
    return errs;
  }
  if (old != nullptr && !old->is_object()) old = nullptr;
  if (operation != Operation::kCreate && old == nullptr) operation = Operation::kCreate;

  if (operation == Operation::kCreate) {
    if (info->meta == MetaRule::kFull) {
      validateMeta(object, info->namespaced, info->nameFn, true, errs);
    } else if (info->meta == MetaRule::kNameOnly) {
      const Json& meta = objectOf(object, "metadata");
      if (str(meta, "name").empty() && str(meta, "generateName").empty())
        errs.required("metadata.name", "name or generateName is required");
    }
  } else if (info->meta != MetaRule::kNone) {
    validateMetaUpdate(object, *old, info->meta == MetaRule::kFull, errs);
  }
  info->validate(object, old, operation, errs);
  return dedupe(errs);
}

}  // namespace nave::validation
