// The Proxier against the real kernel: rules programmed into a test namespace's `ip nave`
// table, and TCP/UDP traffic through them.
#include "network/proxy/proxier.h"

#include <gtest/gtest.h>

#include "tests/network/proxy/proxy_world.h"

namespace nave::network::proxy::testing {
namespace {

using ProxierTest = ProxyWorld;

std::map<std::string, std::optional<Service>> change(const Service& s) {
  return {{s.key(), s}};
}

TEST_F(ProxierTest, ClusterIpFromOutsideThePodsAndTheNodeIsDnatedAndMasqueraded) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  ASSERT_TRUE(
      proxier->syncAll({service("web", "10.43.0.10", 80, {endpoint("10.42.0.5", 8080)})}).ok());

  auto seen = probe(*outside, "10.43.0.10", 80, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message() << "\n" << table();
  EXPECT_EQ(*seen, "10.42.0.1");  // from outside the cluster CIDR: masqueraded
  seen = probe(*host, "10.43.0.10", 80, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();

  std::string t = table();
  EXPECT_NE(t.find("map service-ips"), std::string::npos) << t;
  EXPECT_NE(t.find("ip daddr . meta l4proto . th dport vmap @service-ips"), std::string::npos) << t;
  EXPECT_NE(
      t.find("dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @ips-1"),
      std::string::npos)
      << t;
  EXPECT_NE(map("ips-1").find("10.43.0.10 . tcp . 80 . 0x00000000 : 10.42.0.5 . 8080"),
            std::string::npos)
      << t;
  auto [rc, json] = host->exec("nft -j list table ip nave");
  EXPECT_EQ(rc, 0) << json;
  EXPECT_TRUE(Json::accept(json)) << json;
}

TEST_F(ProxierTest, PodToServiceKeepsItsSourceAcrossTheBridgeAndHairpinIsMasqueraded) {
  UniqueFd server2 = listenIn(*pod2, "0.0.0.0", 8080);
  UniqueFd server1 = listenIn(*pod1, "0.0.0.0", 8080);
  ASSERT_TRUE(proxier
                  ->syncAll({service("to-pod2", "10.43.0.20", 80, {endpoint("10.42.0.6", 8080)}),
                             service("to-pod1", "10.43.0.21", 80, {endpoint("10.42.0.5", 8080)})})
                  .ok());
  // pod1 -> service -> pod2 on the same bridge: the reply is bridged, and conntrack
  // (br_netfilter) undoes the DNAT.
  auto seen = probe(*pod1, "10.43.0.20", 80, server2.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.42.0.5");
  // pod1 -> service -> pod1 itself: masqueraded so that the reply returns through the node.
  seen = probe(*pod1, "10.43.0.21", 80, server1.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.42.0.1");
}

TEST_F(ProxierTest, NodePortAndLoadBalancerAddressReachTheService) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  Service s = service("np", "10.43.0.30", 80, {endpoint("10.42.0.5", 8080)});
  s.ports[0].nodePort = 30080;
  s.loadBalancerIps = {*Ipv4Address::parse("192.168.50.1")};
  ASSERT_TRUE(proxier->syncAll({s}).ok());
  auto seen = probe(*outside, "192.168.50.1", 30080, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message() << "\n" << table();
  EXPECT_EQ(*seen, "10.42.0.1");  // externalTrafficPolicy Cluster: masqueraded
  seen = probe(*outside, "192.168.50.1", 80, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  seen = probe(*host, "192.168.50.1", 30080, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_NE(table().find("map service-nodeports"), std::string::npos);
  EXPECT_NE(map("nodeports-1").find("tcp . 30080 . 0x00000000 : 10.42.0.5 . 8080"),
            std::string::npos)
      << table();
  EXPECT_NE(set("masquerade-external").find("192.168.50.1 . tcp . 80"), std::string::npos);
}

TEST_F(ProxierTest, ExternalTrafficPolicyLocalKeepsTheClientAddressAndDropsWithoutLocalEndpoints) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  Service s = service("local", "10.43.0.31", 80, {endpoint("10.42.0.5", 8080)});
  s.ports[0].nodePort = 30081;
  s.externalLocal = true;
  ASSERT_TRUE(proxier->syncAll({s}).ok());
  auto seen = probe(*outside, "192.168.50.1", 30081, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message() << "\n" << table();
  EXPECT_EQ(*seen, "192.168.50.2");

  s.ports[0].endpoints = {endpoint("10.42.0.5", 8080, "node-b")};  // on another node
  ASSERT_TRUE(proxier->syncChanged(change(s)).ok());
  EXPECT_EQ(connectErrno(*outside, "192.168.50.1", 30081), ETIMEDOUT) << table();
  // The ClusterIP still reaches it (internalTrafficPolicy Cluster).
  seen = probe(*host, "10.43.0.31", 80, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
}

TEST_F(ProxierTest, InternalTrafficPolicyLocalUsesOnlyThisNodesEndpoints) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  Service s =
      service("dns", "10.43.0.10", 53,
              {endpoint("10.42.0.5", 8080, "node-a"), endpoint("10.42.1.7", 8080, "node-b")});
  s.internalLocal = true;
  ASSERT_TRUE(proxier->syncAll({s}).ok());
  for (int i = 0; i < 8; ++i) {  // never the other node's endpoint
    auto seen = probe(*pod2, "10.43.0.10", 53, server.get());
    ASSERT_TRUE(seen.ok()) << seen.error().message() << "\n" << table();
  }
  s.ports[0].endpoints = {endpoint("10.42.1.7", 8080, "node-b")};
  ASSERT_TRUE(proxier->syncChanged(change(s)).ok());
  EXPECT_NE(set("no-local-endpoint-services").find("10.43.0.10 . tcp . 53"), std::string::npos)
      << table();
  EXPECT_EQ(connectErrno(*pod2, "10.43.0.10", 53), ETIMEDOUT) << table();  // dropped
}

TEST_F(ProxierTest, ServicesWithoutEndpointsAreRefused) {
  Service s = service("empty", "10.43.0.40", 80, {});
  s.ports[0].nodePort = 30040;
  ASSERT_TRUE(proxier->syncAll({s}).ok());
  EXPECT_EQ(connectErrno(*outside, "10.43.0.40", 80), ECONNREFUSED) << table();
  EXPECT_EQ(connectErrno(*host, "10.43.0.40", 80), ECONNREFUSED);
  EXPECT_EQ(connectErrno(*pod1, "10.43.0.40", 80), ECONNREFUSED);
  EXPECT_EQ(connectErrno(*outside, "192.168.50.1", 30040), ECONNREFUSED);
}

TEST_F(ProxierTest, OtherPortsOfAClusterIpAreRefusedAndUnusedServiceAddressesDropped) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  ASSERT_TRUE(
      proxier->syncAll({service("web", "10.43.0.45", 80, {endpoint("10.42.0.5", 8080)})}).ok());
  ASSERT_TRUE(probe(*outside, "10.43.0.45", 80, server.get()).ok()) << table();
  EXPECT_EQ(connectErrno(*outside, "10.43.0.45", 81), ECONNREFUSED) << table();
  EXPECT_EQ(connectErrno(*host, "10.43.0.45", 81), ECONNREFUSED);
  EXPECT_EQ(connectErrno(*pod1, "10.43.0.46", 80), ETIMEDOUT);
  // The node's own traffic to the service still goes through (the check follows DNAT).
  EXPECT_TRUE(probe(*host, "10.43.0.45", 80, server.get()).ok());
}

TEST_F(ProxierTest, NotReadyEndpointsAreSkippedAndTerminatingOnesServeWhenNoneIsReady) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  Endpoint notReady = endpoint("10.42.0.6", 8080);
  notReady.ready = notReady.serving = false;
  Endpoint draining = endpoint("10.42.0.5", 8080);
  draining.ready = false;
  draining.terminating = true;
  ASSERT_TRUE(proxier->syncAll({service("roll", "10.43.0.50", 80, {notReady, draining})}).ok());
  for (int i = 0; i < 4; ++i) {
    auto seen = probe(*outside, "10.43.0.50", 80, server.get());
    ASSERT_TRUE(seen.ok()) << seen.error().message() << "\n" << table();
  }
  std::string m = map("ips-1");
  EXPECT_EQ(m.find("10.42.0.6"), std::string::npos) << m;
  EXPECT_NE(m.find("10.43.0.50 . tcp . 80 . 0x00000000 : 10.42.0.5 . 8080"), std::string::npos)
      << m;
}

TEST_F(ProxierTest, IncrementalChangesReplaceEndpointsAndDeletedServicesStopAnswering) {
  UniqueFd server1 = listenIn(*pod1, "0.0.0.0", 8080);
  UniqueFd server2 = listenIn(*pod2, "0.0.0.0", 9090);
  Service a = service("a", "10.43.0.60", 80, {endpoint("10.42.0.5", 8080)});
  Service b = service("b", "10.43.0.61", 80, {endpoint("10.42.0.5", 8080)});
  ASSERT_TRUE(proxier->syncAll({a, b}).ok());
  ASSERT_TRUE(probe(*outside, "10.43.0.60", 80, server1.get()).ok());

  a.ports[0].endpoints = {endpoint("10.42.0.6", 9090)};
  ASSERT_TRUE(proxier->syncChanged(change(a)).ok());
  auto seen = probe(*outside, "10.43.0.60", 80, server2.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message() << "\n" << table();
  std::string m = map("ips-1");
  EXPECT_EQ(m.find("10.43.0.60 . tcp . 80 . 0x00000000 : 10.42.0.5"), std::string::npos) << m;
  EXPECT_NE(m.find("10.43.0.60 . tcp . 80 . 0x00000000 : 10.42.0.6 . 9090"), std::string::npos)
      << m;
  // Both endpoints' addresses are in the hairpin set, b's old one still referenced.
  EXPECT_NE(set("hairpin").find("10.42.0.5 . 10.42.0.5"), std::string::npos) << set("hairpin");
  EXPECT_NE(set("hairpin").find("10.42.0.6 . 10.42.0.6"), std::string::npos) << set("hairpin");

  ASSERT_TRUE(proxier->syncChanged({{a.key(), std::nullopt}}).ok());
  EXPECT_NE(connectErrno(*outside, "10.43.0.60", 80), 0);
  std::string t = table();
  EXPECT_EQ(t.find("10.43.0.60"), std::string::npos) << t;
  EXPECT_EQ(set("hairpin").find("10.42.0.6"), std::string::npos) << set("hairpin");
  EXPECT_TRUE(probe(*outside, "10.43.0.61", 80, server1.get()).ok());
  EXPECT_EQ(proxier->serviceCount(), 1u);

  // A full sync of a different set replaces everything.
  ASSERT_TRUE(proxier->syncAll({a}).ok());
  EXPECT_TRUE(probe(*outside, "10.43.0.60", 80, server2.get()).ok());
  EXPECT_NE(connectErrno(*outside, "10.43.0.61", 80), 0);
}

TEST_F(ProxierTest, ConnectionsSpreadOverEndpointsUnlessSessionAffinityPinsThem) {
  UniqueFd server1 = listenIn(*pod1, "0.0.0.0", 8080);
  UniqueFd server2 = listenIn(*pod2, "0.0.0.0", 8080);
  Service s =
      service("lb", "10.43.0.70", 80, {endpoint("10.42.0.5", 8080), endpoint("10.42.0.6", 8080)});
  ASSERT_TRUE(proxier->syncAll({s}).ok());
  EXPECT_NE(map("ips-2").find("10.43.0.70 . tcp . 80 . 0x00000001 : 10.42.0.6 . 8080"),
            std::string::npos)
      << table();
  // Accepts on whichever server got the connection.
  auto spread = [&](int n) {
    std::set<int> hit;
    for (int i = 0; i < n; ++i) {
      UniqueFd c =
          outside->run([] { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
      sockaddr_in sa = inetAddress("10.43.0.70", 80);
      EXPECT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0)
          << strerror(errno);
      pollfd p[2] = {{server1.get(), POLLIN, 0}, {server2.get(), POLLIN, 0}};
      EXPECT_GT(::poll(p, 2, kProbeWaitMs), 0);
      for (int k = 0; k < 2; ++k) {
        if (!(p[k].revents & POLLIN)) continue;
        hit.insert(k);
        UniqueFd(::accept4(p[k].fd, nullptr, nullptr, SOCK_CLOEXEC));
      }
    }
    return hit.size();
  };
  EXPECT_EQ(spread(24), 2u);  // all on one endpoint: 2^-23
  s.affinitySeconds = 60;
  ASSERT_TRUE(proxier->syncChanged(change(s)).ok());
  EXPECT_NE(table().find("update @affinity-default/lb/tcp/http__"), std::string::npos) << table();
  EXPECT_EQ(spread(12), 1u);
}

TEST_F(ProxierTest, UdpServicesAndExternalIps) {
  UniqueFd server = udpIn(*pod1, "0.0.0.0", 5353);
  Service s = service("udp", "10.43.0.80", 53, {endpoint("10.42.0.5", 5353)}, IPPROTO_UDP);
  s.externalIps = {*Ipv4Address::parse("192.168.50.1")};
  ASSERT_TRUE(proxier->syncAll({s}).ok());
  auto seen = probeUdp(*pod2, "10.43.0.80", 53, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message() << "\n" << table();
  EXPECT_EQ(*seen, "10.42.0.6");
  seen = probeUdp(*outside, "192.168.50.1", 53, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
}

TEST_F(ProxierTest, UdpFlowsToAnEndpointThatLeftAreForgotten) {
  UniqueFd server1 = udpIn(*pod1, "0.0.0.0", 5353);
  UniqueFd server2 = udpIn(*pod2, "0.0.0.0", 5353);
  Service s = service("dns", "10.43.0.81", 53, {endpoint("10.42.0.5", 5353)}, IPPROTO_UDP);
  ASSERT_TRUE(proxier->syncAll({s}).ok());
  // One client socket throughout: its flow (one 5-tuple) is what conntrack remembers.
  UniqueFd client =
      outside->run([] { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  sockaddr_in vip = inetAddress("10.43.0.81", 53);
  auto sendAndSee = [&]() -> int {  // which server got the datagram (1, 2; 0: none)
    if (::sendto(client.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&vip), sizeof vip) != 4)
      return -1;
    pollfd p[2] = {{server1.get(), POLLIN, 0}, {server2.get(), POLLIN, 0}};
    if (::poll(p, 2, kProbeWaitMs) <= 0) return 0;
    char buf[8];
    for (int k = 0; k < 2; ++k)
      if (p[k].revents & POLLIN) {
        ::recv(p[k].fd, buf, sizeof buf, 0);
        return k + 1;
      }
    return 0;
  };
  ASSERT_EQ(sendAndSee(), 1) << table();
  s.ports[0].endpoints = {endpoint("10.42.0.6", 5353)};
  ASSERT_TRUE(proxier->syncChanged(change(s)).ok());
  EXPECT_EQ(sendAndSee(), 2) << host->exec("conntrack -L -p udp").second;
}

TEST_F(ProxierTest, AnAddressAndPortTakenByAnotherServiceIsLeftToIt) {
  UniqueFd server = listenIn(*pod1, "0.0.0.0", 8080);
  Service a = service("first", "10.43.0.90", 80, {endpoint("10.42.0.5", 8080)});
  Service b = service("second", "10.43.0.91", 80, {endpoint("10.42.0.6", 8080)});
  a.externalIps = b.externalIps = {*Ipv4Address::parse("192.168.50.1")};
  ASSERT_TRUE(proxier->syncAll({a}).ok());
  ASSERT_TRUE(proxier->syncChanged(change(b)).ok());  // not refused: the duplicate is skipped
  EXPECT_TRUE(probe(*outside, "192.168.50.1", 80, server.get()).ok());
  ASSERT_TRUE(proxier->syncChanged({{a.key(), std::nullopt}, {b.key(), b}}).ok());
  EXPECT_NE(map("ips-1").find("192.168.50.1 . tcp . 80 . 0x00000000 : 10.42.0.6 . 8080"),
            std::string::npos)
      << table();
}

TEST_F(ProxierTest, UninstallRemovesTheTable) {
  ASSERT_TRUE(proxier->syncAll({service("x", "10.43.0.99", 80, {})}).ok());
  ASSERT_TRUE(proxier->uninstall().ok());
  EXPECT_NE(host->exec("nft list table ip nave").first, 0);
  proxier.reset();
}

}  // namespace
}  // namespace nave::network::proxy::testing
