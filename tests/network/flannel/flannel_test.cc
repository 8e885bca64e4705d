// Flannel on a real API stack: the Nodes' leases, from the shared informer, become routes in
// a test "host" namespace; the node's own flannel annotations are written to its Node.
#include "network/flannel/flannel.h"

#include <gtest/gtest.h>

#include "tests/network/netns_fixture.h"
#include "tests/server/api_fixture.h"
#include "tests/server/controllers/controller_fixture.h"

namespace nave::network::flannel {
namespace {

using nave::testing::waitFor;
using testing::TestNetns;

const client::Resource kNodes{"", "v1", "nodes"};

class FlannelTest : public ::testing::Test, public nave::testing::ApiFixture {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    host_ = TestNetns::create("host");
    peer_ = TestNetns::create("peer");
    ASSERT_TRUE(host_ && peer_);
    testing::connectNamespaces(*host_, "eth0", "192.168.50.1/24", *peer_, "eth0",
                               "192.168.50.2/24");
  }
  void TearDown() override {
    if (flannel_) flannel_->stop();
    informers_.stop();
    if (backend_) (void)host_->run([&] { return backend_->destroy(); });
  }
  void node(const std::string& name, const std::string& podCidr, const std::string& ip) {
    Json n = {{"apiVersion", "v1"},
              {"kind", "Node"},
              {"metadata", {{"name", name}}},
              {"spec", {{"podCIDR", podCidr}, {"podCIDRs", {podCidr}}}}};
    auto created = client().create(kNodes, "", n);
    ASSERT_TRUE(created.ok()) << created.error().message();
    Json status = {{"status", {{"addresses", {{{"type", "InternalIP"}, {"address", ip}}}}}}};
    auto patched =
        client().patch(kNodes, "", name, api::PatchType::kMerge, dumpJson(status), {}, "status");
    ASSERT_TRUE(patched.ok()) << patched.error().message();
  }
  std::string routes() { return host_->exec("ip route").second; }
  bool routed(const std::string& route) {
    return waitFor([&] { return routes().find(route) != std::string::npos; });
  }

  std::unique_ptr<TestNetns> host_, peer_;
  controllers::InformerFactory informers_{client()};
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Flannel> flannel_;
};

TEST_F(FlannelTest, FollowsTheNodesAndAnnotatesItsOwn) {
  node("node-1", "10.42.0.0/24", "192.168.50.1");
  node("node-2", "10.42.1.0/24", "192.168.50.2");
  BackendOptions o;
  o.nodeName = "node-1";
  o.nodeIp = *Ipv4Address::parse("192.168.50.1");
  o.podCidr = *Ipv4Prefix::parse("10.42.0.0/24");
  auto backend = host_->run([&] { return Backend::open(o); });
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  backend_ = std::move(*backend);
  flannel_ = std::make_unique<Flannel>(client(), informers_, *backend_, "node-1");
  informers_.start();
  flannel_->start();

  EXPECT_TRUE(routed("10.42.1.0/24 via 192.168.50.2 dev eth0 proto 78")) << routes();
  EXPECT_TRUE(waitFor([&] {
    auto n = client().get(kNodes, "", "node-1");
    const Json& a = objectMember(objectMember(*n, "metadata"), "annotations");
    return getString(a, kBackendTypeAnnotation) == "host-gw" &&
           getString(a, kPublicIpAnnotation) == "192.168.50.1" &&
           getString(a, kSubnetManagerAnnotation) == "true";
  }));

  // A node joins; one moves; one leaves.
  node("node-3", "10.42.2.0/24", "192.168.50.3");
  EXPECT_TRUE(routed("10.42.2.0/24 via 192.168.50.3 dev eth0 proto 78")) << routes();
  Json moved = {{"metadata", {{"annotations", {{kPublicIpAnnotation, "192.168.50.4"}}}}}};
  ASSERT_TRUE(client().patch(kNodes, "", "node-3", api::PatchType::kMerge, dumpJson(moved)).ok());
  EXPECT_TRUE(routed("10.42.2.0/24 via 192.168.50.4 dev eth0 proto 78")) << routes();
  ASSERT_TRUE(client().remove(kNodes, "", "node-2").ok());
  EXPECT_TRUE(waitFor([&] { return routes().find("10.42.1.0/24") == std::string::npos; }))
      << routes();
}

}  // namespace
}  // namespace nave::network::flannel
