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

Json deployment() {
  return yaml(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: frontend}}
    spec:
      containers: [{name: web, image: "nginx:1.25", ports: [{containerPort: 80}]}]
)");
}

TEST(Apps, DeploymentDefaults) {
  Json d = deployment();
  EXPECT_NO_FIELD_ERRORS(create(d));
  const Json& spec = d["spec"];
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["strategy"], yaml("{type: RollingUpdate, rollingUpdate: {maxUnavailable: 25%, maxSurge: 25%}}"));
  EXPECT_EQ(spec["revisionHistoryLimit"], 10);
  EXPECT_EQ(spec["progressDeadlineSeconds"], 600);
  EXPECT_EQ(spec["template"]["spec"]["restartPolicy"], "Always");
  EXPECT_EQ(spec["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");

  Json recreate = deployment();
  recreate["spec"]["strategy"] = {{"type", "Recreate"}};
  EXPECT_NO_FIELD_ERRORS(create(recreate));
  EXPECT_FALSE(recreate["spec"]["strategy"].contains("rollingUpdate"));
}

TEST(Apps, SelectorMustMatchTemplateLabels) {
  Json d = deployment();
  d["spec"]["template"]["metadata"]["labels"] = {{"app", "x"}};
  FieldErrors errs = create(d);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does "
            "not match template `labels`");

  Json noSelector = deployment();
  noSelector["spec"].erase("selector");
  FieldErrors both = create(noSelector);
  EXPECT_EQ(invalidError("apps", "Deployment", "web", both).message(),
            "Deployment.apps \"web\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: "
            "Invalid value: map[string]string{\"app\":\"web\", \"tier\":\"frontend\"}: `selector` does not match "
            "template `labels`]");

  Json expressions = deployment();
  expressions["spec"]["selector"] = yaml(R"(
matchExpressions:
- {key: tier, operator: In, values: [frontend, backend]}
- {key: canary, operator: DoesNotExist}
)");
  EXPECT_NO_FIELD_ERRORS(create(expressions));
  expressions["spec"]["selector"]["matchExpressions"][1]["operator"] = "Exists";
  EXPECT_FIELD_ERROR(create(expressions), "spec.template.metadata.labels", FieldErrorType::kInvalid);

  Json empty = deployment();
  empty["spec"]["selector"] = Json::object();
  EXPECT_EQ(findError(create(empty), "spec.selector")->detail, "empty selector is invalid for deployment");
}

