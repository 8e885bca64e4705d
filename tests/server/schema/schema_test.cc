// The schema parser (server/schema/schema.cc) and the meta and core/v1 schemas
// (server/schema/defs/meta.schema, core_v1.schema): they parse, resolve, and carry the markers
// Kubernetes 1.32 declares on its Go types.
#include "server/schema/schema.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/yaml.h"
#include "server/schema/embedded.h"

namespace nave::schema {
namespace {

constexpr std::string_view kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";
constexpr std::string_view kCore = "io.k8s.api.core.v1.";

std::string meta(std::string_view name) {
  return std::string(kMeta) + std::string(name);
}
std::string core(std::string_view name) {
  return std::string(kCore) + std::string(name);
}

const EmbeddedSource* embeddedFile(std::string_view file) {
  for (const EmbeddedSource& src : embeddedSchemaSources())
    if (file == src.name) return &src;
  return nullptr;
}

// meta.schema and core_v1.schema alone: they must be complete without the other groups.
const SchemaSet& coreSet() {
  static const SchemaSet* set = [] {
    auto* s = new SchemaSet();
    for (std::string_view file : {"meta.schema", "core_v1.schema"}) {
      const EmbeddedSource* src = embeddedFile(file);
      if (src == nullptr) {
        ADD_FAILURE() << file << " is not embedded";
        continue;
      }
      if (auto r = s->addSource(src->text, src->name); !r.ok())
        ADD_FAILURE() << r.error().message();
    }
    return s;
  }();
  return *set;
}

bool ours(std::string_view name) {
  return name.starts_with(kMeta) || name.starts_with(kCore) ||
         name.starts_with("io.k8s.apimachinery.pkg.");
}

// The definition `type`, failing the test when it is missing.
const Node& def(std::string_view name) {
  const Node* n = coreSet().find(name);
  if (n == nullptr) {
    ADD_FAILURE() << "no definition " << name;
    static const Node empty;
    return empty;
  }
  return *n;
}

// The property `field` of definition `type` (its own node, markers included).
const Node& prop(std::string_view type, std::string_view field) {
  const Node* p = def(type).property(field);
  if (p == nullptr) {
    ADD_FAILURE() << type << " has no field " << field;
    static const Node empty;
    return empty;
  }
  return *p;
}

std::set<std::string> fieldNames(std::string_view type) {
  std::set<std::string> out;
  for (const Property& p : def(type).properties) out.insert(p.name);
  return out;
}

std::vector<std::string> enumOf(const Node& n) {
  std::vector<std::string> out;
  for (const Json& v : n.enumValues) out.push_back(v.is_string() ? v.get<std::string>() : "?");
  return out;
}

TEST(CoreSchema, MetaAndCoreParseAndResolveOnTheirOwn) {
  auto r = coreSet().validate();
  EXPECT_TRUE(r.ok()) << r.error().message();
  EXPECT_GT(coreSet().definitions().size(), 240u);
}

TEST(CoreSchema, BuiltinSchemasLoadEveryEmbeddedFile) {
  SchemaSet all;
  for (const EmbeddedSource& src : embeddedSchemaSources()) {
    auto r = all.addSource(src.text, src.name);
    EXPECT_TRUE(r.ok()) << r.error().message();
  }
  auto v = all.validate();
  ASSERT_TRUE(v.ok()) << v.error().message();
  // Only called once the sources are known to be valid: it aborts otherwise.
  const SchemaSet& builtin = builtinSchemas();
  EXPECT_NE(builtin.find(core("PodSpec")), nullptr);
  EXPECT_NE(builtin.find(meta("ObjectMeta")), nullptr);
  EXPECT_EQ(builtin.definitions().size(), all.definitions().size());
}

TEST(CoreSchema, PodKindsAndListsHaveTheirGroupVersionKinds) {
  const SchemaSet& set = coreSet();
  EXPECT_EQ(set.kindName({"", "v1", "Pod"}), core("Pod"));
  EXPECT_EQ(set.kindName({"", "v1", "PodList"}), core("PodList"));
  EXPECT_EQ(set.findKind({"", "v1", "Pod"}), set.find(core("Pod")));
  EXPECT_EQ(set.findKind({"apps", "v1", "Pod"}), nullptr);

  const Node& pod = def(core("Pod"));
  ASSERT_EQ(pod.gvks.size(), 1u);
  EXPECT_EQ(pod.gvks[0], (GroupVersionKind{"", "v1", "Pod"}));
  EXPECT_EQ(prop(core("Pod"), "metadata").ref, meta("ObjectMeta"));
  EXPECT_EQ(prop(core("Pod"), "spec").ref, core("PodSpec"));

  const Node& list = def(core("PodList"));
  EXPECT_TRUE(list.isRequired("items"));
  EXPECT_EQ(prop(core("PodList"), "metadata").ref, meta("ListMeta"));
  const Node* item = elementSchema(&set, &prop(core("PodList"), "items"));
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->ref, core("Pod"));

