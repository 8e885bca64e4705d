// The schema parser (server/schema/schema.cc) and the meta and core/v1 schemas
// (server/schema/defs/meta.schema, core_v1.schema): they parse, resolve, and carry the markers
// Kubernetes 1.32 declares on its Go types.
#include "server/schema/schema.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/schema/embedded.h"

namespace nave::schema {
namespace {

constexpr std::string_view kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";
constexpr std::string_view kCore = "io.k8s.api.core.v1.";

std::string meta(std::string_view name) { return std::string(kMeta) + std::string(name); }
std::string core(std::string_view name) { return std::string(kCore) + std::string(name); }

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
  EXPECT_EQ(def(meta("Condition")).required,
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
  EXPECT_EQ(fieldNames(core("PodSpec")),
            (std::set<std::string>{
                "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "containers",
                "dnsConfig", "dnsPolicy", "enableServiceLinks", "ephemeralContainers",
                "hostAliases", "hostIPC", "hostNetwork", "hostPID", "hostUsers", "hostname",
                "imagePullSecrets", "initContainers", "nodeName", "nodeSelector", "os", "overhead",
                "preemptionPolicy", "priority", "priorityClassName", "readinessGates",
                "resourceClaims", "resources", "restartPolicy", "runtimeClassName",
                "schedulerName", "schedulingGates", "securityContext", "serviceAccount",
                "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace", "subdomain",
                "terminationGracePeriodSeconds", "tolerations", "topologySpreadConstraints",
                "volumes"}));
  EXPECT_EQ(fieldNames(core("Container")),
            (std::set<std::string>{
                "args", "command", "env", "envFrom", "image", "imagePullPolicy", "lifecycle",
                "livenessProbe", "name", "ports", "readinessProbe", "resizePolicy", "resources",
                "restartPolicy", "securityContext", "startupProbe", "stdin", "stdinOnce",
                "terminationMessagePath", "terminationMessagePolicy", "tty", "volumeDevices",
                "volumeMounts", "workingDir"}));
  // An ephemeral container has every container field plus its target.
  std::set<std::string> ephemeral = fieldNames(core("Container"));
  ephemeral.insert("targetContainerName");
  EXPECT_EQ(fieldNames(core("EphemeralContainer")), ephemeral);
  EXPECT_EQ(fieldNames(core("ContainerStatus")),
            (std::set<std::string>{"allocatedResources", "allocatedResourcesStatus",
                                   "containerID", "image", "imageID", "lastState", "name",
                                   "ready", "resources", "restartCount", "started", "state",
                                   "user", "volumeMounts"}));
  EXPECT_EQ(fieldNames(core("PodSecurityContext")),
            (std::set<std::string>{"appArmorProfile", "fsGroup", "fsGroupChangePolicy",
                                   "runAsGroup", "runAsNonRoot", "runAsUser",
                                   "seLinuxChangePolicy", "seLinuxOptions", "seccompProfile",
                                   "supplementalGroups", "supplementalGroupsPolicy", "sysctls",
                                   "windowsOptions"}));
  EXPECT_EQ(fieldNames(meta("ObjectMeta")),
            (std::set<std::string>{"annotations", "creationTimestamp",
                                   "deletionGracePeriodSeconds", "deletionTimestamp",
                                   "finalizers", "generateName", "generation", "labels",
                                   "managedFields", "name", "namespace", "ownerReferences",
                                   "resourceVersion", "selfLink", "uid"}));
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