TEST(Apps, SelectorIsImmutable) {
  Json old = deployment();
  old["metadata"]["resourceVersion"] = "7";
  ASSERT_TRUE(create(old).empty());
  Json now = old;
  now["spec"]["selector"]["matchLabels"]["app"] = "web2";
  now["spec"]["template"]["metadata"]["labels"]["app"] = "web2";
  FieldErrors errs = update(now, old);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(),
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable");

  Json scaled = old;
  scaled["spec"]["replicas"] = 5;
  scaled["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26";
  EXPECT_NO_FIELD_ERRORS(update(scaled, old));
}

TEST(Apps, DeploymentSpecRules) {
  Json d = deployment();
  d["spec"]["replicas"] = -1;
  d["spec"]["strategy"] = yaml("{type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 0%}}");
  d["spec"]["minReadySeconds"] = 700;
  d["spec"]["template"]["spec"]["restartPolicy"] = "Never";
  FieldErrors errs = create(d);
  EXPECT_EQ(findError(errs, "spec.replicas")->toString(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0");
  EXPECT_EQ(findError(errs, "spec.strategy.rollingUpdate.maxUnavailable")->detail, "may not be 0 when `maxSurge` is 0");
  EXPECT_EQ(findError(errs, "spec.progressDeadlineSeconds")->detail, "must be greater than minReadySeconds");
  EXPECT_EQ(findError(errs, "spec.template.spec.restartPolicy")->toString(),
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"");

  Json bad = deployment();
  bad["spec"]["strategy"] = yaml("{type: Recreate, rollingUpdate: {maxSurge: 1}}");
  EXPECT_FIELD_ERROR(create(bad), "spec.strategy.rollingUpdate", FieldErrorType::kForbidden);
  Json unknown = deployment();
  unknown["spec"]["strategy"] = yaml("{type: BlueGreen}");
  EXPECT_FIELD_ERROR(create(unknown), "spec.strategy", FieldErrorType::kNotSupported);
  Json percent = deployment();
  percent["spec"]["strategy"] = yaml("{type: RollingUpdate, rollingUpdate: {maxUnavailable: 150%, maxSurge: ten}}");
  FieldErrors p = create(percent);
  EXPECT_EQ(findError(p, "spec.strategy.rollingUpdate.maxUnavailable")->detail, "must not be greater than 100%");
  EXPECT_FIELD_ERROR(p, "spec.strategy.rollingUpdate.maxSurge", FieldErrorType::kInvalid);
}

TEST(Apps, ReplicaSet) {
  Json rs = yaml(R"(
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-5d4f}
spec:
  selector: {matchLabels: {app: web, pod-template-hash: 5d4f}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d4f}}
    spec: {containers: [{name: web, image: nginx}]}
)");
  EXPECT_NO_FIELD_ERRORS(create(rs));
  EXPECT_EQ(rs["spec"]["replicas"], 1);
  EXPECT_FALSE(rs["spec"].contains("revisionHistoryLimit"));
}

TEST(Apps, StatefulSetDefaultsAndValidation) {
  Json sts = yaml(R"(
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: postgres
        image: postgres:16
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 10Gi}}
)");
  EXPECT_NO_FIELD_ERRORS(create(sts));
  const Json& spec = sts["spec"];
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["podManagementPolicy"], "OrderedReady");
  EXPECT_EQ(spec["updateStrategy"], yaml("{type: RollingUpdate, rollingUpdate: {partition: 0}}"));
  EXPECT_EQ(spec["revisionHistoryLimit"], 10);
  EXPECT_EQ(spec["persistentVolumeClaimRetentionPolicy"], yaml("{whenDeleted: Retain, whenScaled: Retain}"));
  EXPECT_EQ(spec["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");
  EXPECT_EQ(spec["volumeClaimTemplates"][0]["status"]["phase"], "Pending");

  Json old = sts;
  old["metadata"]["resourceVersion"] = "2";
  Json scaled = old;
  scaled["spec"]["replicas"] = 3;
  scaled["spec"]["updateStrategy"] = yaml("{type: OnDelete}");
  EXPECT_NO_FIELD_ERRORS(update(scaled, old));
  Json renamed = old;
  renamed["spec"]["serviceName"] = "other";
  FieldErrors errs = update(renamed, old);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].field, "spec");
  EXPECT_EQ(errs.errors()[0].type, FieldErrorType::kForbidden);
  EXPECT_NE(errs.errors()[0].detail.find("updates to statefulset spec for fields other than 'replicas'"),
            std::string::npos);

  Json bad = yaml(R"(
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  podManagementPolicy: Random
  updateStrategy: {type: OnDelete, rollingUpdate: {partition: 1}}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Keep}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x, volumeMounts: [{name: nope, mountPath: /d}]}]}
)");
  FieldErrors b = create(bad);
  EXPECT_EQ(findError(b, "spec.podManagementPolicy")->detail, "must be 'OrderedReady' or 'Parallel'");
  EXPECT_EQ(findError(b, "spec.updateStrategy.rollingUpdate")->detail, "only allowed for updateStrategy 'RollingUpdate'");
  EXPECT_FIELD_ERROR(b, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", FieldErrorType::kNotSupported);
  EXPECT_FIELD_ERROR(b, "spec.template.spec.containers[0].volumeMounts[0].name", FieldErrorType::kNotFound);
}

TEST(Apps, DaemonSet) {
  Json ds = yaml(R"(
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {name: agent}}
  template:
    metadata: {labels: {name: agent}}
    spec:
      hostNetwork: true
      tolerations: [{operator: Exists}]
      containers:
      - name: agent
        image: agent:1
        ports: [{containerPort: 9100, hostPort: 9100}]
)");
  EXPECT_NO_FIELD_ERRORS(create(ds));
  EXPECT_EQ(ds["spec"]["updateStrategy"], yaml("{type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 0}}"));
  EXPECT_EQ(ds["spec"]["revisionHistoryLimit"], 10);

  Json both = ds;
  both["spec"]["updateStrategy"]["rollingUpdate"] = {{"maxUnavailable", 1}, {"maxSurge", 1}};
  EXPECT_EQ(findError(create(both), "spec.updateStrategy.rollingUpdate.maxSurge")->detail,
            "may not be set when maxUnavailable is non-zero");
  Json neither = ds;
  neither["spec"]["updateStrategy"]["rollingUpdate"] = {{"maxUnavailable", 0}, {"maxSurge", 0}};
  EXPECT_FIELD_ERROR(create(neither), "spec.updateStrategy.rollingUpdate.maxUnavailable", FieldErrorType::kRequired);
  Json hostPortMismatch = ds;
  hostPortMismatch["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPort"] = 9200;
  EXPECT_EQ(findError(create(hostPortMismatch), "spec.template.spec.containers[0].ports[0].hostPort")->detail,
            "must match `containerPort` when `hostNetwork` is true");
}

TEST(Apps, ControllerRevision) {
  Json cr = yaml("{apiVersion: apps/v1, kind: ControllerRevision, metadata: {name: web-1}, revision: 1}");
  EXPECT_EQ(findError(create(cr), "data")->toString(), "data: Required value: data is mandatory");
  cr["data"] = {{"spec", Json::object()}};
  EXPECT_NO_FIELD_ERRORS(create(cr));
}

}  // namespace
}  // namespace nave::validation
