// The schemas of the API groups other than core (server/schema/defs/<group>_<version>.schema):
// they parse, resolve against the meta and core schemas, carry Kubernetes' markers, and accept
// real manifests without reporting unknown fields.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/yaml.h"
#include "server/schema/embedded.h"
#include "server/schema/schema.h"

namespace nave::schema {
namespace {

constexpr std::string_view kGroupFiles[] = {
    "apps_v1.schema",          "batch_v1.schema",       "coordination_v1.schema",
    "discovery_v1.schema",     "events_v1.schema",      "networking_v1.schema",
    "storage_v1.schema",       "rbac_v1.schema",        "policy_v1.schema",
    "scheduling_v1.schema",    "autoscaling_v1.schema", "autoscaling_v2.schema",
    "apiextensions_v1.schema",
};

constexpr std::string_view kGroupPackages[] = {
    "io.k8s.api.apps.v1.",
    "io.k8s.api.batch.v1.",
    "io.k8s.api.coordination.v1.",
    "io.k8s.api.discovery.v1.",
    "io.k8s.api.events.v1.",
    "io.k8s.api.networking.v1.",
    "io.k8s.api.storage.v1.",
    "io.k8s.api.rbac.v1.",
    "io.k8s.api.policy.v1.",
    "io.k8s.api.scheduling.v1.",
    "io.k8s.api.autoscaling.v1.",
    "io.k8s.api.autoscaling.v2.",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.",
};

constexpr std::string_view kApps = "io.k8s.api.apps.v1.";
constexpr std::string_view kExt = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";

const EmbeddedSource* embedded(std::string_view file) {
  for (const EmbeddedSource& src : embeddedSchemaSources())
    if (file == src.name) return &src;
  return nullptr;
}

bool inGroupPackage(std::string_view name) {
  return std::any_of(std::begin(kGroupPackages), std::end(kGroupPackages),
                     [&](std::string_view p) { return name.starts_with(p); });
}

// Every embedded source (meta, core and the groups) in one set, parsed once.
struct FullSet {
  SchemaSet set;
  std::string parseErrors;
  Result<void> validation = {};
};

const FullSet& fullSet() {
  static const FullSet* full = [] {
    auto* f = new FullSet();
    for (const EmbeddedSource& src : embeddedSchemaSources())
      if (auto r = f->set.addSource(src.text, src.name); !r.ok())
        f->parseErrors += r.error().message() + "\n";
    f->validation = f->set.validate();
    return f;
  }();
  return *full;
}

const Node* def(std::string_view prefix, std::string_view name) {
  return fullSet().set.find(std::string(prefix) + std::string(name));
}

// The declared (unresolved) property node, where the field's markers live.
const Node* field(std::string_view prefix, std::string_view type, std::string_view name) {
  const Node* t = def(prefix, type);
  return t == nullptr ? nullptr : t->property(name);
}

std::string refOf(const Node* n) {
  return n == nullptr ? "<none>" : n->ref;
}

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// A small unknown-field checker in the spirit of fieldValidation=Strict: walks `value` along
// the schema and reports fields the schema does not know, values of the wrong JSON type and
// refs that do not resolve.
void check(const SchemaSet& set, const Node* declared, const Json& value, const std::string& path,
           std::vector<std::string>& problems) {
  if (value.is_null()) return;
  const Node* n = set.resolve(declared);
  if (n == nullptr || !n->ref.empty()) {
    problems.push_back(path + ": unresolved " + refOf(declared));
    return;
  }
  auto wrong = [&](std::string_view want) {
    problems.push_back(path + ": expected " + std::string(want) + ", got " + value.type_name());
  };
  switch (n->type) {
    case Type::kAny:
      return;
    case Type::kObject:
      if (!value.is_object()) return wrong("object");
      for (const auto& [key, member] : value.items()) {
        const Node* p = n->property(key);
        if (p == nullptr) {
          if (!n->preserveUnknownFields)
            problems.push_back("unknown field \"" + child(path, key) + "\"");
          continue;
        }
        check(set, p, member, child(path, key), problems);
      }
      return;
    case Type::kMap:
      if (!value.is_object()) return wrong("map");
      for (const auto& [key, member] : value.items())
        check(set, n->additionalProperties.get(), member, child(path, key), problems);
      return;
    case Type::kArray:
      if (!value.is_array()) return wrong("array");
      for (size_t i = 0; i < value.size(); ++i)
        check(set, n->items.get(), value[i], path + "[" + std::to_string(i) + "]", problems);
      return;
    case Type::kString:
      if (!value.is_string()) wrong("string");
      return;
    case Type::kInteger:
      if (!value.is_number_integer()) wrong("integer");
      return;
    case Type::kNumber:
      if (!value.is_number()) wrong("number");
      return;
    case Type::kBoolean:
      if (!value.is_boolean()) wrong("boolean");
      return;
    case Type::kIntOrString:
      if (!value.is_number_integer() && !value.is_string()) wrong("integer or string");
      return;
  }
}

// Problems found in a YAML manifest, checked against the definition its apiVersion/kind names.
std::vector<std::string> problemsIn(std::string_view yaml) {
  std::vector<std::string> problems;
  auto doc = parseYaml(yaml);
  if (!doc.ok()) return {"bad test YAML: " + doc.error().message()};
  std::string apiVersion = getString(*doc, "apiVersion");
  GroupVersionKind gvk;
  if (auto slash = apiVersion.find('/'); slash != std::string::npos) {
    gvk.group = apiVersion.substr(0, slash);
    gvk.version = apiVersion.substr(slash + 1);
  } else {
    gvk.version = apiVersion;
  }
  gvk.kind = getString(*doc, "kind");
  const SchemaSet& set = fullSet().set;
  std::string name = set.kindName(gvk);
  if (name.empty()) return {"no schema for " + apiVersion + " " + gvk.kind};
  Node root;
  root.ref = name;
  check(set, &root, *doc, "", problems);
  return problems;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += s + "\n";
  return out;
}

// --- parsing and resolution ---

TEST(GroupSchemas, EachFileIsEmbeddedAndParsesOnItsOwn) {
  for (std::string_view file : kGroupFiles) {
    const EmbeddedSource* src = embedded(file);
    ASSERT_NE(src, nullptr) << file << " is not embedded";
    SchemaSet set;
    auto r = set.addSource(src->text, src->name);
    EXPECT_TRUE(r.ok()) << file << ": " << r.error().message();
    EXPECT_GT(set.definitions().size(), 1u) << file;
  }
}

TEST(GroupSchemas, RefsBetweenGroupFilesResolveWithinTheirPackages) {
  // Refs that stay inside the group packages must resolve without meta and core.
  SchemaSet set;
  for (std::string_view file : kGroupFiles) {
    const EmbeddedSource* src = embedded(file);
    ASSERT_NE(src, nullptr) << file;
    ASSERT_TRUE(set.addSource(src->text, src->name).ok()) << file;
  }
  std::vector<std::string> dangling;
  std::vector<const Node*> stack;
  for (const auto& [name, node] : set.definitions()) stack.push_back(node.get());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (n == nullptr) continue;
    if (!n->ref.empty() && inGroupPackage(n->ref) && set.find(n->ref) == nullptr)
      dangling.push_back(n->ref);
    for (const Property& p : n->properties) stack.push_back(p.schema.get());
    stack.push_back(n->items.get());
    stack.push_back(n->additionalProperties.get());
  }
  EXPECT_TRUE(dangling.empty()) << joined(dangling);
}

TEST(GroupSchemas, FullSetWithMetaAndCoreValidates) {
  const FullSet& full = fullSet();
  EXPECT_TRUE(full.parseErrors.empty()) << full.parseErrors;
  EXPECT_TRUE(full.validation.ok()) << full.validation.error().message();
}

TEST(GroupSchemas, EveryGroupTypeAndFieldIsDescribed) {
  std::vector<std::string> bare;
  for (const auto& [name, node] : fullSet().set.definitions()) {
    if (!inGroupPackage(name)) continue;
    if (node->description.empty()) bare.push_back(name);
    for (const Property& p : node->properties)
      if (p.schema->description.empty()) bare.push_back(name + "." + p.name);
  }
  EXPECT_TRUE(bare.empty()) << joined(bare);
}

// --- markers ---

TEST(GroupSchemas, DeploymentKindsAndSpec) {
  const SchemaSet& set = fullSet().set;
  EXPECT_EQ(set.kindName({"apps", "v1", "Deployment"}), "io.k8s.api.apps.v1.Deployment");
  EXPECT_EQ(set.kindName({"apps", "v1", "DeploymentList"}), "io.k8s.api.apps.v1.DeploymentList");
  const Node* list = def(kApps, "DeploymentList");
  ASSERT_NE(list, nullptr);
  EXPECT_TRUE(list->isRequired("items"));
  EXPECT_EQ(refOf(elementSchema(&set, list->property("items"))), "io.k8s.api.apps.v1.Deployment");

  const Node* spec = def(kApps, "DeploymentSpec");
  ASSERT_NE(spec, nullptr);
  EXPECT_TRUE(spec->isRequired("selector"));
  EXPECT_TRUE(spec->isRequired("template"));
  EXPECT_FALSE(spec->isRequired("replicas"));
  const Node* strategy = spec->property("strategy");
  ASSERT_NE(strategy, nullptr);
  EXPECT_EQ(strategy->patchStrategy, "retainKeys");
  EXPECT_EQ(strategy->ref, "io.k8s.api.apps.v1.DeploymentStrategy");
  EXPECT_EQ(refOf(spec->property("template")), "io.k8s.api.core.v1.PodTemplateSpec");
  EXPECT_EQ(refOf(spec->property("selector")),
            "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector");

  const Node* type = field(kApps, "DeploymentStrategy", "type");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->enumValues, (std::vector<Json>{"Recreate", "RollingUpdate"}));
  const Node* surge = field(kApps, "RollingUpdateDeployment", "maxSurge");
  ASSERT_NE(surge, nullptr);
  EXPECT_EQ(resolveNode(&set, surge)->type, Type::kIntOrString);
}

