// rtnetlink wrappers against the real kernel, inside throwaway network namespaces.
#include "network/netlink/rtnl.h"

#include <gtest/gtest.h>

#include "network/netlink/netns.h"
#include "tests/network/netns_fixture.h"

namespace nave::network::netlink {
namespace {

using testing::TestNetns;

class RtnlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    a_ = TestNetns::create("a");
    b_ = TestNetns::create("b");
    ASSERT_TRUE(a_ && b_);
    auto sa = RtnlSocket::openIn(a_->handle());
    auto sb = RtnlSocket::openIn(b_->handle());
    ASSERT_TRUE(sa.ok() && sb.ok());
    rtA_.emplace(std::move(sa).value());
    rtB_.emplace(std::move(sb).value());
  }

  std::unique_ptr<TestNetns> a_, b_;
  std::optional<RtnlSocket> rtA_, rtB_;
};

TEST_F(RtnlTest, BridgeWithAddressAndVethPortIntoAnotherNamespace) {
  RtnlSocket& a = *rtA_;
  RtnlSocket& b = *rtB_;
  auto br = a.createBridge("br-test", 1400);
  ASSERT_TRUE(br.ok()) << br.error().message();
  auto again = a.createBridge("br-test", 1400);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().is(ErrorCode::kAlreadyExists)) << again.error().message();

  auto info = a.link("br-test");
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->index, *br);
  EXPECT_EQ(info->kind, "bridge");
  EXPECT_EQ(info->mtu, 1400);
  EXPECT_FALSE(info->up);
  ASSERT_TRUE(a.setUp(*br, true).ok());
  EXPECT_TRUE(a.link(*br)->up);

  auto gw = Ipv4Prefix::parse("10.1.0.1/24");
  ASSERT_TRUE(a.addAddress(*br, *gw).ok());
  auto dup = a.addAddress(*br, *gw);
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(dup.error().is(ErrorCode::kAlreadyExists));
  auto addrs = a.addresses(*br);
  ASSERT_TRUE(addrs.ok());
  ASSERT_EQ(addrs->size(), 1u);
  EXPECT_EQ((*addrs)[0], *gw);

  // The peer is created directly in b.
  NetnsHandle nsB = b_->handle();
  auto host = a.createVeth("vh-test", "vp-test", 1400, &nsB);
  ASSERT_TRUE(host.ok()) << host.error().message();
  EXPECT_EQ(a.link("vh-test")->kind, "veth");
  EXPECT_TRUE(a.link("vp-test").error().is(ErrorCode::kNotFound));
  auto peer = b.link("vp-test");
  ASSERT_TRUE(peer.ok()) << peer.error().message();
  EXPECT_EQ(peer->mtu, 1400);

  ASSERT_TRUE(a.setMaster(*host, *br).ok());
  ASSERT_TRUE(a.setHairpin(*host, true).ok());
  ASSERT_TRUE(a.setAlias(*host, "sandbox-1").ok());
  ASSERT_TRUE(a.setUp(*host, true).ok());
  auto hostInfo = a.link(*host);
  EXPECT_EQ(hostInfo->master, *br);
  EXPECT_EQ(hostInfo->alias, "sandbox-1");
  auto [rc, detail] = testing::shell("ip -n " + a_->name() + " -d link show vh-test");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(detail.find("hairpin on"), std::string::npos) << detail;
  EXPECT_NE(detail.find("master br-test"), std::string::npos) << detail;

  // In b: rename to eth0 (while down), address, default route.
  ASSERT_TRUE(b.rename(peer->index, "eth0").ok());
  EXPECT_EQ(b.link(peer->index)->name, "eth0");
  ASSERT_TRUE(b.setUp(peer->index, true).ok());
  ASSERT_TRUE(b.addAddress(peer->index, *Ipv4Prefix::parse("10.1.0.2/24")).ok());
  Ipv4Route def;
  def.gateway = *Ipv4Address::parse("10.1.0.1");
  def.outputInterface = peer->index;
  ASSERT_TRUE(b.addRoute(def).ok());
  auto dupRoute = b.addRoute(def);
  ASSERT_FALSE(dupRoute.ok());
  EXPECT_TRUE(dupRoute.error().is(ErrorCode::kAlreadyExists));
  ASSERT_TRUE(b.replaceRoute(def).ok());
  auto routes = b.routes();
  ASSERT_TRUE(routes.ok());
  bool found = false;
  for (const auto& r : *routes) {
    if (r.destination.length == 0 && r.gateway && *r.gateway == *def.gateway) found = true;
  }
  EXPECT_TRUE(found);
  auto [rc2, shown] = testing::shell("ip -n " + b_->name() + " route show default");
  EXPECT_NE(shown.find("default via 10.1.0.1 dev eth0"), std::string::npos) << shown;

  // The link carries traffic: b reaches the bridge's address through its eth0.
  UniqueFd listener = testing::listenIn(*a_, "10.1.0.1", 7000);
  auto seen = testing::probe(*b_, "10.1.0.1", 7000, listener.get());
  ASSERT_TRUE(seen.ok()) << seen.error().message();
  EXPECT_EQ(*seen, "10.1.0.2");
}