  for (std::string_view kind :
       {"Namespace", "Pod", "PodTemplate", "Service", "Endpoints", "ConfigMap", "Secret",
        "ServiceAccount", "Event", "Node", "PersistentVolume", "PersistentVolumeClaim",
        "ResourceQuota", "LimitRange", "ReplicationController", "ComponentStatus"}) {
    EXPECT_NE(set.findKind({"", "v1", std::string(kind)}), nullptr) << kind;
    EXPECT_NE(set.findKind({"", "v1", std::string(kind) + "List"}), nullptr) << kind;
  }
  EXPECT_NE(set.findKind({"", "v1", "Binding"}), nullptr);
  EXPECT_EQ(set.findKind({"", "v1", "BindingList"}), nullptr);
}

TEST(CoreSchema, MetaKindsCarryKubernetesRegistrations) {
  const SchemaSet& set = coreSet();
  // Status is an unversioned core kind whose metadata is a ListMeta.
  EXPECT_EQ(set.kindName({"", "v1", "Status"}), meta("Status"));
  EXPECT_EQ(set.find(meta("StatusList")), nullptr);
  EXPECT_EQ(prop(meta("Status"), "metadata").ref, meta("ListMeta"));
  // DeleteOptions and WatchEvent exist in every served group version, without metadata.
  EXPECT_EQ(set.kindName({"", "v1", "DeleteOptions"}), meta("DeleteOptions"));
  EXPECT_EQ(set.kindName({"apps", "v1", "DeleteOptions"}), meta("DeleteOptions"));
  EXPECT_EQ(set.kindName({"meta.k8s.io", "v1", "DeleteOptions"}), meta("DeleteOptions"));
  EXPECT_EQ(def(meta("DeleteOptions")).property("metadata"), nullptr);
  EXPECT_NE(def(meta("DeleteOptions")).property("kind"), nullptr);
  EXPECT_EQ(set.kindName({"batch", "v1", "WatchEvent"}), meta("WatchEvent"));
  EXPECT_EQ(fieldNames(meta("WatchEvent")), (std::set<std::string>{"type", "object"}));
  // Tables and metadata-only objects live in meta.k8s.io.
  EXPECT_EQ(set.kindName({"meta.k8s.io", "v1", "Table"}), meta("Table"));
  EXPECT_EQ(set.kindName({"meta.k8s.io", "v1beta1", "Table"}), meta("Table"));
  EXPECT_EQ(prop(meta("Table"), "metadata").ref, meta("ListMeta"));
  EXPECT_EQ(set.kindName({"meta.k8s.io", "v1", "PartialObjectMetadataList"}),
            meta("PartialObjectMetadataList"));
  EXPECT_EQ(set.kindName({"", "v1", "APIResourceList"}), meta("APIResourceList"));
  EXPECT_EQ(def(meta("APIGroup")).property("metadata"), nullptr);
}

TEST(CoreSchema, ValueTypesResolveToTheirScalarShapes) {
  const SchemaSet& set = coreSet();
  const Node* q = set.find("io.k8s.apimachinery.pkg.api.resource.Quantity");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, Type::kIntOrString);
  EXPECT_EQ(q->format, "quantity");
  const Node* is = set.find("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
  ASSERT_NE(is, nullptr);
  EXPECT_EQ(is->type, Type::kIntOrString);
  const Node* raw = set.find("io.k8s.apimachinery.pkg.runtime.RawExtension");
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(raw->type, Type::kAny);
  EXPECT_EQ(def(meta("Time")).format, "date-time");
  EXPECT_EQ(def(meta("FieldsV1")).type, Type::kObject);
  EXPECT_TRUE(def(meta("FieldsV1")).preserveUnknownFields);
  // A port resolves through the ref to an int-or-string.
  const Node* port = resolveNode(&set, &prop(core("ServicePort"), "targetPort"));
  ASSERT_NE(port, nullptr);
  EXPECT_EQ(port->type, Type::kIntOrString);
  const Node* limits = mapValueSchema(&set, &prop(core("ResourceRequirements"), "limits"));
  ASSERT_NE(limits, nullptr);
  EXPECT_EQ(resolveNode(&set, limits)->format, "quantity");
}

TEST(CoreSchema, PodSpecListsCarryMergeKeysAndListTypes) {
  const Node& containers = prop(core("PodSpec"), "containers");
  EXPECT_EQ(containers.patchMergeKey, "name");
  EXPECT_EQ(containers.patchStrategy, "merge");
  EXPECT_EQ(containers.listType, "map");
  EXPECT_EQ(containers.listMapKeys, (std::vector<std::string>{"name"}));
  EXPECT_TRUE(def(core("PodSpec")).isRequired("containers"));

  const Node& volumes = prop(core("PodSpec"), "volumes");
  EXPECT_EQ(volumes.patchMergeKey, "name");
  EXPECT_EQ(volumes.patchStrategy, "merge,retainKeys");
  EXPECT_EQ(volumes.listType, "map");

  EXPECT_EQ(prop(core("PodSpec"), "tolerations").listType, "atomic");
  EXPECT_EQ(prop(core("PodSpec"), "tolerations").patchStrategy, "");
  EXPECT_EQ(prop(core("PodSpec"), "nodeSelector").mapType, "atomic");
  const Node& spread = prop(core("PodSpec"), "topologySpreadConstraints");
  EXPECT_EQ(spread.patchMergeKey, "topologyKey");
  EXPECT_EQ(spread.listMapKeys, (std::vector<std::string>{"topologyKey", "whenUnsatisfiable"}));
  EXPECT_EQ(prop(core("PodSpec"), "resourceClaims").patchStrategy, "merge,retainKeys");

  const Node& ports = prop(core("Container"), "ports");
  EXPECT_EQ(ports.patchMergeKey, "containerPort");
  EXPECT_EQ(ports.patchStrategy, "merge");
  EXPECT_EQ(ports.listMapKeys, (std::vector<std::string>{"containerPort", "protocol"}));
  const Node& env = prop(core("Container"), "env");
  EXPECT_EQ(env.patchMergeKey, "name");
  EXPECT_EQ(env.patchStrategy, "merge");
  EXPECT_EQ(env.listType, "map");
  EXPECT_EQ(env.listMapKeys, (std::vector<std::string>{"name"}));
  EXPECT_EQ(prop(core("Container"), "volumeMounts").patchMergeKey, "mountPath");
  EXPECT_EQ(prop(core("Container"), "envFrom").listType, "atomic");
  EXPECT_EQ(prop(core("Container"), "command").listType, "atomic");

  const Node& podIPs = prop(core("PodStatus"), "podIPs");
  EXPECT_EQ(podIPs.patchMergeKey, "ip");
  EXPECT_EQ(podIPs.listType, "map");
  // hostIPs is patch-merged by ip but atomic for apply, as in Kubernetes.
  EXPECT_EQ(prop(core("PodStatus"), "hostIPs").patchMergeKey, "ip");
  EXPECT_EQ(prop(core("PodStatus"), "hostIPs").listType, "atomic");
}

TEST(CoreSchema, ServiceAndMetadataMarkers) {
  const Node& ports = prop(core("ServiceSpec"), "ports");
  EXPECT_EQ(ports.patchMergeKey, "port");
  EXPECT_EQ(ports.patchStrategy, "merge");
  EXPECT_EQ(ports.listType, "map");
  EXPECT_EQ(ports.listMapKeys, (std::vector<std::string>{"port", "protocol"}));
  EXPECT_EQ(prop(core("ServiceSpec"), "selector").mapType, "atomic");
  EXPECT_TRUE(def(core("ServicePort")).isRequired("port"));
  ASSERT_TRUE(prop(core("ServicePort"), "protocol").defaultValue.has_value());
  EXPECT_EQ(*prop(core("ServicePort"), "protocol").defaultValue, "TCP");

  const Node& owners = prop(meta("ObjectMeta"), "ownerReferences");
  EXPECT_EQ(owners.patchMergeKey, "uid");
  EXPECT_EQ(owners.patchStrategy, "merge");
  EXPECT_EQ(owners.listType, "map");
  EXPECT_EQ(owners.listMapKeys, (std::vector<std::string>{"uid"}));
  const Node& finalizers = prop(meta("ObjectMeta"), "finalizers");
  EXPECT_EQ(finalizers.patchStrategy, "merge");
  EXPECT_EQ(finalizers.listType, "set");
  EXPECT_EQ(prop(meta("ObjectMeta"), "managedFields").listType, "atomic");
  EXPECT_EQ(prop(meta("ObjectMeta"), "labels").type, Type::kMap);
  EXPECT_TRUE(def(meta("ObjectMeta")).required.empty());
  EXPECT_EQ(prop(meta("LabelSelector"), "matchExpressions").listType, "atomic");
  EXPECT_EQ(def(meta("LabelSelector")).mapType, "atomic");
  EXPECT_EQ(def(meta("OwnerReference")).required,
            (std::vector<std::string>{"apiVersion", "kind", "name", "uid"}));
  EXPECT_EQ(def(core("ObjectReference")).mapType, "atomic");
  // A PersistentVolume's claimRef overrides the atomic ObjectReference.
  EXPECT_EQ(prop(core("PersistentVolumeSpec"), "claimRef").mapType, "granular");
  EXPECT_EQ(prop(core("NodeSpec"), "podCIDRs").listType, "set");
  EXPECT_EQ(prop(core("NodeStatus"), "addresses").patchMergeKey, "type");
}

TEST(CoreSchema, RequiredFieldsFollowKubernetesOpenAPI) {
  EXPECT_TRUE(def(core("Container")).isRequired("name"));
  EXPECT_FALSE(def(core("Container")).isRequired("image"));
  EXPECT_TRUE(def(core("Volume")).isRequired("name"));
  EXPECT_TRUE(def(core("EnvVar")).isRequired("name"));
  EXPECT_EQ(def(core("KeyToPath")).required, (std::vector<std::string>{"key", "path"}));
  EXPECT_EQ(def(core("ContainerStatus")).required,
            (std::vector<std::string>{"name", "ready", "restartCount", "image", "imageID"}));
  EXPECT_EQ(def(core("NodeSystemInfo")).required.size(), 10u);
  EXPECT_TRUE(def(core("Event")).isRequired("metadata"));
  EXPECT_TRUE(def(core("Event")).isRequired("involvedObject"));
  EXPECT_TRUE(def(core("ScaleIOVolumeSource")).isRequired("secretRef"));
  EXPECT_FALSE(def(core("TypedLocalObjectReference")).isRequired("apiGroup"));
  EXPECT_EQ(
      def(meta("Condition")).required,
      (std::vector<std::string>{"type", "status", "lastTransitionTime", "reason", "message"}));
  EXPECT_TRUE(def(core("Pod")).required.empty());
}

TEST(CoreSchema, EnumsSitOnValuesNotCollections) {
  EXPECT_EQ(enumOf(prop(core("Container"), "imagePullPolicy")),
            (std::vector<std::string>{"Always", "IfNotPresent", "Never"}));
  EXPECT_EQ(enumOf(prop(core("PodSpec"), "restartPolicy")),
            (std::vector<std::string>{"Always", "Never", "OnFailure"}));
  EXPECT_EQ(enumOf(prop(core("ServiceSpec"), "type")),
            (std::vector<std::string>{"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}));
  EXPECT_EQ(enumOf(prop(core("ContainerPort"), "protocol")),
            (std::vector<std::string>{"SCTP", "TCP", "UDP"}));
  // The empty string is one of the values of HostPathType and IPFamily.
  EXPECT_EQ(enumOf(prop(core("HostPathVolumeSource"), "type")).front(), "");
  const Node& modes = prop(core("PersistentVolumeClaimSpec"), "accessModes");
  EXPECT_TRUE(modes.enumValues.empty());
  ASSERT_NE(modes.items, nullptr);
  EXPECT_EQ(enumOf(*modes.items).size(), 4u);
  const Node& families = prop(core("ServiceSpec"), "ipFamilies");
  ASSERT_NE(families.items, nullptr);
  EXPECT_EQ(enumOf(*families.items), (std::vector<std::string>{"", "IPv4", "IPv6"}));
  const Node& resizing = prop(core("PersistentVolumeClaimStatus"), "allocatedResourceStatuses");
  ASSERT_NE(resizing.additionalProperties, nullptr);
  EXPECT_EQ(enumOf(*resizing.additionalProperties).size(), 5u);
  // No enum where the Go type is not +enum.
  EXPECT_TRUE(prop(core("PodCondition"), "status").enumValues.empty());
  EXPECT_TRUE(prop(core("Secret"), "type").enumValues.empty());
}

// Field sets of the most used types, as in Kubernetes 1.32: a missing field would make
// fieldValidation=Strict reject valid manifests.
TEST(CoreSchema, FieldSetsMatchKubernetes132) {
  EXPECT_EQ(fieldNames(core("PodSpec")), (std::set<std::string>{"activeDeadlineSeconds",
                                                                "affinity",
                                                                "automountServiceAccountToken",
                                                                "containers",
                                                                "dnsConfig",
                                                                "dnsPolicy",
                                                                "enableServiceLinks",
                                                                "ephemeralContainers",
                                                                "hostAliases",
                                                                "hostIPC",
                                                                "hostNetwork",
                                                                "hostPID",
                                                                "hostUsers",
                                                                "hostname",
                                                                "imagePullSecrets",
                                                                "initContainers",
                                                                "nodeName",
                                                                "nodeSelector",
                                                                "os",
                                                                "overhead",
                                                                "preemptionPolicy",
                                                                "priority",
                                                                "priorityClassName",
                                                                "readinessGates",
                                                                "resourceClaims",
                                                                "resources",
                                                                "restartPolicy",
                                                                "runtimeClassName",
                                                                "schedulerName",
                                                                "schedulingGates",
                                                                "securityContext",
                                                                "serviceAccount",
                                                                "serviceAccountName",
                                                                "setHostnameAsFQDN",
                                                                "shareProcessNamespace",
                                                                "subdomain",
                                                                "terminationGracePeriodSeconds",
                                                                "tolerations",
                                                                "topologySpreadConstraints",
                                                                "volumes"}));
  EXPECT_EQ(fieldNames(core("Container")), (std::set<std::string>{"args",
                                                                  "command",
                                                                  "env",
                                                                  "envFrom",
                                                                  "image",
                                                                  "imagePullPolicy",
                                                                  "lifecycle",
                                                                  "livenessProbe",
                                                                  "name",
                                                                  "ports",
                                                                  "readinessProbe",
                                                                  "resizePolicy",
                                                                  "resources",
                                                                  "restartPolicy",
                                                                  "securityContext",
                                                                  "startupProbe",
                                                                  "stdin",
                                                                  "stdinOnce",
                                                                  "terminationMessagePath",
                                                                  "terminationMessagePolicy",
                                                                  "tty",
                                                                  "volumeDevices",
                                                                  "volumeMounts",
                                                                  "workingDir"}));
  // An ephemeral container has every container field plus its target.
  std::set<std::string> ephemeral = fieldNames(core("Container"));
  ephemeral.insert("targetContainerName");
  EXPECT_EQ(fieldNames(core("EphemeralContainer")), ephemeral);
  EXPECT_EQ(fieldNames(core("ContainerStatus")),
            (std::set<std::string>{"allocatedResources", "allocatedResourcesStatus", "containerID",
                                   "image", "imageID", "lastState", "name", "ready", "resources",
                                   "restartCount", "started", "state", "user", "volumeMounts"}));
  EXPECT_EQ(fieldNames(core("PodSecurityContext")),
            (std::set<std::string>{"appArmorProfile", "fsGroup", "fsGroupChangePolicy",
                                   "runAsGroup", "runAsNonRoot", "runAsUser", "seLinuxChangePolicy",
                                   "seLinuxOptions", "seccompProfile", "supplementalGroups",
                                   "supplementalGroupsPolicy", "sysctls", "windowsOptions"}));
  EXPECT_EQ(fieldNames(meta("ObjectMeta")),
            (std::set<std::string>{"annotations", "creationTimestamp", "deletionGracePeriodSeconds",
                                   "deletionTimestamp", "finalizers", "generateName", "generation",
                                   "labels", "managedFields", "name", "namespace",
                                   "ownerReferences", "resourceVersion", "selfLink", "uid"}));
  EXPECT_EQ(def(core("ServiceSpec")).properties.size(), 20u);
  // A volume has its name plus every volume source.
  EXPECT_EQ(def(core("Volume")).properties.size(), 31u);
  EXPECT_EQ(fieldNames(core("ResourceRequirements")),
            (std::set<std::string>{"claims", "limits", "requests"}));
  EXPECT_EQ(fieldNames(core("ResourceClaim")), (std::set<std::string>{"name", "request"}));
}

// Consistency of the markers across every meta and core definition.
TEST(CoreSchema, MarkersAreConsistent) {
  const SchemaSet& set = coreSet();
  size_t lists = 0;
  for (const auto& [name, node] : set.definitions()) {
    if (!ours(name)) continue;
    const Node* shape = resolveNode(&set, node.get());
    if (shape->type == Type::kObject && !shape->preserveUnknownFields) {
      EXPECT_FALSE(node->description.empty()) << name << " has no description";
    }
    for (const std::string& r : node->required)
      EXPECT_NE(node->property(r), nullptr) << name << " requires unknown field " << r;
    for (const Property& p : node->properties) {
      std::string where = name + "." + p.name;
      EXPECT_FALSE(p.schema->description.empty()) << where << " has no description";
      const Node& f = *p.schema;
      if (!f.patchMergeKey.empty()) {
        EXPECT_NE(f.patchStrategy.find("merge"), std::string::npos) << where;
      }
      if (f.listType == "map") {
        ++lists;
        EXPECT_FALSE(f.listMapKeys.empty()) << where;
        const Node* elem = resolveNode(&set, elementSchema(&set, &f));
        ASSERT_NE(elem, nullptr) << where;
        for (const std::string& k : f.listMapKeys)
          EXPECT_NE(elem->property(k), nullptr) << where << " keys on missing field " << k;
        if (!f.patchMergeKey.empty()) {
          EXPECT_NE(elem->property(f.patchMergeKey), nullptr) << where;
        }
      }
      if (!f.listType.empty()) {
        EXPECT_EQ(f.type, Type::kArray) << where;
      }
      if (f.type == Type::kArray) {
        EXPECT_TRUE(f.enumValues.empty()) << where;
      }
    }
  }
  EXPECT_GT(lists, 30u);
}

// Reports every field of `value` the schema `node` does not declare, as strict field
// validation would.
void unknownFields(const SchemaSet& set, const Node* node, const Json& value,
                   const std::string& path, std::vector<std::string>& out) {
  const Node* n = resolveNode(&set, node);
  if (n == nullptr) return;
  if (n->type == Type::kObject && value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      std::string at = path.empty() ? key : path + "." + key;
      if (const Node* p = n->property(key)) {
        unknownFields(set, p, child, at, out);
      } else if (!n->preserveUnknownFields) {
        out.push_back(at);
      }
    }
  } else if (n->type == Type::kArray && value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      unknownFields(set, n->items.get(), value[i], path + "[" + std::to_string(i) + "]", out);
  } else if (n->type == Type::kMap && value.is_object()) {
    for (const auto& [key, child] : value.items())
      unknownFields(set, n->additionalProperties.get(), child, path + "." + key, out);
  }
}

std::vector<std::string> unknownFieldsOf(std::string_view yaml) {
  std::vector<std::string> out;
  auto docs = parseYamlDocuments(yaml);
  if (!docs.ok()) {
    ADD_FAILURE() << docs.error().message();
    return out;
  }
  for (const Json& doc : *docs) {
    std::string apiVersion = doc.value("apiVersion", ""), kind = doc.value("kind", "");
    std::string group, version = apiVersion;
    if (auto slash = apiVersion.find('/'); slash != std::string::npos) {
      group = apiVersion.substr(0, slash);
      version = apiVersion.substr(slash + 1);
    }
    const Node* schema = coreSet().findKind({group, version, kind});
    if (schema == nullptr) {
      ADD_FAILURE() << "no schema for " << apiVersion << " " << kind;
      continue;
    }
    unknownFields(coreSet(), schema, doc, kind, out);
  }
  return out;
}

TEST(CoreSchema, RichPodManifestHasNoUnknownFields) {
  auto unknown = unknownFieldsOf(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations: {note: x}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u1, controller: true, blockOwnerDeletion: true}
  finalizers: [example.com/cleanup]
  managedFields:
  - {manager: kubectl, operation: Apply, apiVersion: v1, time: "2024-01-01T00:00:00Z", fieldsType: FieldsV1, fieldsV1: {"f:metadata": {}}, subresource: ""}
spec:
  initContainers:
  - name: log-shipper
    image: busybox
    restartPolicy: Always
    startupProbe: {exec: {command: [true]}, failureThreshold: 30, periodSeconds: 1}
  containers:
  - name: app
    image: nginx:1.27
    imagePullPolicy: IfNotPresent
    command: [nginx]
    args: ["-g", "daemon off;"]
    workingDir: /srv
    ports: [{name: http, containerPort: 80, protocol: TCP, hostPort: 8080, hostIP: 0.0.0.0}]
    env:
    - {name: A, value: "1"}
    - name: POD
      valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}
    - name: CPU
      valueFrom: {resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: 1m}}
    - name: C
      valueFrom: {configMapKeyRef: {name: cfg, key: c, optional: true}}
    - name: S
      valueFrom: {secretKeyRef: {name: sec, key: s}}
    envFrom: [{prefix: X_, configMapRef: {name: cfg}}, {secretRef: {name: sec, optional: false}}]
    resources:
      limits: {cpu: 500m, memory: 256Mi}
      requests: {cpu: 100m, memory: 128Mi}
      claims: [{name: gpu, request: one}]
    resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]
    volumeMounts:
    - {name: data, mountPath: /data, readOnly: true, recursiveReadOnly: IfPossible, mountPropagation: None}
    - {name: cfg, mountPath: /etc/cfg, subPath: app.conf}
    - {name: logs, mountPath: /logs, subPathExpr: $(POD)}
    volumeDevices: [{name: raw, devicePath: /dev/xvda}]
    livenessProbe:
      httpGet: {path: /healthz, port: http, scheme: HTTP, host: localhost, httpHeaders: [{name: X, value: y}]}
      initialDelaySeconds: 5
      timeoutSeconds: 2
      periodSeconds: 10
      successThreshold: 1
      failureThreshold: 3
      terminationGracePeriodSeconds: 10
    readinessProbe: {tcpSocket: {port: 80, host: localhost}}
    startupProbe: {grpc: {port: 9000, service: health}}
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo hi"]}}
      preStop: {sleep: {seconds: 5}}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: FallbackToLogsOnError
    securityContext:
      capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
      privileged: false
      seLinuxOptions: {user: u, role: r, type: t, level: s0}
      windowsOptions: {gmsaCredentialSpecName: n, gmsaCredentialSpec: s, runAsUserName: u, hostProcess: false}
      runAsUser: 1000
      runAsGroup: 1000
      runAsNonRoot: true
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      procMount: Default
      seccompProfile: {type: RuntimeDefault}
      appArmorProfile: {type: Localhost, localhostProfile: p}
    stdin: true
    stdinOnce: true
    tty: true
  ephemeralContainers:
  - {name: debug, image: busybox, targetContainerName: app, stdin: true, tty: true}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data, readOnly: true}}
  - {name: cfg, configMap: {name: cfg, defaultMode: 420, optional: true, items: [{key: a, path: a.conf, mode: 256}]}}
  - {name: sec, secret: {secretName: sec, defaultMode: 256, items: [{key: k, path: k}]}}
  - {name: logs, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
  - {name: host, hostPath: {path: /var/log, type: DirectoryOrCreate}}
  - {name: info, downwardAPI: {defaultMode: 420, items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: cpu, resourceFieldRef: {containerName: app, resource: requests.cpu}}]}}
  - name: proj
    projected:
      defaultMode: 420
      sources:
      - serviceAccountToken: {audience: api, expirationSeconds: 3600, path: token}
      - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
      - secret: {name: sec, optional: true}
      - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]}
      - clusterTrustBundle: {signerName: example.com/signer, labelSelector: {matchLabels: {a: b}}, path: ca.pem, optional: true}
  - name: scratch
    ephemeral:
      volumeClaimTemplate:
        metadata: {labels: {type: scratch}}
        spec: {accessModes: [ReadWriteOnce], storageClassName: fast, resources: {requests: {storage: 1Gi}}}
  - {name: csi, csi: {driver: secrets.example.com, readOnly: true, fsType: ext4, volumeAttributes: {a: b}, nodePublishSecretRef: {name: x}}}
  - {name: model, image: {reference: "quay.io/models/m:1", pullPolicy: IfNotPresent}}
  - {name: share, nfs: {server: nfs.local, path: /export, readOnly: false}}
  - {name: raw, iscsi: {targetPortal: "10.0.0.1:3260", iqn: "iqn.2001-04.com.example:storage", lun: 0, fsType: ext4, chapAuthSession: true, secretRef: {name: chap}}}
  restartPolicy: Always
  terminationGracePeriodSeconds: 30
  activeDeadlineSeconds: 3600
  dnsPolicy: ClusterFirst
  dnsConfig: {nameservers: [1.1.1.1], searches: [example.com], options: [{name: ndots, value: "2"}, {name: edns0}]}
  nodeSelector: {kubernetes.io/os: linux}
  serviceAccountName: web
  automountServiceAccountToken: false
  hostNetwork: false
  hostPID: false
  hostIPC: false
  shareProcessNamespace: true
  hostUsers: false
  hostname: web-0
  subdomain: web
  setHostnameAsFQDN: true
  schedulerName: default-scheduler
  priorityClassName: high
  priority: 1000
  preemptionPolicy: PreemptLowerPriority
  runtimeClassName: gvisor
  enableServiceLinks: false
  overhead: {cpu: 10m}
  os: {name: linux}
  imagePullSecrets: [{name: registry}]
  hostAliases: [{ip: 10.0.0.5, hostnames: [db.local]}]
  readinessGates: [{conditionType: example.com/ready}]
  schedulingGates: [{name: example.com/quota}]
  resourceClaims: [{name: gpu, resourceClaimTemplateName: gpu-template}, {name: fpga, resourceClaimName: fpga-1}]
  resources: {limits: {cpu: "2", memory: 1Gi}}
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
    runAsNonRoot: true
    fsGroup: 2000
    fsGroupChangePolicy: OnRootMismatch
    supplementalGroups: [3000]
    supplementalGroupsPolicy: Strict
    sysctls: [{name: net.core.somaxconn, value: "1024"}]
    seccompProfile: {type: Localhost, localhostProfile: profiles/web.json}
    appArmorProfile: {type: RuntimeDefault}
    seLinuxChangePolicy: MountOption
    seLinuxOptions: {level: "s0:c1,c2"}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: zone, operator: In, values: [a, b]}]
          matchFields: [{key: metadata.name, operator: NotIn, values: [bad]}]
      preferredDuringSchedulingIgnoredDuringExecution:
      - {weight: 10, preference: {matchExpressions: [{key: ssd, operator: Exists}]}}
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchExpressions: [{key: app, operator: In, values: [db]}]}
        topologyKey: topology.kubernetes.io/zone
        namespaces: [data]
        namespaceSelector: {matchLabels: {team: a}}
        matchLabelKeys: [pod-template-hash]
        mismatchLabelKeys: [tenant]
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm: {labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}
  tolerations:
  - {key: dedicated, operator: Equal, value: web, effect: NoSchedule}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {app: web}}
    minDomains: 2
    nodeAffinityPolicy: Honor
    nodeTaintsPolicy: Ignore
    matchLabelKeys: [pod-template-hash]
