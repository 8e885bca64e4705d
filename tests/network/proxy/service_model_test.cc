#include "network/proxy/service_model.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

namespace nave::network::proxy {
namespace {

Json slice(Json endpoints, Json ports, std::string addressType = "IPv4") {
  return {{"metadata", {{"namespace", "default"}, {"name", "web-abc"}}},
          {"addressType", addressType},
          {"endpoints", endpoints},
          {"ports", ports}};
}

TEST(ServiceModelTest, ReadsPortsPoliciesAffinityAndEndpointsByPortName) {
  Json svc = Json::parse(R"({
    "metadata": {"namespace": "default", "name": "web"},
    "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.10", "externalIPs": ["1.2.3.4", "fe80::1"],
             "internalTrafficPolicy": "Local", "externalTrafficPolicy": "Local",
             "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 30}},
             "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                       {"name": "dns", "port": 53, "protocol": "UDP"}]},
    "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.5", "ipMode": "VIP"}, {"ip": "192.168.1.6", "ipMode": "Proxy"}]}}})");
  std::vector<Json> slices = {
      slice(
          Json::parse(R"([{"addresses": ["10.42.0.7"], "nodeName": "a"},
                           {"addresses": ["10.42.0.8"], "conditions": {"ready": false, "serving": true, "terminating": true}}])"),
          Json::parse(
              R"([{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 5353, "protocol": "UDP"}])")),
      slice(Json::parse(R"([{"addresses": ["fd00::1"]}])"),
            Json::parse(R"([{"name": "http", "port": 8080}])"), "IPv6"),
  };
  Service s = parseService(svc, slices);
  EXPECT_EQ(s.key(), "default/web");
  ASSERT_TRUE(s.hasClusterIp);
  EXPECT_EQ(s.clusterIp.toString(), "10.43.0.10");
  ASSERT_EQ(s.externalIps.size(), 1u);
  ASSERT_EQ(s.loadBalancerIps.size(), 1u);
  EXPECT_EQ(s.loadBalancerIps[0].toString(), "192.168.1.5");
  EXPECT_TRUE(s.internalLocal);
  EXPECT_TRUE(s.externalLocal);
  EXPECT_EQ(s.affinitySeconds, 30u);
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].nodePort, 30080);
  EXPECT_EQ(s.ports[1].protocol, IPPROTO_UDP);
  ASSERT_EQ(s.ports[1].endpoints.size(), 2u);
  EXPECT_EQ(s.ports[1].endpoints[0].port, 5353);
  EXPECT_EQ(s.ports[0].endpoints[0].nodeName, "a");
  EXPECT_TRUE(s.ports[0].endpoints[0].ready);
  EXPECT_TRUE(s.ports[0].endpoints[1].terminating);
  EXPECT_FALSE(s.ports[0].endpoints[1].ready);
}

TEST(ServiceModelTest, HeadlessAndExternalNameServicesHaveNothingToProxy) {
  Service headless = parseService(Json::parse(R"({"metadata": {"namespace": "a", "name": "h"},
      "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})"),
                                  {});
  EXPECT_FALSE(headless.hasClusterIp);
  Service external = parseService(Json::parse(R"({"metadata": {"namespace": "a", "name": "e"},
      "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"port": 80}]}})"),
                                  {});
  EXPECT_TRUE(external.ports.empty());
  // A ClusterIP service's nodePort and external policy are ignored.
  Service plain = parseService(Json::parse(R"({"metadata": {"namespace": "a", "name": "p"},
      "spec": {"clusterIP": "10.43.0.3", "externalTrafficPolicy": "Local", "ports": [{"port": 80, "nodePort": 30001}]}})"),
                               {});
  EXPECT_FALSE(plain.externalLocal);
  EXPECT_EQ(plain.ports[0].nodePort, 0);
}

TEST(ServiceModelTest, UsableEndpointsPreferReadyThenServingTerminating) {
  Endpoint ready, draining, notReady;
  ready.ip = *Ipv4Address::parse("10.0.0.1");
  ready.nodeName = "a";
  draining.ip = *Ipv4Address::parse("10.0.0.2");
  draining.ready = false;
  draining.terminating = true;
  draining.nodeName = "b";
  notReady.ip = *Ipv4Address::parse("10.0.0.3");
  notReady.ready = notReady.serving = false;
  EXPECT_EQ(usableEndpoints({ready, draining, notReady}), std::vector<Endpoint>{ready});
  EXPECT_EQ(usableEndpoints({draining, notReady}), std::vector<Endpoint>{draining});
  std::string b = "b";
  EXPECT_EQ(usableEndpoints({ready, draining}, &b), std::vector<Endpoint>{draining});
  EXPECT_TRUE(usableEndpoints({notReady}).empty());
}

}  // namespace
}  // namespace nave::network::proxy