TEST(GroupSchemas, WorkloadConditionListsMergeByType) {
  for (std::string_view status :
       {"DeploymentStatus", "ReplicaSetStatus", "StatefulSetStatus", "DaemonSetStatus"}) {
    const Node* c = field(kApps, status, "conditions");
    ASSERT_NE(c, nullptr) << status;
    EXPECT_EQ(c->patchMergeKey, "type") << status;
    EXPECT_EQ(c->patchStrategy, "merge") << status;
    EXPECT_EQ(c->listType, "map") << status;
    EXPECT_EQ(c->listMapKeys, std::vector<std::string>{"type"}) << status;
  }
  // Job conditions keep the merge key for strategic merge patch but are atomic for apply.
  const Node* job = field("io.k8s.api.batch.v1.", "JobStatus", "conditions");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->patchMergeKey, "type");
  EXPECT_EQ(job->listType, "atomic");
}

TEST(GroupSchemas, RequiredFieldsFollowKubernetes) {
  const Node* rev = def(kApps, "ControllerRevision");
  ASSERT_NE(rev, nullptr);
  EXPECT_TRUE(rev->isRequired("revision"));
  EXPECT_FALSE(rev->isRequired("data"));

  const Node* roleRef = def("io.k8s.api.rbac.v1.", "RoleRef");
  ASSERT_NE(roleRef, nullptr);
  for (const char* f : {"apiGroup", "kind", "name"}) EXPECT_TRUE(roleRef->isRequired(f)) << f;
  EXPECT_EQ(roleRef->mapType, "atomic");
  const Node* subject = def("io.k8s.api.rbac.v1.", "Subject");
  ASSERT_NE(subject, nullptr);
  EXPECT_TRUE(subject->isRequired("kind"));
  EXPECT_TRUE(subject->isRequired("name"));
  EXPECT_FALSE(subject->isRequired("namespace"));
  const Node* rule = def("io.k8s.api.rbac.v1.", "PolicyRule");
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->required, std::vector<std::string>{"verbs"});
  EXPECT_EQ(rule->property("resources")->listType, "atomic");
  const Node* binding = def("io.k8s.api.rbac.v1.", "RoleBinding");
  ASSERT_NE(binding, nullptr);
  EXPECT_TRUE(binding->isRequired("roleRef"));

  const Node* lease = def("io.k8s.api.coordination.v1.", "LeaseSpec");
  ASSERT_NE(lease, nullptr);
  EXPECT_TRUE(lease->required.empty());
  const Node* cron = def("io.k8s.api.batch.v1.", "CronJobSpec");
  ASSERT_NE(cron, nullptr);
  EXPECT_EQ(cron->required, (std::vector<std::string>{"schedule", "jobTemplate"}));
  const Node* ds = def(kApps, "DaemonSetStatus");
  ASSERT_NE(ds, nullptr);
  EXPECT_EQ(ds->required, (std::vector<std::string>{"currentNumberScheduled", "numberMisscheduled",
                                                    "desiredNumberScheduled", "numberReady"}));
}