status:
  phase: Running
  conditions:
  - {type: Ready, status: "True", lastProbeTime: null, lastTransitionTime: "2024-01-01T00:00:00Z", reason: r, message: m}
  message: ok
  reason: ""
  nominatedNodeName: node-2
  hostIP: 10.0.0.1
  hostIPs: [{ip: 10.0.0.1}]
  podIP: 10.244.0.5
  podIPs: [{ip: 10.244.0.5}, {ip: "fd00::5"}]
  startTime: "2024-01-01T00:00:00Z"
  qosClass: Burstable
  resize: InProgress
  resourceClaimStatuses: [{name: gpu, resourceClaimName: web-gpu-abcde}]
  initContainerStatuses:
  - name: log-shipper
    ready: true
    restartCount: 0
    image: busybox
    imageID: docker.io/library/busybox@sha256:1
    started: true
    state: {running: {startedAt: "2024-01-01T00:00:00Z"}}
  containerStatuses:
  - name: app
    ready: true
    restartCount: 2
    image: nginx:1.27
    imageID: docker.io/library/nginx@sha256:2
    containerID: containerd://abc
    started: true
    state: {running: {startedAt: "2024-01-01T00:00:00Z"}}
    lastState: {terminated: {exitCode: 137, signal: 9, reason: OOMKilled, message: m, startedAt: "2024-01-01T00:00:00Z", finishedAt: "2024-01-01T00:00:01Z", containerID: containerd://old}}
    allocatedResources: {cpu: 100m}
    resources: {requests: {cpu: 100m}}
    volumeMounts: [{name: data, mountPath: /data, readOnly: true, recursiveReadOnly: Enabled}]
    user: {linux: {uid: 1000, gid: 1000, supplementalGroups: [3000]}}
    allocatedResourcesStatus: [{name: "claim:gpu/one", resources: [{resourceID: gpu-0, health: Healthy}]}]
  ephemeralContainerStatuses:
  - {name: debug, ready: false, restartCount: 0, image: busybox, imageID: "", state: {waiting: {reason: ContainerCreating, message: ""}}}
)");
  EXPECT_TRUE(unknown.empty()) << testing::PrintToString(unknown);
}

