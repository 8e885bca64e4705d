// The DaemonSet controller on a real API stack: nodes are API objects only, the test plays the
// kubelet (pod status) and the user.
#include "server/controllers/sets/daemonset_controller.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "server/controllers/sets/daemon_placement.h"
#include "tests/server/controllers/controller_fixture.h"
#include "tests/server/controllers/sets/set_test_util.h"

namespace nave::controllers {
namespace {

using testing::eventMessages;
using testing::setPodStatus;
using testing::waitFor;
using testing::yaml;

const client::Resource kDaemonSets{"apps", "v1", "daemonsets"};
const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kPods{"", "v1", "pods"};

class DaemonSetControllerTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override { run<DaemonSetController>(); }

  void makeNode(const std::string& name, const std::string& labels = "{}",
                const std::string& taints = "[]") {
    Json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", name}, {"labels", yaml(labels)}}},
                 {"spec", {{"taints", yaml(taints)}}}};
    auto r = client().create(kNodes, "", node);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  void makeDaemonSet(const std::string& name, const std::string& extraSpec = "{}",
                     const std::string& podSpec = "{}") {
    Json ds = yaml(R"({apiVersion: apps/v1, kind: DaemonSet, metadata: {name: )" + name + R"(},
        spec: {selector: {matchLabels: {app: )" +
                   name + R"(}},
               template: {metadata: {labels: {app: )" +
                   name + R"(}},
                          spec: {containers: [{name: c, image: busybox}]}}}})");
    ds["spec"].update(yaml(extraSpec));
    ds["spec"]["template"]["spec"].update(yaml(podSpec));
    auto r = client().create(kDaemonSets, "default", ds);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  Json getSet(const std::string& name) {
    auto r = client().get(kDaemonSets, "default", name);
    return r.ok() ? *r : Json::object();
  }
  // The live (not deleting) pods of a DaemonSet by the node they are for.
  std::map<std::string, std::vector<Json>> podsByNode(const std::string& ds) {
    std::map<std::string, std::vector<Json>> out;
    auto list = client().list(kPods, "default");
    if (!list.ok()) return out;
    for (const Json& p : (*list)["items"]) {
      if (p["metadata"].contains("deletionTimestamp")) continue;
      if (getString(p["metadata"]["labels"], "app") != ds) continue;
      out[sets::targetNodeOf(p)].push_back(p);
    }
    return out;
  }
  std::set<std::string> nodesWithPods(const std::string& ds) {
    std::set<std::string> out;
    for (auto& [node, pods] : podsByNode(ds)) out.insert(node);
    return out;
  }
  void readyAll(const std::string& ds) {
    for (auto& [node, pods] : podsByNode(ds))
      for (const Json& p : pods)
        if (getString(p["status"], "phase") != "Running")
          setPodStatus(client(), "default", p["metadata"]["name"], "Running", true);
  }
};

TEST_F(DaemonSetControllerTest, OnePodPerEligibleNodeAsNodesComeAndGo) {
  makeNode("web-1", "{role: web}");
  makeNode("web-2", "{role: web}", "[{key: dedicated, value: db, effect: NoSchedule}]");
  makeNode("db-1", "{role: db}");
  makeNode("web-3", "{role: web}", "[{key: node.kubernetes.io/not-ready, effect: NoExecute}]");
  makeDaemonSet("agent", "{}", "{nodeSelector: {role: web}}");
  // web-2's taint is not tolerated; db-1 is not selected; the not-ready taint is tolerated.
  ASSERT_TRUE(waitFor([&] {
    return nodesWithPods("agent") == std::set<std::string>{"web-1", "web-3"};
  })) << ::testing::PrintToString(nodesWithPods("agent"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto pods = podsByNode("agent");
  ASSERT_EQ(pods["web-1"].size(), 1u) << "one pod per node";
  const Json& pod = pods["web-1"][0];
  EXPECT_TRUE(getString(pod["metadata"], "name").starts_with("agent-"));
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(
      pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
      yaml("{nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: "
           "[web-1]}]}]}"));
  EXPECT_FALSE(pod["spec"].contains("nodeName")) << "the scheduler binds it";
  bool notReadyForever = false;
  for (const Json& t : pod["spec"]["tolerations"])
    if (t["key"] == "node.kubernetes.io/not-ready" && !t.contains("tolerationSeconds"))
      notReadyForever = true;
  EXPECT_TRUE(notReadyForever) << pod["spec"]["tolerations"].dump();
  std::string hash = getString(pod["metadata"]["labels"], "controller-revision-hash");
  EXPECT_FALSE(hash.empty());
  EXPECT_TRUE(client().get(testing::kTestRevisions, "default", "agent-" + hash).ok());

  ASSERT_TRUE(waitFor([&] {
    Json s = getSet("agent")["status"];
    return s.value("desiredNumberScheduled", -1) == 2 &&
           s.value("currentNumberScheduled", -1) == 2 && s.value("numberUnavailable", 0) == 2 &&
           s.value("updatedNumberScheduled", 0) == 2 && s.value("observedGeneration", 0) == 1;
  })) << getSet("agent")["status"].dump();
  readyAll("agent");
  EXPECT_TRUE(waitFor([&] {
    Json s = getSet("agent")["status"];
    return s.value("numberReady", 0) == 2 && s.value("numberAvailable", 0) == 2 &&
           !s.contains("numberUnavailable");
  })) << getSet("agent")["status"].dump();
  EXPECT_TRUE(waitFor([&] {
    auto m = eventMessages(client(), "default", "agent");
    return std::count(m.begin(), m.end(),
                      "SuccessfulCreate: Created pod: " + getString(pod["metadata"], "name")) == 1;
  }));

  // A node added; a node gone; a node no longer selected.
  makeNode("web-4", "{role: web}");
  ASSERT_TRUE(waitFor([&] { return nodesWithPods("agent").count("web-4") == 1; }));
  ASSERT_TRUE(client().remove(kNodes, "", "web-1").ok());
  ASSERT_TRUE(waitFor([&] { return nodesWithPods("agent").count("web-1") == 0; }));
  auto r = client().patch(kNodes, "", "web-3", api::PatchType::kMerge,
                          R"({"metadata":{"labels":{"role":"db"}}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(waitFor([&] { return nodesWithPods("agent") == std::set<std::string>{"web-4"}; }))
      << ::testing::PrintToString(nodesWithPods("agent"));
  // An untolerated NoExecute taint evicts; a NoSchedule one added later does not.
  r = client().patch(kNodes, "", "web-4", api::PatchType::kMerge,
                     R"({"spec":{"taints":[{"key":"later","effect":"NoSchedule"}]}})");
  ASSERT_TRUE(r.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(nodesWithPods("agent"), std::set<std::string>{"web-4"});
  EXPECT_TRUE(waitFor([&] {
    Json s = getSet("agent")["status"];
    return s.value("numberMisscheduled", -1) == 1 && s.value("desiredNumberScheduled", -1) == 0;
  })) << getSet("agent")["status"].dump();
  r = client().patch(kNodes, "", "web-4", api::PatchType::kMerge,
                     R"({"spec":{"taints":[{"key":"gone","effect":"NoExecute"}]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(waitFor([&] { return nodesWithPods("agent").empty(); }));
}

TEST_F(DaemonSetControllerTest, RollingUpdateReplacesOneNodeAtATime) {
  for (const char* n : {"n1", "n2", "n3"}) makeNode(n);
  makeDaemonSet("roll");
  ASSERT_TRUE(waitFor([&] { return nodesWithPods("roll").size() == 3; }));
  readyAll("roll");
  ASSERT_TRUE(waitFor([&] { return getSet("roll")["status"].value("numberAvailable", 0) == 3; }));
  std::string oldHash =
      getString(podsByNode("roll")["n1"][0]["metadata"]["labels"], "controller-revision-hash");

  auto r = client().patch(
      kDaemonSets, "default", "roll", api::PatchType::kMerge,
      R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:2"}]}}}})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  auto updatedCount = [&] {
    int updated = 0, old = 0;
    for (auto& [node, pods] : podsByNode("roll"))
      for (const Json& p : pods)
        (getString(p["metadata"]["labels"], "controller-revision-hash") == oldHash ? old
                                                                                   : updated)++;
    return std::pair{updated, old};
  };
  // maxUnavailable 1: one old pod replaced; the others stay until the new one is Ready.
  ASSERT_TRUE(waitFor([&] { return updatedCount() == std::pair{1, 2}; })) << updatedCount().first;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(updatedCount(), (std::pair{1, 2}));
  for (int round = 2; round <= 3; round++) {
    readyAll("roll");
    ASSERT_TRUE(waitFor([&] { return updatedCount().first == round; })) << round;
  }
  readyAll("roll");
  EXPECT_TRUE(waitFor([&] {
    Json s = getSet("roll")["status"];
    return s.value("updatedNumberScheduled", 0) == 3 && s.value("numberAvailable", 0) == 3 &&
           s.value("observedGeneration", 0) == 2;
  })) << getSet("roll")["status"].dump();
  auto revisions = client().list(testing::kTestRevisions, "default");
  ASSERT_TRUE(revisions.ok());
  std::vector<int64_t> numbers;
  for (const Json& rev : (*revisions)["items"]) numbers.push_back(rev["revision"]);
  std::sort(numbers.begin(), numbers.end());
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 2}));
}

TEST_F(DaemonSetControllerTest, MaxSurgeStartsTheNewPodBeforeTheOldGoes) {
  makeNode("s1");
  makeDaemonSet(
      "surge",
      "{updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}}");
  ASSERT_TRUE(waitFor([&] { return podsByNode("surge")["s1"].size() == 1; }));
  readyAll("surge");
  ASSERT_TRUE(waitFor([&] { return getSet("surge")["status"].value("numberAvailable", 0) == 1; }));
  auto r = client().patch(kDaemonSets, "default", "surge", api::PatchType::kMerge,
                          R"({"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}})");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(waitFor([&] { return podsByNode("surge")["s1"].size() == 2; }))
      << "new pod next to the old";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(podsByNode("surge")["s1"].size(), 2u)
      << "the old one stays until the new one is available";
  readyAll("surge");
  EXPECT_TRUE(waitFor([&] {
    auto pods = podsByNode("surge")["s1"];
    return pods.size() == 1 && pods[0]["metadata"]["annotations"].value("v", "") == "2";
  }));
}

TEST_F(DaemonSetControllerTest, OnDeleteWaitsAndReleasedPodsAreReplaced) {
  makeNode("o1");
  makeDaemonSet("od", "{updateStrategy: {type: OnDelete}}");
  ASSERT_TRUE(waitFor([&] { return podsByNode("od")["o1"].size() == 1; }));
  readyAll("od");
  Json first = podsByNode("od")["o1"][0];
  auto r = client().patch(kDaemonSets, "default", "od", api::PatchType::kMerge,
                          R"({"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}})");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(waitFor([&] { return getSet("od")["status"].value("observedGeneration", 0) == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(podsByNode("od")["o1"].size(), 1u);
  EXPECT_EQ(podsByNode("od")["o1"][0]["metadata"]["uid"], first["metadata"]["uid"]) << "OnDelete";
  EXPECT_FALSE(getSet("od")["status"].contains("updatedNumberScheduled"));