TEST(GroupSchemas, ScaleAndEvictionHaveNoList) {
  const SchemaSet& set = fullSet().set;
  EXPECT_EQ(set.kindName({"autoscaling", "v1", "Scale"}), "io.k8s.api.autoscaling.v1.Scale");
  EXPECT_TRUE(set.kindName({"autoscaling", "v1", "ScaleList"}).empty());
  EXPECT_EQ(set.kindName({"policy", "v1", "Eviction"}), "io.k8s.api.policy.v1.Eviction");
  EXPECT_TRUE(set.kindName({"policy", "v1", "EvictionList"}).empty());
  EXPECT_EQ(set.kindName({"autoscaling", "v2", "HorizontalPodAutoscaler"}),
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler");
  EXPECT_EQ(set.kindName({"events.k8s.io", "v1", "Event"}), "io.k8s.api.events.v1.Event");
  const Node* status = def("io.k8s.api.autoscaling.v1.", "ScaleStatus");
  ASSERT_NE(status, nullptr);
  EXPECT_TRUE(status->isRequired("replicas"));
  const Node* selector = field("io.k8s.api.policy.v1.", "PodDisruptionBudgetSpec", "selector");
  ASSERT_NE(selector, nullptr);
  EXPECT_EQ(selector->patchStrategy, "replace");
}

TEST(GroupSchemas, NetworkingListsAreAtomic) {
  constexpr std::string_view net = "io.k8s.api.networking.v1.";
  for (std::string_view f : {"tls", "rules"})
    EXPECT_EQ(field(net, "IngressSpec", f)->listType, "atomic") << f;
  EXPECT_EQ(field(net, "HTTPIngressRuleValue", "paths")->listType, "atomic");
  EXPECT_EQ(def(net, "ServiceBackendPort")->mapType, "atomic");
  for (std::string_view f : {"ingress", "egress", "policyTypes"})
    EXPECT_EQ(field(net, "NetworkPolicySpec", f)->listType, "atomic") << f;
  const Node* policyTypes = field(net, "NetworkPolicySpec", "policyTypes");
  EXPECT_TRUE(policyTypes->enumValues.empty());  // the enum constrains the elements
  EXPECT_EQ(policyTypes->items->enumValues, (std::vector<Json>{"Egress", "Ingress"}));
  EXPECT_TRUE(def(net, "HTTPIngressPath")->isRequired("pathType"));
  EXPECT_TRUE(def(net, "IPBlock")->isRequired("cidr"));
  const Node* drivers = field("io.k8s.api.storage.v1.", "CSINodeSpec", "drivers");
  EXPECT_EQ(drivers->patchMergeKey, "name");
  EXPECT_EQ(drivers->listMapKeys, std::vector<std::string>{"name"});
}

TEST(GroupSchemas, JsonSchemaPropsIsRecursive) {
  const SchemaSet& set = fullSet().set;
  const Node* props = def(kExt, "JSONSchemaProps");
  ASSERT_NE(props, nullptr);
  const std::string self = std::string(kExt) + "JSONSchemaProps";
  EXPECT_EQ(refOf(mapValueSchema(&set, props->property("properties"))), self);
  EXPECT_EQ(refOf(elementSchema(&set, props->property("allOf"))), self);
  EXPECT_EQ(refOf(props->property("not")), self);
  // properties -> x -> properties -> y resolves all the way down.
  const Node* x = mapValueSchema(&set, props->property("properties"));
  const Node* y = mapValueSchema(&set, childProperty(&set, x, "properties"));
  EXPECT_EQ(resolveNode(&set, y), props);
  // The "or" types and JSON accept any value.
  for (std::string_view f : {"items", "additionalProperties", "default", "example"}) {
    const Node* n = resolveNode(&set, props->property(f));
    ASSERT_NE(n, nullptr) << f;
    EXPECT_EQ(n->type, Type::kAny) << f;
  }
  const Node* validations = props->property("x-kubernetes-validations");
  ASSERT_NE(validations, nullptr);
  EXPECT_EQ(validations->listMapKeys, std::vector<std::string>{"rule"});
  EXPECT_EQ(validations->patchMergeKey, "rule");
  EXPECT_EQ(set.kindName({"apiextensions.k8s.io", "v1", "CustomResourceDefinition"}),
            std::string(kExt) + "CustomResourceDefinition");
}

// --- real manifests pass strict unknown-field detection; typos do not ---

TEST(GroupSchemas, WorkloadManifestsHaveNoUnknownFields) {
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}
  minReadySeconds: 5
  revisionHistoryLimit: 2
  progressDeadlineSeconds: 600
  paused: false
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
status:
  observedGeneration: 2
  replicas: 3
  conditions: [{type: Available, status: "True", reason: MinimumReplicasAvailable}]
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: db}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1, maxUnavailable: 1}}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain}
  ordinals: {start: 1}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 10%}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: busybox}]
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
  completions: 5
  parallelism: 2
  completionMode: Indexed
  backoffLimitPerIndex: 1
  maxFailedIndexes: 2
  podReplacementPolicy: Failed
  managedBy: kubernetes.io/job-controller
  ttlSecondsAfterFinished: 100
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {containerName: main, operator: In, values: [42]}
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget, status: "True"}]
  successPolicy:
    rules: [{succeededIndexes: "0-2", succeededCount: 2}]
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Paris
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 1
  jobTemplate:
    metadata: {labels: {job: nightly}}
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: main, image: busybox}]
)")),
            "");
}

