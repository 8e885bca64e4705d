// PodNetwork against the real kernel. Each test builds a small world of namespaces:
//
//   outside (10.99.0.2) ==veth== host (uplink 10.99.0.1; nave0 10.42.0.1/24) ==veths== pods
//
// The pod network is opened on a thread inside "host", so the bridge, the nftables table
// and the sysctls land there; "outside" plays the rest of the world, with no route to the
// pod CIDR, so it only ever sees pods through NAT.
#include "network/podnet/pod_network.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "common/fs.h"
#include "network/netlink/rtnl.h"
#include "tests/network/netns_fixture.h"

namespace nave::network {
namespace {

using testing::probe;
using testing::TestNetns;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

class PodNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    host_ = TestNetns::create("host");
    outside_ = TestNetns::create("out");
    ASSERT_TRUE(host_ && outside_);
    testing::connectNamespaces(*host_, "uplink", "10.99.0.1/24", *outside_, "eth0", "10.99.0.2/24");
    char tmpl[] = "/tmp/nave-podnet-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    stateDir_ = tmpl;
  }
  void TearDown() override {
    networks_.clear();
    if (!stateDir_.empty()) (void)removeTree(stateDir_);
  }

  PodNetworkOptions options() const {
    PodNetworkOptions o;
    o.stateDir = stateDir_ + "/podnet";
    return o;
  }

  Result<PodNetwork*> open(const PodNetworkOptions& o) {
    auto net = host_->run([&] { return PodNetwork::open(o); });
    if (!net.ok()) return std::move(net).error();
    networks_.push_back(std::move(net).value());
    return networks_.back().get();
  }
  PodNetwork* openOrDie() {
    auto net = open(options());
    EXPECT_TRUE(net.ok()) << net.error().message();
    return net.ok() ? *net : nullptr;
  }

  std::unique_ptr<TestNetns> newPod(const std::string& role) { return TestNetns::create(role); }

  // Every call on the network runs in the host namespace (the network works from any
  // thread, but a bug must not reach the machine's own namespace).
  Result<PodAttachment> attach(PodNetwork* net, const std::string& id, const TestNetns& pod,
                               const std::vector<HostPort>& ports = {}) {
    return host_->run([&] { return net->attach(id, pod.path(), ports); });
  }
  Result<void> detach(PodNetwork* net, const std::string& id, const std::string& path) {
    return host_->run([&] { return net->detach(id, path); });
  }

  std::string hostExec(const std::string& cmd) { return host_->exec(cmd).second; }

  // The ifindex of a host link (0 when missing): the same index means the same link.
  int hostIfindex(const std::string& name) {
    auto rt = netlink::RtnlSocket::openIn(host_->handle());
    if (!rt.ok()) return 0;
    auto link = rt->link(name);
    return link.ok() ? link->index : 0;
  }

  std::unique_ptr<TestNetns> host_, outside_;
  std::string stateDir_;
  std::vector<std::unique_ptr<PodNetwork>> networks_;
};

TEST_F(PodNetworkTest, OpenCreatesTheBridgeWithTheGatewayTheTableAndForwarding) {
  ASSERT_TRUE(host_->run([] { return writeSysctl("net/ipv4/ip_forward", "0"); }).ok());
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  std::string link = hostExec("ip -d link show nave0");
  EXPECT_TRUE(contains(link, "bridge")) << link;
  EXPECT_TRUE(contains(link, "mtu 1500")) << link;
  EXPECT_TRUE(contains(link, "state UP") || contains(link, ",UP")) << link;
  std::string addr = hostExec("ip addr show nave0");
  EXPECT_TRUE(contains(addr, "inet 10.42.0.1/24")) << addr;
  EXPECT_EQ(hostExec("cat /proc/sys/net/ipv4/ip_forward"), "1\n");
  EXPECT_EQ(hostExec("cat /proc/sys/net/ipv4/conf/nave0/route_localnet"), "1\n");
  std::string table = hostExec("nft list table ip nave-podnet");
  EXPECT_TRUE(contains(table, "ip saddr 10.42.0.0/24 ip daddr != 10.42.0.0/16 masquerade"))
      << table;
  EXPECT_TRUE(contains(table, "meta mark & 0x00002000 != 0x00000000 ip saddr 10.42.0.0/24 "
                              "oifname \"nave0\" masquerade"))
      << table;
  EXPECT_TRUE(contains(table, "ip saddr 127.0.0.0/8 oifname \"nave0\" masquerade")) << table;
  EXPECT_TRUE(
      contains(table, "fib daddr type local meta mark set meta mark | 0x00002000 dnat ip to meta "
                      "l4proto . th dport map @hostports"))
      << table;
  EXPECT_TRUE(contains(table, "meta mark set meta mark | 0x00002000 dnat ip to ip daddr . meta "
                              "l4proto . th dport map @hostports-ip"))
      << table;
  EXPECT_EQ(hostExec("nft list tables"), "table ip nave-podnet\n");
  EXPECT_TRUE(net->list().empty());
}

