// Node IPAM: pod CIDRs for new Nodes, existing ones respected (also by a restarted
// controller), released on deletion, CIDRNotAvailable when the range is full.
#include "server/controllers/nodeipam/node_ipam_controller.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kEvents{"", "v1", "events"};

class NodeIpamControllerTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void TearDown() override {
    if (controller_) controller_->stop();
  }
  void run(const std::string& clusterCidr, const std::string& serviceCidr = "") {
    auto options = NodeIpamOptions::parse(clusterCidr, serviceCidr);
    ASSERT_TRUE(options.ok()) << options.error().message();
    controller_ = std::make_unique<NodeIpamController>(context(), *options);
    context().informers.start();
    controller_->start();
  }
  void node(const std::string& name, const std::string& podCidr = "") {
    Json n = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
    if (!podCidr.empty()) n["spec"] = {{"podCIDR", podCidr}, {"podCIDRs", {podCidr}}};
    auto created = client().create(kNodes, "", n);
    ASSERT_TRUE(created.ok()) << created.error().message();
  }
  std::string podCidr(const std::string& name) {
    auto n = client().get(kNodes, "", name);
    return n.ok() ? getString(objectMember(*n, "spec"), "podCIDR") : "";
  }
  // Waits for the node's CIDR and checks podCIDRs agrees.
  std::string waitCidr(const std::string& name) {
    std::string got;
    waitFor([&] { return !(got = podCidr(name)).empty(); });
    auto n = client().get(kNodes, "", name);
    if (n.ok() && !got.empty()) {
      EXPECT_EQ(objectMember(*n, "spec")["podCIDRs"], Json::array({got})) << name;
    }
    return got;
  }
  std::unique_ptr<NodeIpamController> controller_;
};

TEST_F(NodeIpamControllerTest, GivesEachNodeTheNextSlash24) {
  run("10.42.0.0/16");
  node("n1");
  EXPECT_EQ(waitCidr("n1"), "10.42.0.0/24");
  node("n2");
  EXPECT_EQ(waitCidr("n2"), "10.42.1.0/24");
}

TEST_F(NodeIpamControllerTest, ExistingCidrsAreKeptAcrossARestart) {
  node("given", "10.42.0.0/24");  // before the controller: registered with its own CIDR
  node("foreign", "192.168.0.0/24");  // from another cluster CIDR: kept, nothing taken
  run("10.42.0.0/16");
  node("a");
  EXPECT_EQ(waitCidr("a"), "10.42.1.0/24");
  controller_->stop();  // kept: its handler stays on the fixture's informer

  // A new controller (another process taking over the Lease) with informers of its own.
  InformerFactory informers(client());
  client::EventRecorder events(client(), "second");
  ControllerContext ctx{client(), informers, events, types(), dir()};
  NodeIpamController second(ctx, *NodeIpamOptions::parse("10.42.0.0/16", ""));
  informers.start();
  second.start();
  node("b");
  EXPECT_EQ(waitCidr("b"), "10.42.2.0/24");
  EXPECT_EQ(podCidr("given"), "10.42.0.0/24");
  EXPECT_EQ(podCidr("a"), "10.42.1.0/24");
  EXPECT_EQ(podCidr("foreign"), "192.168.0.0/24");
  second.stop();
  informers.stop();
}

TEST_F(NodeIpamControllerTest, AFullRangeWaitsForADeletedNodesCidr) {
  run("10.42.0.0/23");  // room for two nodes
  node("a");
  node("b");
  std::string a = waitCidr("a"), b = waitCidr("b");
  EXPECT_EQ(std::set<std::string>({a, b}), std::set<std::string>({"10.42.0.0/24", "10.42.1.0/24"}));
  node("c");
  bool announced = waitFor([&] {
    auto list = client().list(kEvents, "default");
    if (!list.ok()) return false;
    for (const Json& e : (*list)["items"]) {
      if (getString(e, "reason") == "CIDRNotAvailable" &&
          getString(objectMember(e, "involvedObject"), "name") == "c") {
        EXPECT_EQ(getString(e, "message"), "Node c status is now: CIDRNotAvailable");
        EXPECT_EQ(getString(e, "type"), "Normal");
        EXPECT_EQ(getString(objectMember(e, "source"), "component"), "cidrAllocator");
        return true;
      }
    }
    return false;
  });
  EXPECT_TRUE(announced) << "a CIDRNotAvailable event about c";
  EXPECT_EQ(podCidr("c"), "");
  ASSERT_TRUE(client().remove(kNodes, "", "a").ok());
  EXPECT_EQ(waitCidr("c"), a);
}

TEST_F(NodeIpamControllerTest, TheServiceCidrIsNeverHandedOut) {
  run("10.42.0.0/16", "10.42.0.0/23");
  node("n1");
  EXPECT_EQ(waitCidr("n1"), "10.42.2.0/24");
}

TEST(NodeIpamOptionsTest, ParsesTheServersFlags) {
  auto o = NodeIpamOptions::parse("10.42.0.0/16", "10.43.0.0/16");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->nodeMaskSize, 24);
  EXPECT_EQ(o->serviceCidr->toString(), "10.43.0.0/16");
  EXPECT_EQ(NodeIpamOptions::parse("10.42.0.0/26", "")->nodeMaskSize, 26);  // one node
  EXPECT_TRUE(NodeIpamOptions::parse("banana", "").error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(NodeIpamOptions::parse("10.0.0.0/7", "").error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(NodeIpamOptions::parse("10.42.0.0/16", "x").error().is(ErrorCode::kInvalid));
}

}  // namespace
}  // namespace nave::controllers
