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

Json pod(std::string_view spec) {
  Json p = yaml("{apiVersion: v1, kind: Pod, metadata: {name: p}}");
  p["spec"] = yaml(spec);
  return p;
}

std::string only(const FieldErrors& errs) {
  EXPECT_EQ(errs.size(), 1u) << describe(errs);
  return errs.empty() ? "" : errs.errors()[0].toString();
}

TEST(PodValidation, ContainersRequired) {
  Json p = pod("{containers: []}");
  EXPECT_EQ(only(create(p)), "spec.containers: Required value");
}

TEST(PodValidation, ContainerNamesAndImages) {
  Json p = pod(R"(
containers:
- {name: app, image: nginx}
- {name: app, image: ""}
- {name: Bad_Name, image: "nginx "}
initContainers:
- {name: app, image: busybox}
)");
  FieldErrors errs = create(p);
  EXPECT_FIELD_ERROR(errs, "spec.containers[1].name", FieldErrorType::kDuplicate);
  EXPECT_FIELD_ERROR(errs, "spec.containers[1].image", FieldErrorType::kRequired);
  EXPECT_FIELD_ERROR(errs, "spec.containers[2].name", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "spec.containers[2].image")->toString(),
            "spec.containers[2].image: Invalid value: \"nginx \": must not have leading or trailing whitespace");
  EXPECT_FIELD_ERROR(errs, "spec.initContainers[0].name", FieldErrorType::kDuplicate);
}

TEST(PodValidation, Ports) {
  Json p = pod(R"(
containers:
- name: app
  image: nginx
  ports:
  - {containerPort: 80, name: http}
  - {containerPort: 70000, name: http}
  - {name: Metrics-Port-Too-Long}
  - {containerPort: 53, protocol: ICMP, hostPort: 53}
  - {containerPort: 54, protocol: ICMP, hostPort: 53}
)");
  FieldErrors errs = create(p);
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].ports[1].name", FieldErrorType::kDuplicate);
  EXPECT_EQ(findError(errs, "spec.containers[0].ports[1].containerPort")->toString(),
            "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive");
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].ports[2].containerPort", FieldErrorType::kRequired);
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].ports[2].name", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "spec.containers[0].ports[3].protocol")->toString(),
            "spec.containers[0].ports[3].protocol: Unsupported value: \"ICMP\": supported values: "
            "\"SCTP\", \"TCP\", \"UDP\"");
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].ports[4].hostPort", FieldErrorType::kDuplicate);
}

TEST(PodValidation, Env) {
  Json p = pod(R"(
containers:
- name: app
  image: nginx
  env:
  - {name: GOOD, value: x}
  - {name: "has=equals"}
  - {name: ""}
  - name: FROM_NOTHING
    valueFrom: {}
  - name: BOTH
    value: x
    valueFrom: {secretKeyRef: {name: s, key: k}}
  - name: FIELD
    valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
  - name: BAD_FIELD
    valueFrom: {fieldRef: {fieldPath: status.phase}}
  - name: LABEL
    valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
  envFrom:
  - {configMapRef: {name: cm}, prefix: CM_}
  - {}
)");
  FieldErrors errs = create(p);
  EXPECT_EQ(findError(errs, "spec.containers[0].env[1].name")->detail,
            "a valid environment variable name must consist only of printable ASCII characters other than '='");
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].env[2].name", FieldErrorType::kRequired);
  EXPECT_EQ(findError(errs, "spec.containers[0].env[3].valueFrom")->detail,
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
  EXPECT_EQ(findError(errs, "spec.containers[0].env[4].valueFrom")->detail,
            "may not be specified when `value` is not empty");
  EXPECT_EQ(findError(errs, "spec.containers[0].env[6].valueFrom.fieldRef.fieldPath")->type,
            FieldErrorType::kNotSupported);
  EXPECT_EQ(findError(errs, "spec.containers[0].envFrom")->detail, "must specify one of: `configMapRef` or `secretRef`");
  EXPECT_EQ(errs.size(), 6u) << describe(errs);
}

TEST(PodValidation, Volumes) {
  Json p = pod(R"(
containers:
- name: app
  image: nginx
  volumeMounts:
  - {name: data, mountPath: /data}
  - {name: missing, mountPath: /missing}
  - {name: config, mountPath: /data}
  - {name: config, mountPath: /etc/x, subPath: ../escape}
volumes:
- {name: data, emptyDir: {}}
- {name: config, configMap: {name: cfg, items: [{key: a, path: /abs}]}}
- {name: data, emptyDir: {}}
- {name: two, emptyDir: {}, secret: {secretName: s}}
- {name: Bad_Name, hostPath: {path: /x, type: Weird}}
- {name: pvc, persistentVolumeClaim: {}}
)");
  FieldErrors errs = create(p);
  EXPECT_EQ(findError(errs, "spec.containers[0].volumeMounts[1].name")->toString(),
            "spec.containers[0].volumeMounts[1].name: Not found: \"missing\"");
  EXPECT_EQ(findError(errs, "spec.containers[0].volumeMounts[2].mountPath")->detail, "must be unique");
  EXPECT_EQ(findError(errs, "spec.containers[0].volumeMounts.subPath")->detail, "must not contain '..'");
  EXPECT_EQ(findError(errs, "spec.volumes[1].configMap.items[0].path")->detail, "must be a relative path");
  EXPECT_FIELD_ERROR(errs, "spec.volumes[2].name", FieldErrorType::kDuplicate);
  EXPECT_EQ(findError(errs, "spec.volumes[3].secret")->toString(),
            "spec.volumes[3].secret: Forbidden: may not specify more than 1 volume type");
  EXPECT_FIELD_ERROR(errs, "spec.volumes[4].name", FieldErrorType::kInvalid);
  EXPECT_FIELD_ERROR(errs, "spec.volumes[4].hostPath.type", FieldErrorType::kNotSupported);
  EXPECT_FIELD_ERROR(errs, "spec.volumes[5].persistentVolumeClaim.claimName", FieldErrorType::kRequired);
}