TEST_F(RtnlTest, MoveRenameMtuAndDelete) {
  RtnlSocket& a = *rtA_;
  auto one = a.createVeth("mv-one", "mv-two", 0);
  ASSERT_TRUE(one.ok()) << one.error().message();
  auto two = a.link("mv-two");
  ASSERT_TRUE(two.ok());
  ASSERT_TRUE(a.setMtu(two->index, 1300).ok());
  EXPECT_EQ(a.link(two->index)->mtu, 1300);

  ASSERT_TRUE(a.moveToNetns(two->index, b_->handle()).ok());
  EXPECT_TRUE(a.link("mv-two").error().is(ErrorCode::kNotFound));
  auto moved = rtB_->link("mv-two");
  ASSERT_TRUE(moved.ok()) << moved.error().message();
  EXPECT_EQ(moved->mtu, 1300);

  // Deleting one end removes the other, in its own namespace too.
  ASSERT_TRUE(a.deleteLink(*one).ok());
  EXPECT_TRUE(a.link("mv-one").error().is(ErrorCode::kNotFound));
  EXPECT_TRUE(rtB_->link("mv-two").error().is(ErrorCode::kNotFound));
  auto gone = a.deleteLink(*one);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().is(ErrorCode::kNotFound)) << gone.error().message();

  auto links = a.links();
  ASSERT_TRUE(links.ok());
  ASSERT_EQ(links->size(), 1u);  // lo
  EXPECT_EQ((*links)[0].name, "lo");
}

TEST(MacAddressTest, ParsesAndPrints) {
  auto mac = MacAddress::parse("0A:1b:2c:3d:4e:5F");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(mac->toString(), "0a:1b:2c:3d:4e:5f");
  EXPECT_FALSE(mac->isZero());
  for (const char* bad : {"", "0a:1b:2c:3d:4e", "0a:1b:2c:3d:4e:5g", "0a-1b-2c-3d-4e-5f",
                          "0a:1b:2c:3d:4e:5f:", " 0a:1b:2c:3d:4e:5"})
    EXPECT_TRUE(MacAddress::parse(bad).error().is(ErrorCode::kInvalid)) << bad;
}

TEST_F(RtnlTest, AddressesAreDeleted) {
  RtnlSocket& a = *rtA_;
  auto br = a.createBridge("br-del", 0);
  ASSERT_TRUE(br.ok()) << br.error().message();
  auto one = *Ipv4Prefix::parse("10.5.0.1/24");
  auto two = *Ipv4Prefix::parse("10.6.0.0/32");
  ASSERT_TRUE(a.addAddress(*br, one).ok());
  ASSERT_TRUE(a.addAddress(*br, two).ok());
  ASSERT_TRUE(a.deleteAddress(*br, one).ok());
  EXPECT_EQ(*a.addresses(*br), std::vector<Ipv4Prefix>{two});
  auto again = a.deleteAddress(*br, one);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().is(ErrorCode::kNotFound)) << again.error().message();
}

