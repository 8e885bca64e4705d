#include <gtest/gtest.h>

#include "server/validation/validation.h"
#include "tests/server/validation/test_util.h"

namespace nave::validation {
namespace {

using testing::create;
using testing::describe;
using testing::findError;
using testing::hasError;
using testing::update;
using testing::yaml;

TEST(Policy, PodDisruptionBudget) {
  Json pdb = yaml(R"(
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 50%, selector: {matchLabels: {app: web}}}
)");
  EXPECT_NO_FIELD_ERRORS(create(pdb));
  pdb["spec"]["maxUnavailable"] = 1;
  EXPECT_EQ(findError(create(pdb), "spec")->detail, "minAvailable and maxUnavailable cannot be both set");
  Json bad = yaml(R"(
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {maxUnavailable: 120%, unhealthyPodEvictionPolicy: Never}
)");
  FieldErrors errs = create(bad);
  EXPECT_EQ(findError(errs, "spec.maxUnavailable")->detail, "must not be greater than 100%");
  EXPECT_FIELD_ERROR(errs, "spec.unhealthyPodEvictionPolicy", FieldErrorType::kNotSupported);
}

TEST(Scheduling, PriorityClass) {
  Json pc = yaml("{apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: {name: high}, value: 1000000}");
  EXPECT_NO_FIELD_ERRORS(create(pc));
  EXPECT_EQ(pc["preemptionPolicy"], "PreemptLowerPriority");
  Json tooHigh = yaml("{apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: {name: top}, value: 1000000001}");
  EXPECT_EQ(findError(create(tooHigh), "value")->toString(),
            "value: Forbidden: maximum allowed value of a user defined priority is 1000000000");
  Json system = yaml("{apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: {name: system-node-critical}, value: 2000001000}");
  EXPECT_NO_FIELD_ERRORS(create(system));
  Json fake = yaml("{apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: {name: system-foo}, value: 1}");
  EXPECT_FIELD_ERROR(create(fake), "metadata.name", FieldErrorType::kForbidden);
  Json old = pc;
  old["metadata"]["resourceVersion"] = "1";
  Json changed = old;
  changed["value"] = 5;
  EXPECT_EQ(findError(update(changed, old), "value")->detail, "may not be changed in an update.");
}

TEST(Autoscaling, HorizontalPodAutoscalerDefaults) {
  Json hpa = yaml(R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 10
)");
  EXPECT_NO_FIELD_ERRORS(create(hpa));
  EXPECT_EQ(hpa["spec"]["minReplicas"], 1);
  EXPECT_EQ(hpa["spec"]["metrics"], yaml(R"(
- type: Resource
  resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
)"));
  EXPECT_FALSE(hpa["spec"].contains("behavior"));

  Json withBehavior = hpa;
  withBehavior["spec"]["behavior"] = yaml("{scaleDown: {stabilizationWindowSeconds: 60}}");
  EXPECT_NO_FIELD_ERRORS(create(withBehavior));
  EXPECT_EQ(withBehavior["spec"]["behavior"], yaml(R"(
scaleDown:
  stabilizationWindowSeconds: 60
  selectPolicy: Max
  policies: [{type: Percent, value: 100, periodSeconds: 15}]
scaleUp:
  stabilizationWindowSeconds: 0
  selectPolicy: Max
  policies: [{type: Pods, value: 4, periodSeconds: 15}, {type: Percent, value: 100, periodSeconds: 15}]
)"));
}

TEST(Autoscaling, HorizontalPodAutoscalerValidation) {
  Json hpa = yaml(R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {kind: Deployment}
  minReplicas: 5
  maxReplicas: 2
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 500Mi}}
  - type: Pods
    pods: {metric: {name: rps}, target: {type: AverageValue}}
  - type: Magic
)");
  FieldErrors errs = create(hpa);
  EXPECT_EQ(findError(errs, "spec.maxReplicas")->detail, "must be greater than or equal to `minReplicas`");
  EXPECT_FIELD_ERROR(errs, "spec.scaleTargetRef.name", FieldErrorType::kRequired);
  EXPECT_EQ(findError(errs, "spec.metrics[1].pods.target.averageValue")->detail,
            "must specify a positive target averageValue");
  EXPECT_FIELD_ERROR(errs, "spec.metrics[2].type", FieldErrorType::kNotSupported);
}

TEST(Storage, StorageClass) {
  Json sc = yaml(R"(
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-path}
provisioner: rancher.io/local-path
parameters: {nodePath: /opt/local-path}
)");
  EXPECT_NO_FIELD_ERRORS(create(sc));
  EXPECT_EQ(sc["reclaimPolicy"], "Delete");
  EXPECT_EQ(sc["volumeBindingMode"], "Immediate");
  Json old = sc;
  old["metadata"]["resourceVersion"] = "1";
  Json changed = old;
  changed["parameters"]["nodePath"] = "/data";
  changed["allowVolumeExpansion"] = true;
  FieldErrors errs = update(changed, old);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(), "parameters: Forbidden: updates to parameters are forbidden.");
  Json bad = yaml("{apiVersion: storage.k8s.io/v1, kind: StorageClass, metadata: {name: x}, volumeBindingMode: Later}");
  FieldErrors b = create(bad);
  EXPECT_FIELD_ERROR(b, "provisioner", FieldErrorType::kRequired);
  EXPECT_FIELD_ERROR(b, "volumeBindingMode", FieldErrorType::kNotSupported);
}