TEST_F(PodNetworkTest, PodsGetDistinctAddressesAndReachEachOtherTheGatewayAndTheHost) {
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  auto podA = newPod("pa");
  auto podB = newPod("pb");
  auto a = attach(net, "sandbox-a", *podA);
  ASSERT_TRUE(a.ok()) << a.error().message();
  auto b = attach(net, "sandbox-b", *podB);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(a->ip, "10.42.0.2");
  EXPECT_EQ(b->ip, "10.42.0.3");
  EXPECT_EQ(a->gateway, "10.42.0.1");
  EXPECT_EQ(a->prefixLength, 24);
  EXPECT_EQ(a->sandboxId, "sandbox-a");
  EXPECT_EQ(a->interfaceName.size(), 12u);
  EXPECT_EQ(a->interfaceName.rfind("veth", 0), 0u);
  EXPECT_NE(a->interfaceName, b->interfaceName);

  // The host end is a port of the bridge, in hairpin mode; eth0 is configured in the pod.
  std::string port = hostExec("ip -d link show " + a->interfaceName);
  EXPECT_TRUE(contains(port, "master nave0")) << port;
  EXPECT_TRUE(contains(port, "hairpin on")) << port;
  EXPECT_TRUE(contains(port, "alias sandbox-a")) << port;
  std::string eth0 = podA->exec("ip addr show eth0").second;
  EXPECT_TRUE(contains(eth0, "inet 10.42.0.2/24")) << eth0;
  EXPECT_TRUE(contains(eth0, "mtu 1500")) << eth0;
  EXPECT_TRUE(
      contains(podA->exec("ip route show default").second, "default via 10.42.0.1 dev eth0"));

  // Pod to pod (no NAT), pod to gateway, host to pod.
  UniqueFd inB = testing::listenIn(*podB, "0.0.0.0", 8000);
  auto seen = probe(*podA, b->ip, 8000, inB.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, a->ip);
  UniqueFd inHost = testing::listenIn(*host_, "10.42.0.1", 8001);
  seen = probe(*podB, "10.42.0.1", 8001, inHost.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, b->ip);
  UniqueFd inA = testing::listenIn(*podA, "0.0.0.0", 8002);
  seen = probe(*host_, a->ip, 8002, inA.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.42.0.1");

  auto listed = net->list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].sandboxId, "sandbox-a");
  EXPECT_EQ(listed[0].ip, a->ip);
  EXPECT_EQ(listed[0].interfaceName, a->interfaceName);
}