TEST(CoreSchema, OtherCoreManifestsHaveNoUnknownFields) {
  auto unknown = unknownFieldsOf(R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, protocol: TCP, appProtocol: http, port: 80, targetPort: http, nodePort: 30080}]
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10]
  externalIPs: [192.0.2.1]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  loadBalancerIP: 192.0.2.2
  loadBalancerSourceRanges: [0.0.0.0/0]
  loadBalancerClass: example.com/lb
  externalTrafficPolicy: Local
  internalTrafficPolicy: Cluster
  healthCheckNodePort: 32000
  publishNotReadyAddresses: false
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  allocateLoadBalancerNodePorts: true
  trafficDistribution: PreferClose
status:
  loadBalancer: {ingress: [{ip: 192.0.2.2, hostname: lb.example.com, ipMode: VIP, ports: [{port: 80, protocol: TCP, error: ""}]}]}
  conditions: [{type: Ready, status: "True", observedGeneration: 1, lastTransitionTime: "2024-01-01T00:00:00Z", reason: Ok, message: ""}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
- addresses: [{ip: 10.244.0.5, hostname: web-0, nodeName: node-1, targetRef: {kind: Pod, name: web-0, namespace: shop, uid: u}}]
  notReadyAddresses: [{ip: 10.244.0.6}]
  ports: [{name: http, port: 80, protocol: TCP, appProtocol: http}]
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
spec:
  podCIDR: 10.244.0.0/24
  podCIDRs: [10.244.0.0/24]
  providerID: nave://node-1
  unschedulable: false
  taints: [{key: k, value: v, effect: NoExecute, timeAdded: "2024-01-01T00:00:00Z"}]
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: 3800m, memory: 7Gi, pods: "110"}
  conditions: [{type: Ready, status: "True", lastHeartbeatTime: "2024-01-01T00:00:00Z", lastTransitionTime: "2024-01-01T00:00:00Z", reason: KubeletReady, message: ready}]
  addresses: [{type: InternalIP, address: 10.0.0.1}, {type: Hostname, address: node-1}]
  daemonEndpoints: {kubeletEndpoint: {Port: 10250}}
  nodeInfo: {machineID: m, systemUUID: s, bootID: b, kernelVersion: "6.1", osImage: Debian, containerRuntimeVersion: nave://0.1, kubeletVersion: v1.32.0, kubeProxyVersion: "", operatingSystem: linux, architecture: amd64}
  images: [{names: [nginx:1.27], sizeBytes: 1000}]
  volumesInUse: [kubernetes.io/csi/x]
  volumesAttached: [{name: kubernetes.io/csi/x, devicePath: ""}]
  runtimeHandlers: [{name: "", features: {recursiveReadOnlyMounts: true, userNamespaces: true}}]
  features: {supplementalGroupsPolicy: true}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-1}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  volumeMode: Filesystem
  mountOptions: [noatime]
  claimRef: {namespace: shop, name: data}
  volumeAttributesClassName: gold
  local: {path: /mnt/disk1, fsType: ext4}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1]}]}]}}
