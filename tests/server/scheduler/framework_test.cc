// The filters, scores and messages of the default plugins, on pods and nodes as JSON.
#include "server/scheduler/framework.h"

#include <gtest/gtest.h>

#include "server/scheduler/preemption.h"

namespace nave::scheduler {
namespace {

Json node(const std::string& name, const std::string& cpu = "4", const std::string& memory = "8Gi",
          Json labels = Json::object()) {
  labels["kubernetes.io/hostname"] = name;
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", Json::object()},
          {"status",
           {{"allocatable",
             {{"cpu", cpu}, {"memory", memory}, {"pods", "110"}, {"ephemeral-storage", "10Gi"}}},
            {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

Json pod(const std::string& name, const std::string& cpu = "", const std::string& memory = "",
         Json labels = Json::object()) {
  Json c = {{"name", "c"}, {"image", "busybox"}};
  if (!cpu.empty()) c["resources"]["requests"]["cpu"] = cpu;
  if (!memory.empty()) c["resources"]["requests"]["memory"] = memory;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "default"},
            {"uid", "uid-" + name},
            {"labels", labels},
            {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
          {"spec", {{"containers", Json::array({c})}}}};
}

PodInfoPtr onNode(Json p, const std::string& nodeName, int32_t priority = 0) {
  p["spec"]["nodeName"] = nodeName;
  return std::make_shared<const PodInfo>(makePodInfo(p, priority, false));
}

TEST(ResourcesTest, PodRequestsSumContainersAndTakeInitMax) {
  Json p = pod("p", "500m", "1Gi");
  p["spec"]["containers"].push_back(
      {{"name", "d"}, {"resources", {{"requests", {{"cpu", "250m"}}}}}});
  p["spec"]["initContainers"] =
      Json::array({{{"name", "i"}, {"resources", {{"requests", {{"cpu", "2"}}}}}}});
  p["spec"]["overhead"] = {{"cpu", "10m"}};
  Resources r = podRequests(p);
  EXPECT_EQ(r.milliCpu, 2010);
  EXPECT_EQ(r.memory, 1024 * 1024 * 1024);
  Resources nz = podNonZeroRequests(pod("q"));
  EXPECT_EQ(nz.milliCpu, 100);
  EXPECT_EQ(nz.memory, 200 * 1024 * 1024);
  EXPECT_EQ(parseMilliQuantity(Json("1.5")), 1500);
  EXPECT_EQ(parseMilliQuantity(Json(2)), 2000);
  EXPECT_EQ(parseMilliQuantity(Json("1Ki")), 1024000);
  EXPECT_EQ(parseMilliQuantity(Json("1e3")), 1000000);
  EXPECT_FALSE(parseMilliQuantity(Json("abc")).has_value());
}

TEST(PodInfoTest, MalformedFieldsAreIgnoredNotThrown) {
  Json bad = Json::parse(R"({"metadata": {"name": "x", "namespace": "default", "labels": "nope"},
    "spec": {"containers": [{"resources": {"requests": {"cpu": "abc", "memory": 5}}}, 7],
             "initContainers": "no", "tolerations": [1, {"key": 2}], "nodeSelector": ["a"],
             "affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [1, "x"],
                                          "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": 3}]},
                          "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [2]}},
             "topologySpreadConstraints": [{"maxSkew": "one"}], "volumes": [{"persistentVolumeClaim": 1}]},
    "status": []})");
  PodInfo p;
  ASSERT_NO_THROW(p = makePodInfo(bad));
  EXPECT_EQ(p.requests.milliCpu, 0);
  EXPECT_EQ(p.requests.memory, 5);
  Json badNode = Json::parse(R"({"metadata": {"name": "n", "labels": []}, "spec": {"taints": "x"},
                                 "status": {"allocatable": {"cpu": [], "pods": "lots"}}})");
  NodeInfo n;
  ASSERT_NO_THROW(n = NodeInfo(badNode));
  Snapshot s;
  s.nodes.emplace("n", n);
  ASSERT_NO_THROW({
    CycleState st = preFilter(p, s);
    (void)runFilters(p, s.nodes.at("n"), st);
    (void)scoreNodes(p, s, {&s.nodes.at("n")});
  });
}

