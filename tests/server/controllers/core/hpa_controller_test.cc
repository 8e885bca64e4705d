// The HPA without a metrics API: replicas brought within min..max through the scale
// subresource, then ScalingActive=False with Kubernetes' FailedGetResourceMetric message.
#include "server/controllers/core/hpa_controller.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kDeployments{"apps", "v1", "deployments"};
const client::Resource kHpas{"autoscaling", "v2", "horizontalpodautoscalers"};

class HpaControllerTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override { run<HorizontalPodAutoscalerController>(); }
};

std::optional<Json> condition(const Json& hpa, const std::string& type) {
  for (const Json& c : objectMember(hpa, "status").value("conditions", Json::array()))
    if (getString(c, "type") == type) return c;
  return std::nullopt;
}

TEST_F(HpaControllerTest, KeepsMinReplicasAndReportsMissingMetrics) {
  Json d = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "web"}}},
            {"spec", {{"replicas", 1},
                      {"selector", {{"matchLabels", {{"app", "web"}}}}},
                      {"template", {{"metadata", {{"labels", {{"app", "web"}}}}},
                                    {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}}}}}};
  ASSERT_TRUE(client().create(kDeployments, "default", d).ok());
  Json hpa = {{"apiVersion", "autoscaling/v2"}, {"kind", "HorizontalPodAutoscaler"}, {"metadata", {{"name", "web"}}},
              {"spec", {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}}},
                        {"minReplicas", 2}, {"maxReplicas", 5},
                        {"metrics", {{{"type", "Resource"},
                                      {"resource", {{"name", "cpu"}, {"target", {{"type", "Utilization"}, {"averageUtilization", 50}}}}}}}}}}};
  ASSERT_TRUE(client().create(kHpas, "default", hpa).ok());
  EXPECT_TRUE(waitFor([&] {
    auto dep = client().get(kDeployments, "default", "web");
    return dep.ok() && getInt((*dep)["spec"], "replicas") == 2;
  })) << "raised to minReplicas";
  EXPECT_TRUE(waitFor([&] {
    auto h = client().get(kHpas, "default", "web");
    if (!h.ok()) return false;
    auto active = condition(*h, "ScalingActive");
    return active && (*active)["status"] == "False" && (*active)["reason"] == "FailedGetResourceMetric" &&
           getString(*active, "message") ==
               "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to "
               "get metrics for resource cpu: no metrics returned from resource metrics API";
  }));
}

}  // namespace
}  // namespace nave::controllers
