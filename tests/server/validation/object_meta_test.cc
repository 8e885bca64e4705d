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

Json configMap() {
  return yaml(R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
  uid: 4c1e7a6a-1111-2222-3333-444455556666
  resourceVersion: "12"
  creationTimestamp: "2024-01-01T00:00:00Z"
data: {a: b}
)");
}

TEST(ObjectMeta, NameRequiredUnlessGenerateName) {
  Json cm = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {}}");
  FieldErrors errs = create(cm);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(), "metadata.name: Required value: name or generateName is required");

  Json generated = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {generateName: settings-}}");
  EXPECT_NO_FIELD_ERRORS(create(generated));

  Json badPrefix = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {generateName: Settings-}}");
  EXPECT_FIELD_ERROR(create(badPrefix), "metadata.generateName", FieldErrorType::kInvalid);
}

TEST(ObjectMeta, NamespaceByScope) {
  Json cm = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}");
  FieldErrors errs = validate("", "ConfigMap", cm, nullptr, Operation::kCreate);
  EXPECT_FIELD_ERROR(errs, "metadata.namespace", FieldErrorType::kRequired);

  Json badNs = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: Kube_System}}");
  EXPECT_FIELD_ERROR(validate("", "ConfigMap", badNs, nullptr, Operation::kCreate), "metadata.namespace",
                     FieldErrorType::kInvalid);

  // A namespace on a cluster-scoped object is dropped by defaulting, refused if it gets through.
  Json ns = yaml("{apiVersion: v1, kind: Namespace, metadata: {name: team-a, namespace: default}}");
  EXPECT_NO_FIELD_ERRORS(create(ns));
  EXPECT_FALSE(ns["metadata"].contains("namespace"));
  Json raw = yaml("{apiVersion: v1, kind: Namespace, metadata: {name: team-a, namespace: default}}");
  FieldErrors forbidden = validate("", "Namespace", raw, nullptr, Operation::kCreate);
  ASSERT_NE(findError(forbidden, "metadata.namespace"), nullptr) << describe(forbidden);
  EXPECT_EQ(findError(forbidden, "metadata.namespace")->toString(),
            "metadata.namespace: Forbidden: not allowed on this type");
}

TEST(ObjectMeta, LabelsAndAnnotations) {
  Json cm = yaml(R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  labels: {"app.kubernetes.io/name": web, "bad key": x, ok: "-bad-"}
  annotations: {"Example.COM/Case": fine}
)");
  FieldErrors errs = create(cm);
  ASSERT_EQ(errs.size(), 2u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].field, "metadata.labels");
  EXPECT_EQ(errs.errors()[0].badValue, "bad key");
  EXPECT_EQ(errs.errors()[1].badValue, "-bad-");

  Json big = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}");
  big["metadata"]["annotations"]["k"] = std::string(256 * 1024, 'x');
  FieldErrors tooLong = create(big);
  ASSERT_EQ(tooLong.size(), 1u) << describe(tooLong);
  EXPECT_EQ(tooLong.errors()[0].toString(), "metadata.annotations: Too long: may not be more than 262144 bytes");
}

TEST(ObjectMeta, OwnerReferencesAndFinalizers) {
  Json cm = yaml(R"(
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u1, controller: true}
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-2, uid: u2, controller: true}
  - {apiVersion: "", kind: Thing, name: x, uid: u3}
  finalizers: [example.com/cleanup, kubernetes, my-finalizer]
)");
  FieldErrors errs = create(cm);
  EXPECT_FIELD_ERROR(errs, "metadata.ownerReferences.apiVersion", FieldErrorType::kInvalid);
  const FieldError* twoControllers = findError(errs, "metadata.ownerReferences");
  ASSERT_NE(twoControllers, nullptr) << describe(errs);
  EXPECT_NE(twoControllers->detail.find("Only one reference can have Controller set to true"), std::string::npos);
  const FieldError* finalizer = findError(errs, "metadata.finalizers[2]");
  ASSERT_NE(finalizer, nullptr) << describe(errs);
  EXPECT_EQ(finalizer->detail, "name is neither a standard finalizer name nor is it fully qualified");
  EXPECT_EQ(errs.size(), 3u) << describe(errs);
}

