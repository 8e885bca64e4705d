#include "network/ingress/controller/ingress_status_controller.h"

#include <gtest/gtest.h>

#include "network/ingress/routes.h"
#include "tests/server/controllers/controller_fixture.h"

namespace nave::ingress {
namespace {

const client::Resource kIngresses{"networking.k8s.io", "v1", "ingresses"};
const client::Resource kClasses{"networking.k8s.io", "v1", "ingressclasses"};
const client::Resource kNodes{"", "v1", "nodes"};

class IngressStatusTest : public ::testing::Test, public nave::testing::ControllerFixture {
 protected:
  void addNode(const std::string& name, const std::string& ip, bool ready) {
    Json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
    auto created = client().create(kNodes, "", node);
    ASSERT_TRUE(created.ok()) << created.error().message();
    Json status = *created;
    status["status"] = {{"addresses", {{{"type", "InternalIP"}, {"address", ip}}}},
                        {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}};
    auto r = client().update(kNodes, "", status, {}, "status");
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  void addIngress(const std::string& name, Json spec) {
    Json ing = {{"apiVersion", "networking.k8s.io/v1"}, {"kind", "Ingress"},
                {"metadata", {{"name", name}, {"namespace", "default"}}}, {"spec", std::move(spec)}};
    auto r = client().create(kIngresses, "default", ing);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  Json addresses(const std::string& name) {
    auto ing = client().get(kIngresses, "default", name);
    if (!ing.ok()) return nullptr;
    return objectMember(objectMember(*ing, "status"), "loadBalancer").value("ingress", Json());
  }
};

TEST_F(IngressStatusTest, ReportsReadyNodeAddressesOnServedIngresses) {
  Json cls = {{"apiVersion", "networking.k8s.io/v1"}, {"kind", "IngressClass"},
              {"metadata", {{"name", kIngressClassName},
                            {"annotations", {{kDefaultClassAnnotation, "true"}}}}},
              {"spec", {{"controller", kControllerName}}}};
  ASSERT_TRUE(client().create(kClasses, "", cls).ok());
  addNode("n2", "10.0.0.2", true);
  addNode("n1", "10.0.0.1", true);
  addNode("n3", "10.0.0.3", false);
  Json backend = {{"service", {{"name", "web"}, {"port", {{"number", 80}}}}}};
  addIngress("mine", {{"defaultBackend", backend}});
  addIngress("theirs", {{"ingressClassName", "other"}, {"defaultBackend", backend}});
  run<IngressStatusController>();
  Json want = Json::array({{{"ip", "10.0.0.1"}}, {{"ip", "10.0.0.2"}}});
  EXPECT_TRUE(nave::testing::waitFor([&] { return addresses("mine") == want; })) << addresses("mine");
  EXPECT_TRUE(addresses("theirs").is_null());
  // A node becoming ready joins the list.
  auto n3 = client().get(kNodes, "", "n3");
  ASSERT_TRUE(n3.ok());
  (*n3)["status"]["conditions"][0]["status"] = "True";
  ASSERT_TRUE(client().update(kNodes, "", *n3, {}, "status").ok());
  want.push_back({{"ip", "10.0.0.3"}});
  EXPECT_TRUE(nave::testing::waitFor([&] { return addresses("mine") == want; })) << addresses("mine");
}

}  // namespace
}  // namespace nave::ingress