TEST(GroupSchemas, NetworkingAndPolicyManifestsHaveNoUnknownFields) {
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nave
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  tls: [{hosts: [example.com], secretName: tls}]
  rules:
  - host: example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}
      - path: /static
        pathType: Exact
        backend: {resource: {apiGroup: example.com, kind: Bucket, name: assets}}
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: web}}
      namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [a]}]}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports: [{protocol: TCP, port: 5432}, {port: 6000, endPort: 6100}, {port: metrics}]
  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nave}
spec:
  controller: nave.dev/ingress
  parameters: {apiGroup: example.com, kind: Params, name: p, scope: Namespace, namespace: x}
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 50%
  selector: {matchLabels: {app: web}}
  unhealthyPodEvictionPolicy: AlwaysAllow
status:
  disruptedPods: {web-1: "2024-05-01T12:00:00Z"}
  disruptionsAllowed: 1
  currentHealthy: 3
  desiredHealthy: 2
  expectedPods: 3
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: policy/v1
kind: Eviction
metadata: {name: web-1, namespace: default}
deleteOptions: {gracePeriodSeconds: 0}
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: view-all}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-view: "true"}}]
rules:
- {apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch]}
- {nonResourceURLs: [/healthz], verbs: [get]}
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: default}
subjects:
- {kind: ServiceAccount, name: default, namespace: default}
- {kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
)")),
            "");
}

