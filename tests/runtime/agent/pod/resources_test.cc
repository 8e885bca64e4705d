// QoS classes and container cgroup settings, as the kubelet computes them.
#include <gtest/gtest.h>

#include "runtime/agent/pod/pod_resources.h"
#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {
namespace {

Json podWith(const std::string& containersJson, const std::string& initJson = "[]") {
  return Json{
      {"metadata", {{"name", "p"}, {"namespace", "ns"}, {"uid", "u"}}},
      {"spec",
       {{"containers", Json::parse(containersJson)}, {"initContainers", Json::parse(initJson)}}}};
}

TEST(QosClassTest, BestEffortBurstableGuaranteed) {
  EXPECT_EQ(qosClass(podWith(R"([{"name": "a"}, {"name": "b", "resources": {}}])")), "BestEffort");
  EXPECT_EQ(qosClass(podWith(R"([{"name": "a", "resources": {"requests": {"cpu": "0"}}}])")),
            "BestEffort")
      << "zero quantities do not count";
  EXPECT_EQ(qosClass(podWith(R"([{"name": "a", "resources": {"requests": {"memory": "1Gi"}}}])")),
            "Burstable");
  EXPECT_EQ(qosClass(podWith(R"([{"name": "a", "resources": {
                        "requests": {"cpu": "1", "memory": "1Gi"},
                        "limits": {"cpu": "1000m", "memory": "1024Mi"}}}])")),
            "Guaranteed")
      << "equal quantities in other spellings";
  EXPECT_EQ(qosClass(podWith(
                R"([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}])")),
            "Burstable")
      << "as ComputePodQOS: requests must equal limits (the API server defaults them; raw "
         "limits alone do not count)";
  EXPECT_EQ(qosClass(podWith(R"([{"name": "a", "resources": {
                        "requests": {"cpu": "500m", "memory": "1Gi"},
                        "limits": {"cpu": "1", "memory": "1Gi"}}}])")),
            "Burstable");
  EXPECT_EQ(
      qosClass(podWith(R"([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
                                 {"name": "b"}])")),
      "Burstable")
      << "every container needs cpu and memory limits";
  EXPECT_EQ(
      qosClass(podWith(R"([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}])",
                       R"([{"name": "init", "resources": {"requests": {"cpu": "100m"}}}])")),
      "Burstable")
      << "init containers count";
  EXPECT_EQ(qosClass(podWith(R"([{"name": "a", "resources": {
                        "requests": {"cpu": "1", "memory": "1Gi"},
                        "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}}}])")),
            "Guaranteed")
      << "only cpu and memory decide";
}

TEST(QosClassTest, RecordedClassWinsAndBadQuantitiesCountAsAbsent) {
  Json pod = podWith(R"([{"name": "a"}])");
  pod["status"]["qosClass"] = "Guaranteed";
  EXPECT_EQ(qosClass(pod), "Guaranteed");
  EXPECT_EQ(qosClass(podWith(R"([{"name": "a", "resources": {"requests": {"cpu": "lots"}}}])")),
            "BestEffort");
}

TEST(ContainerResourcesTest, SharesQuotaAndMemory) {
  auto r = containerResources(Json::parse(R"({"resources": {
      "requests": {"cpu": "100m", "memory": "64Mi"},
      "limits": {"cpu": "500m", "memory": "128Mi"}}})"));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->cpuShares, 102);
  EXPECT_EQ(r->cpuQuotaMicros, 50000);
  EXPECT_EQ(r->cpuPeriodMicros, 100000);
  EXPECT_EQ(r->memoryLimitBytes, 134217728);
}

