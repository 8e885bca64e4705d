#include "network/proxy/servicelb_controller.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/server/controllers/controller_fixture.h"

namespace nave::network::proxy {
namespace {

const client::Resource kNodes{"", "v1", "nodes"};
using nave::testing::kServices;

class ServiceLbControllerTest : public ::testing::Test, public nave::testing::ControllerFixture {
 protected:
  void addNode(const std::string& name, const std::string& internal, const std::string& external,
               bool ready) {
    auto r = client().create(
        kNodes, "", {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}});
    ASSERT_TRUE(r.ok()) << r.error().message();
    setNode(name, internal, external, ready);
  }
  void setNode(const std::string& name, const std::string& internal, const std::string& external,
               bool ready) {
    Json addresses = {{{"type", "InternalIP"}, {"address", internal}}};
    if (!external.empty()) addresses.push_back({{"type", "ExternalIP"}, {"address", external}});
    Json patch = {{"status",
                   {{"addresses", addresses},
                    {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
    auto r =
        client().patch(kNodes, "", name, api::PatchType::kMerge, dumpJson(patch), {}, "status");
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  void addService(const std::string& name, const std::string& type,
                  const std::string& lbClass = "") {
    Json spec = {{"type", type}, {"ports", {{{"port", 80}}}}};
    if (!lbClass.empty()) spec["loadBalancerClass"] = lbClass;
    auto r = client().create(kServices, "default",
                             {{"apiVersion", "v1"},
                              {"kind", "Service"},
                              {"metadata", {{"name", name}}},
                              {"spec", spec}});
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  Json ingress(const std::string& name) {
    auto r = client().get(kServices, "default", name);
    if (!r.ok()) return nullptr;
    return objectMember(objectMember(*r, "status"), "loadBalancer").value("ingress", Json::array());
  }
  bool eventuallyIngress(const std::string& name, const Json& want) {
    for (int i = 0; i < 100; ++i) {
      if (ingress(name) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
};

TEST_F(ServiceLbControllerTest, LoadBalancersGetTheReadyNodesAddressesAndFollowThem) {
  addNode("a", "10.0.0.1", "", true);
  addNode("b", "10.0.0.2", "203.0.113.2", true);
  addNode("c", "10.0.0.3", "", false);
  addService("lb", "LoadBalancer");
  addService("other", "LoadBalancer", "example.com/other");
  addService("plain", "ClusterIP");
  run<ServiceLbController>();
  Json two = Json::parse(
      R"([{"ip": "10.0.0.1", "ipMode": "VIP"}, {"ip": "203.0.113.2", "ipMode": "VIP"}])");
  EXPECT_TRUE(eventuallyIngress("lb", two)) << ingress("lb");
  setNode("c", "10.0.0.3", "", true);
  Json three = two;
  three.insert(three.begin() + 1, Json{{"ip", "10.0.0.3"}, {"ipMode", "VIP"}});
  EXPECT_TRUE(eventuallyIngress("lb", three)) << ingress("lb");
  ASSERT_TRUE(client().remove(kNodes, "", "a").ok());
  three.erase(three.begin());
  EXPECT_TRUE(eventuallyIngress("lb", three)) << ingress("lb");
  // Not ours: another class, or not a LoadBalancer.
  EXPECT_EQ(ingress("other"), Json::array());
  EXPECT_EQ(ingress("plain"), Json::array());
  // No longer a LoadBalancer: the addresses go.
  auto r = client().patch(kServices, "default", "lb", api::PatchType::kMerge,
                          R"({"spec": {"type": "ClusterIP"}})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(eventuallyIngress("lb", Json::array())) << ingress("lb");
}

}  // namespace
}  // namespace nave::network::proxy