TEST(PodValidation, Enums) {
  Json p = pod(R"(
restartPolicy: Sometimes
dnsPolicy: Cluster
containers: [{name: app, image: nginx, imagePullPolicy: Maybe, terminationMessagePolicy: Stdout}]
)");
  FieldErrors errs = create(p);
  EXPECT_EQ(findError(errs, "spec.restartPolicy")->toString(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
  EXPECT_EQ(findError(errs, "spec.dnsPolicy")->toString(),
            "spec.dnsPolicy: Unsupported value: \"Cluster\": supported values: \"ClusterFirstWithHostNet\", "
            "\"ClusterFirst\", \"Default\", \"None\"");
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].imagePullPolicy", FieldErrorType::kNotSupported);
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].terminationMessagePolicy", FieldErrorType::kNotSupported);
}

TEST(PodValidation, Resources) {
  Json p = pod(R"(
containers:
- name: app
  image: nginx
  resources:
    requests: {cpu: "2", memory: 1Gi, nvidia.com/gpu: "1", foo: "1"}
    limits: {cpu: 1500m, memory: 1073741824, nvidia.com/gpu: "2"}
- name: neg
  image: nginx
  resources: {requests: {cpu: "-1", memory: lots}}
)");
  FieldErrors errs = create(p);
  const FieldError* cpu = nullptr;
  for (const FieldError& e : errs.errors())
    if (e.field == "spec.containers[0].resources.requests" && e.detail.find("cpu") != std::string::npos) cpu = &e;
  ASSERT_NE(cpu, nullptr) << describe(errs);
  EXPECT_EQ(cpu->toString(),
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1500m");
  bool gpu = false;
  for (const FieldError& e : errs.errors())
    if (e.detail == "must be equal to nvidia.com/gpu limit of 2") gpu = true;
  EXPECT_TRUE(gpu) << describe(errs);
  EXPECT_EQ(findError(errs, "spec.containers[0].resources.requests[foo]")->detail,
            "must be a standard resource type or fully qualified");
  EXPECT_EQ(findError(errs, "spec.containers[1].resources.requests[cpu]")->detail, "must be greater than or equal to 0");
  EXPECT_FIELD_ERROR(errs, "spec.containers[1].resources.requests[memory]", FieldErrorType::kInvalid);
  // Equal quantities in different spellings are equal (1Gi == 1073741824).
  for (const FieldError& e : errs.errors()) EXPECT_EQ(e.detail.find("memory limit"), std::string::npos) << e.toString();
}

TEST(PodValidation, Probes) {
  Json p = pod(R"(
containers:
- name: app
  image: nginx
  livenessProbe: {successThreshold: 2, httpGet: {port: 0}}
  readinessProbe: {exec: {command: [true]}, tcpSocket: {port: http}, timeoutSeconds: -1}
  startupProbe: {periodSeconds: 3}
)");
  FieldErrors errs = create(p);
  EXPECT_EQ(findError(errs, "spec.containers[0].livenessProbe.successThreshold")->toString(),
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1");
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].livenessProbe.httpGet.port", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "spec.containers[0].readinessProbe.tcpSocket")->detail,
            "may not specify more than 1 handler type");
  EXPECT_FIELD_ERROR(errs, "spec.containers[0].readinessProbe.timeoutSeconds", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "spec.containers[0].startupProbe")->toString(),
            "spec.containers[0].startupProbe: Required value: must specify a handler type");
}

TEST(PodValidation, InitContainersAndSidecars) {
  Json p = pod(R"(
containers: [{name: app, image: nginx}]
initContainers:
- {name: setup, image: busybox, readinessProbe: {exec: {command: [x]}}}
- {name: proxy, image: envoy, restartPolicy: Always, readinessProbe: {tcpSocket: {port: 9901}}}
- {name: odd, image: busybox, restartPolicy: OnFailure}
)");
  FieldErrors errs = create(p);
  EXPECT_EQ(findError(errs, "spec.initContainers[0].readinessProbe")->detail,
            "may not be set for init containers without restartPolicy=Always");
  EXPECT_FIELD_ERROR(errs, "spec.initContainers[2].restartPolicy", FieldErrorType::kNotSupported);
  EXPECT_EQ(errs.size(), 2u) << describe(errs);
}

