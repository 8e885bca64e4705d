// The StatefulSet controller on a real API stack: the test plays the kubelet (pod status) and
// the user (spec changes, deletes).
#include "server/controllers/sets/statefulset_controller.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/server/controllers/controller_fixture.h"
#include "tests/server/controllers/sets/set_test_util.h"

namespace nave::controllers {
namespace {

using testing::deletingOrGone;
using testing::eventMessages;
using testing::getPod;
using testing::setPodStatus;
using testing::waitFor;
using testing::yaml;

const client::Resource kStatefulSets{"apps", "v1", "statefulsets"};
const client::Resource kClaims{"", "v1", "persistentvolumeclaims"};
const client::Resource kPods{"", "v1", "pods"};

// Pods are bound to a node nobody runs, so that their deletion waits for a kubelet (the test).
Json statefulSet(const std::string& name, int replicas, const std::string& extraSpec = "") {
  Json set = yaml(R"({apiVersion: apps/v1, kind: StatefulSet, metadata: {name: )" + name + R"(},
      spec: {serviceName: )" +
                  name + R"(, selector: {matchLabels: {app: )" + name + R"(}},
             template: {metadata: {labels: {app: )" +
                  name + R"(}},
                        spec: {nodeName: n1, containers: [{name: c, image: busybox}]}}}})");
  set["spec"]["replicas"] = replicas;
  if (!extraSpec.empty()) set["spec"].update(yaml(extraSpec));
  return set;
}

class StatefulSetControllerTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override { run<StatefulSetController>(); }

  void create(const Json& set) {
    auto r = client().create(kStatefulSets, "default", set);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  Json getSet(const std::string& name) {
    auto r = client().get(kStatefulSets, "default", name);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : Json::object();
  }
  bool exists(const std::string& pod) { return getPod(client(), "default", pod).has_value(); }
  // Waits for the pod, then reports it Running and Ready.
  void becomeReady(const std::string& pod) {
    ASSERT_TRUE(waitFor([&] { return exists(pod) && !deletingOrGone(client(), "default", pod); }))
        << pod;
    setPodStatus(client(), "default", pod, "Running", true);
  }
  // The kubelet finishing a graceful deletion.
  void finishDeletion(const std::string& pod) {
    api::DeleteOptions opts;
    opts.gracePeriodSeconds = 0;
    (void)client().remove(kPods, "default", pod, opts);
  }
  std::string revisionOf(const std::string& pod) {
    auto p = getPod(client(), "default", pod);
    return p ? getString(p->at("metadata")["labels"], "controller-revision-hash") : "";
  }
  void setTemplateEnv(const std::string& set, const std::string& value,
                      const std::string& strategy) {
    Json patch = yaml(R"({spec: {updateStrategy: )" + strategy + R"(, template: {spec: {containers:
        [{name: c, image: busybox, env: [{name: V, value: ")" +
                      value + R"("}]}]}}}})");
    auto r = client().patch(kStatefulSets, "default", set, api::PatchType::kMerge, dumpJson(patch));
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  // Waits for each pod in order to be replaced (deleted and made again at `revision`), as the
  // kubelet would finish each deletion and start the new pod.
  void rollThrough(const std::vector<std::string>& pods, const std::string& revision) {
    for (const std::string& pod : pods) {
      ASSERT_TRUE(waitFor([&] {
        return deletingOrGone(client(), "default", pod) || revisionOf(pod) == revision;
      })) << pod;
      if (revisionOf(pod) != revision) finishDeletion(pod);
      ASSERT_TRUE(waitFor([&] { return revisionOf(pod) == revision; })) << pod;
      becomeReady(pod);
    }
  }
};