TEST(Coordination, Lease) {
  Json lease = yaml(R"(
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: kube-scheduler, namespace: kube-system}
spec: {holderIdentity: "node-1_abc", leaseDurationSeconds: 15, acquireTime: "2024-01-01T00:00:00.000000Z", leaseTransitions: 0}
)");
  EXPECT_NO_FIELD_ERRORS(create(lease));
  lease["spec"]["leaseDurationSeconds"] = 0;
  EXPECT_EQ(findError(create(lease), "spec.leaseDurationSeconds")->detail, "must be greater than 0");
}

TEST(Discovery, EndpointSlice) {
  Json slice = yaml(R"(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc12, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints:
- addresses: [10.42.0.5]
  conditions: {ready: true}
  nodeName: node-1
  targetRef: {kind: Pod, name: web-1, namespace: default}
)");
  EXPECT_NO_FIELD_ERRORS(create(slice));
  EXPECT_EQ(slice["ports"][0]["protocol"], "TCP");

  Json bad = yaml(R"(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-x}
addressType: IPv5
ports: [{name: a}, {name: a}]
endpoints: [{addresses: []}, {addresses: [fe80::1], hostname: Bad_Host}]
)");
  FieldErrors errs = create(bad);
  EXPECT_EQ(findError(errs, "addressType")->toString(),
            "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"");
  EXPECT_EQ(findError(errs, "endpoints[0].addresses")->detail, "must contain at least 1 address");
  EXPECT_FIELD_ERROR(errs, "endpoints[1].hostname", FieldErrorType::kInvalid);
  EXPECT_FIELD_ERROR(errs, "ports[1].name", FieldErrorType::kDuplicate);
}

TEST(Events, CoreAndEventsGroup) {
  Json legacy = yaml(R"(
apiVersion: v1
kind: Event
metadata: {name: web-1.17a2b3c4d5e6f, namespace: default}
involvedObject: {kind: Pod, name: web-1, namespace: default}
reason: Scheduled
message: Successfully assigned default/web-1 to node-1
type: Normal
source: {component: default-scheduler}
count: 1
)");
  EXPECT_NO_FIELD_ERRORS(create(legacy));
  Json mismatch = legacy;
  mismatch["involvedObject"]["namespace"] = "kube-system";
  EXPECT_EQ(findError(create(mismatch), "involvedObject.namespace")->detail, "does not match event.namespace");

  Json modern = yaml(R"(
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: web-1.17a2b3c4d5e6f}
eventTime: "2024-01-01T00:00:00.000000Z"
reportingController: example.com/controller
reportingInstance: controller-0
action: Reconcile
reason: Synced
regarding: {kind: Pod, name: web-1, namespace: default}
note: ok
type: Normal
)");
  EXPECT_NO_FIELD_ERRORS(create(modern));
  modern["type"] = "Info";
  modern.erase("eventTime");
  FieldErrors errs = create(modern);
  EXPECT_FIELD_ERROR(errs, "eventTime", FieldErrorType::kRequired);
  EXPECT_EQ(findError(errs, "type")->detail, "has invalid value: Info");
}

TEST(ApiExtensions, CustomResourceDefinition) {
  Json crd = yaml(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}, scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}
    additionalPrinterColumns: [{name: Spec, type: string, jsonPath: .spec.cronSpec}]
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec: {type: string}
              image: {type: string}
              replicas: {type: integer}
              port: {x-kubernetes-int-or-string: true}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
              tags: {type: array, items: {type: string}}
          status: {type: object, properties: {replicas: {type: integer}}}
  - name: v1beta1
    served: false
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
)");
  EXPECT_NO_FIELD_ERRORS(create(crd));
  EXPECT_EQ(crd["spec"]["names"]["singular"], "crontab");
  EXPECT_EQ(crd["spec"]["names"]["listKind"], "CronTabList");
  EXPECT_EQ(crd["spec"]["conversion"], (Json{{"strategy", "None"}}));

  Json bad = yaml(R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.example.com}
spec:
  group: example
  scope: Global
  names: {plural: crontabs, kind: CronTab}
  versions:
  - {name: v1, served: false, storage: true, schema: {openAPIV3Schema: {type: string}}}
  - name: v1
    served: false
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {properties: {a: {type: string}}}, metadata: {type: object, properties: {labels: {type: object}}}}}}
  - {name: V2, served: false, storage: false}
)");
  FieldErrors errs = create(bad);
  EXPECT_EQ(findError(errs, "metadata.name")->detail, "must be spec.names.plural+\".\"+spec.group");
  EXPECT_EQ(findError(errs, "spec.group")->detail, "should be a domain with at least one dot");
  EXPECT_FIELD_ERROR(errs, "spec.scope", FieldErrorType::kNotSupported);
  EXPECT_EQ(findError(errs, "spec.versions[0].schema.openAPIV3Schema.type")->detail, "must be object at the root");
  EXPECT_EQ(findError(errs, "spec.versions[1].schema.openAPIV3Schema.properties[spec].type")->toString(),
            "spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for "
            "specified object fields");
  EXPECT_FIELD_ERROR(errs, "spec.versions[1].schema.openAPIV3Schema.properties[metadata]", FieldErrorType::kForbidden);
  EXPECT_FIELD_ERROR(errs, "spec.versions[2].name", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "spec.versions[2].schema.openAPIV3Schema")->detail, "schemas are required");
  bool unique = false, storage = false, served = false;
  for (const FieldError& e : errs.errors()) {
    if (e.field != "spec.versions") continue;
    unique = unique || e.detail == "must contain unique version names";
    storage = storage || e.detail == "must have exactly one version marked as storage version";
    served = served || e.detail == "must have at least one version marked as served";
  }
  EXPECT_TRUE(unique && storage && served) << describe(errs);
}

}  // namespace
}  // namespace nave::validation
