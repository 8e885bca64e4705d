// Strategic merge patches as kubectl sends them, against Pod and Deployment shapes.
#include <gtest/gtest.h>

#include "server/patch/patch.h"
#include "tests/server/patch/test_schemas.h"

namespace nave::patch {
namespace {

using testing::kindSchema;
using testing::testSchemas;

Json J(const char* text) {
  return Json::parse(text);
}

Json smp(const Json& doc, const char* patch, std::string_view kind) {
  auto r = applyStrategicMergePatch(doc, J(patch), testSchemas(), kindSchema(kind));
  EXPECT_TRUE(r.ok()) << patch << ": " << r.error().message();
  return r.ok() ? *r : Json();
}

Json podPatch(const Json& pod, const char* patch) {
  return smp(pod, patch, "io.k8s.api.core.v1.Pod");
}
Json deployPatch(const Json& d, const char* patch) {
  return smp(d, patch, "io.k8s.api.apps.v1.Deployment");
}

std::string podFailure(const Json& pod, const char* patch,
                       ErrorCode code = ErrorCode::kBadRequest) {
  auto r =
      applyStrategicMergePatch(pod, J(patch), testSchemas(), kindSchema("io.k8s.api.core.v1.Pod"));
  EXPECT_FALSE(r.ok()) << patch << " gave " << r->dump();
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code(), code) << r.error().message();
  return r.error().message();
}

const Json kDeployment = J(R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"team": "a"}},
  "spec": {
    "replicas": 2,
    "selector": {"matchLabels": {"app": "web"}},
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
    "template": {
      "metadata": {"labels": {"app": "web"}},
      "spec": {
        "containers": [
          {"name": "nginx", "image": "nginx:1.14", "args": ["-g", "daemon off;"],
           "ports": [{"containerPort": 80, "protocol": "TCP"}],
           "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
          {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]}
        ],
        "volumes": [{"name": "data", "emptyDir": {}}]
      }
    }
  }
})");

const Json& containers(const Json& d) {
  return d["spec"]["template"]["spec"]["containers"];
}

TEST(StrategicKubectl, ScaleSetsReplicas) {
  Json out = deployPatch(kDeployment, R"({"spec":{"replicas":5}})");
  EXPECT_EQ(out["spec"]["replicas"], 5);
  Json expected = kDeployment;
  expected["spec"]["replicas"] = 5;
  EXPECT_EQ(out, expected);
}

TEST(StrategicKubectl, SetImageMergesByContainerName) {
  Json out = deployPatch(
      kDeployment,
      R"({"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"}]}}}})");
  Json expected = kDeployment;
  expected["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.25";
  EXPECT_EQ(out, expected);
}

TEST(StrategicKubectl, SetImageWithTheOrderListKubectlComputes) {
  // kubectl set image builds a two-way patch, which names the containers' order.
  Json out = deployPatch(kDeployment, R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],
      "containers":[{"image":"nginx:1.25","name":"nginx"}]}}}})");
  Json expected = kDeployment;
  expected["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.25";
  EXPECT_EQ(out, expected);
}

TEST(StrategicKubectl, RolloutRestartAddsATemplateAnnotation) {
  Json out = deployPatch(kDeployment, R"({"spec":{"template":{"metadata":{"annotations":{
      "kubectl.kubernetes.io/restartedAt":"2024-05-01T10:00:00Z"}}}}})");
  EXPECT_EQ(
      out["spec"]["template"]["metadata"],
      J(R"({"labels":{"app":"web"},"annotations":{"kubectl.kubernetes.io/restartedAt":"2024-05-01T10:00:00Z"}})"));
  // Restarting again replaces the value, labels untouched.
  out = deployPatch(out, R"({"spec":{"template":{"metadata":{"annotations":{
      "kubectl.kubernetes.io/restartedAt":"2024-05-02T10:00:00Z"}}}}})");
  EXPECT_EQ(out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "2024-05-02T10:00:00Z");
}