TEST(FiltersTest, ResourcesFitCountsRequestsAndReportsEachShortage) {
  NodeInfo n(node("n1", "2", "1Gi"));
  n.addPod(onNode(pod("a", "1500m", "512Mi"), "n1"));
  PodInfo small = makePodInfo(pod("s", "500m", "256Mi"));
  EXPECT_TRUE(filterNodeResourcesFit(small, n).ok());
  PodInfo big = makePodInfo(pod("b", "1", "1Gi"));
  Status s = filterNodeResourcesFit(big, n);
  EXPECT_EQ(s.code, Status::kUnschedulable);
  EXPECT_EQ(s.reasons, (std::vector<std::string>{"Insufficient cpu", "Insufficient memory"}));
  // More than the node has at all: still Unschedulable, as in Kubernetes 1.32.
  PodInfo huge = makePodInfo(pod("h", "1000"));
  EXPECT_EQ(filterNodeResourcesFit(huge, n).code, Status::kUnschedulable);
  Json tiny = node("t");
  tiny["status"]["allocatable"]["pods"] = "1";
  NodeInfo t(tiny);
  t.addPod(onNode(pod("x"), "t"));
  EXPECT_EQ(filterNodeResourcesFit(makePodInfo(pod("y")), t).reasons,
            std::vector<std::string>{"Too many pods"});
}

