// ResourceQuota and LimitRange: admission defaults and refuses in Kubernetes' words; the
// controller keeps status.used current.
#include "server/controllers/core/resource_quota_controller.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kPods{"", "v1", "pods"};
const client::Resource kQuotas{"", "v1", "resourcequotas"};
const client::Resource kLimitRanges{"", "v1", "limitranges"};
const client::Resource kConfigMaps{"", "v1", "configmaps"};

class ResourceQuotaTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override { run<ResourceQuotaController>(); }
  Result<Json> pod(const std::string& name, const Json& resources = Json::object()) {
    Json p = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}, {"resources", resources}}}}}}};
    return client().create(kPods, "default", p);
  }
  Json used(const std::string& quota) {
    auto q = client().get(kQuotas, "default", quota);
    return q.ok() ? q->value("status", Json::object()).value("used", Json::object()) : Json::object();
  }
};

TEST_F(ResourceQuotaTest, QuotaCountsAndRefuses) {
  Json quota = {{"apiVersion", "v1"}, {"kind", "ResourceQuota"}, {"metadata", {{"name", "compute"}}},
                {"spec", {{"hard", {{"pods", "2"}, {"requests.cpu", "1"}, {"configmaps", "10"}}}}}};
  ASSERT_TRUE(client().create(kQuotas, "default", quota).ok());
  auto noRequest = pod("bare");
  ASSERT_FALSE(noRequest.ok());
  EXPECT_EQ(noRequest.error().message(),
            "pods \"bare\" is forbidden: failed quota: compute: must specify requests.cpu for: c");
  ASSERT_TRUE(pod("a", {{"requests", {{"cpu", "600m"}}}}).ok());
  auto tooMuch = pod("b", {{"requests", {{"cpu", "500m"}}}});
  ASSERT_FALSE(tooMuch.ok());
  EXPECT_TRUE(tooMuch.error().is(ErrorCode::kForbidden));
  EXPECT_EQ(tooMuch.error().message(),
            "pods \"b\" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=500m, "
            "used: pods=1,requests.cpu=600m, limited: pods=2,requests.cpu=1");
  ASSERT_TRUE(pod("c", {{"requests", {{"cpu", "400m"}}}}).ok());
  EXPECT_TRUE(waitFor([&] {
    Json u = used("compute");
    return u.value("pods", "") == "2" && u.value("requests.cpu", "") == "1" && u.value("configmaps", "") != "";
  })) << used("compute").dump();
}

TEST_F(ResourceQuotaTest, LimitRangeDefaultsAndBounds) {
  Json range = {{"apiVersion", "v1"}, {"kind", "LimitRange"}, {"metadata", {{"name", "limits"}}},
                {"spec", {{"limits", {{{"type", "Container"},
                                       {"default", {{"cpu", "500m"}}},
                                       {"defaultRequest", {{"cpu", "100m"}}},
                                       {"max", {{"cpu", "1"}}}}}}}}};
  ASSERT_TRUE(client().create(kLimitRanges, "default", range).ok());
  auto defaulted = pod("d");
  ASSERT_TRUE(defaulted.ok()) << defaulted.error().message();
  const Json& res = (*defaulted)["spec"]["containers"][0]["resources"];
  EXPECT_EQ(res["limits"]["cpu"], "500m");
  EXPECT_EQ(res["requests"]["cpu"], "100m");
  EXPECT_EQ((*defaulted)["status"]["qosClass"], "Burstable");
  EXPECT_TRUE((*defaulted)["metadata"]["annotations"].contains("kubernetes.io/limit-ranger"));
  auto big = pod("big", {{"limits", {{"cpu", "2"}}}});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message(),
            "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2");
}

TEST_F(ResourceQuotaTest, PriorityAdmissionResolvesTheClass) {
  Json pc = {{"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"},
             {"metadata", {{"name", "high"}}}, {"value", 1000}, {"preemptionPolicy", "Never"}};
  ASSERT_TRUE(client().create({"scheduling.k8s.io", "v1", "priorityclasses"}, "", pc).ok());
  auto plain = pod("plain");
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ((*plain)["spec"]["priority"], 0);
  EXPECT_EQ((*plain)["spec"]["preemptionPolicy"], "PreemptLowerPriority");
  Json high = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "high"}}},
               {"spec", {{"priorityClassName", "high"}, {"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
  auto created = client().create(kPods, "default", high);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ((*created)["spec"]["priority"], 1000);
  EXPECT_EQ((*created)["spec"]["preemptionPolicy"], "Never");
  high["metadata"]["name"] = "unknown";
  high["spec"]["priorityClassName"] = "nope";
  auto refused = client().create(kPods, "default", high);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(), "pods \"unknown\" is forbidden: no PriorityClass with name nope was found");
}

}  // namespace
}  // namespace nave::controllers