TEST(StrategicKubectl, LabelAndAnnotateEditMaps) {
  Json out = deployPatch(
      kDeployment,
      R"({"metadata":{"labels":{"tier":"front","app":null},"annotations":{"team":"b"}}})");
  EXPECT_EQ(out["metadata"],
            J(R"({"name":"web","labels":{"tier":"front"},"annotations":{"team":"b"}})"));
}

TEST(StrategicKubectl, ApplyWithSetElementOrderAndDeletions) {
  // kubectl apply after the user changed nginx's image, dropped env B, added env C and a
  // volume mount, and reordered nothing.
  Json out = deployPatch(kDeployment, R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],
      "containers":[{
        "$setElementOrder/env":[{"name":"A"},{"name":"C"}],
        "env":[{"name":"C","value":"3"},{"$patch":"delete","name":"B"}],
        "volumeMounts":[{"mountPath":"/data","name":"data"}],
        "image":"nginx:1.15","name":"nginx"}]}}}})");
  const Json& c = containers(out);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0]["name"], "nginx");
  EXPECT_EQ(c[0]["image"], "nginx:1.15");
  EXPECT_EQ(c[0]["env"], J(R"([{"name":"A","value":"1"},{"name":"C","value":"3"}])"));
  EXPECT_EQ(c[0]["volumeMounts"], J(R"([{"mountPath":"/data","name":"data"}])"));
  EXPECT_EQ(c[0]["ports"], J(R"([{"containerPort":80,"protocol":"TCP"}])"));
  EXPECT_EQ(c[1], kDeployment["spec"]["template"]["spec"]["containers"][1]);
}

TEST(StrategicKubectl, ApplyReordersContainers) {
  Json out = deployPatch(kDeployment, R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"sidecar"},{"name":"nginx"}]}}}})");
  EXPECT_EQ(containers(out)[0]["name"], "sidecar");
  EXPECT_EQ(containers(out)[1]["name"], "nginx");
}

TEST(StrategicKubectl, ApplyAddsAContainerWhereTheOrderSays) {
  Json out = deployPatch(kDeployment, R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"nginx"},{"name":"logger"},{"name":"sidecar"}],
      "containers":[{"name":"logger","image":"fluentd"}]}}}})");
  ASSERT_EQ(containers(out).size(), 3u);
  EXPECT_EQ(containers(out)[0]["name"], "nginx");
  EXPECT_EQ(containers(out)[1], J(R"({"name":"logger","image":"fluentd"})"));
  EXPECT_EQ(containers(out)[2]["name"], "sidecar");
}

TEST(StrategicKubectl, ApplyRetainKeysClearsTheOtherStrategyFields) {
  Json out = deployPatch(kDeployment, R"({"spec":{"strategy":{
      "$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}})");
  EXPECT_EQ(out["spec"]["strategy"], J(R"({"type":"Recreate"})"));
}

TEST(StrategicKubectl, ApplyRetainKeysInsideAVolume) {
  // Switching a volume from emptyDir to hostPath: the merge list item carries $retainKeys.
  Json out = deployPatch(kDeployment, R"({"spec":{"template":{"spec":{
      "$setElementOrder/volumes":[{"name":"data"}],
      "volumes":[{"$retainKeys":["hostPath","name"],"hostPath":{"path":"/srv"},"name":"data"}]}}}})");
  EXPECT_EQ(out["spec"]["template"]["spec"]["volumes"],
            J(R"([{"name":"data","hostPath":{"path":"/srv"}}])"));
}

TEST(StrategicKubectl, PatchDeletesAListItemByMergeKey) {
  // kubectl patch --type strategic -p
  // '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}'
  Json out = deployPatch(kDeployment, R"({"spec":{"template":{"spec":{"containers":[
      {"name":"sidecar","$patch":"delete"}]}}}})");
  ASSERT_EQ(containers(out).size(), 1u);
  EXPECT_EQ(containers(out)[0]["name"], "nginx");
}

