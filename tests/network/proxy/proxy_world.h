// A node for the service proxy's tests, built of network namespaces:
//
//   outside (192.168.50.2) ── veth ── host (node IP 192.168.50.1)
//                                     bridge nave0 (10.42.0.1/24)
//                                     ├─ veth ── pod1 (10.42.0.5)
//                                     └─ veth ── pod2 (10.42.0.6)
//
// The host forwards, and its default route leads to a link whose far end (outside, which
// does not forward) drops everything: the host can send to ClusterIPs, and packets to
// addresses no rule handles go nowhere. The proxier programs the host.
#pragma once

#include <linux/netlink.h>

#include "network/proxy/proxier.h"
#include "tests/network/netns_fixture.h"

namespace nave::network::proxy::testing {

using namespace nave::network::testing;

class ProxyWorld : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    host = TestNetns::create("node");
    outside = TestNetns::create("client");
    pod1 = TestNetns::create("pod1");
    pod2 = TestNetns::create("pod2");
    ASSERT_TRUE(host && outside && pod1 && pod2);
    connectNamespaces(*host, "eth0", "192.168.50.1/24", *outside, "eth0", "192.168.50.2/24");
    const std::string h = "ip -n " + host->name() + " ";
    for (const std::string& cmd : {
             h + "link add nave0 type bridge",
             h + "addr add 10.42.0.1/24 dev nave0",
             h + "link set nave0 up",
             h + "link add vpod1 type veth peer name eth0 netns " + pod1->name(),
             h + "link add vpod2 type veth peer name eth0 netns " + pod2->name(),
             h + "link set vpod1 master nave0 up",
             h + "link set vpod2 master nave0 up",
             // As PodNetwork: a pod reaching itself through a service comes back out its port.
             "ip netns exec " + host->name() + " bridge link set dev vpod1 hairpin on",
             "ip netns exec " + host->name() + " bridge link set dev vpod2 hairpin on",
             "ip -n " + pod1->name() + " addr add 10.42.0.5/24 dev eth0",
             "ip -n " + pod2->name() + " addr add 10.42.0.6/24 dev eth0",
             "ip -n " + pod1->name() + " link set eth0 up",
             "ip -n " + pod2->name() + " link set eth0 up",
             "ip -n " + outside->name() + " route add default via 192.168.50.1",
             "ip -n " + pod1->name() + " route add default via 10.42.0.1",
             "ip -n " + pod2->name() + " route add default via 10.42.0.1",
             h + "link add nowhere type veth peer name sink netns " + outside->name(),
             h + "link set nowhere up",
             "ip -n " + outside->name() + " link set sink up",
             "ip -n " + host->name() + " route add default dev nowhere",
             "ip netns exec " + host->name() + " sysctl -qw net.ipv4.ip_forward=1",
             "ip netns exec " + host->name() + " sysctl -qw net.bridge.bridge-nf-call-iptables=1",
         }) {
      auto [rc, out] = shell(cmd);
      ASSERT_EQ(rc, 0) << cmd << ": " << out;
    }
    auto nft = host->run([] { return nft::NftSocket::open(); });
    ASSERT_TRUE(nft.ok()) << nft.error().message();
    auto conntrack = NetlinkSocket::openIn(NETLINK_NETFILTER, host->handle());
    ASSERT_TRUE(conntrack.ok()) << conntrack.error().message();
    proxier.emplace(std::move(*nft),
                    ProxierOptions{"node-a", *Ipv4Prefix::parse("10.42.0.0/16"),
                                   *Ipv4Prefix::parse("10.43.0.0/16")},
                    std::move(*conntrack));
  }
  void TearDown() override {
    if (proxier) {
      auto r = proxier->uninstall();
      EXPECT_TRUE(r.ok()) << r.error().message();
    }
  }

  std::string table() { return host->exec("nft list table ip nave").second; }
  std::string chain(const std::string& name) {
    return host->exec("nft list chain ip nave '" + name + "'").second;
  }
  std::string map(const std::string& name) {
    return host->exec("nft list map ip nave " + name).second;
  }
  std::string set(const std::string& name) {
    return host->exec("nft list set ip nave " + name).second;
  }

  std::unique_ptr<TestNetns> host, outside, pod1, pod2;
  std::optional<Proxier> proxier;
};

// A connection attempt from `ns` that is not expected to be served: 0 when it connected,
// else the errno (ETIMEDOUT when nothing answered within `waitMs`).
inline int connectErrno(TestNetns& ns, const std::string& ip, uint16_t port, int waitMs = 1000) {
  UniqueFd fd = ns.run(
      [] { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)); });
  sockaddr_in sa = inetAddress(ip, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, waitMs) != 1) return ETIMEDOUT;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

inline Endpoint endpoint(const std::string& ip, uint16_t port, std::string node = "node-a") {
  Endpoint e;
  e.ip = *Ipv4Address::parse(ip);
  e.port = port;
  e.nodeName = std::move(node);
  return e;
}

inline Service service(const std::string& name, const std::string& clusterIp, uint16_t port,
                       std::vector<Endpoint> endpoints, uint8_t protocol = IPPROTO_TCP) {
  Service s;
  s.ns = "default";
  s.name = name;
  s.hasClusterIp = true;
  s.clusterIp = *Ipv4Address::parse(clusterIp);
  ServicePort p;
  p.name = "http";
  p.protocol = protocol;
  p.port = port;
  p.endpoints = std::move(endpoints);
  s.ports.push_back(std::move(p));
  return s;
}

}  // namespace nave::network::proxy::testing