status: {phase: Bound, message: "", reason: "", lastPhaseTransitionTime: "2024-01-01T00:00:00Z"}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-2}
spec:
  capacity: {storage: 1Ti}
  accessModes: [ReadWriteMany]
  csi:
    driver: nfs.csi.k8s.io
    volumeHandle: h
    readOnly: false
    fsType: nfs
    volumeAttributes: {server: s}
    controllerPublishSecretRef: {name: a, namespace: b}
    nodeStageSecretRef: {name: a, namespace: b}
    nodePublishSecretRef: {name: a, namespace: b}
    controllerExpandSecretRef: {name: a, namespace: b}
    nodeExpandSecretRef: {name: a, namespace: b}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  selector: {matchLabels: {tier: fast}}
  resources: {requests: {storage: 1Gi}, limits: {storage: 2Gi}}
  volumeName: pv-1
  storageClassName: local
  volumeMode: Filesystem
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap}
  dataSourceRef: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap, namespace: shop}
  volumeAttributesClassName: gold
status:
  phase: Bound
  accessModes: [ReadWriteOnce]
  capacity: {storage: 1Gi}
  conditions: [{type: Resizing, status: "True", lastProbeTime: null, lastTransitionTime: null, reason: r, message: m}]
  allocatedResources: {storage: 2Gi}
  allocatedResourceStatuses: {storage: ControllerResizeInProgress}
  currentVolumeAttributesClassName: gold
  modifyVolumeStatus: {targetVolumeAttributesClassName: silver, status: Pending}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
