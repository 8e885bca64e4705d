// The flannel backends against the real kernel, with real traffic between pods on two
// "hosts" (network namespaces), each with its own PodNetwork:
//
//   pod A -- nave0 [host 1] eth0 ==veth== [underlay] ==veth== eth0 [host 2] nave0 -- pod B
//            10.42.0.0/24                                          10.42.1.0/24
//
// On one L2 network the underlay is a bridge (host-gw works); routed, the hosts sit in two
// subnets behind the underlay as a router (only vxlan works). Backends are fed leases
// built from Node objects, without an API server.
#include "network/flannel/backend.h"

#include <gtest/gtest.h>

#include "common/fs.h"
#include "network/podnet/pod_network.h"
#include "tests/network/netns_fixture.h"

namespace nave::network::flannel {
namespace {

using testing::TestNetns;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Host {
  std::unique_ptr<TestNetns> ns;
  std::string name, ip, podCidr;
  std::unique_ptr<PodNetwork> pods;
  std::unique_ptr<TestNetns> pod;
  std::string podIp;
  std::unique_ptr<Backend> backend;
};

class FlannelBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    char tmpl[] = "/tmp/nave-flannel-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    stateDir_ = tmpl;
    underlay_ = TestNetns::create("under");
    ASSERT_TRUE(underlay_);
  }
  void TearDown() override {
    for (Host& h : hosts_) {
      if (h.backend) (void)h.ns->run([&] { return h.backend->destroy(); });
      if (h.pods) (void)h.ns->run([&] { return h.pods->destroy(); });
    }
    hosts_.clear();
    underlay_.reset();
    if (!stateDir_.empty()) (void)removeTree(stateDir_);
  }

  void sh(const std::string& cmd) {
    auto [rc, out] = testing::shell(cmd);
    ASSERT_EQ(rc, 0) << cmd << ": " << out;
  }

  // Two hosts with a pod each; `sameL2`: on one bridge, else routed by the underlay.
  void makeHosts(bool sameL2, int podMtu = 1500) {
    const std::string u = underlay_->name();
    if (sameL2) {
      sh("ip -n " + u + " link add br0 type bridge && ip -n " + u + " link set br0 up");
    } else {
      ASSERT_TRUE(underlay_->run([] { return writeSysctl("net/ipv4/ip_forward", "1"); }).ok());
    }
    for (int i = 0; i < 2; ++i) {
      Host h;
      h.name = "node-" + std::to_string(i + 1);
      h.ns = TestNetns::create("h" + std::to_string(i + 1));
      ASSERT_TRUE(h.ns);
      std::string subnet = sameL2 ? "192.168.50." : "192.168." + std::to_string(50 + 10 * i) + ".";
      h.ip = sameL2 ? subnet + std::to_string(i + 1) : subnet + "1";
      h.podCidr = "10.42." + std::to_string(i) + ".0/24";
      std::string port = "u-h" + std::to_string(i + 1);
      sh("ip -n " + u + " link add " + port + " type veth peer name eth0 netns " + h.ns->name());
      sh("ip -n " + u + " link set " + port + " up");
      sh("ip -n " + h.ns->name() + " addr add " + h.ip + "/24 dev eth0");
      sh("ip -n " + h.ns->name() + " link set eth0 up");
      if (sameL2) {
        sh("ip -n " + u + " link set " + port + " master br0");
      } else {
        sh("ip -n " + u + " addr add " + subnet + "254/24 dev " + port);
        sh("ip -n " + h.ns->name() + " route add default via " + subnet + "254");
      }
      PodNetworkOptions o;
      o.podCidr = h.podCidr;
      o.mtu = podMtu;
      o.stateDir = stateDir_ + "/" + h.name;
      auto pods = h.ns->run([&] { return PodNetwork::open(o); });
      ASSERT_TRUE(pods.ok()) << pods.error().message();
      h.pods = std::move(*pods);
      h.pod = TestNetns::create("p" + std::to_string(i + 1));
      ASSERT_TRUE(h.pod);
      auto attached = h.ns->run([&] { return h.pods->attach("sandbox", h.pod->path(), {}); });
      ASSERT_TRUE(attached.ok()) << attached.error().message();
      h.podIp = attached->ip;
      hosts_.push_back(std::move(h));
    }
  }

