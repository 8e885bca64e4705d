// PodDisruptionBudget status and the eviction subresource: a budget that allows no disruption
// answers 429; one that allows one lets exactly one eviction through.
#include "server/controllers/core/disruption_controller.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kPods{"", "v1", "pods"};
const client::Resource kBudgets{"policy", "v1", "poddisruptionbudgets"};

class DisruptionControllerTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override { run<DisruptionController>(); }

  void runningPod(const std::string& name) {
    Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"},
                {"metadata", {{"name", name}, {"labels", {{"app", "db"}}}}},
                {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
    auto created = client().create(kPods, "default", pod);
    ASSERT_TRUE(created.ok()) << created.error().message();
    Json status = *created;
    status["status"] = {{"phase", "Running"},
                        {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}};
    auto r = client().update(kPods, "default", status, {}, "status");
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  Json budget(const std::string& name) { return *client().get(kBudgets, "default", name); }
  Result<Json> evict(const std::string& pod) {
    Json eviction = {{"apiVersion", "policy/v1"}, {"kind", "Eviction"}, {"metadata", {{"name", pod}}}};
    return client().create(kPods, "default", eviction, {}, "eviction");
  }
};

TEST_F(DisruptionControllerTest, BudgetGatesEvictions) {
  runningPod("db-0");
  runningPod("db-1");
  Json pdb = {{"apiVersion", "policy/v1"}, {"kind", "PodDisruptionBudget"},
              {"metadata", {{"name", "db"}}},
              {"spec", {{"minAvailable", 2}, {"selector", {{"matchLabels", {{"app", "db"}}}}}}}};
  ASSERT_TRUE(client().create(kBudgets, "default", pdb).ok());
  ASSERT_TRUE(waitFor([&] {
    Json s = budget("db").value("status", Json::object());
    return getInt(s, "currentHealthy") == 2 && s.contains("disruptionsAllowed");
  }));
  Json s = budget("db")["status"];
  EXPECT_EQ(getInt(s, "desiredHealthy"), 2);
  EXPECT_EQ(getInt(s, "disruptionsAllowed"), 0);
  EXPECT_EQ(getInt(s, "expectedPods"), 2);

  auto refused = evict("db-0");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().is(ErrorCode::kTooManyRequests));
  EXPECT_EQ(refused.error().message(), "Cannot evict pod as it would violate the pod's disruption budget.");
  ASSERT_FALSE(refused.error().causes.empty());
  EXPECT_EQ(refused.error().causes[0].message, "The disruption budget db needs 2 healthy pods and has 2 currently");

  // Relax the budget: one eviction goes through, the next waits for the controller.
  Json relaxed = budget("db");
  relaxed["spec"]["minAvailable"] = 1;
  ASSERT_TRUE(client().update(kBudgets, "default", relaxed).ok());
  ASSERT_TRUE(waitFor([&] { return getInt(budget("db").value("status", Json::object()), "disruptionsAllowed") == 1; }));
  auto ok = evict("db-0");
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_FALSE(evict("db-1").ok()) << "the one allowed disruption is used up";
  EXPECT_FALSE(client().get(kPods, "default", "db-0").ok()) << "evicted (no node: deleted at once)";
}

}  // namespace
}  // namespace nave::controllers