immutable: true
data: {a: b}
binaryData: {bin: aGk=}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
type: kubernetes.io/tls
data: {tls.crt: aGk=, tls.key: aGk=}
stringData: {extra: x}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
secrets: [{name: token}]
imagePullSecrets: [{name: registry}]
automountServiceAccountToken: false
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
spec: {finalizers: [kubernetes]}
status: {phase: Active, conditions: [{type: NamespaceContentRemaining, status: "False", lastTransitionTime: null, reason: r, message: m}]}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: q}
spec:
  hard: {pods: "10", requests.cpu: "4"}
  scopes: [NotBestEffort]
  scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: In, values: [high]}]}
status: {hard: {pods: "10"}, used: {pods: "3"}}
---
apiVersion: v1
kind: LimitRange
metadata: {name: l}
spec:
  limits:
  - {type: Container, max: {cpu: "2"}, min: {cpu: 10m}, default: {cpu: 500m}, defaultRequest: {cpu: 100m}, maxLimitRequestRatio: {cpu: "4"}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  replicas: 2
  minReadySeconds: 5
  selector: {app: rc}
  template: {metadata: {labels: {app: rc}}, spec: {containers: [{name: c, image: busybox}]}}
status:
  replicas: 2
  fullyLabeledReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
  observedGeneration: 1
  conditions: [{type: ReplicaFailure, status: "False", lastTransitionTime: null, reason: r, message: m}]
---
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}
---
apiVersion: v1
kind: Event
metadata: {name: web.1, namespace: shop}
involvedObject: {kind: Pod, name: web, namespace: shop, uid: u, apiVersion: v1, resourceVersion: "1", fieldPath: "spec.containers{app}"}
reason: Started
message: Started container app
source: {component: kubelet, host: node-1}
firstTimestamp: "2024-01-01T00:00:00Z"
lastTimestamp: "2024-01-01T00:00:00Z"
count: 1
type: Normal
eventTime: "2024-01-01T00:00:00.000001Z"
series: {count: 2, lastObservedTime: "2024-01-01T00:00:00.000001Z"}
action: Start
related: {kind: Node, name: node-1}
reportingComponent: kubelet
reportingInstance: node-1
---
apiVersion: v1
kind: Binding
metadata: {name: web}
target: {kind: Node, name: node-1}
---
apiVersion: v1
kind: Status
metadata: {resourceVersion: ""}
status: Failure
message: pods "x" not found
reason: NotFound
details: {name: x, group: "", kind: pods, uid: "", retryAfterSeconds: 0, causes: [{reason: FieldValueInvalid, message: m, field: f}]}
code: 404
---
apiVersion: v1
kind: DeleteOptions
gracePeriodSeconds: 0
propagationPolicy: Foreground
preconditions: {uid: u, resourceVersion: "5"}
orphanDependents: false
dryRun: [All]
---
apiVersion: meta.k8s.io/v1
kind: Table
metadata: {resourceVersion: "10"}
columnDefinitions: [{name: Name, type: string, format: name, description: d, priority: 0}]
rows: [{cells: [web, 1, true, null], conditions: [{type: Completed, status: "True"}], object: {kind: PartialObjectMetadata, apiVersion: meta.k8s.io/v1, metadata: {name: web}}}]
---
apiVersion: v1
kind: APIResourceList
groupVersion: v1
resources: [{name: pods, singularName: pod, namespaced: true, kind: Pod, verbs: [get, list], shortNames: [po], categories: [all], storageVersionHash: h}]
)");
  EXPECT_TRUE(unknown.empty()) << testing::PrintToString(unknown);
}