  // A pod relabelled out of the selector is released, and the node gets a new one.
  std::string name = first["metadata"]["name"];
  r = client().patch(kPods, "default", name, api::PatchType::kMerge,
                     R"({"metadata":{"labels":{"app":"other"}}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(waitFor([&] {
    auto p = client().get(kPods, "default", name);
    return p.ok() && !(*p)["metadata"].contains("ownerReferences");
  }));
  EXPECT_TRUE(waitFor([&] {
    auto pods = podsByNode("od")["o1"];
    return pods.size() == 1 && pods[0]["metadata"]["annotations"].value("v", "") == "2";
  }));
}

TEST_F(DaemonSetControllerTest, SurplusPodsOnANodeAreDeleted) {
  makeNode("x1");
  makeDaemonSet("extra");
  ASSERT_TRUE(waitFor([&] { return podsByNode("extra")["x1"].size() == 1; }));
  // A second pod for the same node, adopted by its labels, is one too many.
  Json stray = yaml(R"({apiVersion: v1, kind: Pod, metadata: {name: stray, labels: {app: extra}},
      spec: {nodeName: x1, containers: [{name: c, image: busybox}]}})");
  ASSERT_TRUE(client().create(kPods, "default", stray).ok());
  EXPECT_TRUE(waitFor([&] { return podsByNode("extra")["x1"].size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(podsByNode("extra")["x1"].size(), 1u);
}

TEST_F(DaemonSetControllerTest, FailedPodIsReplaced) {
  makeNode("f1");
  makeDaemonSet("fail");
  ASSERT_TRUE(waitFor([&] { return podsByNode("fail")["f1"].size() == 1; }));
  std::string name = podsByNode("fail")["f1"][0]["metadata"]["name"];
  setPodStatus(client(), "default", name, "Failed", false);
  EXPECT_TRUE(waitFor([&] {
    auto pods = podsByNode("fail")["f1"];
    return pods.size() == 1 && pods[0]["metadata"]["name"] != name;
  }));
  EXPECT_TRUE(waitFor([&] {
    auto m = eventMessages(client(), "default", "fail");
    return std::count(m.begin(), m.end(),
                      "FailedDaemonPod: Found failed daemon pod default/" + name +
                          " on node f1, will try to kill it") == 1;
  }));
}

}  // namespace
}  // namespace nave::controllers
