// The Deployment and ReplicaSet controllers together on a real API stack: ReplicaSets per
// template, rolling and recreate rollouts, rollback, pause, progress deadline, history limit.
#include "server/controllers/workloads/deployment_controller.h"

#include <atomic>
#include <map>

#include "server/controllers/workloads/deployment_util.h"
#include "server/controllers/workloads/pod_status.h"
#include "tests/server/controllers/workloads/workload_fixture.h"

namespace nave::controllers::workloads {
namespace {

using testing::waitFor;

Json deployment(const std::string& name, int replicas, const std::string& image = "busybox:1.36") {
  Json labels = {{"app", name}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", labels}}},
            {"template", testing::podTemplate(labels, image)}}}};
}

class DeploymentControllerTest : public testing::WorkloadTest {
 protected:
  void SetUp() override {
    WorkloadTest::SetUp();
    startControllers({
        [](ControllerContext& c) { return std::make_unique<ReplicaSetController>(c); },
        [](ControllerContext& c) { return std::make_unique<DeploymentController>(c); },
    });
  }
  void TearDown() override {
    stopKubelet();
    WorkloadTest::TearDown();
  }

  std::string create(const Json& d) {
    auto created = client().create(kDeployments, "default", d);
    EXPECT_TRUE(created.ok()) << created.error().message();
    return created.ok() ? getString((*created)["metadata"], "uid") : "";
  }
  void patch(const std::string& name, const Json& patch) {
    auto r = client().patch(kDeployments, "default", name, api::PatchType::kMerge, dumpJson(patch));
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  void setImage(const std::string& name, const std::string& image) {
    patch(name, {{"spec",
                  {{"template",
                    {{"spec",
                      {{"containers", Json::array({{{"name", "main"},
                                                    {"image", image},
                                                    {"command", {"sleep", "3600"}}}})}}}}}}}});
  }
  // The Deployment's ReplicaSets by name.
  std::map<std::string, Json> replicaSets(const std::string& uid) {
    std::map<std::string, Json> out;
    auto list = client().list(kReplicaSets, "default");
    if (!list.ok()) return out;
    for (const Json& rs : (*list)["items"])
      if (isControlledBy(rs, uid)) out[getString(rs["metadata"], "name")] = rs;
    return out;
  }
  // The ReplicaSet of `uid` whose template has `image`.
  Json replicaSetWithImage(const std::string& uid, const std::string& image) {
    for (auto& [name, rs] : replicaSets(uid))
      if (rs["spec"]["template"]["spec"]["containers"][0]["image"] == image) return rs;
    return nullptr;
  }
  Json status(const std::string& name) {
    return get(kDeployments, name).value("status", Json::object());
  }
  std::string condition(const std::string& name, const std::string& type,
                        const char* field = "reason") {
    Json s = status(name);
    const Json* c = conditionOf(s, type);
    return c ? getString(*c, field) : "";
  }
  bool rolledOut(const std::string& name) {
    Json d = get(kDeployments, name);
    const Json& s = d.value("status", Json::object());
    int64_t want = getInt(d["spec"], "replicas");
    return getInt(s, "observedGeneration") >= getInt(d["metadata"], "generation") &&
           getInt(s, "updatedReplicas") == want && getInt(s, "replicas") == want &&
           getInt(s, "availableReplicas") == want;
  }
  // Every pod of every ReplicaSet of the namespace owned by `uid`.
  std::vector<Json> pods(const std::string& uid) {
    std::vector<Json> out;
    for (auto& [name, rs] : replicaSets(uid))
      for (Json& p : podsOwnedBy(getString(rs["metadata"], "uid"))) out.push_back(std::move(p));
    return out;
  }

  // Plays the kubelet for every pod of the namespace: Ready as soon as seen.
  void startKubelet() {
    kubeletRunning_ = true;
    kubelet_ = std::thread([this] {
      while (kubeletRunning_) {
        auto list = client().list(kPods, "default");
        if (list.ok())
          for (const Json& p : (*list)["items"]) {
            if (!hasDeletionTimestamp(p) && !isPodReady(p)) setReady(p, true);
          }
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
    });
  }
  void stopKubelet() {
    kubeletRunning_ = false;
    if (kubelet_.joinable()) kubelet_.join();
  }

  std::atomic<bool> kubeletRunning_{false};
  std::thread kubelet_;
};

TEST(DeploymentUtilTest, TemplatesCompareAsKubernetesStructs) {
  Json stored = testing::podTemplate({{"app", "web"}});
  Json fromKubectl = stored;
  fromKubectl["metadata"]["creationTimestamp"] = nullptr;
  fromKubectl["spec"]["containers"][0]["resources"] = Json::object();
  Json withHash = stored;
  withHash["metadata"]["labels"][kPodTemplateHashLabel] = "abc";
  EXPECT_TRUE(equalIgnoreHash(stored, fromKubectl));
  EXPECT_TRUE(equalIgnoreHash(withHash, fromKubectl));
  Json other = stored;
  other["spec"]["containers"][0]["image"] = "busybox:1.37";
  EXPECT_FALSE(equalIgnoreHash(stored, other));
  // The hash: decimal digits of the FNV-32a, in the safe alphabet; the collision count changes it.
  std::string h = computeTemplateHash(stored, std::nullopt);
  EXPECT_EQ(h, computeTemplateHash(stored, std::nullopt));
  EXPECT_NE(h, computeTemplateHash(stored, 1));
  EXPECT_EQ(safeEncodeString("0123456789"), "456789bcdf");
}

TEST(DeploymentUtilTest, SurgeAndUnavailabilityRoundAsKubernetes) {
  Json d = {{"spec",
             {{"replicas", 10},
              {"strategy",
               {{"type", "RollingUpdate"},
                {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}}}}}}};
  EXPECT_EQ(maxSurge(d), 3);        // 2.5 up
  EXPECT_EQ(maxUnavailable(d), 2);  // 2.5 down
  d["spec"]["replicas"] = 1;
  EXPECT_EQ(maxSurge(d), 1);
  EXPECT_EQ(maxUnavailable(d), 0);
  d["spec"]["strategy"]["rollingUpdate"] = {{"maxSurge", 0}, {"maxUnavailable", "10%"}};
  EXPECT_EQ(maxUnavailable(d), 1);  // both 0: one may be unavailable
  d["spec"]["strategy"] = {{"type", "Recreate"}};
  EXPECT_EQ(maxSurge(d), 0);
  EXPECT_EQ(maxUnavailable(d), 0);
}

TEST_F(DeploymentControllerTest, CreatesAReplicaSetPerTemplateAndBecomesAvailable) {
  std::string uid = create(deployment("web", 3));
  ASSERT_TRUE(waitFor([&] { return replicaSets(uid).size() == 1; }));
  Json rs = replicaSets(uid).begin()->second;
  std::string rsName = getString(rs["metadata"], "name");
  std::string hash = getString(rs["metadata"]["labels"], kPodTemplateHashLabel);
  // The decimal digits of a 32-bit hash, each mapped onto the safe alphabet.
  EXPECT_GE(hash.size(), 1u);
  EXPECT_LE(hash.size(), 10u);
  EXPECT_EQ(rsName, "web-" + hash);
  EXPECT_EQ(hash.find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos) << hash;
  EXPECT_EQ(rs["spec"]["selector"]["matchLabels"][kPodTemplateHashLabel], hash);
  EXPECT_EQ(rs["spec"]["template"]["metadata"]["labels"][kPodTemplateHashLabel], hash);
  EXPECT_EQ(rs["spec"]["replicas"], 3);
  EXPECT_EQ(getString(rs["metadata"]["annotations"], kRevisionAnnotation), "1");
  EXPECT_EQ(getString(rs["metadata"]["annotations"], kDesiredReplicasAnnotation), "3");
  EXPECT_EQ(getString(rs["metadata"]["annotations"], kMaxReplicasAnnotation), "4");  // 25% of 3, up
  EXPECT_EQ(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
  EXPECT_EQ(rs["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);

  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(getString(rs["metadata"], "uid")).size() == 3; }));
  for (const Json& p : podsOwnedBy(getString(rs["metadata"], "uid"))) {
    EXPECT_EQ(getString(p["metadata"]["labels"], kPodTemplateHashLabel), hash);
    EXPECT_EQ(getString(p["metadata"], "name").rfind(rsName + "-", 0), 0u);
  }
  ASSERT_TRUE(
      waitFor([&] { return condition("web", "Available") == "MinimumReplicasUnavailable"; }));
  startKubelet();
  ASSERT_TRUE(waitFor([&] { return rolledOut("web"); }));
  ASSERT_TRUE(waitFor([&] { return condition("web", "Progressing") == "NewReplicaSetAvailable"; }));
  EXPECT_EQ(condition("web", "Progressing", "message"),
            "ReplicaSet \"" + rsName + "\" has successfully progressed.");
  EXPECT_EQ(condition("web", "Available"), "MinimumReplicasAvailable");
  EXPECT_EQ(condition("web", "Available", "message"), "Deployment has minimum availability.");
  Json s = status("web");
  EXPECT_EQ(s["readyReplicas"], 3);
  EXPECT_FALSE(s.contains("unavailableReplicas"));
  EXPECT_EQ(getString(annotationsOf(get(kDeployments, "web")), kRevisionAnnotation), "1");
  ASSERT_TRUE(waitFor([&] {
    auto m = eventMessages("web", "ScalingReplicaSet");
    return !m.empty() && m[0] == "Scaled up replica set " + rsName + " to 3 from 0";
  }));

  // Scaling is not a rollout: the same ReplicaSet grows.
  patch("web", {{"spec", {{"replicas", 5}}}});
  ASSERT_TRUE(waitFor([&] { return rolledOut("web") && getInt(status("web"), "replicas") == 5; }));
  EXPECT_EQ(replicaSets(uid).size(), 1u);
  EXPECT_EQ(getString(replicaSets(uid).begin()->second["metadata"]["annotations"],
                      kDesiredReplicasAnnotation),
            "5");
  ASSERT_TRUE(waitFor([&] {
    for (const auto& m : eventMessages("web", "ScalingReplicaSet"))
      if (m == "Scaled up replica set " + rsName + " to 5 from 3") return true;
    return false;
  }));
}

TEST_F(DeploymentControllerTest, RollingUpdateStaysWithinSurgeAndUnavailability) {
  Json d = deployment("web", 4);
  d["spec"]["strategy"] = {{"type", "RollingUpdate"},
                           {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 0}}}};
  std::string uid = create(d);
  startKubelet();
  ASSERT_TRUE(waitFor([&] { return rolledOut("web"); }));

  setImage("web", "busybox:1.37");
  bool sawBoth = false;
  ASSERT_TRUE(waitFor(
      [&] {
        auto sets = replicaSets(uid);
        int64_t total = 0, readyPods = 0;
        for (auto& [name, rs] : sets) total += getInt(rs["spec"], "replicas");
        EXPECT_LE(total, 5) << "more than replicas + maxSurge";
        for (const Json& p : pods(uid)) {
          if (isPodReady(p)) ++readyPods;
        }
        EXPECT_GE(readyPods, 4) << "fewer than replicas - maxUnavailable ready";
        if (sets.size() == 2) {
          int active = 0;
          for (auto& [name, rs] : sets) active += getInt(rs["spec"], "replicas") > 0;
          sawBoth = sawBoth || active == 2;
        }
        return rolledOut("web") && !replicaSetWithImage(uid, "busybox:1.37").is_null() &&
               getInt(replicaSetWithImage(uid, "busybox:1.36")["spec"], "replicas") == 0;
      },
      std::chrono::seconds(60)));
  EXPECT_TRUE(sawBoth);
  Json newRS = replicaSetWithImage(uid, "busybox:1.37");
  EXPECT_EQ(getString(newRS["metadata"]["annotations"], kRevisionAnnotation), "2");
  EXPECT_EQ(getString(annotationsOf(get(kDeployments, "web")), kRevisionAnnotation), "2");
  EXPECT_EQ(getInt(status("web"), "updatedReplicas"), 4);
  ASSERT_TRUE(waitFor([&] { return condition("web", "Progressing") == "NewReplicaSetAvailable"; }));
  // Scaled up 1 at a time (surge 1) and the old one down.
  std::string newName = getString(newRS["metadata"], "name");
  ASSERT_TRUE(waitFor([&] {
    for (const auto& m : eventMessages("web", "ScalingReplicaSet"))
      if (m == "Scaled up replica set " + newName + " to 1 from 0") return true;
    return false;
  }));
}