TEST(CoreSchema, TyposAreReportedAsUnknownFields) {
  auto unknown = unknownFieldsOf(R"(
apiVersion: v1
kind: Pod
metadata: {name: p, label: {a: b}}
spec:
  containers: [{name: c, image: busybox, imagePullPolicy: Always, port: [{containerPort: 80}]}]
  volume: []
)");
  EXPECT_EQ(unknown, (std::vector<std::string>{"Pod.metadata.label", "Pod.spec.containers[0].port",
                                               "Pod.spec.volume"}));
}

// --- Parser ---------------------------------------------------------------------------------

Result<void> parse(std::string_view text, SchemaSet& set) {
  return set.addSource(text, "test.schema");
}

std::string parseError(std::string_view text) {
  SchemaSet set;
  auto r = parse(text, set);
  return r.ok() ? std::string("<no error>") : r.error().message();
}

TEST(SchemaParser, ParsesTypesKindsAndAttributes) {
  SchemaSet set;
  auto r = parse(R"(# a comment
package example.com.v1
use meta = io.k8s.apimachinery.pkg.apis.meta.v1

kind Widget example.com/v1,example.com/v2 "A widget (with a # inside)."
  spec! WidgetSpec "Spec."  # trailing comment

type WidgetSpec map=atomic "What a widget is."
  sizes []int32 list=set "Sizes."
  parts []Part merge=name strategy=merge keys=name "Parts."
  mode string enum=|On|Off default="On" "Mode."
  when meta.Time "When."
  labels map[string] enum=a|b "Labels."

type Part "A part."
  name! string "Name."
type Alias = string format=byte "An alias."
)",
                 set);
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Node* widget = set.find("example.com.v1.Widget");
  ASSERT_NE(widget, nullptr);
  EXPECT_EQ(widget->description, "A widget (with a # inside).");
  EXPECT_EQ(widget->gvks.size(), 2u);
  EXPECT_EQ(set.kindName({"example.com", "v2", "WidgetList"}), "example.com.v1.WidgetList");
  EXPECT_TRUE(widget->isRequired("spec"));
  EXPECT_EQ(widget->property("spec")->description, "Spec.");
  const Node* spec = set.find("example.com.v1.WidgetSpec");
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->mapType, "atomic");
  EXPECT_EQ(spec->property("parts")->listType, "map");  // implied by keys=
  EXPECT_EQ(spec->property("mode")->enumValues.size(), 3u);
  EXPECT_EQ(*spec->property("mode")->defaultValue, "On");
  EXPECT_EQ(spec->property("when")->ref, "io.k8s.apimachinery.pkg.apis.meta.v1.Time");
  EXPECT_EQ(spec->property("labels")->additionalProperties->enumValues.size(), 2u);
  EXPECT_EQ(set.find("example.com.v1.Alias")->format, "byte");
  // meta.Time is not defined here.
  EXPECT_FALSE(set.validate().ok());
}