TEST(StrategicKubectl, EditSendsTwoWayPatches) {
  // kubectl edit: a label removed and added, a port added, args replaced (no merge strategy).
  Json out = deployPatch(kDeployment, R"({
      "metadata":{"labels":{"app":null,"v":"2"}},
      "spec":{"template":{"spec":{
        "$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],
        "containers":[{"name":"nginx","args":["-c","/etc/nginx.conf"],
          "$setElementOrder/ports":[{"containerPort":80},{"containerPort":443}],
          "ports":[{"containerPort":443,"protocol":"TCP"}]}]}}}})");
  EXPECT_EQ(out["metadata"]["labels"], J(R"({"v":"2"})"));
  EXPECT_EQ(containers(out)[0]["args"], J(R"(["-c","/etc/nginx.conf"])"));
  EXPECT_EQ(containers(out)[0]["ports"],
            J(R"([{"containerPort":80,"protocol":"TCP"},{"containerPort":443,"protocol":"TCP"}])"));
}

TEST(StrategicMerge, PrimitiveMergeListsAreSets) {
  Json pod = J(R"({"metadata":{"finalizers":["a","b"]}})");
  // Without an order list, items new to the list come before the server's.
  EXPECT_EQ(podPatch(pod, R"({"metadata":{"finalizers":["b","c"]}})")["metadata"]["finalizers"],
            J(R"(["a","b","c"])"));
  EXPECT_EQ(podPatch(pod, R"({"metadata":{"finalizers":["c"]}})")["metadata"]["finalizers"],
            J(R"(["c","a","b"])"));
  EXPECT_EQ(
      podPatch(pod, R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}})")["metadata"],
      J(R"({"finalizers":["b"]})"));
  EXPECT_EQ(podPatch(pod, R"({"metadata":{"$setElementOrder/finalizers":["b","c"],
                                          "$deleteFromPrimitiveList/finalizers":["a"],
                                          "finalizers":["c"]}})")["metadata"]["finalizers"],
            J(R"(["b","c"])"));
  // Deleting from a list the object does not have changes nothing.
  EXPECT_EQ(podPatch(J("{}"), R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}})"),
            J(R"({"metadata":{}})"));
}

TEST(StrategicMerge, DeleteFromPrimitiveListWorksOnReplacedListsToo) {
  // Kubernetes deletes from any list given a $deleteFromPrimitiveList, merge strategy or not.
  Json pod = J(R"({"spec":{"containers":[{"name":"c","args":["a","b","c"]}]}})");
  Json out = podPatch(
      pod, R"({"spec":{"containers":[{"name":"c","$deleteFromPrimitiveList/args":["b"]}]}})");
  EXPECT_EQ(out["spec"]["containers"][0]["args"], J(R"(["a","c"])"));
}

TEST(StrategicMerge, ListsWithoutMergeStrategyAreReplaced) {
  Json pod = J(R"({"spec":{"tolerations":[{"key":"a"},{"key":"b"}],
                           "containers":[{"name":"c","args":["x","y"]}]}})");
  Json out = podPatch(
      pod, R"({"spec":{"tolerations":[{"key":"c"}],"containers":[{"name":"c","args":["z"]}]}})");
  EXPECT_EQ(out["spec"]["tolerations"], J(R"([{"key":"c"}])"));
  EXPECT_EQ(out["spec"]["containers"][0]["args"], J(R"(["z"])"));
}

TEST(StrategicMerge, ObjectListsMergeByTheirKeyAndNewItemsComeFirst) {
  Json pod = J(
      R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":80},{"containerPort":443}]}]}})");
  Json out =
      podPatch(pod, R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":8080}]}]}})");
  EXPECT_EQ(out["spec"]["containers"][0]["ports"],
            J(R"([{"containerPort":8080},{"containerPort":80},{"containerPort":443}])"));
  out = podPatch(
      pod,
      R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":443,"name":"https"}]}]}})");
  EXPECT_EQ(out["spec"]["containers"][0]["ports"],
            J(R"([{"containerPort":80},{"containerPort":443,"name":"https"}])"));
}