TEST(GroupSchemas, OtherGroupManifestsHaveNoUnknownFields) {
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  - type: Pods
    pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: 100m}}
  - type: External
    external: {metric: {name: queue, selector: {matchLabels: {q: a}}}, target: {type: Value, value: "30"}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
      selectPolicy: Min
      policies: [{type: Percent, value: 10, periodSeconds: 60}]
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
  targetCPUUtilizationPercentage: 80
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: autoscaling/v1
kind: Scale
metadata: {name: web}
spec: {replicas: 3}
status: {replicas: 2, selector: app=web}
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local}
provisioner: rancher.io/local-path
parameters: {type: ssd}
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
mountOptions: [noatime]
allowedTopologies:
- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [a, b]}]
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
globalDefault: false
preemptionPolicy: Never
description: important
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader}
spec:
  holderIdentity: node-1
  leaseDurationSeconds: 15
  renewTime: "2024-05-01T12:00:00.000000Z"
  leaseTransitions: 3
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc}
addressType: IPv4
endpoints:
- addresses: [10.0.0.5]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: a
  targetRef: {kind: Pod, name: web-1, namespace: default}
  hints: {forZones: [{name: a}]}
ports: [{name: http, port: 80, protocol: TCP, appProtocol: http}]
)")),
            "");
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: web.1}
eventTime: "2024-05-01T12:00:00.000000Z"
reportingController: nave.dev/scheduler
reportingInstance: nave-1
action: Binding
reason: Scheduled
type: Normal
note: assigned
regarding: {kind: Pod, name: web-1}
series: {count: 2, lastObservedTime: "2024-05-01T12:01:00.000000Z"}
)")),
            "");
}

