// Pod readiness, availability and the order in which a ReplicaSet deletes surplus pods.
#include "server/controllers/workloads/pod_status.h"

#include <gtest/gtest.h>

namespace nave::controllers::workloads {
namespace {

using std::chrono::seconds;

const WallTime kNow = *parseRfc3339("2026-11-27T12:00:00Z");

Json pod(const std::string& name, const std::string& node, const std::string& phase,
         std::optional<WallTime> readySince, WallTime created = kNow - seconds(3600)) {
  Json p = {
      {"metadata",
       {{"name", name}, {"uid", "uid-" + name}, {"creationTimestamp", formatRfc3339(created)}}},
      {"spec", {{"nodeName", node}}},
      {"status", {{"phase", phase}}}};
  if (readySince)
    p["status"]["conditions"] = Json::array({{{"type", "Ready"},
                                              {"status", "True"},
                                              {"lastTransitionTime", formatRfc3339(*readySince)}}});
  return p;
}

std::vector<std::string> names(const std::vector<Json>& pods) {
  std::vector<std::string> out;
  for (const Json& p : pods) out.push_back(p["metadata"]["name"]);
  return out;
}

TEST(PodStatusTest, ReadyAndAvailable) {
  Json ready = pod("a", "n", "Running", kNow - seconds(10));
  EXPECT_TRUE(isPodActive(ready));
  EXPECT_TRUE(isPodReady(ready));
  EXPECT_TRUE(isPodAvailable(ready, 0, kNow));
  EXPECT_TRUE(isPodAvailable(ready, 5, kNow));
  EXPECT_FALSE(isPodAvailable(ready, 10, kNow));  // not yet past minReadySeconds
  EXPECT_EQ(podAvailableAt(ready, 30), kNow + seconds(20));
  Json pending = pod("b", "", "Pending", std::nullopt);
  EXPECT_FALSE(isPodReady(pending));
  EXPECT_FALSE(isPodAvailable(pending, 0, kNow));
  EXPECT_FALSE(isPodActive(pod("c", "n", "Succeeded", std::nullopt)));
  Json deleting = ready;
  deleting["metadata"]["deletionTimestamp"] = formatRfc3339(kNow);
  EXPECT_FALSE(isPodActive(deleting));
}

TEST(PodStatusTest, DeletionOrderFollowsKubernetesRanking) {
  std::vector<Json> pods = {
      pod("ready-long", "n1", "Running", kNow - seconds(7200)),
      pod("ready-recent", "n1", "Running", kNow - seconds(30)),
      pod("running-not-ready", "n1", "Running", std::nullopt),
      pod("pending", "n1", "Pending", std::nullopt),
      pod("unscheduled", "", "Pending", std::nullopt),
  };
  sortPodsForDeletion(pods, {1, 1, 1, 1, 0}, kNow);
  EXPECT_EQ(names(pods), (std::vector<std::string>{"unscheduled", "pending", "running-not-ready",
                                                   "ready-recent", "ready-long"}));
}

TEST(PodStatusTest, DeletionCostAndDoubledUpNodes) {
  Json cheap = pod("cheap", "n1", "Running", kNow - seconds(100));
  Json dear = pod("dear", "n1", "Running", kNow - seconds(100));
  dear["metadata"]["annotations"] = {{"controller.kubernetes.io/pod-deletion-cost", "100"}};
  std::vector<Json> pods = {dear, cheap};
  sortPodsForDeletion(pods, {1, 1}, kNow);
  EXPECT_EQ(names(pods), (std::vector<std::string>{"cheap", "dear"}));

  // Equal otherwise: the pod on the node with more of its siblings goes first.
  std::vector<Json> spread = {pod("alone", "n1", "Running", kNow - seconds(100)),
                              pod("crowded", "n2", "Running", kNow - seconds(100))};
  sortPodsForDeletion(spread, {1, 3}, kNow);
  EXPECT_EQ(names(spread), (std::vector<std::string>{"crowded", "alone"}));
}

TEST(PodStatusTest, RestartsThenNewestFirst) {
  Json restarted = pod("restarted", "n1", "Running", kNow - seconds(100));
  restarted["status"]["containerStatuses"] = Json::array({{{"name", "c"}, {"restartCount", 4}}});
  std::vector<Json> pods = {pod("calm", "n1", "Running", kNow - seconds(100)), restarted};
  sortPodsForDeletion(pods, {1, 1}, kNow);
  EXPECT_EQ(names(pods), (std::vector<std::string>{"restarted", "calm"}));

  std::vector<Json> young = {pod("old", "", "Pending", std::nullopt, kNow - seconds(86400)),
                             pod("new", "", "Pending", std::nullopt, kNow - seconds(60))};
  sortPodsForDeletion(young, {0, 0}, kNow);
  EXPECT_EQ(names(young), (std::vector<std::string>{"new", "old"}));
}

}  // namespace
}  // namespace nave::controllers::workloads