TEST(StrategicMerge, ReplaceDirectiveInListsAndMaps) {
  Json out = deployPatch(kDeployment, R"({"spec":{"template":{"spec":{"containers":[
      {"name":"only","image":"x"},{"$patch":"replace"}]}}}})");
  EXPECT_EQ(containers(out), J(R"([{"name":"only","image":"x"}])"));
  out = deployPatch(kDeployment, R"({"metadata":{"labels":{"$patch":"replace","new":"1"}}})");
  EXPECT_EQ(out["metadata"]["labels"], J(R"({"new":"1"})"));
  out = deployPatch(kDeployment,
                    R"({"spec":{"template":{"spec":{"containers":[{"$patch":"replace"}]}}}})");
  EXPECT_EQ(containers(out), Json::array());
}

TEST(StrategicMerge, DeleteDirectiveInMapsEmptiesThem) {
  Json pod = J(R"({"spec":{"nodeSelector":{"disk":"ssd","zone":"a"},"restartPolicy":"Always"}})");
  EXPECT_EQ(podPatch(pod, R"({"spec":{"nodeSelector":{"$patch":"delete"}}})")["spec"],
            J(R"({"nodeSelector":{},"restartPolicy":"Always"})"));
  EXPECT_EQ(podPatch(pod, R"({"$patch":"delete"})"), Json::object());
  EXPECT_EQ(podPatch(pod, R"({"$patch":"replace","spec":{"restartPolicy":"Never"}})"),
            J(R"({"spec":{"restartPolicy":"Never"}})"));
}

TEST(StrategicMerge, UnknownFieldsMergeLikeJsonMergePatch) {
  Json pod =
      J(R"({"spec":{"extra":{"x":1,"y":{"z":2},"l":[1,2]}},"custom":{"a":[{"name":"n","v":1}]}})");
  Json out = podPatch(
      pod,
      R"({"spec":{"extra":{"x":null,"y":{"w":3},"l":[3]}},"custom":{"a":[{"name":"n","v":2}]}})");
  EXPECT_EQ(
      out,
      J(R"({"spec":{"extra":{"y":{"z":2,"w":3},"l":[3]}},"custom":{"a":[{"name":"n","v":2}]}})"));
}

TEST(StrategicMerge, NewValuesLoseNullsAndDirectives) {
  Json out = podPatch(J("{}"), R"({"metadata":{"labels":{"a":"1","b":null}},
      "spec":{"containers":[{"name":"c","env":[{"name":"E","value":null}]},{"name":"gone","$patch":"delete"}],
              "volumes":[{"name":"v","$retainKeys":["name"]}]}})");
  EXPECT_EQ(out, J(R"({"metadata":{"labels":{"a":"1"}},
      "spec":{"containers":[{"name":"c","env":[{"name":"E"}]}],"volumes":[{"name":"v"}]}})"));
  // A new map that carries $patch is dropped altogether, as Kubernetes does since 1.28.
  EXPECT_EQ(podPatch(J("{}"), R"({"spec":{"nodeSelector":{"$patch":"replace","a":"b"}}})"),
            J(R"({"spec":{}})"));
  // A value of another type is replaced, cleaned the same way.
  EXPECT_EQ(podPatch(J(R"({"spec":{"nodeSelector":"x"}})"),
                     R"({"spec":{"nodeSelector":{"a":"b","c":null}}})"),
            J(R"({"spec":{"nodeSelector":{"a":"b"}}})"));
}

