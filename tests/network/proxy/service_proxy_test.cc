// ServiceProxy on a real API stack: Services and EndpointSlices written through the API reach
// the kernel's table in the test node's namespace, and traffic follows.
#include "network/proxy/service_proxy.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/network/proxy/proxy_world.h"
#include "tests/server/api_fixture.h"

namespace nave::network::proxy::testing {
namespace {

const client::Resource kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices"};

class ServiceProxyTest : public ProxyWorld, public nave::testing::ApiFixture {
 protected:
  void SetUp() override {
    ProxyWorld::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    informers_ = std::make_unique<controllers::InformerFactory>(client());
    auto proxy = host->run([&] {
      return ServiceProxy::create(*informers_,
                                  {.nodeName = "node-a", .clusterCidr = "10.42.0.0/16"});
    });
    ASSERT_TRUE(proxy.ok()) << proxy.error().message();
    proxy_ = std::move(*proxy);
    informers_->start();
    auto started = host->run([&] { return proxy_->start(); });
    ASSERT_TRUE(started.ok()) << started.error().message();
  }
  void TearDown() override {
    if (proxy_) proxy_->stop();
    if (informers_) informers_->stop();
    ProxyWorld::TearDown();
  }

  std::string createService(const std::string& name, Json spec) {
    Json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", spec}};
    auto r = client().create(nave::testing::kServices, "default", svc);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? getString((*r)["spec"], "clusterIP") : "";
  }
  void createSlice(const std::string& service, const std::string& ip, int port,
                   const std::string& node = "node-a", const std::string& portName = "http",
                   const std::string& protocol = "TCP") {
    Json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                  {"kind", "EndpointSlice"},
                  {"metadata",
                   {{"name", service + "-" + node},
                    {"namespace", "default"},
                    {"labels", {{"kubernetes.io/service-name", service}}}}},
                  {"addressType", "IPv4"},
                  {"endpoints", {{{"addresses", {ip}}, {"nodeName", node}}}},
                  {"ports", {{{"name", portName}, {"port", port}, {"protocol", protocol}}}}};
    auto r = client().create(kEndpointSlices, "default", slice);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  // Retries `check` until it holds (the proxy syncs asynchronously); false after ~20 s.
  template <typename F>
  bool eventually(F check) {
    for (int i = 0; i < 200; ++i) {
      if (check()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::unique_ptr<controllers::InformerFactory> informers_;
  std::unique_ptr<ServiceProxy> proxy_;
};

TEST_F(ServiceProxyTest, ServicesAndSlicesFromTheApiAreProgrammedAndRemoved) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  std::string ip = createService(
      "web",
      {{"type", "NodePort"}, {"ports", {{{"name", "http"}, {"port", 80}, {"nodePort", 30090}}}}});
  ASSERT_FALSE(ip.empty());
  // No EndpointSlice yet: refused.
  EXPECT_TRUE(eventually([&] { return connectErrno(*outside, ip, 80) == ECONNREFUSED; }))
      << table();
  createSlice("web", "10.42.0.5", 8080);
  EXPECT_TRUE(eventually([&] { return probe(*outside, ip, 80, server.get()).ok(); })) << table();
  EXPECT_TRUE(probe(*outside, "192.168.50.1", 30090, server.get()).ok());

  ASSERT_TRUE(client().remove(nave::testing::kServices, "default", "web").ok());
  EXPECT_TRUE(eventually([&] { return table().find("default/web") == std::string::npos; }))
      << table();
  EXPECT_NE(connectErrno(*outside, ip, 80), 0);
}

// The cluster DNS's shape: no selector, internalTrafficPolicy Local, one EndpointSlice per
// node whose endpoint carries its nodeName. Pods on this node reach this node's endpoint.
TEST_F(ServiceProxyTest, ALocalServiceWithPerNodeSlicesReachesThisNodesEndpoint) {
  UniqueFd server = udpIn(*pod1, "0.0.0.0", 5353);
  std::string ip =
      createService("dns", {{"internalTrafficPolicy", "Local"},
                            {"ports", {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}}}}});
  ASSERT_FALSE(ip.empty());
  createSlice("dns", "10.42.1.9", 5353, "node-b", "dns", "UDP");
  createSlice("dns", "10.42.0.5", 5353, "node-a", "dns", "UDP");
  ASSERT_TRUE(eventually([&] {
    return map("ips-1").find(ip + " . udp . 53 . 0x00000000 : 10.42.0.5 . 5353") !=
           std::string::npos;
  })) << table();
  auto seen = probeUdp(*pod2, ip, 53, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.42.0.6");
  for (int i = 0; i < 8; ++i) {  // never node-b's endpoint
    seen = probeUdp(*pod2, ip, 53, server.get());
    ASSERT_TRUE(seen.ok()) << seen.error().message() << "\n" << table();
  }
}

TEST_F(ServiceProxyTest, TheTableStaysWhenTheProxyStopsAndAFreshProxyResyncsIt) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  std::string ip = createService("keep", {{"ports", {{{"name", "http"}, {"port", 80}}}}});
  createSlice("keep", "10.42.0.5", 8080);
  ASSERT_TRUE(eventually([&] { return probe(*outside, ip, 80, server.get()).ok(); })) << table();
  proxy_->stop();
  EXPECT_TRUE(probe(*outside, ip, 80, server.get()).ok());
  ASSERT_TRUE(client().remove(nave::testing::kServices, "default", "keep").ok());
  // A new proxy (an agent's restart, with informers of its own) starts with a full sync of
  // what the API holds now.
  controllers::InformerFactory informers(client());
  auto fresh = host->run([&] {
    return ServiceProxy::create(informers, {.nodeName = "node-a", .clusterCidr = "10.42.0.0/16"});
  });
  ASSERT_TRUE(fresh.ok());
  informers.start();
  ASSERT_TRUE(host->run([&] { return (*fresh)->start(); }).ok());
  EXPECT_EQ(table().find("default/keep"), std::string::npos) << table();
  ASSERT_TRUE((*fresh)->uninstall().ok());
  EXPECT_NE(host->exec("nft list table ip nave").first, 0);
}

}  // namespace
}  // namespace nave::network::proxy::testing
