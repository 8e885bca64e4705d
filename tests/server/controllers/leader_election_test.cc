// Leader election over a Lease: one of two electors leads; when it stops (releasing the
// Lease) the other takes over; the Lease records holder and transitions.
#include "server/controllers/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kLeases{"coordination.k8s.io", "v1", "leases"};

LeaderElectionConfig config(const std::string& identity) {
  LeaderElectionConfig c;
  c.leaseNamespace = "default";
  c.leaseName = "test-lease";
  c.identity = identity;
  c.leaseDuration = std::chrono::milliseconds(3000);
  c.renewDeadline = std::chrono::milliseconds(2000);
  c.retryPeriod = std::chrono::milliseconds(100);
  return c;
}

TEST(LeaderElectionTest, OneLeadsAndTheOtherTakesOverAfterARelease) {
  testing::ApiFixture api;
  std::atomic<int> aLeading{0}, bLeading{0};
  auto a = std::make_unique<LeaderElector>(api.client(), config("a"), [&] { aLeading = 1; }, [&] { aLeading = 0; });
  a->start();
  ASSERT_TRUE(waitFor([&] { return aLeading == 1; }));
  LeaderElector b(api.client(), config("b"), [&] { bLeading = 1; }, [&] { bLeading = 0; });
  b.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(bLeading, 0) << "the lease is held and renewed";
  auto lease = api.client().get(kLeases, "default", "test-lease");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(getString(lease->at("spec"), "holderIdentity"), "a");

  a->stop();  // releases
  EXPECT_EQ(aLeading, 0);
  ASSERT_TRUE(waitFor([&] { return bLeading == 1; }));
  lease = api.client().get(kLeases, "default", "test-lease");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(getString(lease->at("spec"), "holderIdentity"), "b");
  EXPECT_EQ(getInt(lease->at("spec"), "leaseTransitions"), 0) << "taken over from nobody (released)";
  b.stop();
}

TEST(InformerTest, IndexesFollowChanges) {
  testing::ApiFixture api;
  const client::Resource configMaps{"", "v1", "configmaps"};
  Informer informer(api.client(), configMaps);
  informer.addIndex("color", [](const Json& o) {
    return std::vector<std::string>{getString(o["metadata"].value("labels", Json::object()), "color")};
  });
  std::atomic<int> deletes{0};
  informer.addObjectHandler([&](const Json* before, const Json* after) {
    if (after == nullptr && before != nullptr) deletes++;
  });
  informer.start();
  informer.waitForSync();
  auto make = [&](const std::string& name, const std::string& color) {
    Json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
               {"metadata", {{"name", name}, {"labels", {{"color", color}}}}}};
    return api.client().create(configMaps, "default", cm);
  };
  ASSERT_TRUE(make("a", "red").ok());
  ASSERT_TRUE(make("b", "red").ok());
  EXPECT_TRUE(waitFor([&] { return informer.byIndex("color", "red").size() == 2; }));
  auto a = api.client().get(configMaps, "default", "a");
  (*a)["metadata"]["labels"]["color"] = "blue";
  ASSERT_TRUE(api.client().update(configMaps, "default", *a).ok());
  EXPECT_TRUE(waitFor([&] { return informer.byIndex("color", "red").size() == 1 &&
                                   informer.byIndex("color", "blue").size() == 1; }));
  EXPECT_EQ(informer.list("default").size(), 2u);
  EXPECT_EQ(getString(*informer.get("default/a"), "kind"), "ConfigMap")
      << "objects carry their kind";
  ASSERT_TRUE(api.client().remove(configMaps, "default", "b").ok());
  EXPECT_TRUE(waitFor([&] { return deletes == 1 && informer.byIndex("color", "red").empty(); }));
  informer.stop();
}

}  // namespace
}  // namespace nave::controllers
