// Which nodes a DaemonSet's pod belongs on, and the pod it makes for one.
#include "server/controllers/sets/daemon_placement.h"

#include <gtest/gtest.h>

#include "common/yaml.h"

namespace nave::controllers::sets {
namespace {

Json yaml(const std::string& text) {
  auto r = parseYaml(text);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : Json();
}

TEST(DaemonPlacement, TemplateGetsDaemonTolerationsAndHash) {
  Json ds = yaml(R"({spec: {template: {metadata: {labels: {app: d}}, spec: {hostNetwork: true,
      tolerations: [{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}]}}}})");
  Json t = daemonPodTemplate(ds, "abc");
  EXPECT_EQ(t["metadata"]["labels"]["controller-revision-hash"], "abc");
  EXPECT_EQ(t["metadata"]["labels"]["app"], "d");
  std::map<std::string, Json> byKey;
  for (const Json& tol : t["spec"]["tolerations"]) byKey[tol["key"]] = tol;
  EXPECT_EQ(byKey.size(), 7u);
  EXPECT_FALSE(byKey["node.kubernetes.io/not-ready"].contains("tolerationSeconds"));
  EXPECT_EQ(byKey["node.kubernetes.io/unreachable"]["effect"], "NoExecute");
  EXPECT_EQ(byKey["node.kubernetes.io/unschedulable"]["effect"], "NoSchedule");
  EXPECT_EQ(byKey["node.kubernetes.io/network-unavailable"]["operator"], "Exists");
  // Without hostNetwork, no network-unavailable toleration.
  Json plain = daemonPodTemplate(yaml("{spec: {template: {spec: {}}}}"), "h");
  EXPECT_EQ(plain["spec"]["tolerations"].size(), 6u);
}

TEST(DaemonPlacement, PinToNodeReplacesRequiredTermsAndIsReadBack) {
  Json t = yaml(R"({spec: {affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution:
      {nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]}}}}})");
  Json pinned = pinToNode(t, "n1");
  const Json& terms = pinned["spec"]["affinity"]["nodeAffinity"]
                            ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
  ASSERT_EQ(terms.size(), 1u);
  EXPECT_EQ(terms[0], yaml("{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}"));
  EXPECT_EQ(targetNodeOf(pinned), "n1");
  EXPECT_EQ(targetNodeOf(yaml("{spec: {nodeName: n2}}")), "n2");
  EXPECT_EQ(targetNodeOf(yaml("{spec: {}}")), "");
}

TEST(DaemonPlacement, SelectorAffinityAndTaints) {
  Json node = yaml(R"({metadata: {name: n1, labels: {zone: a, size: "8"}},
      spec: {taints: [{key: dedicated, value: db, effect: NoSchedule}]}})");
  auto place = [&](const std::string& spec) {
    return placeOn(daemonPodTemplate(yaml(spec), "h"), node);
  };
  // The NoSchedule taint is not tolerated: not run there, but a pod there may stay.
  Placement p = place("{spec: {template: {spec: {}}}}");
  EXPECT_FALSE(p.shouldRun);
  EXPECT_TRUE(p.shouldContinueRunning);
  p = place(
      "{spec: {template: {spec: {tolerations: [{key: dedicated, operator: Equal, value: db}]}}}}");
  EXPECT_TRUE(p.shouldRun);
  p = place(
      "{spec: {template: {spec: {tolerations: [{operator: Exists}], nodeSelector: {zone: b}}}}}");
  EXPECT_FALSE(p.shouldRun);
  EXPECT_FALSE(p.shouldContinueRunning);
  p = place(R"({spec: {template: {spec: {tolerations: [{operator: Exists}], affinity: {nodeAffinity:
      {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [
        {matchExpressions: [{key: zone, operator: In, values: [b]}]},
        {matchExpressions: [{key: size, operator: Gt, values: ["4"]}, {key: gpu, operator: DoesNotExist}]}]}}}}}}})");
  EXPECT_TRUE(p.shouldRun);
  p = place("{spec: {template: {spec: {tolerations: [{operator: Exists}], nodeName: other}}}}");
  EXPECT_FALSE(p.shouldRun);
  // An untolerated NoExecute taint: the pod must go.
  node["spec"]["taints"] = yaml("[{key: evict, effect: NoExecute}]");
  p = place("{spec: {template: {spec: {}}}}");
  EXPECT_FALSE(p.shouldRun);
  EXPECT_FALSE(p.shouldContinueRunning);
  // The daemon tolerations cover the node conditions' taints.
  node["spec"]["taints"] = yaml("[{key: node.kubernetes.io/unschedulable, effect: NoSchedule}]");
  EXPECT_TRUE(place("{spec: {template: {spec: {}}}}").shouldRun);
}

}  // namespace
}  // namespace nave::controllers::sets
