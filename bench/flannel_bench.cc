// flannel_bench: how long the flannel backends take to program the routes to N other nodes
// (host-gw: a route each; vxlan: a neighbour, a forwarding entry and a route each), to sync
// again when nothing changed, and to remove one node.
//
//   flannel_bench [--nodes N] [--runs R]
//
// Needs root. The program first moves into a network namespace of its own (unshare), where it
// makes a veth "eth0" holding the node IP 192.168.0.1/16; the other nodes are 192.168.X.Y on
// it, with pod CIDRs 10.42.1.0/24 onwards (past 10.42.255.0, 10.43.0.0 and on). Nothing outside that namespace is touched, and it
// goes away with the process.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "network/flannel/backend.h"
#include "network/netlink/rtnl.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace nave::network;

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

template <typename T>
T orDie(nave::Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "flannel_bench: %s: %s\n", what, r.error().message().c_str());
    std::exit(1);
  }
  return std::move(*r);
}
void orDie(nave::Result<void> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "flannel_bench: %s: %s\n", what, r.error().message().c_str());
    std::exit(1);
  }
}

std::vector<flannel::Lease> leases(int nodes, const std::string& type) {
  std::vector<flannel::Lease> out;
  for (int i = 1; i <= nodes; ++i) {
    flannel::Lease l;
    l.node = "node-" + std::to_string(i);
    l.podCidr = Ipv4Prefix{Ipv4Address{((10u << 24) | (42u << 16)) + (uint32_t(i) << 8)}, 24};
    l.publicIp = Ipv4Address{(192u << 24) | (168u << 16) | (uint32_t(i / 250 + 1) << 8) |
                             uint32_t(i % 250 + 2)};
    l.backendType = type;
    netlink::MacAddress mac;
    mac.bytes = {0x0a, 0x58, 0x0a, 0x2a, uint8_t(i >> 8), uint8_t(i)};
    l.vtepMac = mac;
    out.push_back(l);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = 100, runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--nodes")) nodes = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  if (nodes < 1 || nodes > 60000 || runs < 1) {
    std::fprintf(stderr, "usage: flannel_bench [--nodes N (1-60000)] [--runs R]\n");
    return 2;
  }
  // Before any thread exists: the whole process is then in the new namespace.
  if (::unshare(CLONE_NEWNET) != 0) {
    std::perror("flannel_bench: unshare(CLONE_NEWNET) (needs root)");
    return 1;
  }
  auto rtnl = orDie(netlink::RtnlSocket::open(), "netlink");
  orDie(rtnl.setUp(orDie(rtnl.link("lo"), "lo").index, true), "lo up");
  int eth0 = orDie(rtnl.createVeth("eth0", "eth0p", 0), "veth");
  orDie(rtnl.addAddress(eth0, *Ipv4Prefix::parse("192.168.0.1/16")), "address");
  orDie(rtnl.setUp(eth0, true), "eth0 up");
  orDie(rtnl.setUp(orDie(rtnl.link("eth0p"), "peer").index, true), "peer up");

  std::printf("%d nodes, %d runs (ms: min / median / max)\n", nodes, runs);
  for (const std::string type : {"host-gw", "vxlan"}) {
    std::vector<double> first, again, removeOne;
    auto all = leases(nodes, type);
    auto fewer = std::vector<flannel::Lease>(all.begin() + 1, all.end());
    for (int r = 0; r < runs; ++r) {
      flannel::BackendOptions o;
      o.type = type;
      o.nodeName = "node-0";
      o.nodeIp = *Ipv4Address::parse("192.168.0.1");
      o.podCidr = *Ipv4Prefix::parse("10.42.0.0/24");
      auto backend = orDie(flannel::Backend::open(o), "open");
      auto t0 = Clock::now();
      orDie(backend->sync(all), "sync");
      auto t1 = Clock::now();
      orDie(backend->sync(all), "sync again");
      auto t2 = Clock::now();
      orDie(backend->sync(fewer), "sync without one");
      auto t3 = Clock::now();
      first.push_back(ms(t1 - t0));
      again.push_back(ms(t2 - t1));
      removeOne.push_back(ms(t3 - t2));
      orDie(backend->destroy(), "destroy");
    }
    auto report = [](const char* what, std::vector<double> v) {
      std::sort(v.begin(), v.end());
      std::printf("  %-34s %8.2f / %8.2f / %8.2f\n", what, v.front(), v[v.size() / 2], v.back());
    };
    std::printf("%s\n", type.c_str());
    report("program every node", first);
    report("sync again, nothing changed", again);
    report("sync with one node gone", removeOne);
  }
  return 0;
}
