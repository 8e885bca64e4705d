// The scheduler on a real API stack: pods created through the client are bound to Nodes
// created through the client; what fits nowhere is marked Unschedulable with an event; lower
// priority pods are preempted.
#include "server/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

#include "common/log.h"
#include "tests/server/api_fixture.h"

namespace nave::scheduler {
namespace {

using testing::kPods;
const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kReplicaSets{"apps", "v1", "replicasets"};
const client::Resource kEvents{"", "v1", "events"};
const client::Resource kPriorityClasses{"scheduling.k8s.io", "v1", "priorityclasses"};
const client::Resource kClaims{"", "v1", "persistentvolumeclaims"};
const client::Resource kStorageClasses{"storage.k8s.io", "v1", "storageclasses"};

bool waitFor(const std::function<bool()>& done,
             std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

Json node(const std::string& name, const std::string& cpu = "4", Json labels = Json::object()) {
  labels["kubernetes.io/hostname"] = name;
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"status",
           {{"allocatable", {{"cpu", cpu}, {"memory", "8Gi"}, {"pods", "110"}}},
            {"capacity", {{"cpu", cpu}, {"memory", "8Gi"}, {"pods", "110"}}},
            {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

Json pod(const std::string& name, const std::string& cpu = "", Json labels = Json::object()) {
  Json c = {{"name", "c"}, {"image", "busybox"}};
  if (!cpu.empty()) c["resources"]["requests"]["cpu"] = cpu;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", labels}}},
          {"spec", {{"containers", Json::array({c})}, {"terminationGracePeriodSeconds", 0}}}};
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("NAVE_TEST_V")) log::setVerbosity(std::atoi(v));
  }
  void TearDown() override {
    if (scheduler_) scheduler_->stop();
    informers_.stop();
  }
  void start() {
    scheduler_ = std::make_unique<Scheduler>(ctx_);
    informers_.start();
    scheduler_->start();
  }
  void create(const client::Resource& r, const Json& o) {
    auto created = fx_.client().create(
        r, r.resource == "nodes" || r.resource == "priorityclasses" ? "" : "default", o);
    ASSERT_TRUE(created.ok()) << created.error().message();
    if (r.resource == "nodes") {  // status is a subresource: set allocatable and conditions
      Json withStatus = *created;
      withStatus["status"] = o["status"];
      auto updated = fx_.client().update(r, "", withStatus, {}, "status");
      ASSERT_TRUE(updated.ok()) << updated.error().message();
    }
  }
  std::string nodeOf(const std::string& name) {
    auto p = fx_.client().get(kPods, "default", name);
    return p.ok() ? getString((*p)["spec"], "nodeName") : "";
  }
  Json scheduledCondition(const std::string& name) {
    auto p = fx_.client().get(kPods, "default", name);
    if (!p.ok()) return nullptr;
    for (const Json& c : (*p)["status"].value("conditions", Json::array()))
      if (c["type"] == "PodScheduled") return c;
    return nullptr;
  }
  bool hasEvent(const std::string& pod, const std::string& reason, const std::string& messagePart) {
    auto list = fx_.client().list(kEvents, "default");
    if (!list.ok()) return false;
    for (const Json& e : (*list)["items"])
      if (getString(e["involvedObject"], "name") == pod && getString(e, "reason") == reason &&
          getString(e, "message").find(messagePart) != std::string::npos &&
          getString(e["source"], "component") == "default-scheduler")
        return true;
    return false;
  }

  int64_t eventCount(const std::string& pod, const std::string& reason) {
    auto list = fx_.client().list(kEvents, "default");
    int64_t n = 0;
    if (list.ok())
      for (const Json& e : (*list)["items"])
        if (getString(e["involvedObject"], "name") == pod && getString(e, "reason") == reason)
          n += getInt(e, "count", 1);
    return n;
  }

  testing::ApiFixture fx_;
  controllers::InformerFactory informers_{fx_.client()};
  client::EventRecorder events_{fx_.client(), "default-scheduler"};
  controllers::ControllerContext ctx_{fx_.client(), informers_, events_, fx_.types(), fx_.dir()};
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, BindsPodsAndRecordsScheduledEvents) {
  create(kNodes, node("n1"));
  create(kNodes, node("n2"));
  create(kPods, pod("before"));
  start();
  create(kPods, pod("after"));
  Json other = pod("other");
  other["spec"]["schedulerName"] = "my-scheduler";
  create(kPods, other);
  ASSERT_TRUE(waitFor([&] { return !nodeOf("before").empty() && !nodeOf("after").empty(); }));
  Json cond = scheduledCondition("after");
  EXPECT_EQ(cond["status"], "True");
  ASSERT_TRUE(waitFor(
      [&] { return hasEvent("after", "Scheduled", "Successfully assigned default/after to n"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(nodeOf("other"), "");  // another scheduler's pod is left alone
}

TEST_F(SchedulerTest, BurstDoesNotOvercommit) {
  create(kNodes, node("n1", "2"));
  create(kNodes, node("n2", "2"));
  start();
  for (int i = 0; i < 6; ++i) create(kPods, pod("p" + std::to_string(i), "1"));
  ASSERT_TRUE(waitFor([&] {
    int bound = 0;
    for (int i = 0; i < 6; ++i) bound += !nodeOf("p" + std::to_string(i)).empty();
    return bound == 4;
  }));
  std::map<std::string, int> perNode;
  int pending = 0;
  for (int i = 0; i < 6; ++i) {
    std::string n = nodeOf("p" + std::to_string(i));
    if (n.empty())
      ++pending;
    else
      ++perNode[n];
  }
  EXPECT_EQ(pending, 2);
  EXPECT_EQ(perNode["n1"], 2);
  EXPECT_EQ(perNode["n2"], 2);
}

TEST_F(SchedulerTest, UnschedulableConditionEventAndRetryWhenANodeComes) {
  Json cp = node("cp");
  cp["spec"]["taints"] =
      Json::array({{{"key", "node-role.kubernetes.io/control-plane"}, {"effect", "NoSchedule"}}});
  create(kNodes, cp);
  create(kNodes, node("w1", "1"));
  create(kNodes, node("w2", "1"));
  start();
  create(kPods, pod("big", "2"));
  const std::string want =
      "0/3 nodes are available: 1 node(s) had untolerated taint "
      "{node-role.kubernetes.io/control-plane: }, "
      "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for "
      "scheduling, 2 No preemption victims found for incoming pod.";
  ASSERT_TRUE(waitFor([&] {
    Json c = scheduledCondition("big");
    return c.is_object() && c["status"] == "False" && c["reason"] == "Unschedulable";
  }));
  EXPECT_EQ(scheduledCondition("big")["message"], want);
  ASSERT_TRUE(waitFor([&] { return hasEvent("big", "FailedScheduling", want); }));
  // No change, no retry: the pod waits (one FailedScheduling, count 1).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(eventCount("big", "FailedScheduling"), 1);

  // A bigger node: the pod is retried without waiting for the periodic flush.
  create(kNodes, node("w3", "4"));
  ASSERT_TRUE(waitFor([&] { return nodeOf("big") == "w3"; }));
  EXPECT_EQ(scheduledCondition("big")["status"], "True");
}

TEST_F(SchedulerTest, NodeSelectorTaintsAndAntiAffinity) {
  create(kNodes, node("ssd", "4", {{"disk", "ssd"}}));
  create(kNodes, node("hdd", "4", {{"disk", "hdd"}}));
  start();
  Json p = pod("wants-ssd");
  p["spec"]["nodeSelector"] = {{"disk", "ssd"}};
  create(kPods, p);
  ASSERT_TRUE(waitFor([&] { return nodeOf("wants-ssd") == "ssd"; }));

  Json term = {{"labelSelector", {{"matchLabels", {{"app", "web"}}}}},
               {"topologyKey", "kubernetes.io/hostname"}};
  for (int i = 0; i < 3; ++i) {
    Json w = pod("web-" + std::to_string(i), "", {{"app", "web"}});
    w["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
        Json::array({term});
    create(kPods, w);
  }
  ASSERT_TRUE(waitFor([&] { return !nodeOf("web-0").empty() && !nodeOf("web-1").empty(); }));
  EXPECT_NE(nodeOf("web-0"), nodeOf("web-1"));
  ASSERT_TRUE(waitFor([&] {
    Json c = scheduledCondition("web-2");
    return c.is_object() && c["status"] == "False";
  }));
  EXPECT_EQ(nodeOf("web-2"), "");
  EXPECT_EQ(
      getString(scheduledCondition("web-2"), "message")
          .rfind("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.", 0),
      0u);
  // Deleting one frees its node for the third.
  ASSERT_TRUE(fx_.client().remove(kPods, "default", "web-0").ok());
  ASSERT_TRUE(waitFor([&] { return !nodeOf("web-2").empty(); }));
}

TEST_F(SchedulerTest, TopologySpreadDoNotSchedule) {
  create(kNodes, node("a", "4", {{"zone", "z1"}}));
  create(kNodes, node("b", "4", {{"zone", "z2"}}));
  start();
  for (int i = 0; i < 4; ++i) {
    Json w = pod("s" + std::to_string(i), "", {{"app", "s"}});
    w["spec"]["topologySpreadConstraints"] =
        Json::array({{{"maxSkew", 1},
                      {"topologyKey", "zone"},
                      {"whenUnsatisfiable", "DoNotSchedule"},
                      {"labelSelector", {{"matchLabels", {{"app", "s"}}}}}}});
    create(kPods, w);
    ASSERT_TRUE(waitFor([&] { return !nodeOf("s" + std::to_string(i)).empty(); }));
  }
  std::map<std::string, int> perNode;
  for (int i = 0; i < 4; ++i) ++perNode[nodeOf("s" + std::to_string(i))];
  EXPECT_EQ(perNode["a"], 2);
  EXPECT_EQ(perNode["b"], 2);
}

TEST_F(SchedulerTest, SpreadsAReplicaSetsPodsByDefault) {
  create(kNodes, node("big", "64"));
  create(kNodes, node("small", "8"));
  start();
  Json rs = {
      {"apiVersion", "apps/v1"},
      {"kind", "ReplicaSet"},
      {"metadata", {{"name", "web"}, {"namespace", "default"}}},
      {"spec",
       {{"replicas", 4},
        {"selector", {{"matchLabels", {{"app", "web"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "web"}}}}},
          {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}}}}};
  auto created = fx_.client().create(kReplicaSets, "default", rs);
  ASSERT_TRUE(created.ok()) << created.error().message();
  std::string uid = getString((*created)["metadata"], "uid");
  for (int i = 0; i < 4; ++i) {
    Json p = pod("web-" + std::to_string(i), "", {{"app", "web"}});
    p["metadata"]["ownerReferences"] = Json::array({{{"apiVersion", "apps/v1"},
                                                     {"kind", "ReplicaSet"},
                                                     {"name", "web"},
                                                     {"uid", uid},
                                                     {"controller", true}}});
    create(kPods, p);
    ASSERT_TRUE(waitFor([&] { return !nodeOf("web-" + std::to_string(i)).empty(); }));
  }
  std::map<std::string, int> perNode;
  for (int i = 0; i < 4; ++i) ++perNode[nodeOf("web-" + std::to_string(i))];
  EXPECT_EQ(perNode["big"], 2);
  EXPECT_EQ(perNode["small"], 2);
}

TEST_F(SchedulerTest, PreemptsLowerPriorityPods) {
  create(kNodes, node("n1", "2"));
  create(kPriorityClasses, {{"apiVersion", "scheduling.k8s.io/v1"},
                            {"kind", "PriorityClass"},
                            {"metadata", {{"name", "high"}}},
                            {"value", 1000}});
  // (The API server's Priority admission computes spec.priority from a class.)
  create(kPriorityClasses, {{"apiVersion", "scheduling.k8s.io/v1"},
                            {"kind", "PriorityClass"},
                            {"metadata", {{"name", "medium-never"}}},
                            {"value", 500},
                            {"preemptionPolicy", "Never"}});
  start();
  create(kPods, pod("low-1", "1"));
  create(kPods, pod("low-2", "1"));
  ASSERT_TRUE(waitFor([&] { return !nodeOf("low-1").empty() && !nodeOf("low-2").empty(); }));

  Json never = pod("never", "1");
  never["spec"]["priorityClassName"] = "medium-never";
  create(kPods, never);
  ASSERT_TRUE(waitFor([&] {
    return getString(scheduledCondition("never"), "message") ==
           "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to "
           "preemptionPolicy=Never..";
  }));

  Json high = pod("high", "1");
  high["spec"]["priorityClassName"] = "high";
  create(kPods, high);
  ASSERT_TRUE(waitFor([&] { return nodeOf("high") == "n1"; }));
  int remaining = 0;
  for (const char* n : {"low-1", "low-2"}) remaining += fx_.client().get(kPods, "default", n).ok();
  EXPECT_EQ(remaining, 1);
  ASSERT_TRUE(waitFor([&] {
    return hasEvent("low-1", "Preempted", "Preempted by pod") ||
           hasEvent("low-2", "Preempted", "Preempted by pod");
  }));
  EXPECT_EQ(nodeOf("never"), "");
}

TEST_F(SchedulerTest, NominatesTheNodeWhileVictimsTerminate) {
  create(kNodes, node("n1", "1"));
  create(kPriorityClasses, {{"apiVersion", "scheduling.k8s.io/v1"},
                            {"kind", "PriorityClass"},
                            {"metadata", {{"name", "hundred"}}},
                            {"value", 100}});
  start();
  Json victim = pod("victim", "1");
  victim["spec"]["terminationGracePeriodSeconds"] = 30;  // no kubelet here: it stays terminating
  create(kPods, victim);
  ASSERT_TRUE(waitFor([&] { return nodeOf("victim") == "n1"; }));
  Json high = pod("high", "1");
  high["spec"]["priorityClassName"] = "hundred";
  create(kPods, high);
  ASSERT_TRUE(waitFor([&] {
    auto p = fx_.client().get(kPods, "default", "high");
    return p.ok() && getString((*p)["status"], "nominatedNodeName") == "n1";
  }));
  auto v = fx_.client().get(kPods, "default", "victim");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE((*v)["metadata"].contains("deletionTimestamp"));
  bool disruption = false;
  for (const Json& c : (*v)["status"].value("conditions", Json::array()))
    disruption |= c["type"] == "DisruptionTarget" && c["reason"] == "PreemptionByScheduler";
  EXPECT_TRUE(disruption);
  EXPECT_EQ(getString(scheduledCondition("high"), "message"),
            "0/1 nodes are available: 1 Insufficient cpu.");
  // Once the victim is gone, the preemptor gets its node.
  api::DeleteOptions now;
  now.gracePeriodSeconds = 0;
  ASSERT_TRUE(fx_.client().remove(kPods, "default", "victim", now).ok());
  ASSERT_TRUE(waitFor([&] { return nodeOf("high") == "n1"; }));
}

TEST_F(SchedulerTest, GatedPodsWaitForTheirGates) {
  create(kNodes, node("n1"));
  start();
  Json gated = pod("gated");
  gated["spec"]["schedulingGates"] = Json::array({{{"name", "example.com/wait"}}});
  create(kPods, gated);
  ASSERT_TRUE(waitFor(
      [&] { return getString(scheduledCondition("gated"), "reason") == "SchedulingGated"; }));
  EXPECT_EQ(getString(scheduledCondition("gated"), "message"),
            "Scheduling is blocked due to non-empty scheduling gates");
  EXPECT_EQ(nodeOf("gated"), "");
  auto patched = fx_.client().patch(kPods, "default", "gated", api::PatchType::kMerge,
                                    R"({"spec":{"schedulingGates":null}})");
  ASSERT_TRUE(patched.ok()) << patched.error().message();
  ASSERT_TRUE(waitFor([&] { return nodeOf("gated") == "n1"; }));
}

TEST_F(SchedulerTest, WaitsForClaimsAndPicksTheNodeForWaitForFirstConsumer) {
  create(kNodes, node("n1"));
  start();
  Json p = pod("with-data");
  p["spec"]["volumes"] =
      Json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data"}}}}});
  create(kPods, p);
  const std::string want =
      "0/1 nodes are available: persistentvolumeclaim \"data\" not found. preemption: 0/1 nodes "
      "are available: 1 "
      "Preemption is not helpful for scheduling.";
  ASSERT_TRUE(waitFor([&] {
    return getString(scheduledCondition("with-data"), "message") == want;
  })) << scheduledCondition("with-data").dump();

  create(kStorageClasses, {{"apiVersion", "storage.k8s.io/v1"},
                           {"kind", "StorageClass"},
                           {"metadata", {{"name", "local"}}},
                           {"provisioner", "rancher.io/local-path"},
                           {"volumeBindingMode", "WaitForFirstConsumer"}});
  create(kClaims, {{"apiVersion", "v1"},
                   {"kind", "PersistentVolumeClaim"},
                   {"metadata", {{"name", "data"}, {"namespace", "default"}}},
                   {"spec",
                    {{"storageClassName", "local"},
                     {"accessModes", {"ReadWriteOnce"}},
                     {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  ASSERT_TRUE(waitFor([&] { return nodeOf("with-data") == "n1"; }));
  auto claim = fx_.client().get(kClaims, "default", "data");
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(getString((*claim)["metadata"].value("annotations", Json::object()),
                      "volume.kubernetes.io/selected-node"),
            "n1");
}

}  // namespace
}  // namespace nave::scheduler