TEST(FiltersTest, TaintsAndTolerations) {
  Json j = node("cp");
  j["spec"]["taints"] =
      Json::array({{{"key", "node-role.kubernetes.io/control-plane"}, {"effect", "NoSchedule"}}});
  NodeInfo n(j);
  Status s = filterTaintToleration(makePodInfo(pod("p")), n);
  EXPECT_EQ(s.code, Status::kUnschedulableAndUnresolvable);
  EXPECT_EQ(s.reasons.at(0),
            "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
  Json tol = pod("t");
  tol["spec"]["tolerations"] =
      Json::array({{{"key", "node-role.kubernetes.io/control-plane"}, {"operator", "Exists"}}});
  EXPECT_TRUE(filterTaintToleration(makePodInfo(tol), n).ok());
  // PreferNoSchedule never filters.
  j["spec"]["taints"] =
      Json::array({{{"key", "k"}, {"value", "v"}, {"effect", "PreferNoSchedule"}}});
  EXPECT_TRUE(filterTaintToleration(makePodInfo(pod("p")), NodeInfo(j)).ok());
  // Cordoned.
  Json c = node("c");
  c["spec"]["unschedulable"] = true;
  EXPECT_EQ(filterNodeUnschedulable(makePodInfo(pod("p")), NodeInfo(c)).reasons.at(0),
            "node(s) were unschedulable");
}

TEST(FiltersTest, NodeSelectorAndRequiredNodeAffinity) {
  NodeInfo ssd(node("a", "4", "8Gi", {{"disk", "ssd"}, {"gen", "5"}}));
  NodeInfo hdd(node("b", "4", "8Gi", {{"disk", "hdd"}}));
  Json p = pod("p");
  p["spec"]["nodeSelector"] = {{"disk", "ssd"}};
  EXPECT_TRUE(filterNodeAffinity(makePodInfo(p), ssd).ok());
  EXPECT_EQ(filterNodeAffinity(makePodInfo(p), hdd).reasons.at(0),
            "node(s) didn't match Pod's node affinity/selector");
  Json a = pod("a");
  a["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
   ["nodeSelectorTerms"] = Json::array(
       {{{"matchExpressions",
          Json::array({{{"key", "gen"}, {"operator", "Gt"}, {"values", {"4"}}}})}},
        {{"matchFields",
          Json::array({{{"key", "metadata.name"}, {"operator", "In"}, {"values", {"b"}}}})}}});
  EXPECT_TRUE(filterNodeAffinity(makePodInfo(a), ssd).ok());
  EXPECT_TRUE(filterNodeAffinity(makePodInfo(a), hdd).ok());
  EXPECT_FALSE(filterNodeAffinity(makePodInfo(a), NodeInfo(node("c"))).ok());
}

TEST(FiltersTest, HostPortsConflict) {
  Json p = pod("p");
  p["spec"]["containers"][0]["ports"] = Json::array({{{"containerPort", 80}, {"hostPort", 8080}}});
  NodeInfo n(node("n"));
  EXPECT_TRUE(filterNodePorts(makePodInfo(p), n).ok());
  n.addPod(onNode(p, "n"));
  Json q = p;
  q["metadata"]["name"] = "q";
  EXPECT_EQ(filterNodePorts(makePodInfo(q), n).reasons.at(0),
            "node(s) didn't have free ports for the requested pod ports");
  q["spec"]["containers"][0]["ports"][0]["protocol"] = "UDP";
  EXPECT_TRUE(filterNodePorts(makePodInfo(q), n).ok());
}

Snapshot snapshotOf(std::vector<NodeInfo> nodes) {
  Snapshot s;
  for (auto& n : nodes) s.nodes.emplace(n.name(), std::move(n));
  return s;
}

TEST(FiltersTest, PodAntiAffinityAndAffinity) {
  Snapshot s = snapshotOf({NodeInfo(node("a")), NodeInfo(node("b"))});
  s.nodes.at("a").addPod(onNode(pod("web-1", "", "", {{"app", "web"}}), "a"));
  Json p = pod("web-2", "", "", {{"app", "web"}});
  Json term = {{"labelSelector", {{"matchLabels", {{"app", "web"}}}}},
               {"topologyKey", "kubernetes.io/hostname"}};
  p["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
      Json::array({term});
  PodInfo anti = makePodInfo(p);
  CycleState st = preFilter(anti, s);
  EXPECT_EQ(filterInterPodAffinity(anti, s.nodes.at("a"), st).reasons.at(0),
            "node(s) didn't match pod anti-affinity rules");
  EXPECT_TRUE(filterInterPodAffinity(anti, s.nodes.at("b"), st).ok());

  Json q = pod("cache", "", "", {{"app", "cache"}});
  q["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
      Json::array({term});
  PodInfo aff = makePodInfo(q);
  CycleState st2 = preFilter(aff, s);
  EXPECT_TRUE(filterInterPodAffinity(aff, s.nodes.at("a"), st2).ok());
  Status no = filterInterPodAffinity(aff, s.nodes.at("b"), st2);
  EXPECT_EQ(no.code, Status::kUnschedulableAndUnresolvable);
  EXPECT_EQ(no.reasons.at(0), "node(s) didn't match pod affinity rules");

  // An existing pod's anti-affinity keeps others of its kind away.
  Snapshot s2 = snapshotOf({NodeInfo(node("a")), NodeInfo(node("b"))});
  s2.nodes.at("a").addPod(onNode(p, "a"));
  PodInfo plain = makePodInfo(pod("web-3", "", "", {{"app", "web"}}));
  CycleState st3 = preFilter(plain, s2);
  EXPECT_EQ(filterInterPodAffinity(plain, s2.nodes.at("a"), st3).reasons.at(0),
            "node(s) didn't satisfy existing pods anti-affinity rules");
}

TEST(FiltersTest, TopologySpreadDoNotSchedule) {
  Snapshot s = snapshotOf({NodeInfo(node("a", "4", "8Gi", {{"zone", "z1"}})),
                           NodeInfo(node("b", "4", "8Gi", {{"zone", "z2"}})), NodeInfo(node("c"))});
  s.nodes.at("a").addPod(onNode(pod("w1", "", "", {{"app", "w"}}), "a"));
  Json p = pod("w2", "", "", {{"app", "w"}});
  p["spec"]["topologySpreadConstraints"] =
      Json::array({{{"maxSkew", 1},
                    {"topologyKey", "zone"},
                    {"whenUnsatisfiable", "DoNotSchedule"},
                    {"labelSelector", {{"matchLabels", {{"app", "w"}}}}}}});
  PodInfo info = makePodInfo(p);
  CycleState st = preFilter(info, s);
  EXPECT_EQ(filterPodTopologySpread(info, s.nodes.at("a"), st).reasons.at(0),
            "node(s) didn't match pod topology spread constraints");
  EXPECT_TRUE(filterPodTopologySpread(info, s.nodes.at("b"), st).ok());
  EXPECT_EQ(filterPodTopologySpread(info, s.nodes.at("c"), st).reasons.at(0),
            "node(s) didn't match pod topology spread constraints (missing required label)");
}

TEST(FiltersTest, VolumeBinding) {
  Snapshot s = snapshotOf({NodeInfo(node("a", "4", "8Gi", {{"zone", "z1"}})), NodeInfo(node("b"))});
  Json p = pod("p");
  p["spec"]["volumes"] =
      Json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data"}}}}});
  PodInfo info = makePodInfo(p);
  EXPECT_EQ(preFilter(info, s).volumeError, "persistentvolumeclaim \"data\" not found");

  s.claims["default/data"] = {{"metadata", {{"name", "data"}, {"namespace", "default"}}},
                              {"spec", {{"storageClassName", "fast"}}}};
  EXPECT_EQ(preFilter(info, s).volumeError, "pod has unbound immediate PersistentVolumeClaims");

  s.storageClasses["fast"] = {
      {"metadata", {{"name", "fast"}}},
      {"provisioner", "rancher.io/local-path"},
      {"volumeBindingMode", "WaitForFirstConsumer"},
      {"allowedTopologies",
       Json::array(
           {{{"matchLabelExpressions", Json::array({{{"key", "zone"}, {"values", {"z1"}}}})}}})}};
  CycleState st = preFilter(info, s);
  EXPECT_EQ(st.volumeError, "");
  EXPECT_TRUE(filterVolumeBinding(info, s.nodes.at("a"), st).ok());
  EXPECT_EQ(filterVolumeBinding(info, s.nodes.at("b"), st).reasons.at(0),
            "node(s) didn't find available persistent volumes to bind");

  s.claims["default/data"]["spec"]["volumeName"] = "pv1";
  s.volumes["pv1"] =
      Json::parse(R"({"metadata": {"name": "pv1"}, "spec": {"nodeAffinity": {"required": {
      "nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}]}]}}}})");
  CycleState bound = preFilter(info, s);
  EXPECT_TRUE(filterVolumeBinding(info, s.nodes.at("b"), bound).ok());
  Status conflict = filterVolumeBinding(info, s.nodes.at("a"), bound);
  EXPECT_EQ(conflict.code, Status::kUnschedulableAndUnresolvable);
  EXPECT_EQ(conflict.reasons.at(0), "node(s) had volume node affinity conflict");
  EXPECT_EQ(
      fitErrorMessage(
          2, {}, "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling",
          "pod has unbound immediate PersistentVolumeClaims"),
      "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 "
      "nodes are "
      "available: 2 Preemption is not helpful for scheduling.");
}

TEST(ScoresTest, LeastAllocatedAndBalanced) {
  NodeInfo n(node("n", "4", "4Gi"));
  PodInfo p = makePodInfo(pod("p", "1", "1Gi"));
  EXPECT_EQ(scoreLeastAllocated(p, n), 75);
  EXPECT_EQ(scoreBalancedAllocation(p, n), 100);
  PodInfo skewed = makePodInfo(pod("q", "2", "0"));
  EXPECT_EQ(scoreBalancedAllocation(skewed, n), 75);
}

TEST(ScoresTest, PreferencesDecide) {
  Json tainted = node("t");
  tainted["spec"]["taints"] = Json::array({{{"key", "k"}, {"effect", "PreferNoSchedule"}}});
  Snapshot s = snapshotOf(
      {NodeInfo(tainted), NodeInfo(node("u", "4", "8Gi", {{"fast", "yes"}})), NodeInfo(node("v"))});
  Json p = pod("p");
  p["spec"]["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] =
      Json::array(
          {{{"weight", 10},
            {"preference",
             {{"matchExpressions", Json::array({{{"key", "fast"}, {"operator", "Exists"}}})}}}}});
  PodInfo info = makePodInfo(p);
  std::vector<const NodeInfo*> feasible;
  for (const auto& [name, n] : s.nodes) feasible.push_back(&n);
  auto scores = scoreNodes(info, s, feasible);
  std::map<std::string, NodeScore> by;
  for (const auto& sc : scores) by[sc.node] = sc;
  EXPECT_EQ(by["t"].plugins.taintToleration, 0);
  EXPECT_EQ(by["u"].plugins.taintToleration, 100);
  EXPECT_EQ(by["u"].plugins.nodeAffinity, 100);
  EXPECT_EQ(by["v"].plugins.nodeAffinity, 0);
  std::mt19937 rng(1);
  EXPECT_EQ(selectHost(scores, rng), "u");
}

TEST(ScoresTest, SpreadScheduleAnywayPrefersEmptierDomain) {
  Snapshot s = snapshotOf({NodeInfo(node("a")), NodeInfo(node("b"))});
  s.nodes.at("a").addPod(onNode(pod("w1", "", "", {{"app", "w"}}), "a"));
  Json p = pod("w2", "", "", {{"app", "w"}});
  p["spec"]["topologySpreadConstraints"] =
      Json::array({{{"maxSkew", 1},
                    {"topologyKey", "kubernetes.io/hostname"},
                    {"whenUnsatisfiable", "ScheduleAnyway"},
                    {"labelSelector", {{"matchLabels", {{"app", "w"}}}}}}});
  PodInfo info = makePodInfo(p);
  std::vector<const NodeInfo*> feasible = {&s.nodes.at("a"), &s.nodes.at("b")};
  auto scores = scoreNodes(info, s, feasible);
  EXPECT_LT(scores[0].plugins.topologySpread, scores[1].plugins.topologySpread);
  EXPECT_EQ(scores[1].plugins.topologySpread, 100);
}

TEST(ScoresTest, SystemDefaultSpreadCountsWhatSelectsThePod) {
  // Without a zone label anywhere: the hostname default still counts.
  Snapshot s = snapshotOf({NodeInfo(node("a", "64")), NodeInfo(node("b", "4"))});
  s.nodes.at("a").addPod(onNode(pod("w1", "", "", {{"app", "w"}}), "a"));
  s.nodes.at("a").addPod(onNode(pod("w2", "", "", {{"app", "w"}}), "a"));
  PodInfo p = makePodInfo(pod("w3", "", "", {{"app", "w"}}));
  auto selector = selectors::LabelSelector::fromObject({{"matchLabels", {{"app", "w"}}}});
  ASSERT_TRUE(selector.ok());
  addDefaultSpread(p, *selector);
  ASSERT_EQ(p.spread.size(), 2u);
  EXPECT_TRUE(p.spreadDefaulted);
  std::vector<const NodeInfo*> feasible = {&s.nodes.at("a"), &s.nodes.at("b")};
  auto scores = scoreNodes(p, s, feasible);
  EXPECT_LT(scores[0].plugins.topologySpread, scores[1].plugins.topologySpread);
  std::mt19937 rng(1);
  EXPECT_EQ(selectHost(scores, rng), "b");  // despite a's lower allocation
  // Nothing selects the pod: no defaults.
  PodInfo lone = makePodInfo(pod("lone"));
  addDefaultSpread(lone, selectors::LabelSelector{});
  EXPECT_TRUE(lone.spread.empty());
}

TEST(MessagesTest, FitErrorSortsReasonCounts) {
  std::map<std::string, Status> statuses;
  statuses["cp"] = Status::unschedulable(
      "TaintToleration", "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
      true);
  statuses["w1"] = Status::unschedulable("NodeResourcesFit", "Insufficient cpu");
  statuses["w2"] = Status::unschedulable("NodeResourcesFit", "Insufficient cpu");
  EXPECT_EQ(fitErrorMessage(
                3, statuses,
                "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                "2 No preemption victims found for incoming pod"),
            "0/3 nodes are available: 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }, "
            "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful "
            "for scheduling, "
            "2 No preemption victims found for incoming pod.");
}

TEST(PreemptionTest, EvictsFewestLowestPriorityPods) {
  Snapshot s = snapshotOf({NodeInfo(node("a", "2")), NodeInfo(node("b", "2"))});
  s.nodes.at("a").addPod(onNode(pod("a-low", "1"), "a", 10));
  s.nodes.at("a").addPod(onNode(pod("a-low2", "1"), "a", 10));
  s.nodes.at("b").addPod(onNode(pod("b-low", "1"), "b", 5));
  s.nodes.at("b").addPod(onNode(pod("b-high", "1"), "b", 1000));
  PodInfo p = makePodInfo(pod("p", "1"), 100, false);
  std::map<std::string, Status> statuses;
  for (const auto& [name, n] : s.nodes) {
    CycleState st = preFilter(p, s);
    statuses[name] = runFilters(p, n, st);
    ASSERT_FALSE(statuses[name].ok());
  }
  PreemptionResult r =
      findPreemption(p, s, statuses, [](const std::string&) { return Reservation{}; });
  ASSERT_EQ(r.node, "b");  // one victim of priority 5 beats one of priority 10
  ASSERT_EQ(r.victims.size(), 1u);
  EXPECT_EQ(r.victims[0]->name, "b-low");
  EXPECT_EQ(s.nodes.at("b").pods().size(), 2u);  // the snapshot is restored

  Json going = pod("going");
  going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  going["status"]["conditions"] = Json::array(
      {{{"type", "DisruptionTarget"}, {"status", "True"}, {"reason", "PreemptionByScheduler"}}});
  EXPECT_TRUE(terminatingByPreemption(makePodInfo(going)));
  EXPECT_FALSE(terminatingByPreemption(makePodInfo(pod("staying"))));

  PodInfo never = makePodInfo(pod("n", "1"), 100, true);
  EXPECT_EQ(
      findPreemption(never, s, statuses, [](const std::string&) { return Reservation{}; }).message,
      "preemption: not eligible due to preemptionPolicy=Never.");
  PodInfo lowest = makePodInfo(pod("l", "1"), 1, false);
  EXPECT_EQ(
      findPreemption(lowest, s, statuses, [](const std::string&) { return Reservation{}; }).message,
      "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod");
}

}  // namespace
}  // namespace nave::scheduler