TEST_F(DeploymentControllerTest, RecreateStopsOldPodsBeforeStartingNewOnes) {
  Json d = deployment("db", 2);
  d["spec"]["strategy"] = {{"type", "Recreate"}};
  std::string uid = create(d);
  startKubelet();
  ASSERT_TRUE(waitFor([&] { return rolledOut("db"); }));
  std::string oldUid = getString(replicaSetWithImage(uid, "busybox:1.36")["metadata"], "uid");

  setImage("db", "busybox:1.37");
  ASSERT_TRUE(waitFor([&] {
    Json newRS = replicaSetWithImage(uid, "busybox:1.37");
    if (!newRS.is_null() && !podsOwnedBy(getString(newRS["metadata"], "uid")).empty()) {
      EXPECT_TRUE(podsOwnedBy(oldUid).empty()) << "old and new pods at once";
    }
    return rolledOut("db") && !newRS.is_null();
  }));
  EXPECT_EQ(getInt(replicaSetWithImage(uid, "busybox:1.36")["spec"], "replicas"), 0);
  EXPECT_TRUE(podsOwnedBy(oldUid).empty());
}

TEST_F(DeploymentControllerTest, RollingBackReusesTheOldReplicaSet) {
  std::string uid = create(deployment("web", 2));
  startKubelet();
  ASSERT_TRUE(waitFor([&] { return rolledOut("web"); }));
  std::string first = getString(replicaSetWithImage(uid, "busybox:1.36")["metadata"], "name");
  setImage("web", "busybox:1.37");
  ASSERT_TRUE(waitFor([&] {
    return rolledOut("web") && !replicaSetWithImage(uid, "busybox:1.37").is_null() &&
           getInt(replicaSetWithImage(uid, "busybox:1.36")["spec"], "replicas") == 0;
  }));
  // What kubectl rollout undo does: the old ReplicaSet's template back into the Deployment.
  setImage("web", "busybox:1.36");
  ASSERT_TRUE(waitFor([&] {
    Json back = replicaSetWithImage(uid, "busybox:1.36");
    return rolledOut("web") && getInt(back["spec"], "replicas") == 2 &&
           getString(back["metadata"]["annotations"], kRevisionAnnotation) == "3";
  }));
  Json back = replicaSetWithImage(uid, "busybox:1.36");
  EXPECT_EQ(getString(back["metadata"], "name"), first);
  EXPECT_EQ(getString(back["metadata"]["annotations"], kRevisionHistoryAnnotation), "1");
  EXPECT_EQ(replicaSets(uid).size(), 2u);
  EXPECT_EQ(getString(annotationsOf(get(kDeployments, "web")), kRevisionAnnotation), "3");
}