TEST(SchemaParser, KindsMayReplaceTheirAutomaticFieldsOnce) {
  SchemaSet set;
  auto r = parse(R"(package p
kind Report v1 nolist nometa "No metadata."
  metadata Other "Replaced."
kind Summary v1 nolist "ListMeta metadata."
  metadata! Other "Replaced."
kind Event v1 nolist bare "Only its own fields."
  type string "Type."
type Other "Other."
)",
                 set);
  ASSERT_TRUE(r.ok()) << r.error().message();
  // Without automatic metadata, `metadata` is an ordinary field.
  EXPECT_EQ(set.find("p.Report")->properties.size(), 3u);
  const Node* summary = set.find("p.Summary");
  ASSERT_EQ(summary->properties.size(), 3u);
  EXPECT_EQ(summary->properties[2].schema->ref, "p.Other");
  EXPECT_TRUE(summary->isRequired("metadata"));
  ASSERT_EQ(set.find("p.Event")->properties.size(), 1u);

  EXPECT_NE(parseError("package p\nkind K v1\n  metadata A \"x\"\n  metadata B \"y\"\n")
                .find("test.schema:4: field 'metadata' declared twice"),
            std::string::npos);
}

TEST(SchemaParser, ErrorsNameFileAndLine) {
  EXPECT_EQ(parseError("package p\ntype T \"t\"\n  a string colour=red \"x\"\n"),
            "test.schema:3: unknown attribute 'colour=red'");
  EXPECT_EQ(parseError("package p\ntype T \"t\"\n  a string \"never closed\n"),
            "test.schema:3: unterminated description");
  EXPECT_EQ(parseError("package p\n  a string \"x\"\n"),
            "test.schema:2: field outside a type or kind");
  EXPECT_EQ(parseError("  a string \"x\"\n"), "test.schema:1: field outside a type or kind");
  EXPECT_EQ(parseError("package p\ntype T \"t\"\n  a string\n  b int32\n  a bool\n"),
            "test.schema:5: field 'a' declared twice");
  EXPECT_EQ(parseError("package p\ntype T \"t\"\n  a string\n    b string\n"),
            "test.schema:4: bad indentation: field lines are indented by 2 space(s)");
  EXPECT_EQ(parseError("package p\ntype T \"t\"\n  a string\n\tb string\n"),
            "test.schema:4: bad indentation: field lines are indented by 2 space(s)");
  EXPECT_EQ(parseError("package p\ntype T \"t\"\n \t a string\n"),
            "test.schema:3: bad indentation: tabs and spaces mixed");
  EXPECT_EQ(parseError("type T \"t\"\n"), "test.schema:1: declaration before package");
  EXPECT_EQ(parseError("package p\nstruct T\n"), "test.schema:2: unknown declaration 'struct'");
  EXPECT_EQ(parseError("package p\ntype T \"t\"\ntype T \"again\"\n"),
            "test.schema:3: p.T declared twice");
  EXPECT_EQ(parseError("package p\nkind K v1\ntype KList \"clash\"\n"),
            "test.schema:3: p.KList declared twice");
  EXPECT_EQ(parseError("package p\ntype T \"t\"\n  a string \"x\" merge=k\n"),
            "test.schema:3: description must come last");
  EXPECT_EQ(parseError("package p\ntype T \"t\"\n  a string default={bad\n"),
            "test.schema:3: bad default {bad");
  EXPECT_EQ(parseError("package p\nkind K apps/ \"x\"\n"),
            "test.schema:2: bad group/version 'apps/'");
  // Errors are reported, not thrown or aborted on, and the line count includes comments.
  EXPECT_EQ(parseError("# c\n\npackage p\n# c\ntype T \"t\"\n  a\n"),
            "test.schema:6: usage: NAME[!] TYPE [attrs] [\"description\"]");
}

TEST(SchemaParser, ValidateListsUndefinedTypes) {
  SchemaSet set;
  ASSERT_TRUE(parse("package p\ntype T \"t\"\n  a Missing\n  b []q.Other\n", set).ok());
  auto r = set.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "undefined schema types: p.Missing, q.Other");
}

}  // namespace
}  // namespace nave::schema