TEST(PodValidation, SchedulingFields) {
  Json p = pod(R"(
containers: [{name: app, image: nginx}]
nodeSelector: {"kubernetes.io/os": linux}
tolerations:
- {operator: Exists}
- {key: dedicated, value: gpu, effect: NoSchedule}
- {key: "", operator: Equal, value: x}
- {key: k, operator: Exists, value: v}
- {key: k, effect: NoSchedule, tolerationSeconds: 5}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
      - matchExpressions: [{key: zone, operator: Near, values: [a]}]
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 200
      podAffinityTerm: {labelSelector: {matchLabels: {app: web}}, topologyKey: ""}
topologySpreadConstraints:
- {maxSkew: 0, topologyKey: zone, whenUnsatisfiable: Sometimes}
activeDeadlineSeconds: 0
priorityClassName: High
)");
  FieldErrors errs = create(p);
  EXPECT_FIELD_ERROR(errs, "spec.tolerations[2].operator", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "spec.tolerations[3].operator")->detail, "value must be empty when `operator` is 'Exists'");
  EXPECT_EQ(findError(errs, "spec.tolerations[4].effect")->detail,
            "effect must be 'NoExecute' when `tolerationSeconds` is set");
  EXPECT_EQ(findError(errs,
                      "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]."
                      "matchExpressions[0].operator")
                ->detail,
            "not a valid selector operator");
  EXPECT_EQ(findError(errs, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight")
                ->detail,
            "must be in the range 1-100");
  EXPECT_FIELD_ERROR(errs,
                     "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]."
                     "podAffinityTerm.topologyKey",
                     FieldErrorType::kRequired);
  EXPECT_FIELD_ERROR(errs, "spec.topologySpreadConstraints[0].maxSkew", FieldErrorType::kInvalid);
  EXPECT_FIELD_ERROR(errs, "spec.topologySpreadConstraints[0].whenUnsatisfiable", FieldErrorType::kNotSupported);
  EXPECT_EQ(findError(errs, "spec.activeDeadlineSeconds")->detail, "must be between 1 and 2147483647, inclusive");
  EXPECT_FIELD_ERROR(errs, "spec.priorityClassName", FieldErrorType::kInvalid);
}

TEST(PodValidation, UpdatesMayOnlyChangeImagesAndFriends) {
  Json old = pod(R"(
containers: [{name: app, image: "nginx:1.24", env: [{name: A, value: "1"}]}]
tolerations: [{key: a, operator: Exists}]
)");
  old["metadata"]["namespace"] = "default";
  old["metadata"]["resourceVersion"] = "3";
  applyDefaults("", "Pod", old);

  Json newImage = old;
  newImage["spec"]["containers"][0]["image"] = "nginx:1.25";
  newImage["spec"]["tolerations"].push_back({{"key", "b"}, {"operator", "Exists"}});
  newImage["spec"]["activeDeadlineSeconds"] = 600;
  newImage["metadata"]["labels"] = {{"x", "y"}};
  EXPECT_NO_FIELD_ERRORS(update(newImage, old));

  Json newEnv = old;
  newEnv["spec"]["containers"][0]["env"][0]["value"] = "2";
  FieldErrors errs = update(newEnv, old);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  const FieldError& e = errs.errors()[0];
  EXPECT_EQ(e.field, "spec");
  EXPECT_EQ(e.type, FieldErrorType::kForbidden);
  EXPECT_EQ(e.detail.substr(0, e.detail.find('\n')),
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
            "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
            "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)");
  EXPECT_NE(e.detail.find("spec.containers[0].env[0].value: \"1\" -> \"2\""), std::string::npos) << e.detail;

  Json added = old;
  added["spec"]["containers"].push_back({{"name", "b"}, {"image", "busybox"}});
  EXPECT_EQ(only(update(added, old)), "spec.containers: Forbidden: pod updates may not add or remove containers");

  Json removedToleration = old;
  removedToleration["spec"]["tolerations"] = Json::array();
  EXPECT_EQ(only(update(removedToleration, old)),
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds");
}

TEST(PodValidation, StatusUpdateIgnoresSpecRules) {
  Json old = pod("{containers: [{name: app, image: nginx}]}");
  old["metadata"]["namespace"] = "default";
  applyDefaults("", "Pod", old);
  Json now = old;
  now["status"] = {{"phase", "Running"}, {"podIP", "10.42.0.7"}, {"podIPs", {{{"ip", "10.42.0.7"}}}}};
  EXPECT_TRUE(validate("", "Pod", now, &old, Operation::kStatusUpdate).empty());
  now["status"]["podIPs"][0]["ip"] = "not-an-ip";
  EXPECT_FIELD_ERROR(validate("", "Pod", now, &old, Operation::kStatusUpdate), "status.podIPs[0]",
                     FieldErrorType::kInvalid);
}

}  // namespace
}  // namespace nave::validation