  Result<std::unique_ptr<Backend>> openBackend(Host& h, const std::string& type) {
    BackendOptions o;
    o.type = type;
    o.nodeName = h.name;
    o.nodeIp = *Ipv4Address::parse(h.ip);
    o.podCidr = *Ipv4Prefix::parse(h.podCidr);
    return h.ns->run([&] { return Backend::open(o); });
  }

  // The Node object of a host as its agent leaves it: podCIDR, InternalIP, the annotations of
  // its backend (when it has one open).
  Json nodeObject(const Host& h) {
    Json node = {{"metadata", {{"name", h.name}}},
                 {"spec", {{"podCIDR", h.podCidr}}},
                 {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", h.ip}}}}}}};
    if (h.backend) node["metadata"]["annotations"] = h.backend->annotations();
    return node;
  }
  std::vector<Lease> leases(const std::vector<const Host*>& hosts) {
    std::vector<Lease> out;
    for (const Host* h : hosts) {
      auto lease = leaseOf(nodeObject(*h));
      EXPECT_TRUE(lease.has_value()) << h->name;
      if (lease) out.push_back(*lease);
    }
    return out;
  }
  Result<void> sync(Host& h, const std::vector<Lease>& l) {
    return h.ns->run([&] { return h.backend->sync(l); });
  }

  // A TCP connection from pod A to pod B; returns the address pod B saw.
  Result<std::string> podToPod(Host& from, Host& to, uint16_t port) {
    UniqueFd listener = testing::listenIn(*to.pod, to.podIp, port);
    return testing::probe(*from.pod, to.podIp, port, listener.get());
  }
  bool ping(Host& from, Host& to) {
    return from.pod->exec("busybox ping -c 1 -W 5 " + to.podIp).first == 0;
  }

  std::string stateDir_;
  std::unique_ptr<TestNetns> underlay_;
  std::vector<Host> hosts_;
};

TEST_F(FlannelBackendTest, HostGwCarriesPodTrafficAcrossHostsWithoutNat) {
  makeHosts(true);
  Host& a = hosts_[0];
  Host& b = hosts_[1];
  EXPECT_FALSE(podToPod(a, b, 7100).ok()) << "no route yet";
  for (Host* h : {&a, &b}) {
    auto backend = openBackend(*h, "host-gw");
    ASSERT_TRUE(backend.ok()) << backend.error().message();
    h->backend = std::move(*backend);
    EXPECT_EQ(h->backend->podMtu(), 1500);
  }
  Json annotations = a.backend->annotations();
  EXPECT_EQ(annotations[kBackendTypeAnnotation], "host-gw");
  EXPECT_EQ(annotations[kBackendDataAnnotation], "null");
  EXPECT_EQ(annotations[kPublicIpAnnotation], a.ip);
  EXPECT_EQ(annotations[kSubnetManagerAnnotation], "true");
  auto all = leases({&a, &b});
  for (Host* h : {&a, &b}) {
    auto synced = sync(*h, all);
    ASSERT_TRUE(synced.ok()) << synced.error().message();
  }
  std::string routes = a.ns->exec("ip route").second;
  EXPECT_TRUE(contains(routes, "10.42.1.0/24 via 192.168.50.2 dev eth0 proto 78")) << routes;
  EXPECT_FALSE(contains(routes, "10.42.0.0/24 via")) << "none to its own pods: " << routes;

  auto seen = podToPod(a, b, 7101);
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, a.podIp) << "pod to pod keeps the pod's address (no masquerade)";
  seen = podToPod(b, a, 7102);
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, b.podIp);
  EXPECT_TRUE(ping(a, b));

  // Syncing again changes nothing.
  ASSERT_TRUE(sync(a, all).ok());
  EXPECT_EQ(a.ns->exec("ip route").second, routes);
}