TEST_F(PodNetworkTest, TrafficLeavingTheClusterIsMasqueraded) {
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  auto pod = newPod("p");
  auto a = attach(net, "sandbox-a", *pod);
  ASSERT_TRUE(a.ok()) << a.error().message();
  // "outside" has no route to 10.42.0.0/24: replies only come back through the host's NAT.
  UniqueFd server = testing::listenIn(*outside_, "0.0.0.0", 9000);
  auto seen = probe(*pod, "10.99.0.2", 9000, server.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.99.0.1");
}

TEST_F(PodNetworkTest, HostPortsReachThePodFromOutsideFromTheHostAndFromPods) {
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  auto podA = newPod("pa");
  auto podB = newPod("pb");
  std::vector<HostPort> ports = {
      {"TCP", 8080, 80, ""}, {"TCP", 9090, 90, "10.99.0.1"}, {"UDP", 5353, 53, ""}};
  auto a = attach(net, "sandbox-a", *podA, ports);
  ASSERT_TRUE(a.ok()) << a.error().message();
  auto b = attach(net, "sandbox-b", *podB);
  ASSERT_TRUE(b.ok()) << b.error().message();
  UniqueFd web = testing::listenIn(*podA, "0.0.0.0", 80);
  UniqueFd other = testing::listenIn(*podA, "0.0.0.0", 90);

  // From outside: DNAT only, the client's address is preserved.
  auto seen = probe(*outside_, "10.99.0.1", 8080, web.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.99.0.2");
  seen = probe(*outside_, "10.99.0.1", 9090, other.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.99.0.2");
  // From the host, to its own address and to localhost (masqueraded to the gateway).
  seen = probe(*host_, "10.99.0.1", 8080, web.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.99.0.1");
  seen = probe(*host_, "127.0.0.1", 8080, web.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.42.0.1");
  // From another pod and from the pod itself (hairpin), through the node's address.
  seen = probe(*podB, "10.99.0.1", 8080, web.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.42.0.1");
  seen = probe(*podA, "10.99.0.1", 8080, web.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.42.0.1");
  seen = probe(*podB, "10.42.0.1", 8080, web.get());  // the gateway is a node address too
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  // UDP the same way.
  UniqueFd dns = testing::udpIn(*podA, "0.0.0.0", 53);
  seen = testing::probeUdp(*outside_, "10.99.0.1", 5353, dns.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.99.0.2");

  std::string maps = hostExec("nft list table ip nave-podnet");
  EXPECT_TRUE(contains(maps, "tcp . 8080 : 10.42.0.2 . 80")) << maps;
  EXPECT_TRUE(contains(maps, "udp . 5353 : 10.42.0.2 . 53")) << maps;
  EXPECT_TRUE(contains(maps, "10.99.0.1 . tcp . 9090 : 10.42.0.2 . 90")) << maps;
}

TEST_F(PodNetworkTest, AHostPortTakenByAnotherPodIsAConflictAndLeavesNothing) {
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  auto podA = newPod("pa");
  auto podB = newPod("pb");
  ASSERT_TRUE(attach(net, "sandbox-a", *podA, {{"TCP", 8080, 80, ""}}).ok());
  auto b = attach(net, "sandbox-b", *podB, {{"UDP", 8080, 80, ""}, {"TCP", 8080, 81, ""}});
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(b.error().is(ErrorCode::kConflict)) << b.error().message();
  EXPECT_TRUE(contains(b.error().message(), "hostPort 8080/TCP is already mapped to 10.42.0.2:80"))
      << b.error().message();
  // No veth, no eth0, no record, no UDP mapping for the failed sandbox.
  EXPECT_EQ(net->list().size(), 1u);
  EXPECT_FALSE(contains(podB->exec("ip link").second, "eth0"));
  EXPECT_EQ(count(hostExec("ip -o link show master nave0"), "veth"), 1u);
  EXPECT_FALSE(contains(hostExec("nft list map ip nave-podnet hostports"), "udp"));
}

TEST_F(PodNetworkTest, DetachRemovesTheVethTheMappingsAndTheRecord) {
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  auto pod = newPod("p");
  auto a = attach(net, "sandbox-a", *pod, {{"TCP", 8080, 80, ""}, {"TCP", 9090, 90, "10.99.0.1"}});
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(std::ifstream(options().stateDir + "/ipam/" + a->ip).good());

  auto r = detach(net, "sandbox-a", pod->path());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_NE(host_->exec("ip link show " + a->interfaceName).first, 0);
  EXPECT_FALSE(contains(pod->exec("ip link").second, "eth0"));
  std::string table = hostExec("nft list table ip nave-podnet");
  EXPECT_FALSE(contains(table, "10.42.0.2")) << table;
  EXPECT_TRUE(contains(table, "masquerade")) << table;  // the table itself stays
  EXPECT_FALSE(std::ifstream(options().stateDir + "/ipam/" + a->ip).good());
  EXPECT_TRUE(net->list().empty());

  // Missing is not an error, nor is a namespace that is already gone.
  EXPECT_TRUE(detach(net, "sandbox-a", pod->path()).ok());
  auto gone = newPod("g");
  ASSERT_TRUE(attach(net, "sandbox-g", *gone).ok());
  std::string path = gone->path();
  gone.reset();
  auto r2 = detach(net, "sandbox-g", path);
  EXPECT_TRUE(r2.ok()) << r2.error().message();
  EXPECT_TRUE(net->list().empty());
}

TEST_F(PodNetworkTest, AttachIsRepeatableAndAddressesAreNotReusedAtOnce) {
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  auto pod = newPod("p");
  auto first = attach(net, "sandbox-a", *pod, {{"TCP", 8080, 80, ""}});
  ASSERT_TRUE(first.ok()) << first.error().message();
  int index = hostIfindex(first->interfaceName);
  ASSERT_GT(index, 0);
  auto again = attach(net, "sandbox-a", *pod, {{"TCP", 8081, 80, ""}});
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->ip, first->ip);
  EXPECT_EQ(again->interfaceName, first->interfaceName);
  // The same link (not recreated), and the mappings replaced by the new ones.
  EXPECT_EQ(hostIfindex(first->interfaceName), index);
  std::string map = hostExec("nft list map ip nave-podnet hostports");
  EXPECT_TRUE(contains(map, "tcp . 8081 : 10.42.0.2 . 80")) << map;
  EXPECT_FALSE(contains(map, "8080")) << map;
  UniqueFd web = testing::listenIn(*pod, "0.0.0.0", 80);
  auto seen = probe(*outside_, "10.99.0.1", 8081, web.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();

  ASSERT_TRUE(detach(net, "sandbox-a", pod->path()).ok());
  auto pod2 = newPod("p2");
  auto next = attach(net, "sandbox-b", *pod2);
  ASSERT_TRUE(next.ok()) << next.error().message();
  EXPECT_EQ(next->ip, "10.42.0.3");  // after the last one handed out, not the released one
}

TEST_F(PodNetworkTest, ANewPodNetworkOnTheSameStateSeesTheAllocations) {
  PodNetwork* first = openOrDie();
  ASSERT_TRUE(first);
  auto podA = newPod("pa");
  auto podB = newPod("pb");
  auto a = attach(first, "sandbox-a", *podA, {{"TCP", 8080, 80, ""}});
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(attach(first, "sandbox-b", *podB).ok());
  int linkBefore = hostIfindex(a->interfaceName);
  ASSERT_GT(linkBefore, 0);

  // As after an agent restart: open again (adopting the bridge and the table).
  networks_.clear();
  PodNetwork* second = openOrDie();
  ASSERT_TRUE(second);
  auto listed = second->list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].ip, "10.42.0.2");
  EXPECT_EQ(listed[1].ip, "10.42.0.3");
  EXPECT_EQ(count(hostExec("ip -o link show type bridge"), "nave0"), 1u);
  std::string table = hostExec("nft list table ip nave-podnet");
  EXPECT_EQ(count(table, "masquerade"), 3u) << table;
  EXPECT_TRUE(contains(table, "tcp . 8080 : 10.42.0.2 . 80")) << table;  // mappings kept
  UniqueFd web = testing::listenIn(*podA, "0.0.0.0", 80);
  auto seen = probe(*outside_, "10.99.0.1", 8080, web.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();

  auto podC = newPod("pc");
  auto c = attach(second, "sandbox-c", *podC);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->ip, "10.42.0.4");
  auto a2 = attach(second, "sandbox-a", *podA, {{"TCP", 8080, 80, ""}});
  ASSERT_TRUE(a2.ok()) << a2.error().message();
  EXPECT_EQ(a2->ip, a->ip);
  EXPECT_EQ(hostIfindex(a->interfaceName), linkBefore);  // adopted, not recreated
}

TEST_F(PodNetworkTest, ConcurrentAttachesNeverShareAnAddress) {
  // Two PodNetworks on one state directory (as two processes would be), four threads each.
  PodNetwork* nets[2] = {openOrDie(), openOrDie()};
  ASSERT_TRUE(nets[0] && nets[1]);
  constexpr int kPods = 8;
  std::vector<std::unique_ptr<TestNetns>> pods;
  for (int i = 0; i < kPods; ++i) pods.push_back(newPod("c" + std::to_string(i)));
  std::vector<Result<PodAttachment>> results(kPods, Error(ErrorCode::kInternal, "not run"));
  host_->run([&] {
    std::vector<std::thread> threads;  // started in the host namespace, like their parent
    for (int i = 0; i < kPods; ++i) {
      threads.emplace_back([&, i] {
        results[i] = nets[i % 2]->attach("sandbox-" + std::to_string(i), pods[i]->path(), {});
      });
    }
    for (auto& t : threads) t.join();
    return 0;
  });
  std::set<std::string> ips;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.error().message();
    ips.insert(r->ip);
  }
  EXPECT_EQ(ips.size(), size_t{kPods});
  EXPECT_EQ(nets[0]->list().size(), size_t{kPods});
  EXPECT_EQ(count(hostExec("ip -o link show master nave0"), "veth"), size_t{kPods});
}

TEST_F(PodNetworkTest, ExhaustedAddressesAreAClearErrorAndLeaveNothing) {
  PodNetworkOptions o = options();
  o.podCidr = "10.42.0.0/29";  // .2 to .6
  auto net = open(o);
  ASSERT_TRUE(net.ok()) << net.error().message();
  std::vector<std::unique_ptr<TestNetns>> pods;
  for (int i = 0; i < 5; ++i) {
    pods.push_back(newPod("e" + std::to_string(i)));
    auto r = attach(*net, "sandbox-" + std::to_string(i), *pods.back());
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  auto extra = newPod("ex");
  auto r = attach(*net, "sandbox-extra", *extra);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(ErrorCode::kUnavailable)) << r.error().message();
  EXPECT_TRUE(contains(r.error().message(), "no free address left in pod CIDR 10.42.0.0/29"))
      << r.error().message();
  EXPECT_FALSE(contains(extra->exec("ip link").second, "eth0"));
  EXPECT_EQ((*net)->list().size(), 5u);
}

TEST_F(PodNetworkTest, DestroyLeavesNothing) {
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  auto podA = newPod("pa");
  auto podB = newPod("pb");
  ASSERT_TRUE(attach(net, "sandbox-a", *podA, {{"TCP", 8080, 80, ""}}).ok());
  ASSERT_TRUE(attach(net, "sandbox-b", *podB).ok());
  auto r = host_->run([&] { return net->destroy(); });
  ASSERT_TRUE(r.ok()) << r.error().message();

  EXPECT_EQ(hostExec("nft list tables"), "");
  std::string links = hostExec("ip -o link show");
  EXPECT_EQ(count(links, "\n"), 2u) << links;  // lo and uplink
  EXPECT_FALSE(contains(links, "nave0")) << links;
  EXPECT_FALSE(contains(podA->exec("ip link").second, "eth0"));
  struct stat st;
  EXPECT_NE(::stat(options().stateDir.c_str(), &st), 0);
  auto after = attach(net, "sandbox-c", *podA);
  ASSERT_FALSE(after.ok());
  EXPECT_TRUE(after.error().is(ErrorCode::kUnavailable));
  EXPECT_TRUE(host_->run([&] { return net->destroy(); }).ok());  // again: nothing to do
}

TEST_F(PodNetworkTest, BadOptionsAreRefusedBeforeAnythingIsCreated) {
  struct Case {
    std::function<void(PodNetworkOptions&)> change;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](auto& o) { o.podCidr = "banana"; }, "pod CIDR: invalid IPv4 CIDR \"banana\""},
      {[](auto& o) { o.podCidr = "10.42.0.0/33"; }, "invalid IPv4 CIDR"},
      {[](auto& o) { o.clusterCidr = "10.42.0.0"; }, "cluster CIDR: invalid IPv4 CIDR"},
      {[](auto& o) { o.podCidr = "10.43.0.0/24"; },
       "pod CIDR 10.43.0.0/24 is not within the cluster CIDR 10.42.0.0/16"},
      {[](auto& o) { o.podCidr = "10.42.0.5/24"; }, "has host bits set"},
      {[](auto& o) { o.podCidr = "10.42.0.0/31"; }, "too small"},
      {[](auto& o) { o.bridge = "a-name-much-too-long"; }, "invalid bridge name"},
      {[](auto& o) { o.bridge = ""; }, "invalid bridge name"},
      {[](auto& o) { o.mtu = 20; }, "MTU 20 is out of range"},
      {[](auto& o) { o.stateDir = "relative"; }, "is not an absolute path"},
  };
  for (const auto& c : cases) {
    PodNetworkOptions o = options();
    c.change(o);
    auto net = open(o);
    ASSERT_FALSE(net.ok()) << c.message;
    EXPECT_TRUE(net.error().is(ErrorCode::kInvalid)) << net.error().message();
    EXPECT_TRUE(contains(net.error().message(), c.message)) << net.error().message();
  }
  EXPECT_EQ(count(hostExec("ip -o link show"), "\n"), 2u);
  EXPECT_EQ(hostExec("nft list tables"), "");

  // A link of that name that is not a bridge is not adopted.
  ASSERT_EQ(host_->exec("ip link add nave0 type veth peer name nave0-peer").first, 0);
  auto taken = open(options());
  ASSERT_FALSE(taken.ok());
  EXPECT_TRUE(taken.error().is(ErrorCode::kConflict)) << taken.error().message();
  EXPECT_TRUE(contains(taken.error().message(), "nave0 exists and is not a bridge (veth)"))
      << taken.error().message();
}

TEST_F(PodNetworkTest, BadAttachArgumentsAreRefusedAndLeaveNothing) {
  PodNetwork* net = openOrDie();
  ASSERT_TRUE(net);
  auto pod = newPod("p");
  auto missing =
      host_->run([&] { return net->attach("sandbox-a", "/run/netns/nave-no-such-ns", {}); });
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().is(ErrorCode::kNotFound)) << missing.error().message();
  EXPECT_TRUE(contains(missing.error().message(), "/run/netns/nave-no-such-ns"))
      << missing.error().message();
  auto notNs = host_->run([&] { return net->attach("sandbox-a", "/etc/hostname", {}); });
  ASSERT_FALSE(notNs.ok());
  EXPECT_TRUE(notNs.error().is(ErrorCode::kInvalid)) << notNs.error().message();
  for (const std::string& id :
       std::vector<std::string>{"", "-leading-dash", "has/slash", std::string(200, 'x')}) {
    auto r = attach(net, id, *pod);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_TRUE(r.error().is(ErrorCode::kInvalid)) << r.error().message();
  }
  std::vector<std::vector<HostPort>> badPorts = {
      {{"ICMP", 80, 80, ""}},
      {{"TCP", 0, 80, ""}},
      {{"TCP", 80, 0, ""}},
      {{"TCP", 80, 80, "::1"}},
      {{"TCP", 80, 80, ""}, {"TCP", 80, 81, "0.0.0.0"}},
  };
  for (const auto& ports : badPorts) {
    auto r = attach(net, "sandbox-a", *pod, ports);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().is(ErrorCode::kInvalid)) << r.error().message();
  }
  EXPECT_TRUE(net->list().empty());
  EXPECT_FALSE(contains(pod->exec("ip link").second, "eth0"));
  EXPECT_EQ(count(hostExec("ip -o link show"), "\n"), 3u);  // lo, uplink, nave0
}

}  // namespace
}  // namespace nave::network