TEST(ObjectMeta, ImmutableOnUpdate) {
  Json old = configMap();
  Json renamed = configMap();
  renamed["metadata"]["name"] = "other";
  renamed["metadata"]["uid"] = "different";
  FieldErrors errs = update(renamed, old);
  EXPECT_FIELD_ERROR(errs, "metadata.name", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "metadata.name")->toString(), "metadata.name: Invalid value: \"other\": field is immutable");
  EXPECT_FIELD_ERROR(errs, "metadata.uid", FieldErrorType::kInvalid);

  // A manifest without uid and timestamps (kubectl replace) is fine: the server keeps them.
  Json replaced = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: default}, data: {a: c}}");
  EXPECT_NO_FIELD_ERRORS(update(replaced, old));

  Json moved = configMap();
  moved["metadata"]["namespace"] = "kube-system";
  EXPECT_FIELD_ERROR(update(moved, old), "metadata.namespace", FieldErrorType::kInvalid);
}

TEST(ObjectMeta, NoNewFinalizersWhileDeleting) {
  Json old = configMap();
  old["metadata"]["deletionTimestamp"] = "2024-01-02T00:00:00Z";
  old["metadata"]["finalizers"] = {"example.com/a"};
  Json now = old;
  now["metadata"]["finalizers"] = {"example.com/a", "example.com/b"};
  FieldErrors errs = update(now, old);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(),
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
            "deleted, found new finalizers []string{\"example.com/b\"}");
  Json removing = old;
  removing["metadata"]["finalizers"] = Json::array();
  EXPECT_NO_FIELD_ERRORS(update(removing, old));
}

TEST(ObjectMeta, SharedHelpersForCustomResources) {
  Json cr = yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w.1, namespace: default}}");
  FieldErrors ok;
  validateObjectMeta(cr, true, false, ok);
  EXPECT_TRUE(ok.empty()) << describe(ok);
  FieldErrors label;
  validateObjectMeta(cr, true, true, label);
  EXPECT_FIELD_ERROR(label, "metadata.name", FieldErrorType::kInvalid);
  // No built-in finalizer rule for custom resources.
  cr["metadata"]["finalizers"] = {"custom"};
  FieldErrors fin;
  validateObjectMeta(cr, true, false, fin);
  EXPECT_TRUE(fin.empty()) << describe(fin);
  Json old = cr;
  cr["metadata"]["name"] = "w.2";
  FieldErrors upd;
  validateObjectMetaUpdate(cr, old, upd);
  EXPECT_FIELD_ERROR(upd, "metadata.name", FieldErrorType::kInvalid);
}

TEST(ObjectMeta, UnknownKindsAreLeftAlone) {
  Json obj = yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: BAD_NAME}}");
  Json copy = obj;
  applyDefaults("example.com", "Widget", obj);
  EXPECT_EQ(obj, copy);
  EXPECT_TRUE(validate("example.com", "Widget", obj, nullptr, Operation::kCreate).empty());
}

TEST(ObjectMeta, WrongTypesDoNotThrow) {
  Json weird = yaml(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: 5, labels: [1, 2], annotations: "x", finalizers: {a: b}, ownerReferences: 7}
spec: {replicas: "three", selector: [], template: {spec: {containers: {a: 1}, volumes: "v"}}}
)");
  EXPECT_NO_THROW({
    applyDefaults("apps", "Deployment", weird);
    FieldErrors errs = validate("apps", "Deployment", weird, nullptr, Operation::kCreate);
    EXPECT_FALSE(errs.empty());
  });
}

}  // namespace
}  // namespace nave::validation