TEST_F(FlannelBackendTest, StaleRoutesOfGoneNodesAreRemovedAfterARestartAndNothingElse) {
  makeHosts(true);
  Host& a = hosts_[0];
  Host& b = hosts_[1];
  auto backend = openBackend(a, "host-gw");
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  a.backend = std::move(*backend);
  Lease third{"node-3", *Ipv4Prefix::parse("10.42.2.0/24"), *Ipv4Address::parse("192.168.50.3"),
              "host-gw", std::nullopt};
  auto all = leases({&a, &b});
  all.push_back(third);
  ASSERT_TRUE(sync(a, all).ok());
  sh("ip -n " + a.ns->name() + " route add 10.77.0.0/24 via 192.168.50.2");  // someone else's
  std::string routes = a.ns->exec("ip route").second;
  EXPECT_TRUE(contains(routes, "10.42.2.0/24 via 192.168.50.3 dev eth0 proto 78")) << routes;

  // The agent restarts; node-3 was deleted meanwhile, node-2 moved to another address.
  a.backend.reset();
  backend = openBackend(a, "host-gw");
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  a.backend = std::move(*backend);
  auto now = leases({&a, &b});
  now[1].publicIp = *Ipv4Address::parse("192.168.50.9");
  ASSERT_TRUE(sync(a, now).ok());
  routes = a.ns->exec("ip route").second;
  EXPECT_FALSE(contains(routes, "10.42.2.0/24")) << routes;
  EXPECT_TRUE(contains(routes, "10.42.1.0/24 via 192.168.50.9 dev eth0 proto 78")) << routes;
  EXPECT_FALSE(contains(routes, "via 192.168.50.2 dev eth0 proto 78")) << routes;
  EXPECT_TRUE(contains(routes, "10.77.0.0/24 via 192.168.50.2 dev eth0")) << routes;

  // Nodes of another backend are not routed to; a node that cannot be reached directly is
  // reported and does not stop the others.
  now[1].publicIp = *Ipv4Address::parse(b.ip);
  Lease far{"node-4", *Ipv4Prefix::parse("10.42.3.0/24"), *Ipv4Address::parse("172.16.0.1"), "",
            std::nullopt};
  Lease other{"node-5", *Ipv4Prefix::parse("10.42.4.0/24"), *Ipv4Address::parse("192.168.50.5"),
              "vxlan", std::nullopt};
  now.push_back(far);
  now.push_back(other);
  auto synced = sync(a, now);
  ASSERT_FALSE(synced.ok());
  EXPECT_TRUE(contains(synced.error().message(), "10.42.3.0/24")) << synced.error().message();
  routes = a.ns->exec("ip route").second;
  EXPECT_TRUE(contains(routes, "10.42.1.0/24 via 192.168.50.2 dev eth0 proto 78")) << routes;
  EXPECT_FALSE(contains(routes, "10.42.3.0/24")) << routes;
  EXPECT_FALSE(contains(routes, "10.42.4.0/24")) << routes;

  ASSERT_TRUE(a.ns->run([&] { return a.backend->destroy(); }).ok());
  routes = a.ns->exec("ip route").second;
  EXPECT_FALSE(contains(routes, "proto 78")) << routes;
  EXPECT_TRUE(contains(routes, "10.77.0.0/24")) << routes;
}

