// Pod GC: terminated pods beyond the threshold (oldest first), pods of nodes that do not exist,
// unscheduled pods being deleted.
#include "server/controllers/core/pod_gc_controller.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kPods{"", "v1", "pods"};

class PodGcControllerTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override {
    controller_ = std::make_unique<PodGcController>(context(), 2, std::chrono::milliseconds(300));
    context().informers.start();
    controller_->start();
  }
  void TearDown() override { controller_->stop(); }
  void pod(const std::string& name, const std::string& node, const std::string& phase = "") {
    Json p = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
    if (!node.empty()) p["spec"]["nodeName"] = node;
    auto created = client().create(kPods, "default", p);
    ASSERT_TRUE(created.ok()) << created.error().message();
    if (!phase.empty()) {
      (*created)["status"]["phase"] = phase;
      ASSERT_TRUE(client().update(kPods, "default", *created, {}, "status").ok());
    }
  }
  bool exists(const std::string& name) { return client().get(kPods, "default", name).ok(); }
  std::unique_ptr<PodGcController> controller_;
};

TEST_F(PodGcControllerTest, CollectsOrphansAndOldTerminatedPods) {
  pod("on-missing-node", "nowhere");
  EXPECT_TRUE(waitFor([&] { return !exists("on-missing-node"); }));

  Json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n1"}}}};
  ASSERT_TRUE(client().create({"", "v1", "nodes"}, "", node).ok());
  for (const char* name : {"done-1", "done-2", "done-3"}) {
    pod(name, "n1", "Succeeded");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // distinct creation times
  }
  EXPECT_TRUE(waitFor([&] { return !exists("done-1"); })) << "the oldest beyond the threshold of 2";
  EXPECT_TRUE(exists("done-2") && exists("done-3"));

  pod("never-scheduled", "");
  ASSERT_TRUE(client().remove(kPods, "default", "never-scheduled").ok());
  EXPECT_TRUE(waitFor([&] { return !exists("never-scheduled"); }));
}

}  // namespace
}  // namespace nave::controllers