TEST(ContainerResourcesTest, Defaults) {
  auto none = containerResources(Json::parse(R"({"name": "a"})"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->cpuShares, 2) << "BestEffort: the minimum";
  EXPECT_EQ(none->cpuQuotaMicros, 0);
  EXPECT_EQ(none->memoryLimitBytes, 0);

  auto limitOnly = containerResources(Json::parse(R"({"resources": {"limits": {"cpu": "2"}}})"));
  EXPECT_EQ(limitOnly->cpuShares, 2048) << "shares from the limit when no request is given";
  EXPECT_EQ(limitOnly->cpuQuotaMicros, 200000);

  auto zeroRequest = containerResources(
      Json::parse(R"({"resources": {"requests": {"cpu": "0"}, "limits": {"cpu": "2"}}})"));
  EXPECT_EQ(zeroRequest->cpuShares, 2) << "an explicit request wins, even zero";

  auto tiny = containerResources(
      Json::parse(R"({"resources": {"requests": {"cpu": "1m"}, "limits": {"cpu": "1m"}}})"));
  EXPECT_EQ(tiny->cpuShares, 2);
  EXPECT_EQ(tiny->cpuQuotaMicros, 1000) << "quota at least 1 ms";

  auto huge = containerResources(
      Json::parse(R"({"resources": {"requests": {"cpu": "1000"}, "limits": {"cpu": "1E"}}})"));
  EXPECT_EQ(huge->cpuShares, 262144);
  EXPECT_GT(huge->cpuQuotaMicros, 0);

  auto fractional =
      containerResources(Json::parse(R"({"resources": {"requests": {"cpu": "0.0001"}}})"));
  EXPECT_EQ(fractional->cpuShares, 2) << "0.0001 rounds up to 1m";
}

TEST(ContainerResourcesTest, InvalidQuantitiesAreErrors) {
  auto bad = containerResources(Json::parse(R"({"resources": {"limits": {"cpu": "abc"}}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalid);
  EXPECT_NE(bad.error().message().find("resources.limits.cpu: invalid quantity \"abc\""),
            std::string::npos)
      << bad.error().message();
  auto negative =
      containerResources(Json::parse(R"({"resources": {"limits": {"memory": "-1Gi"}}})"));
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message().find("must be greater than or equal to 0"),
            std::string::npos);
  EXPECT_FALSE(containerResources(Json::parse(R"({"resources": {"requests": {"cpu": []}}})")).ok());
}

TEST(PodMemoryLimitTest, AllContainersMustDeclareOne) {
  EXPECT_EQ(
      podMemoryLimitBytes(podWith(R"([{"name": "a", "resources": {"limits": {"memory": "1Gi"}}},
                                            {"name": "b", "resources": {"limits": {"memory": "512Mi"}}}])")),
      (1LL << 30) + (512LL << 20));
  EXPECT_EQ(
      podMemoryLimitBytes(podWith(R"([{"name": "a", "resources": {"limits": {"memory": "1Gi"}}},
                                            {"name": "b", "resources": {"requests": {"memory": "1Mi"}}}])")),
      0);
  EXPECT_EQ(podMemoryLimitBytes(podWith(R"([{"name": "a"}])")), 0);
  // An init container needing more than the app containers sets the floor; a sidecar adds up.
  EXPECT_EQ(podMemoryLimitBytes(
                podWith(R"([{"name": "a", "resources": {"limits": {"memory": "100Mi"}}}])",
                        R"([{"name": "i", "resources": {"limits": {"memory": "300Mi"}}}])")),
            300LL << 20);
  EXPECT_EQ(
      podMemoryLimitBytes(podWith(
          R"([{"name": "a", "resources": {"limits": {"memory": "100Mi"}}}])",
          R"([{"name": "s", "restartPolicy": "Always", "resources": {"limits": {"memory": "50Mi"}}}])")),
      150LL << 20);
  Json withOverhead = podWith(R"([{"name": "a", "resources": {"limits": {"memory": "100Mi"}}}])");
  withOverhead["spec"]["overhead"] = {{"memory", "10Mi"}};
  EXPECT_EQ(podMemoryLimitBytes(withOverhead), 110LL << 20);
}

}  // namespace
}  // namespace nave::agent