TEST_F(FlannelBackendTest, VxlanCarriesPodTrafficAcrossRoutedHosts) {
  makeHosts(false, 1450);
  Host& a = hosts_[0];
  Host& b = hosts_[1];
  // host-gw cannot reach a node on another subnet.
  auto gw = openBackend(a, "host-gw");
  ASSERT_TRUE(gw.ok()) << gw.error().message();
  a.backend = std::move(*gw);
  EXPECT_FALSE(sync(a, leases({&a, &b})).ok());
  a.backend.reset();

  for (Host* h : {&a, &b}) {
    auto backend = openBackend(*h, "vxlan");
    ASSERT_TRUE(backend.ok()) << backend.error().message();
    h->backend = std::move(*backend);
    EXPECT_EQ(h->backend->podMtu(), 1450);
  }
  std::string link = a.ns->exec("ip -d link show flannel.1").second;
  EXPECT_TRUE(contains(link, "mtu 1450")) << link;
  EXPECT_TRUE(contains(link, "vxlan id 1 local 192.168.50.1 dev eth0")) << link;
  EXPECT_TRUE(contains(link, "dstport 8472 nolearning")) << link;
  std::string addr = a.ns->exec("ip addr show flannel.1").second;
  EXPECT_TRUE(contains(addr, "inet 10.42.0.0/32")) << addr;
  Json annotations = a.backend->annotations();
  EXPECT_EQ(annotations[kBackendTypeAnnotation], "vxlan");
  auto data = parseJson(annotations[kBackendDataAnnotation].get<std::string>());
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->value["VNI"], 1);
  std::string mac = data->value["VtepMAC"];
  EXPECT_TRUE(contains(link, "link/ether " + mac)) << link;
  EXPECT_EQ(annotations[kPublicIpAnnotation], "192.168.50.1");

  auto all = leases({&a, &b});
  for (Host* h : {&a, &b}) {
    auto synced = sync(*h, all);
    ASSERT_TRUE(synced.ok()) << synced.error().message();
  }
  std::string routes = a.ns->exec("ip route").second;
  EXPECT_TRUE(contains(routes, "10.42.1.0/24 via 10.42.1.0 dev flannel.1 proto 78 onlink"))
      << routes;
  auto bLease = leases({&b});
  ASSERT_TRUE(bLease[0].vtepMac.has_value());
  std::string bMac = bLease[0].vtepMac->toString();
  std::string neigh = a.ns->exec("ip neigh show dev flannel.1").second;
  EXPECT_TRUE(contains(neigh, "10.42.1.0 lladdr " + bMac + " PERMANENT")) << neigh;
  std::string fdb = a.ns->exec("bridge fdb show dev flannel.1").second;
  EXPECT_TRUE(contains(fdb, bMac + " dst 192.168.60.1 self permanent")) << fdb;

  auto seen = podToPod(a, b, 7200);
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, a.podIp) << "pod to pod keeps the pod's address (no masquerade)";
  seen = podToPod(b, a, 7201);
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, b.podIp);
  EXPECT_TRUE(ping(a, b));
  // A packet of the pods' full MTU (1450) goes through the encapsulation.
  EXPECT_EQ(a.pod->exec("busybox ping -c 1 -W 5 -s 1422 " + b.podIp).first, 0);

  // A restarted agent keeps the device, hence its MAC; node-2 gone: its entries go.
  a.backend.reset();
  auto again = openBackend(a, "vxlan");
  ASSERT_TRUE(again.ok()) << again.error().message();
  a.backend = std::move(*again);
  EXPECT_EQ(a.backend->annotations(), annotations);
  ASSERT_TRUE(sync(a, leases({&a})).ok());
  EXPECT_FALSE(contains(a.ns->exec("ip route").second, "proto 78"));
  EXPECT_EQ(a.ns->exec("ip neigh show dev flannel.1").second, "");
  EXPECT_FALSE(contains(a.ns->exec("bridge fdb show dev flannel.1").second, "dst"));

  // Back to host-gw: the vxlan device goes.
  a.backend.reset();
  auto hostGw = openBackend(a, "host-gw");
  ASSERT_TRUE(hostGw.ok()) << hostGw.error().message();
  a.backend = std::move(*hostGw);
  EXPECT_NE(a.ns->exec("ip link show flannel.1").first, 0);
}

TEST_F(FlannelBackendTest, LeasesFromNodeObjects) {
  Json node = {{"metadata",
                {{"name", "n"},
                 {"annotations",
                  {{kBackendTypeAnnotation, "vxlan"},
                   {kBackendDataAnnotation, R"({"VNI":1,"VtepMAC":"0a:1b:2c:3d:4e:5f"})"},
                   {kPublicIpAnnotation, "192.168.1.9"}}}}},
               {"spec", {{"podCIDR", "10.42.3.0/24"}}},
               {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "192.168.1.2"}}}}}}};
  auto lease = leaseOf(node);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->podCidr.toString(), "10.42.3.0/24");
  EXPECT_EQ(lease->publicIp.toString(), "192.168.1.9") << "the annotation wins";
  EXPECT_EQ(lease->backendType, "vxlan");
  EXPECT_EQ(lease->vtepMac->toString(), "0a:1b:2c:3d:4e:5f");
  node["metadata"].erase("annotations");
  lease = leaseOf(node);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->publicIp.toString(), "192.168.1.2");
  EXPECT_FALSE(lease->vtepMac.has_value());
  node["spec"].erase("podCIDR");
  EXPECT_FALSE(leaseOf(node).has_value()) << "no pod CIDR yet";
}

}  // namespace
}  // namespace nave::network::flannel