TEST_F(StatefulSetControllerTest, OrderedReadyCreatesInOrderAndScalesDownInReverse) {
  create(statefulSet("db", 3));
  ASSERT_TRUE(waitFor([&] { return exists("db-0"); }));
  // db-1 waits for db-0 to be Running and Ready.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(exists("db-1"));
  becomeReady("db-0");
  ASSERT_TRUE(waitFor([&] { return exists("db-1"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(exists("db-2"));
  becomeReady("db-1");
  becomeReady("db-2");

  Json pod = *getPod(client(), "default", "db-2");
  const Json& labels = pod["metadata"]["labels"];
  EXPECT_EQ(labels["app"], "db");
  EXPECT_EQ(labels["statefulset.kubernetes.io/pod-name"], "db-2");
  EXPECT_EQ(labels["apps.kubernetes.io/pod-index"], "2");
  EXPECT_EQ(pod["spec"]["hostname"], "db-2");
  EXPECT_EQ(pod["spec"]["subdomain"], "db");
  Json set = getSet("db");
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["uid"], set["metadata"]["uid"]);
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["controller"], true);

  ASSERT_TRUE(waitFor([&] {
    Json s = getSet("db")["status"];
    return s.value("readyReplicas", 0) == 3 && s.value("replicas", 0) == 3 &&
           s.value("availableReplicas", 0) == 3 && s.value("currentReplicas", 0) == 3 &&
           s.value("updatedReplicas", 0) == 3;
  }));
  Json status = getSet("db")["status"];
  EXPECT_EQ(status["observedGeneration"], 1);
  EXPECT_EQ(status["currentRevision"], status["updateRevision"]);
  EXPECT_EQ(labels["controller-revision-hash"], status["updateRevision"]);
  std::string revision = status["updateRevision"];
  auto rev = client().get(testing::kTestRevisions, "default", revision);
  ASSERT_TRUE(rev.ok());
  EXPECT_EQ((*rev)["revision"], 1);
  EXPECT_EQ((*rev)["data"]["spec"]["template"]["$patch"], "replace");
  EXPECT_EQ((*rev)["metadata"]["labels"]["app"], "db");
  EXPECT_TRUE(waitFor([&] {
    auto m = eventMessages(client(), "default", "db");
    return std::count(m.begin(), m.end(),
                      "SuccessfulCreate: create Pod db-0 in StatefulSet db successful") == 1;
  }));

  // Scale down to 1: db-2 goes first, and db-1 only once db-2 is gone.
  auto r = client().patch(kStatefulSets, "default", "db", api::PatchType::kMerge,
                          R"({"spec":{"replicas":1}})");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(waitFor([&] { return deletingOrGone(client(), "default", "db-2"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(deletingOrGone(client(), "default", "db-1"));
  finishDeletion("db-2");
  ASSERT_TRUE(waitFor([&] { return deletingOrGone(client(), "default", "db-1"); }));
  finishDeletion("db-1");
  EXPECT_TRUE(waitFor([&] {
    Json s = getSet("db")["status"];
    return s.value("replicas", 0) == 1 && s.value("readyReplicas", 0) == 1;
  }));
  EXPECT_FALSE(deletingOrGone(client(), "default", "db-0"));
  EXPECT_TRUE(waitFor([&] {
    auto m = eventMessages(client(), "default", "db");
    return std::count(m.begin(), m.end(),
                      "SuccessfulDelete: delete Pod db-1 in StatefulSet db successful") == 1;
  }));
}

TEST_F(StatefulSetControllerTest, OrderedReadyWaitsForMinReadySeconds) {
  create(statefulSet("slow", 2, "{minReadySeconds: 3}"));
  becomeReady("slow-0");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(exists("slow-1")) << "slow-0 is Ready but not yet available";
  EXPECT_EQ(getSet("slow")["status"].value("availableReplicas", -1), 0);
  EXPECT_TRUE(waitFor([&] { return exists("slow-1"); }));
  EXPECT_TRUE(
      waitFor([&] { return getSet("slow")["status"].value("availableReplicas", -1) == 1; }));
}

TEST_F(StatefulSetControllerTest, ParallelCreatesAndDeletesAllAtOnce) {
  create(statefulSet("web", 3, "{podManagementPolicy: Parallel}"));
  EXPECT_TRUE(waitFor([&] { return exists("web-0") && exists("web-1") && exists("web-2"); }));
  auto r = client().patch(kStatefulSets, "default", "web", api::PatchType::kMerge,
                          R"({"spec":{"replicas":0}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(waitFor([&] {
    return deletingOrGone(client(), "default", "web-0") &&
           deletingOrGone(client(), "default", "web-1") &&
           deletingOrGone(client(), "default", "web-2");
  }));
}

TEST_F(StatefulSetControllerTest, ClaimsAreMadeBeforeThePodAndOutliveIt) {
  create(statefulSet("pg", 2, R"({selector: {matchLabels: {app: pg}},
      persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain},
      volumeClaimTemplates: [{metadata: {name: data, labels: {tier: storage}},
          spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]})"));
  ASSERT_TRUE(waitFor([&] { return exists("pg-0"); }));
  auto claim = client().get(kClaims, "default", "data-pg-0");
  ASSERT_TRUE(claim.ok()) << "the claim must exist once the pod does";
  EXPECT_EQ((*claim)["metadata"]["labels"]["app"], "pg");
  EXPECT_EQ((*claim)["metadata"]["labels"]["tier"], "storage");
  EXPECT_EQ((*claim)["spec"]["resources"]["requests"]["storage"], "1Gi");
  // whenDeleted: Delete hands the claim to the set (a plain owner, for the garbage collector).
  ASSERT_EQ((*claim)["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ((*claim)["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
  EXPECT_FALSE((*claim)["metadata"]["ownerReferences"][0].value("controller", false));
  Json pod = *getPod(client(), "default", "pg-0");
  bool mounted = false;
  for (const Json& v : pod["spec"]["volumes"])
    if (v["name"] == "data" && v["persistentVolumeClaim"]["claimName"] == "data-pg-0")
      mounted = true;
  EXPECT_TRUE(mounted) << pod["spec"]["volumes"].dump();
  becomeReady("pg-0");
  becomeReady("pg-1");
  EXPECT_TRUE(client().get(kClaims, "default", "data-pg-1").ok());
  EXPECT_TRUE(waitFor([&] {
    auto m = eventMessages(client(), "default", "pg");
    return std::count(
               m.begin(), m.end(),
               "SuccessfulCreate: create Claim data-pg-1 Pod pg-1 in StatefulSet pg success") == 1;
  }));

  // The pod deleted: made again with the same claim, which was kept.
  std::string uid = pod["metadata"]["uid"];
  finishDeletion("pg-0");
  ASSERT_TRUE(waitFor([&] {
    auto p = getPod(client(), "default", "pg-0");
    return p && (*p)["metadata"]["uid"] != uid;
  }));
  auto again = client().get(kClaims, "default", "data-pg-0");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["metadata"]["uid"], (*claim)["metadata"]["uid"]);
}

TEST_F(StatefulSetControllerTest, RollingUpdateRespectsThePartition) {
  create(statefulSet("kv", 3));
  for (const char* p : {"kv-0", "kv-1", "kv-2"}) becomeReady(p);
  ASSERT_TRUE(waitFor([&] { return getSet("kv")["status"].value("readyReplicas", 0) == 3; }));
  std::string oldRevision = getSet("kv")["status"]["currentRevision"];

  setTemplateEnv("kv", "2", "{type: RollingUpdate, rollingUpdate: {partition: 1}}");
  std::string newRevision;
  ASSERT_TRUE(waitFor([&] {
    newRevision = getString(getSet("kv")["status"], "updateRevision");
    return !newRevision.empty() && newRevision != oldRevision;
  }));
  rollThrough({"kv-2", "kv-1"}, newRevision);
  ASSERT_TRUE(waitFor([&] {
    Json s = getSet("kv")["status"];
    return s.value("updatedReplicas", 0) == 2 && s.value("readyReplicas", 0) == 3;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(revisionOf("kv-0"), oldRevision) << "below the partition";
  Json status = getSet("kv")["status"];
  EXPECT_EQ(status["currentRevision"], oldRevision);
  EXPECT_EQ(status["currentReplicas"], 1);
  auto rev = client().get(testing::kTestRevisions, "default", newRevision);
  ASSERT_TRUE(rev.ok());
  EXPECT_EQ((*rev)["revision"], 2);

  // Partition 0: the last one rolls, and the rollout completes.
  setTemplateEnv("kv", "2", "{type: RollingUpdate, rollingUpdate: {partition: 0}}");
  rollThrough({"kv-0"}, newRevision);
  EXPECT_TRUE(waitFor([&] {
    Json s = getSet("kv")["status"];
    return s.value("currentRevision", "") == newRevision && s.value("currentReplicas", 0) == 3 &&
           s.value("updatedReplicas", 0) == 3;
  }));

  // Back to the first template: the old revision comes back renumbered 3.
  auto r = client().patch(
      kStatefulSets, "default", "kv", api::PatchType::kMerge,
      R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox"}]}}}})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(waitFor([&] {
    auto old = client().get(testing::kTestRevisions, "default", oldRevision);
    return old.ok() && (*old)["revision"] == 3 &&
           getString(getSet("kv")["status"], "updateRevision") == oldRevision;
  }));
}

TEST_F(StatefulSetControllerTest, MaxUnavailableReplacesSeveralAtOnce) {
  create(statefulSet("mu", 4, "{podManagementPolicy: Parallel}"));
  for (const char* p : {"mu-0", "mu-1", "mu-2", "mu-3"}) becomeReady(p);
  ASSERT_TRUE(waitFor([&] { return getSet("mu")["status"].value("readyReplicas", 0) == 4; }));
  setTemplateEnv("mu", "2",
                 "{type: RollingUpdate, rollingUpdate: {partition: 0, maxUnavailable: 2}}");
  // The two highest ordinals go together; the others wait.
  ASSERT_TRUE(waitFor([&] {
    return deletingOrGone(client(), "default", "mu-3") &&
           deletingOrGone(client(), "default", "mu-2");
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(deletingOrGone(client(), "default", "mu-1"));
  EXPECT_FALSE(deletingOrGone(client(), "default", "mu-0"));
  std::string newRevision = getString(getSet("mu")["status"], "updateRevision");
  rollThrough({"mu-3", "mu-2", "mu-1", "mu-0"}, newRevision);
  EXPECT_TRUE(
      waitFor([&] { return getSet("mu")["status"].value("currentRevision", "") == newRevision; }));
}

TEST_F(StatefulSetControllerTest, OrdinalsStartAndClaimsHandedToScaledDownPods) {
  create(statefulSet("st", 2, R"({podManagementPolicy: Parallel, ordinals: {start: 5},
      persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Delete},
      volumeClaimTemplates: [{metadata: {name: d}, spec: {accessModes: [ReadWriteOnce],
          resources: {requests: {storage: 1Gi}}}}]})"));
  ASSERT_TRUE(waitFor([&] { return exists("st-5") && exists("st-6"); }));
  EXPECT_FALSE(exists("st-0"));
  becomeReady("st-5");
  becomeReady("st-6");
  auto claim = client().get(kClaims, "default", "d-st-6");
  ASSERT_TRUE(claim.ok());
  EXPECT_FALSE((*claim)["metadata"].contains("ownerReferences")) << "in range: nobody owns it";
  std::string podUid = (*getPod(client(), "default", "st-6"))["metadata"]["uid"];
  auto r = client().patch(kStatefulSets, "default", "st", api::PatchType::kMerge,
                          R"({"spec":{"replicas":1}})");
  ASSERT_TRUE(r.ok());
  // Scaled down: the claim is handed to its pod before the pod goes.
  EXPECT_TRUE(waitFor([&] {
    auto c = client().get(kClaims, "default", "d-st-6");
    if (!c.ok()) return false;
    for (const Json& ref : (*c)["metadata"].value("ownerReferences", Json::array()))
      if (ref["kind"] == "Pod" && ref["uid"] == podUid) return true;
    return false;
  }));
  EXPECT_TRUE(waitFor([&] { return deletingOrGone(client(), "default", "st-6"); }));
  EXPECT_FALSE(deletingOrGone(client(), "default", "st-5"));
}

TEST_F(StatefulSetControllerTest, OnDeleteWaitsForDeletes) {
  create(statefulSet("od", 2, "{updateStrategy: {type: OnDelete}}"));
  becomeReady("od-0");
  becomeReady("od-1");
  ASSERT_TRUE(waitFor([&] { return getSet("od")["status"].value("readyReplicas", 0) == 2; }));
  std::string oldRevision = getSet("od")["status"]["currentRevision"];
  setTemplateEnv("od", "x", "{type: OnDelete}");
  std::string newRevision;
  ASSERT_TRUE(waitFor([&] {
    newRevision = getString(getSet("od")["status"], "updateRevision");
    return !newRevision.empty() && newRevision != oldRevision;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(deletingOrGone(client(), "default", "od-1"));
  EXPECT_EQ(revisionOf("od-1"), oldRevision);
  finishDeletion("od-1");
  EXPECT_TRUE(waitFor([&] { return revisionOf("od-1") == newRevision; }));
  EXPECT_EQ(revisionOf("od-0"), oldRevision);
}

TEST_F(StatefulSetControllerTest, HistoryKeepsLiveRevisionsAndTheLimit) {
  create(statefulSet("h", 1, "{revisionHistoryLimit: 0, updateStrategy: {type: OnDelete}}"));
  becomeReady("h-0");
  ASSERT_TRUE(waitFor([&] { return getSet("h")["status"].value("readyReplicas", 0) == 1; }));
  std::string first = getSet("h")["status"]["currentRevision"];
  auto revisionNames = [&] {
    std::set<std::string> names;
    auto list = client().list(testing::kTestRevisions, "default");
    if (list.ok())
      for (const Json& r : (*list)["items"]) names.insert(getString(r["metadata"], "name"));
    return names;
  };
  setTemplateEnv("h", "2", "{type: OnDelete}");
  std::string second;
  ASSERT_TRUE(waitFor([&] {
    second = getString(getSet("h")["status"], "updateRevision");
    return second != first && revisionNames().count(second);
  }));
  setTemplateEnv("h", "3", "{type: OnDelete}");
  std::string third;
  ASSERT_TRUE(waitFor([&] {
    third = getString(getSet("h")["status"], "updateRevision");
    return third != second && third != first;
  }));
  // The pod's (current) revision and the update revision stay; the one in between goes.
  EXPECT_TRUE(waitFor([&] {
    return revisionNames() == std::set<std::string>{first, third};
  })) << ::testing::PrintToString(revisionNames());
}

TEST_F(StatefulSetControllerTest, AdoptsAnOrphanOfItsName) {
  Json orphan = yaml(R"({apiVersion: v1, kind: Pod, metadata: {name: ad-0, labels: {app: ad}},
      spec: {nodeName: n1, containers: [{name: c, image: busybox}]}})");
  auto created = client().create(kPods, "default", orphan);
  ASSERT_TRUE(created.ok()) << created.error().message();
  create(statefulSet("ad", 1));
  std::string setUid = getSet("ad")["metadata"]["uid"];
  EXPECT_TRUE(waitFor([&] {
    auto p = getPod(client(), "default", "ad-0");
    return p && (*p)["metadata"].contains("ownerReferences") &&
           (*p)["metadata"]["ownerReferences"][0]["uid"] == setUid;
  }));
  EXPECT_EQ((*getPod(client(), "default", "ad-0"))["metadata"]["uid"],
            (*created)["metadata"]["uid"]);
}

TEST_F(StatefulSetControllerTest, FailedPodIsReplaced) {
  create(statefulSet("fp", 1));
  becomeReady("fp-0");
  std::string uid = (*getPod(client(), "default", "fp-0"))["metadata"]["uid"];
  setPodStatus(client(), "default", "fp-0", "Failed", false);
  EXPECT_TRUE(waitFor([&] {
    auto p = getPod(client(), "default", "fp-0");
    return p && (*p)["metadata"]["uid"] != uid;
  }));
  EXPECT_TRUE(waitFor([&] {
    auto m = eventMessages(client(), "default", "fp");
    return std::count(
               m.begin(), m.end(),
               "RecreatingFailedPod: StatefulSet default/fp is recreating failed Pod fp-0") == 1;
  }));
}

}  // namespace
}  // namespace nave::controllers