// A vxlan device with nave's settings, its neighbour and forwarding entries, and an onlink
// route marked with a protocol number of its own, as `ip` shows them.
TEST_F(RtnlTest, VxlanDeviceNeighboursForwardingEntriesAndMarkedRoutes) {
  RtnlSocket& a = *rtA_;
  auto [rc, out] = testing::shell(
      "ip -n " + a_->name() + " link add under type veth peer name under-p && ip -n " + a_->name() +
      " addr add 192.168.7.1/24 dev under && ip -n " + a_->name() + " link set under up");
  ASSERT_EQ(rc, 0) << out;
  int under = a.link("under")->index;
  VxlanSettings settings{1, *Ipv4Address::parse("192.168.7.1"), 8472, under, false};
  auto vx = a.createVxlan("vx.1", settings, 1450);
  ASSERT_TRUE(vx.ok()) << vx.error().message();
  auto info = a.link("vx.1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->kind, "vxlan");
  EXPECT_EQ(info->mtu, 1450);
  EXPECT_FALSE(info->mac.isZero());
  ASSERT_TRUE(info->vxlan.has_value());
  EXPECT_EQ(info->vxlan->vni, 1u);
  EXPECT_EQ(info->vxlan->local.toString(), "192.168.7.1");
  EXPECT_EQ(info->vxlan->port, 8472);
  EXPECT_EQ(info->vxlan->underlay, under);
  EXPECT_FALSE(info->vxlan->learning);
  EXPECT_FALSE(a.link("under")->vxlan.has_value());
  auto [rc1, shown] = testing::shell("ip -n " + a_->name() + " -d link show vx.1");
  EXPECT_NE(shown.find("vxlan id 1 local 192.168.7.1 dev under"), std::string::npos) << shown;
  EXPECT_NE(shown.find("dstport 8472 nolearning"), std::string::npos) << shown;
  ASSERT_TRUE(a.addAddress(*vx, *Ipv4Prefix::parse("10.42.0.0/32")).ok());
  ASSERT_TRUE(a.setUp(*vx, true).ok());

  auto mac = *MacAddress::parse("aa:bb:cc:00:00:01");
  auto mac2 = *MacAddress::parse("aa:bb:cc:00:00:02");
  auto remote = *Ipv4Address::parse("10.42.1.0");
  ASSERT_TRUE(a.replaceNeighbour(*vx, remote, mac).ok());
  ASSERT_TRUE(a.replaceNeighbour(*vx, remote, mac2).ok());  // replaced, not doubled
  auto neighbours = a.neighbours(*vx);
  ASSERT_TRUE(neighbours.ok()) << neighbours.error().message();
  ASSERT_EQ(neighbours->size(), 1u);
  EXPECT_EQ((*neighbours)[0].ip, remote);
  EXPECT_EQ((*neighbours)[0].mac, mac2);
  EXPECT_TRUE((*neighbours)[0].permanent);
  EXPECT_TRUE(a.neighbours(under)->empty());

  auto peer = *Ipv4Address::parse("192.168.7.2");
  auto peer2 = *Ipv4Address::parse("192.168.7.3");
  ASSERT_TRUE(a.replaceFdb(*vx, mac, peer).ok());
  ASSERT_TRUE(a.replaceFdb(*vx, mac, peer2).ok());
  auto fdb = a.fdb(*vx);
  ASSERT_TRUE(fdb.ok()) << fdb.error().message();
  ASSERT_EQ(fdb->size(), 1u);
  EXPECT_EQ((*fdb)[0].mac, mac);
  EXPECT_EQ((*fdb)[0].destination, peer2);
  auto [rc2, fdbShown] = testing::shell("bridge -n " + a_->name() + " fdb show dev vx.1");
  EXPECT_NE(fdbShown.find("aa:bb:cc:00:00:01 dst 192.168.7.3 self permanent"), std::string::npos)
      << fdbShown;

  Ipv4Route route;
  route.destination = *Ipv4Prefix::parse("10.42.1.0/24");
  route.gateway = remote;
  route.outputInterface = *vx;
  route.onlink = true;
  route.protocol = 78;
  ASSERT_TRUE(a.replaceRoute(route).ok());
  auto [rc3, routeShown] = testing::shell("ip -n " + a_->name() + " route show 10.42.1.0/24");
  EXPECT_NE(routeShown.find("10.42.1.0/24 via 10.42.1.0 dev vx.1 proto 78 onlink"),
            std::string::npos)
      << routeShown;
  bool found = false;
  auto routes = a.routes();
  ASSERT_TRUE(routes.ok());
  for (const Ipv4Route& r : *routes) {
    if (r.destination == route.destination) {
      found = true;
      EXPECT_EQ(r.protocol, 78);
      EXPECT_TRUE(r.onlink);
      EXPECT_EQ(r.gateway, remote);
      EXPECT_EQ(r.outputInterface, *vx);
    }
  }
  EXPECT_TRUE(found);
  Ipv4Route other = route;
  other.protocol = 79;  // not the one installed: no match
  EXPECT_TRUE(a.deleteRoute(other).error().is(ErrorCode::kNotFound));
  ASSERT_TRUE(a.deleteRoute(route).ok());
  EXPECT_TRUE(a.deleteRoute(route).error().is(ErrorCode::kNotFound));

  ASSERT_TRUE(a.deleteFdb(*vx, mac, peer2).ok());
  EXPECT_TRUE(a.fdb(*vx)->empty());
  ASSERT_TRUE(a.deleteNeighbour(*vx, remote).ok());
  EXPECT_TRUE(a.neighbours(*vx)->empty());
  EXPECT_TRUE(a.deleteNeighbour(*vx, remote).error().is(ErrorCode::kNotFound));
}

TEST_F(RtnlTest, InvalidNamesAreRefusedBeforeTheKernel) {
  EXPECT_TRUE(rtA_->link("").error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(rtA_->link("a-name-longer-than-15").error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(rtA_->createBridge("has/slash", 0).error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(rtA_->createVeth("ok", "with space", 0).error().is(ErrorCode::kInvalid));
}

TEST(NetnsTest, HandlesAndThreads) {
  NAVE_REQUIRE_NETNS();
  auto a = TestNetns::create("h");
  ASSERT_TRUE(a);
  auto missing = NetnsHandle::open("/run/netns/nave-does-not-exist");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().is(ErrorCode::kNotFound)) << missing.error().message();
  auto notNs = NetnsHandle::open("/etc/hostname");
  ASSERT_FALSE(notNs.ok());
  EXPECT_TRUE(notNs.error().is(ErrorCode::kInvalid)) << notNs.error().message();

  NetnsHandle h = a->handle();
  auto mine = NetnsHandle::current();
  ASSERT_TRUE(mine.ok());
  EXPECT_FALSE(mine->sameAs(h));
  auto inside =
      runInNetns(h, [&]() -> Result<bool> { return TRY(NetnsHandle::current()).sameAs(h); });
  ASSERT_TRUE(inside.ok());
  EXPECT_TRUE(*inside);
  // The calling thread did not move.
  EXPECT_TRUE(NetnsHandle::current()->sameAs(*mine));
}

TEST(NetnsTest, SysctlsFollowTheThreadsNamespace) {
  NAVE_REQUIRE_NETNS();
  auto a = TestNetns::create("s1");
  auto b = TestNetns::create("s2");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->run([] { return writeSysctl("net/ipv4/ip_forward", "0"); }).ok());
  ASSERT_TRUE(b->run([] { return writeSysctl("net/ipv4/ip_forward", "1"); }).ok());
  EXPECT_EQ(*a->run([] { return readSysctl("net/ipv4/ip_forward"); }), "0");
  EXPECT_EQ(*b->run([] { return readSysctl("net/ipv4/ip_forward"); }), "1");
  EXPECT_EQ(b->exec("cat /proc/sys/net/ipv4/ip_forward").second, "1\n");

  EXPECT_TRUE(readSysctl("../etc/passwd").error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(readSysctl("net/../../etc").error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(readSysctl("/net/ipv4/ip_forward").error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(readSysctl("net/ipv4/no_such_thing").error().is(ErrorCode::kNotFound));
}

}  // namespace
}  // namespace nave::network::netlink