TEST(StrategicMerge, NullPatchChangesNothing) {
  auto r = applyStrategicMergePatch(kDeployment, Json(nullptr), testSchemas(),
                                    kindSchema("io.k8s.api.apps.v1.Deployment"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, kDeployment);
}

TEST(StrategicErrors, ReportKubernetesMessages) {
  Json pod =
      J(R"({"metadata":{"finalizers":["a"]},"spec":{"containers":[{"name":"c","image":"i"}]}})");
  EXPECT_EQ(podFailure(pod, R"({"metadata":{"$patch":"foo"}})"),
            "unknown patch type: foo in map: map[$patch:foo]");
  EXPECT_EQ(podFailure(pod, R"({"spec":{"containers":[{"name":"c","$patch":"merge"}]}})"),
            "merging lists cannot yet be specified in the patch");
  EXPECT_EQ(podFailure(pod, R"({"spec":{"containers":[{"name":"c","$patch":"zap"}]}})"),
            "unknown patch type: zap in map: map[$patch:zap name:c]");
  EXPECT_EQ(podFailure(pod, R"({"spec":{"containers":[{"$patch":"delete","image":"x"}]}})"),
            "map: map[$patch:delete image:x] does not contain declared merge key: name");
  EXPECT_EQ(podFailure(pod, R"({"spec":{"containers":[{"image":"x","ports":[1]}]}})"),
            "map: map[image:x ports:[1]] does not contain declared merge key: name");
  EXPECT_EQ(podFailure(pod, R"({"spec":{"$retainKeys":"containers"}})"),
            "invalid patch format of retainKeys");
  EXPECT_EQ(podFailure(pod, R"({"spec":{"$retainKeys":["a"],"containers":[]}})"),
            "invalid patch format of retainKeys");
  EXPECT_EQ(podFailure(pod, R"({"metadata":{"$deleteFromPrimitiveListfinalizers":["a"]}})"),
            "invalid patch format of primitive list");
  EXPECT_EQ(podFailure(pod, R"({"metadata":{"$setElementOrderfinalizers":["a"]}})"),
            "invalid patch format of setElementOrder list");
  EXPECT_EQ(podFailure(pod, R"({"metadata":{"$setElementOrder/finalizers":"a"}})"),
            "expected a []interface {}, but received a string");
  EXPECT_EQ(
      podFailure(pod, R"({"metadata":{"$setElementOrder/finalizers":["a"],"finalizers":null}})"),
      "expected a []interface {}, but received a %!s(<nil>)");
  EXPECT_EQ(podFailure(pod, R"({"metadata":{"finalizers":[1]}})"),
            "list element types are not identical: [[a] [1]]");
  EXPECT_EQ(podFailure(J(R"({"metadata":{"finalizers":[["a"]]}})"),
                       R"({"metadata":{"finalizers":[["b"]]}})", ErrorCode::kInvalid),
            "lists of lists are not supported");
  std::string msg =
      podFailure(J(R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})"),
                 R"({"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],
                                           "containers":[{"name":"b","image":"y"},{"name":"a","image":"x"}]}})");
  EXPECT_EQ(msg,
            "the order in patch list:\n[map[image:y name:b] map[image:x name:a]]\n doesn't match "
            "$setElementOrder list:\n[map[name:a] map[name:b]]");
  EXPECT_EQ(podFailure(pod, "[1]"),
            "json: cannot unmarshal array into Go value of type map[string]interface {}");
  EXPECT_EQ(podFailure(pod, "\"x\""),
            "json: cannot unmarshal string into Go value of type map[string]interface {}");
}

TEST(StrategicErrors, ServerItemsWithoutTheMergeKeyAreReported) {
  Json pod = J(R"({"spec":{"containers":[{"image":"nameless"}]}})");
  EXPECT_EQ(podFailure(pod, R"({"spec":{"containers":[{"name":"c"}]}})"),
            "map: map[image:nameless] does not contain declared merge key: name");
}

}  // namespace
}  // namespace nave::patch