TEST_F(DeploymentControllerTest, PausedDeploymentScalesButDoesNotRollOut) {
  std::string uid = create(deployment("web", 2));
  startKubelet();
  ASSERT_TRUE(waitFor([&] { return rolledOut("web"); }));
  patch("web", {{"spec", {{"paused", true}}}});
  ASSERT_TRUE(waitFor([&] { return condition("web", "Progressing") == "DeploymentPaused"; }));
  EXPECT_EQ(condition("web", "Progressing", "status"), "Unknown");
  setImage("web", "busybox:1.37");
  patch("web", {{"spec", {{"replicas", 3}}}});
  ASSERT_TRUE(waitFor([&] { return getInt(status("web"), "availableReplicas") == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(replicaSets(uid).size(), 1u);
  EXPECT_TRUE(replicaSetWithImage(uid, "busybox:1.37").is_null());

  patch("web", {{"spec", {{"paused", false}}}});
  ASSERT_TRUE(waitFor([&] {
    return rolledOut("web") && !replicaSetWithImage(uid, "busybox:1.37").is_null() &&
           getInt(replicaSetWithImage(uid, "busybox:1.36")["spec"], "replicas") == 0;
  }));
  ASSERT_TRUE(waitFor([&] { return condition("web", "Progressing") == "NewReplicaSetAvailable"; }));
}

TEST_F(DeploymentControllerTest, ProgressDeadlineExceededWhenPodsNeverBecomeReady) {
  Json d = deployment("stuck", 2);
  d["spec"]["progressDeadlineSeconds"] = 2;
  create(d);
  ASSERT_TRUE(
      waitFor([&] { return condition("stuck", "Progressing") == "ProgressDeadlineExceeded"; }));
  EXPECT_EQ(condition("stuck", "Progressing", "status"), "False");
  EXPECT_NE(condition("stuck", "Progressing", "message").find("has timed out progressing."),
            std::string::npos);
  EXPECT_EQ(condition("stuck", "Available"), "MinimumReplicasUnavailable");
  EXPECT_EQ(getInt(status("stuck"), "unavailableReplicas"), 2);
}

TEST_F(DeploymentControllerTest, KeepsRevisionHistoryLimitOldReplicaSets) {
  Json d = deployment("web", 1);
  d["spec"]["revisionHistoryLimit"] = 1;
  std::string uid = create(d);
  startKubelet();
  for (const char* image : {"busybox:1.37", "busybox:1.38", "busybox:1.39"}) {
    ASSERT_TRUE(waitFor([&] { return rolledOut("web"); }));
    setImage("web", image);
    ASSERT_TRUE(waitFor([&] { return !replicaSetWithImage(uid, image).is_null(); }));
  }
  ASSERT_TRUE(waitFor([&] { return rolledOut("web") && replicaSets(uid).size() == 2; }));
  EXPECT_FALSE(replicaSetWithImage(uid, "busybox:1.38").is_null());
  EXPECT_EQ(getString(replicaSetWithImage(uid, "busybox:1.39")["metadata"]["annotations"],
                      kRevisionAnnotation),
            "4");
}

TEST_F(DeploymentControllerTest, ScalingDuringARolloutIsProportional) {
  Json d = deployment("web", 10);
  d["spec"]["strategy"] = {{"type", "RollingUpdate"},
                           {"rollingUpdate", {{"maxSurge", 3}, {"maxUnavailable", 2}}}};
  std::string uid = create(d);
  startKubelet();
  ASSERT_TRUE(waitFor([&] { return rolledOut("web"); }));
  stopKubelet();
  // New pods never become ready: the rollout stops at 13 pods, 8 old + 5 new.
  setImage("web", "busybox:1.37");
  ASSERT_TRUE(waitFor([&] {
    Json n = replicaSetWithImage(uid, "busybox:1.37");
    return !n.is_null() && getInt(n["spec"], "replicas") == 5 &&
           getInt(replicaSetWithImage(uid, "busybox:1.36")["spec"], "replicas") == 8;
  }));
  // 10 -> 20 replicas: 23 allowed, 10 more, split 8:5 by size.
  patch("web", {{"spec", {{"replicas", 20}}}});
  ASSERT_TRUE(waitFor([&] {
    int64_t o = getInt(replicaSetWithImage(uid, "busybox:1.36")["spec"], "replicas");
    int64_t n = getInt(replicaSetWithImage(uid, "busybox:1.37")["spec"], "replicas");
    return o + n == 23 && o == 14 && n == 9;
  })) << getInt(replicaSetWithImage(uid, "busybox:1.36")["spec"], "replicas")
      << " " << getInt(replicaSetWithImage(uid, "busybox:1.37")["spec"], "replicas");
}

TEST_F(DeploymentControllerTest, AdoptsAnOrphanReplicaSetWithItsTemplate) {
  // A ReplicaSet left by an orphaning delete: same selector and template, no owner.
  Json labels = {{"app", "web"}};
  Json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata", {{"name", "web-old"}, {"namespace", "default"}, {"labels", labels}}},
             {"spec",
              {{"replicas", 2},
               {"selector", {{"matchLabels", labels}}},
               {"template", testing::podTemplate(labels)}}}};
  ASSERT_TRUE(client().create(kReplicaSets, "default", rs).ok());
  std::string uid = create(deployment("web", 2));
  startKubelet();
  ASSERT_TRUE(waitFor([&] { return rolledOut("web"); }));
  auto sets = replicaSets(uid);
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets.begin()->first, "web-old");
  EXPECT_EQ(getString(sets.begin()->second["metadata"]["annotations"], kRevisionAnnotation), "1");
}

TEST_F(DeploymentControllerTest, HashCollisionBumpsCollisionCount) {
  // Paused, the Deployment creates no ReplicaSet: take its name first with another template.
  Json d = deployment("web", 1);
  d["spec"]["paused"] = true;
  std::string uid = create(d);
  Json stored = get(kDeployments, "web");
  std::string hash = computeTemplateHash(stored["spec"]["template"], std::nullopt);
  Json labels = {{"app", "squatter"}};
  Json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata", {{"name", "web-" + hash}, {"namespace", "default"}, {"labels", labels}}},
             {"spec",
              {{"replicas", 0},
               {"selector", {{"matchLabels", labels}}},
               {"template", testing::podTemplate(labels)}}}};
  ASSERT_TRUE(client().create(kReplicaSets, "default", rs).ok());
  patch("web", {{"spec", {{"paused", false}}}});
  ASSERT_TRUE(waitFor([&] { return replicaSets(uid).size() == 1; }));
  EXPECT_EQ(getInt(status("web"), "collisionCount"), 1);
  std::string expected = "web-" + computeTemplateHash(stored["spec"]["template"], 1);
  EXPECT_EQ(replicaSets(uid).begin()->first, expected);
}

}  // namespace
}  // namespace nave::controllers::workloads
