// The node lifecycle controller: silent nodes become Unknown and tainted unreachable; NoExecute
// taints evict the pods that do not tolerate them, at once or after tolerationSeconds.
#include "server/controllers/core/node_lifecycle_controller.h"

#include <gtest/gtest.h>

#include "common/time.h"
#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kPods{"", "v1", "pods"};

class NodeLifecycleControllerTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override {
    controller_ = std::make_unique<NodeLifecycleController>(context(), std::chrono::seconds(2));
    context().informers.start();
    controller_->start();
  }
  void TearDown() override { controller_->stop(); }

  void makeNode(const std::string& name, const Json& taints = Json::array()) {
    std::string now = formatRfc3339(std::chrono::system_clock::now());
    Json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}},
                 {"spec", {{"taints", taints}}},
                 {"status", {{"conditions", {{{"type", "Ready"}, {"status", "True"},
                                              {"lastHeartbeatTime", now}, {"lastTransitionTime", now},
                                              {"reason", "KubeletReady"}}}}}}};
    ASSERT_TRUE(client().create(kNodes, "", node).ok());
  }
  void makePod(const std::string& name, const std::string& node, const Json& tolerations = Json::array()) {
    Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}},
                {"spec", {{"nodeName", node}, {"tolerations", tolerations},
                          {"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
    auto r = client().create(kPods, "default", pod);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  bool podGone(const std::string& name) {
    auto r = client().get(kPods, "default", name);
    return !r.ok() || r->at("metadata").contains("deletionTimestamp");
  }
  std::unique_ptr<NodeLifecycleController> controller_;
};

TEST_F(NodeLifecycleControllerTest, SilentNodeBecomesUnknownAndTainted) {
  makeNode("quiet");
  EXPECT_TRUE(waitFor([&] {
    auto n = client().get(kNodes, "", "quiet");
    if (!n.ok()) return false;
    bool unknown = false, noExecute = false, noSchedule = false;
    for (const Json& c : n->at("status")["conditions"])
      if (c["type"] == "Ready" && c["status"] == "Unknown" && c["reason"] == "NodeStatusUnknown") unknown = true;
    for (const Json& t : n->value("spec", Json::object()).value("taints", Json::array())) {
      if (t["key"] != "node.kubernetes.io/unreachable") continue;
      if (t["effect"] == "NoExecute") noExecute = t.contains("timeAdded");
      if (t["effect"] == "NoSchedule") noSchedule = true;
    }
    return unknown && noExecute && noSchedule;
  }));
}

TEST_F(NodeLifecycleControllerTest, NoExecuteTaintEvictsByTolerations) {
  Json taint = Json::array({{{"key", "dedicated"}, {"value", "x"}, {"effect", "NoExecute"},
                             {"timeAdded", formatRfc3339(std::chrono::system_clock::now())}}});
  makeNode("tainted", taint);
  makePod("intolerant", "tainted");
  makePod("brief", "tainted",
          Json::array({{{"key", "dedicated"}, {"operator", "Exists"}, {"effect", "NoExecute"},
                        {"tolerationSeconds", 1}}}));
  makePod("forever", "tainted",
          Json::array({{{"key", "dedicated"}, {"operator", "Equal"}, {"value", "x"}, {"effect", "NoExecute"}}}));
  EXPECT_TRUE(waitFor([&] { return podGone("intolerant"); }));
  EXPECT_TRUE(waitFor([&] { return podGone("brief"); }));
  EXPECT_FALSE(podGone("forever"));
  // The API server gave every pod 300 s for not-ready and unreachable.
  auto forever = client().get(kPods, "default", "forever");
  ASSERT_TRUE(forever.ok());
  int defaults = 0;
  for (const Json& t : forever->at("spec")["tolerations"])
    if (t.value("tolerationSeconds", 0) == 300) defaults++;
  EXPECT_EQ(defaults, 2);
}

}  // namespace
}  // namespace nave::controllers