TEST(GroupSchemas, CustomResourceDefinitionWithRichSchemaHasNoUnknownFields) {
  EXPECT_EQ(joined(problemsIn(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList, shortNames: [wd], categories: [all]}
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
      clientConfig: {service: {namespace: system, name: conv, path: /convert, port: 443}, caBundle: Zm9v}
  versions:
  - name: v1
    served: true
    storage: true
    deprecated: false
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .status.selector}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size, priority: 1, description: size}
    selectableFields: [{jsonPath: .spec.color}]
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        x-kubernetes-validations:
        - {rule: "self.spec.size <= 10", message: too big, reason: FieldValueForbidden, fieldPath: .spec.size}
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, format: int32, minimum: 0, maximum: 10, default: 1}
              color: {type: string, enum: [red, blue], default: red}
              port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
              labels: {type: object, additionalProperties: {type: string}}
              extra: {type: object, additionalProperties: true}
              config: {type: object, x-kubernetes-preserve-unknown-fields: true, default: {a: [1, "b", null]}}
              template: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
              items:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                maxItems: 5
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string, pattern: "^[a-z]+$", maxLength: 20}
                    weight: {type: number, multipleOf: 0.5, nullable: true}
              tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
              mode: {type: string, x-kubernetes-validations: [{rule: "self == oldSelf", messageExpression: "'immutable'", optionalOldSelf: true}]}
          status:
            type: object
            x-kubernetes-map-type: atomic
            properties:
              replicas: {type: integer}
              selector: {type: string}
status:
  acceptedNames: {plural: widgets, kind: Widget}
  storedVersions: [v1]
  conditions: [{type: Established, status: "True", lastTransitionTime: "2024-05-01T12:00:00Z"}]
)")),
            "");
}

TEST(GroupSchemas, TyposAreReportedWithTheirPath) {
  EXPECT_EQ(problemsIn(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxSurg: 1}}
  template: {metadata: {labels: {app: web}}}
  replica: 2
)"),
            (std::vector<std::string>{"unknown field \"spec.replica\"",
                                      "unknown field \"spec.strategy.rollingUpdate.maxSurg\""}));
  EXPECT_EQ(problemsIn(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: a.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: a, kind: A}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, propertiez: {}}}
)"),
            std::vector<std::string>{
                "unknown field \"spec.versions[0].schema.openAPIV3Schema.propertiez\""});
  EXPECT_EQ(problemsIn(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules: [{verbs: get}]
)"),
            std::vector<std::string>{"rules[0].verbs: expected array, got string"});
}

}  // namespace
}  // namespace nave::schema
