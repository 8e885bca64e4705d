#include "network/proxy/proxier.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter_ipv4.h>

#include <cstring>
#include <functional>

#include "common/log.h"
#include "network/nftables/rule.h"
#include "network/nftables/transaction.h"
#include "network/proxy/conntrack.h"

namespace nave::network::proxy {

namespace {

using nft::Concat;
using nft::DataType;
using nft::reg32;
using nft::Rule;
using nft::Verdict;

constexpr nft::Family kIp = nft::Family::kIp;
constexpr char kServiceIps[] = "service-ips";
constexpr char kServiceNodePorts[] = "service-nodeports";
constexpr char kNoEndpointServices[] = "no-endpoint-services";
constexpr char kNoEndpointNodePorts[] = "no-endpoint-nodeports";
constexpr char kNoLocalEndpointServices[] = "no-local-endpoint-services";
constexpr char kHairpin[] = "hairpin";
constexpr char kMasqOffCluster[] = "masquerade-off-cluster";
constexpr char kMasqExternal[] = "masquerade-external";
constexpr char kMasqNodePorts[] = "masquerade-nodeports";
constexpr char kDnatByCount[] = "dnat-by-endpoint-count";
constexpr char kClusterIps[] = "cluster-ips";
constexpr char kClusterIpsCheck[] = "cluster-ips-check";
constexpr char kIpsPrefix[] = "ips-";
constexpr char kNodePortsPrefix[] = "nodeports-";
constexpr char kServices[] = "services";
constexpr char kServiceCheck[] = "service-endpoints-check";
constexpr char kNodePortCheck[] = "nodeport-endpoints-check";
constexpr char kMasquerading[] = "masquerading";

nft::Bytes u32Bytes(uint32_t v) {  // host byte order, as meta mark and numgen results
  nft::Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}

const char* protocolName(uint8_t p) {
  return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

bool isPlainSet(const std::string& name) {
  return name == kNoEndpointServices || name == kNoLocalEndpointServices ||
         name == kNoEndpointNodePorts || name == kMasqOffCluster || name == kMasqExternal ||
         name == kMasqNodePorts || name == kClusterIps;
}

bool startsWith(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// `meta mark set meta mark | 0x4000`: masquerade in postrouting. Set inline rather than with
// a jump to a chain of its own: fewer chains for the kernel to validate.
Rule& markForMasquerade(Rule& r) { return r.setMarkBits(Proxier::kMasqueradeMark); }

// Loads `ip daddr . meta l4proto . th dport` (or without the address) into reg32(0...).
Rule& loadServiceKey(Rule& r, bool withAddress) {
  int i = 0;
  if (withAddress) r.payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg32(i++));
  r.meta(NFT_META_L4PROTO, reg32(i++));
  return r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(i));
}

}  // namespace

using Emit = std::function<void(nft::Transaction&, const std::string& chain)>;

// A chain's rules: `text` (what nft would print, roughly) is compared between syncs to leave
// unchanged chains alone; `rules` add them.
struct Proxier::ChainRules {
  std::string text;
  std::vector<Emit> rules;
  void add(std::string line, Emit e) {
    text += line + "\n";
    rules.push_back(std::move(e));
  }
};

struct Proxier::Desired {
  Programmed programmed;
  std::map<std::string, ChainRules> chains;
};

Proxier::Desired Proxier::build(const Service& s) const {
  Desired d;
  auto& elements = d.programmed.elements;
  const Ipv4Prefix clusterCidr = options_.clusterCidr;
  for (const ServicePort& sp : s.ports) {
    const std::string p = s.key() + "/" + protocolName(sp.protocol) + "/" +
                          (sp.name.empty() ? std::to_string(sp.port) : sp.name);
    const std::vector<Endpoint> cluster = usableEndpoints(sp.endpoints);
    const std::vector<Endpoint> local = usableEndpoints(sp.endpoints, &options_.nodeName);
    const uint8_t proto = sp.protocol;
    for (const Endpoint& e : sp.endpoints) d.programmed.hairpin.insert(e.ip);
    if (s.hasClusterIp) elements.insert({kClusterIps, Concat().ipv4(s.clusterIp).bytes(), {}, {}});

    // With session affinity, an endpoint chain per endpoint records the client.
    auto endpointChain = [&](const Endpoint& e) {
      std::string id = e.ip.toString() + "/" + std::to_string(e.port);
      std::string name = "endpoint-" + p + "__" + id;
      if (d.chains.count(name)) return name;
      ChainRules& c = d.chains[name];
      std::string set = "affinity-" + p + "__" + id;
      d.programmed.sets[set] = s.affinitySeconds * 1000;
      c.add("update @" + set + " { ip saddr }", [set](auto& tx, auto& chain) {
        Rule r(kIp, kTable, chain);
        r.payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, nft::kReg1).dynsetUpdate(set, nft::kReg1);
        tx.addRule(r);
      });
      Ipv4Address ip = e.ip;
      uint16_t port = e.port;
      c.add("meta l4proto " + std::string(protocolName(proto)) + " dnat to " + id,
            [ip, port, proto](auto& tx, auto& chain) {
              Rule r(kIp, kTable, chain);
              r.l4proto(proto)
                  .immediate(nft::kReg1, Concat().ipv4(ip).bytes())
                  .immediate(NFT_REG_2, Concat().inetService(port).bytes())
                  .dnat(nft::kReg1, NFT_REG_2);
              tx.addRule(r);
            });
      return name;
    };
    // A chain choosing among endpoints: with affinity, the endpoint a client had, else one
    // at random; without affinity (externalTrafficPolicy Local) it DNATs itself.
    auto selectChain = [&](const std::string& name, const std::vector<Endpoint>& eps,
                           bool clusterIpMasquerade) {
      if (d.chains.count(name)) return name;
      ChainRules c;
      if (clusterIpMasquerade && s.hasClusterIp) {
        Ipv4Address vip = s.clusterIp;
        c.add("ip daddr " + vip.toString() + " ip saddr != " + clusterCidr.toString() +
                  " meta mark set meta mark | 0x4000",
              [vip, clusterCidr](auto& tx, auto& chain) {
                Rule r(kIp, kTable, chain);
                r.ipDaddr({vip, 32}).ipSaddr(clusterCidr, true);
                markForMasquerade(r);
                tx.addRule(r);
              });
      }
      if (s.affinitySeconds) {
        std::vector<std::string> targets;
        for (const Endpoint& e : eps) targets.push_back(endpointChain(e));
        for (const std::string& t : targets) {
          std::string set = "affinity-" + t.substr(std::strlen("endpoint-"));
          c.add("ip saddr @" + set + " goto " + t, [set, t](auto& tx, auto& chain) {
            Rule r(kIp, kTable, chain);
            r.payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, nft::kReg1)
                .lookup(set, nft::kReg1)
                .verdict(Verdict::goTo(t));
            tx.addRule(r);
          });
        }
        std::string text = "numgen random mod " + std::to_string(targets.size()) + " vmap {";
        for (size_t i = 0; i < targets.size(); ++i)
          text += " " + std::to_string(i) + " : goto " + targets[i] + ",";
        c.add(text + " }", [targets](auto& tx, auto& chain) {
          std::vector<nft::SetElement> vmap;
          for (uint32_t i = 0; i < targets.size(); ++i)
            vmap.push_back({u32Bytes(i), {}, Verdict::goTo(targets[i])});
          uint32_t id = tx.addAnonymousSet(
              {kIp, kTable, "", {DataType::kInteger}, {DataType::kVerdict}}, vmap);
          Rule r(kIp, kTable, chain);
          r.numgenRandom(static_cast<uint32_t>(targets.size()), nft::kReg1)
              .lookupAnonymous(id, nft::kReg1, nft::kRegVerdict);
          tx.addRule(r);
        });
      } else if (eps.size() == 1) {
        Ipv4Address ip = eps[0].ip;
        uint16_t port = eps[0].port;
        c.add("meta l4proto " + std::string(protocolName(proto)) + " dnat to " + ip.toString() +
                  ":" + std::to_string(port),
              [ip, port, proto](auto& tx, auto& chain) {
                Rule r(kIp, kTable, chain);
                r.l4proto(proto)
                    .immediate(nft::kReg1, Concat().ipv4(ip).bytes())
                    .immediate(NFT_REG_2, Concat().inetService(port).bytes())
                    .dnat(nft::kReg1, NFT_REG_2);
                tx.addRule(r);
              });
      } else {
        std::vector<nft::SetElement> choices;
        std::string text = "meta l4proto " + std::string(protocolName(proto)) +
                           " dnat to numgen random mod " + std::to_string(eps.size()) + " map {";
        for (uint32_t i = 0; i < eps.size(); ++i) {
          choices.push_back(
              {u32Bytes(i), Concat().ipv4(eps[i].ip).inetService(eps[i].port).bytes(), {}});
          text += " " + std::to_string(i) + " : " + eps[i].ip.toString() + " . " +
                  std::to_string(eps[i].port) + ",";
        }
        c.add(text + " }", [choices, proto](auto& tx, auto& chain) {
          uint32_t id = tx.addAnonymousSet({kIp,
                                            kTable,
                                            "",
                                            {DataType::kInteger},
                                            {DataType::kIpv4Addr, DataType::kInetService}},
                                           choices);
          // The address and port land in the first two 32-bit registers, as nft compiles
          // `dnat to numgen random mod N map { ... }`.
          Rule r(kIp, kTable, chain);
          r.l4proto(proto)
              .numgenRandom(static_cast<uint32_t>(choices.size()), nft::kReg1)
              .lookupAnonymous(id, nft::kReg1, nft::kReg1)
              .dnat(nft::kReg1, reg32(1));
          tx.addRule(r);
        });
      }
      d.chains[name] = std::move(c);
      return name;
    };

    // Most ports need no chain of their own: their destinations (ClusterIP, external and
    // LoadBalancer addresses as address . protocol . port, NodePorts as protocol . port) are
    // keys of data maps, one per endpoint count N, with the slot `numgen random mod N` as the
    // last key field and the endpoint as the value, looked up by one rule per N; masquerading
    // is by set membership. Programming such a service, or changing its endpoints, changes map
    // elements only: no rule, so the kernel has no chains to re-validate. Session affinity
    // and externalTrafficPolicy Local need chains (below).
    if (!s.affinitySeconds && !s.externalLocal) {
      auto slots = [&](const std::string& prefix, const nft::Bytes& key,
                       const std::vector<Endpoint>& eps) {
        std::string map = prefix + std::to_string(eps.size());
        for (uint32_t i = 0; i < eps.size(); ++i) {
          nft::Bytes k = key;
          nft::Bytes slot = u32Bytes(i);
          k.insert(k.end(), slot.begin(), slot.end());
          elements.insert({map, k, {}, Concat().ipv4(eps[i].ip).inetService(eps[i].port).bytes()});
        }
      };
      if (s.hasClusterIp) {
        nft::Bytes key = Concat().ipv4(s.clusterIp).inetProto(proto).inetService(sp.port).bytes();
        const auto& eps = s.internalLocal ? local : cluster;
        if (!eps.empty()) {
          slots(kIpsPrefix, key, eps);
          elements.insert({kMasqOffCluster, key, {}, {}});
        } else {
          elements.insert(
              {cluster.empty() ? kNoEndpointServices : kNoLocalEndpointServices, key, {}, {}});
        }
      }
      std::vector<Ipv4Address> externalIps = s.externalIps;
      externalIps.insert(externalIps.end(), s.loadBalancerIps.begin(), s.loadBalancerIps.end());
      for (Ipv4Address ip : externalIps) {
        nft::Bytes key = Concat().ipv4(ip).inetProto(proto).inetService(sp.port).bytes();
        if (cluster.empty()) {
          elements.insert({kNoEndpointServices, key, {}, {}});
          continue;
        }
        slots(kIpsPrefix, key, cluster);
        elements.insert({kMasqExternal, key, {}, {}});
      }
      if (sp.nodePort) {
        nft::Bytes key = Concat().inetProto(proto).inetService(sp.nodePort).bytes();
        if (cluster.empty()) {
          elements.insert({kNoEndpointNodePorts, key, {}, {}});
        } else {
          slots(kNodePortsPrefix, key, cluster);
          elements.insert({kMasqNodePorts, key, {}, {}});
        }
      }
      continue;
    }

    // Internal traffic: the ClusterIP.
    if (s.hasClusterIp) {
      nft::Bytes key = Concat().ipv4(s.clusterIp).inetProto(proto).inetService(sp.port).bytes();
      const auto& eps = s.internalLocal ? local : cluster;
      if (!eps.empty()) {
        std::string chain = selectChain((s.internalLocal ? "local-" : "service-") + p, eps, true);
        elements.insert({kServiceIps, key, Verdict::goTo(chain)});
      } else {
        elements.insert(
            {cluster.empty() ? kNoEndpointServices : kNoLocalEndpointServices, key, {}, {}});
      }
    }
    // External traffic: NodePort, external IPs, LoadBalancer ingress IPs.
    std::vector<Ipv4Address> externalIps = s.externalIps;
    externalIps.insert(externalIps.end(), s.loadBalancerIps.begin(), s.loadBalancerIps.end());
    if (!sp.nodePort && externalIps.empty()) continue;
    std::optional<std::string> external;
    if (!cluster.empty()) {
      std::string name = "external-" + p;
      std::string clusterChain = selectChain("service-" + p, cluster, !s.internalLocal);
      ChainRules c;
      auto gotoRule = [](std::string target) {
        return [target](auto& tx, auto& chain) {
          Rule r(kIp, kTable, chain);
          r.verdict(Verdict::goTo(target));
          tx.addRule(r);
        };
      };
      if (!s.externalLocal) {
        c.add("meta mark set meta mark | 0x4000", [](auto& tx, auto& chain) {
          Rule r(kIp, kTable, chain);
          markForMasquerade(r);
          tx.addRule(r);
        });
        c.add("goto " + clusterChain, gotoRule(clusterChain));
      } else {
        // Pods, and the node itself, reach external addresses as if inside the cluster
        // (kube-proxy's short-circuit); only traffic from outside keeps its source and needs
        // an endpoint on this node.
        c.add("ip saddr " + clusterCidr.toString() + " goto " + clusterChain,
              [clusterCidr, clusterChain](auto& tx, auto& chain) {
                Rule r(kIp, kTable, chain);
                r.ipSaddr(clusterCidr).verdict(Verdict::goTo(clusterChain));
                tx.addRule(r);
              });
        c.add("fib saddr type local meta mark set meta mark | 0x4000", [](auto& tx, auto& chain) {
          Rule r(kIp, kTable, chain);
          markForMasquerade(r.fibSaddrLocal());
          tx.addRule(r);
        });
        c.add("fib saddr type local goto " + clusterChain, [clusterChain](auto& tx, auto& chain) {
          Rule r(kIp, kTable, chain);
          r.fibSaddrLocal().verdict(Verdict::goTo(clusterChain));
          tx.addRule(r);
        });
        if (!local.empty()) {
          std::string localChain = selectChain("local-" + p, local, s.internalLocal);
          c.add("goto " + localChain, gotoRule(localChain));
        } else {
          c.add("drop", [](auto& tx, auto& chain) {
            Rule r(kIp, kTable, chain);
            r.verdict(Verdict::drop());
            tx.addRule(r);
          });
        }
      }
      d.chains[name] = std::move(c);
      external = name;
    }
    for (Ipv4Address ip : externalIps) {
      nft::Bytes key = Concat().ipv4(ip).inetProto(proto).inetService(sp.port).bytes();
      if (external)
        elements.insert({kServiceIps, key, Verdict::goTo(*external)});
      else
        elements.insert({kNoEndpointServices, key, {}, {}});
    }
    if (sp.nodePort) {
      nft::Bytes key = Concat().inetProto(proto).inetService(sp.nodePort).bytes();
      if (external)
        elements.insert({kServiceNodePorts, key, Verdict::goTo(*external)});
      else
        elements.insert({kNoEndpointNodePorts, key, {}, {}});
    }
  }
  for (const auto& [name, c] : d.chains) d.programmed.chains[name] = c.text;
  return d;
}

void Proxier::addBase(nft::Transaction& tx) const {
  tx.addTable({kIp, kTable});
  auto base = [&](const char* name, const char* type, uint32_t hook, int32_t prio) {
    tx.addChain({kIp, kTable, name, nft::BaseChainSpec{type, hook, prio, NF_ACCEPT}});
    tx.flushChain(kIp, kTable, name);
  };
  base("nat-prerouting", "nat", NF_INET_PRE_ROUTING, NF_IP_PRI_NAT_DST);
  base("nat-output", "nat", NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST);
  base("nat-postrouting", "nat", NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC);
  // Before DNAT (priority -100), as kube-proxy's filter chains.
  base("filter-input", "filter", NF_INET_LOCAL_IN, NF_IP_PRI_NAT_DST - 10);
  base("filter-forward", "filter", NF_INET_FORWARD, NF_IP_PRI_NAT_DST - 10);
  base("filter-output", "filter", NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST - 10);
  base("filter-output-post-dnat", "filter", NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST + 10);
  for (const char* c :
       {kServices, kServiceCheck, kNodePortCheck, kMasquerading, kDnatByCount, kClusterIpsCheck}) {
    tx.addChain({kIp, kTable, c, std::nullopt});
    tx.flushChain(kIp, kTable, c);
  }
  const std::vector<DataType> addrKey{DataType::kIpv4Addr, DataType::kInetProto,
                                      DataType::kInetService};
  const std::vector<DataType> portKey{DataType::kInetProto, DataType::kInetService};
  const std::vector<DataType> verdict{DataType::kVerdict};
  tx.addSet({kIp, kTable, kServiceIps, addrKey, verdict});
  tx.addSet({kIp, kTable, kServiceNodePorts, portKey, verdict});
  // Plain sets, not verdict maps: a service's element moving in or out of them adds no jump
  // (after which the kernel would validate the table; see proxier.h).
  tx.addSet({kIp, kTable, kNoEndpointServices, addrKey, {}});
  tx.addSet({kIp, kTable, kNoLocalEndpointServices, addrKey, {}});
  tx.addSet({kIp, kTable, kNoEndpointNodePorts, portKey, {}});
  tx.addSet({kIp, kTable, kHairpin, {DataType::kIpv4Addr, DataType::kIpv4Addr}, {}});
  tx.addSet({kIp, kTable, kMasqOffCluster, addrKey, {}});
  tx.addSet({kIp, kTable, kMasqExternal, addrKey, {}});
  tx.addSet({kIp, kTable, kMasqNodePorts, portKey, {}});
  tx.addSet({kIp, kTable, kClusterIps, {DataType::kIpv4Addr}, {}});

  auto jump = [&](const char* from, const char* to, bool newOnly) {
    Rule r(kIp, kTable, from);
    if (newOnly) r.ctState(NF_CT_STATE_BIT(IP_CT_NEW));
    r.verdict(Verdict::jump(to));
    tx.addRule(r);
  };
  jump("nat-prerouting", kServices, false);
  jump("nat-output", kServices, false);
  jump("filter-input", kNodePortCheck, true);
  jump("filter-input", kServiceCheck, true);
  jump("filter-forward", kServiceCheck, true);
  jump("filter-output", kServiceCheck, true);
  jump("filter-output", kNodePortCheck, true);
  jump("filter-forward", kClusterIpsCheck, true);
  jump("filter-output-post-dnat", kClusterIpsCheck, true);

  // Marks for masquerading of the ports programmed as map elements: traffic from outside the
  // cluster to a ClusterIP, and every external destination.
  Rule offCluster(kIp, kTable, kServices);
  offCluster.ipSaddr(options_.clusterCidr, true);
  markForMasquerade(loadServiceKey(offCluster, true).lookup(kMasqOffCluster, reg32(0)));
  tx.addRule(offCluster);
  Rule external(kIp, kTable, kServices);
  markForMasquerade(loadServiceKey(external, true).lookup(kMasqExternal, reg32(0)));
  tx.addRule(external);
  Rule nodePorts(kIp, kTable, kServices);
  nodePorts.fibDaddrLocal().ipDaddr({Ipv4Address{0x7f000000}, 8}, true);
  markForMasquerade(loadServiceKey(nodePorts, false).lookup(kMasqNodePorts, reg32(0)));
  tx.addRule(nodePorts);
  Rule byIp(kIp, kTable, kServices);
  loadServiceKey(byIp, true).lookup(kServiceIps, reg32(0), nft::kRegVerdict);
  tx.addRule(byIp);
  Rule byPort(kIp, kTable, kServices);
  byPort.fibDaddrLocal().ipDaddr({Ipv4Address{0x7f000000}, 8}, true);
  loadServiceKey(byPort, false).lookup(kServiceNodePorts, reg32(0), nft::kRegVerdict);
  tx.addRule(byPort);
  jump(kServices, kDnatByCount, false);
  // No usable endpoint: refused (ICMP port unreachable, as kube-proxy), or dropped when only
  // a Local traffic policy found none here.
  Rule noEndpoints(kIp, kTable, kServiceCheck);
  loadServiceKey(noEndpoints, true).lookup(kNoEndpointServices, reg32(0)).reject();
  tx.addRule(noEndpoints);
  Rule noLocal(kIp, kTable, kServiceCheck);
  loadServiceKey(noLocal, true).lookup(kNoLocalEndpointServices, reg32(0)).verdict(Verdict::drop());
  tx.addRule(noLocal);
  Rule noNodePort(kIp, kTable, kNodePortCheck);
  noNodePort.fibDaddrLocal();
  loadServiceKey(noNodePort, false).lookup(kNoEndpointNodePorts, reg32(0)).reject();
  tx.addRule(noNodePort);

  // Left untranslated (as kube-proxy): a ClusterIP's other ports are refused, the rest of the
  // service range is dropped.
  Rule otherPort(kIp, kTable, kClusterIpsCheck);
  otherPort.payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, nft::kReg1)
      .lookup(kClusterIps, nft::kReg1)
      .reject();
  tx.addRule(otherPort);
  if (options_.serviceCidr) {
    Rule unallocated(kIp, kTable, kClusterIpsCheck);
    unallocated.ipDaddr(*options_.serviceCidr).verdict(Verdict::drop());
    tx.addRule(unallocated);
  }

  // A pod reaching itself through a service: masqueraded, so that its reply comes back
  // through the node (where conntrack undoes the DNAT) instead of to itself.
  Rule hairpin(kIp, kTable, "nat-postrouting");
  hairpin.ctStatus(IPS_DST_NAT)
      .payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, reg32(0))
      .payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg32(1))
      .lookup(kHairpin, reg32(0))
      .masquerade(NF_NAT_RANGE_PROTO_RANDOM_FULLY);
  tx.addRule(hairpin);
  jump("nat-postrouting", kMasquerading, false);
  const uint32_t m = kMasqueradeMark;
  Rule unmarked(kIp, kTable, kMasquerading);
  unmarked.markBits(m, true).verdict(Verdict::ret());
  tx.addRule(unmarked);
  Rule clear(kIp, kTable, kMasquerading);  // meta mark set meta mark ^ 0x4000
  clear.meta(NFT_META_MARK, nft::kReg1).bitwise(nft::kReg1, nft::kReg1, u32Bytes(~0u), u32Bytes(m));
  clear.metaSet(NFT_META_MARK, nft::kReg1);
  tx.addRule(clear);
  Rule masq(kIp, kTable, kMasquerading);
  masq.masquerade(NF_NAT_RANGE_PROTO_RANDOM_FULLY);
  tx.addRule(masq);
}

namespace {

// The phases of one transaction changing several services: references are dropped before
// what they name is deleted, and created after what they name exists.
struct Change {
  const Proxier::Programmed* before;
  const Proxier::Programmed* after;
  const std::map<std::string, Proxier::ChainRules>* chains;
};

using Slot = std::pair<std::string, nft::Bytes>;  // a map (by meaning) and a key

Slot slotOf(const Proxier::Element& e) {
  // Every element about one address, protocol and port names the same slot, whichever map
  // holds it (a per-count map's key ends with the endpoint slot).
  if (startsWith(e.map, kIpsPrefix))
    return {kServiceIps, nft::Bytes(e.key.begin(), e.key.end() - 4)};
  if (startsWith(e.map, kNodePortsPrefix))
    return {kServiceNodePorts, nft::Bytes(e.key.begin(), e.key.end() - 4)};
  if (e.map == kClusterIps) return {kClusterIps, e.key};
  bool byAddress = e.map == kNoEndpointServices || e.map == kNoLocalEndpointServices ||
                   e.map == kMasqOffCluster || e.map == kMasqExternal || e.map == kServiceIps;
  return {byAddress ? kServiceIps : kServiceNodePorts, e.key};
}

// Drops from `elements` the addresses and ports other services hold (`owners`, or `claimed`
// earlier in this sync), logged; claims the others.
void claim(const std::string& service, std::set<Proxier::Element>& elements,
           const std::map<Slot, std::string>& owners,
           const std::map<std::string, std::optional<Service>>* changing,
           std::map<Slot, std::string>& claimed) {
  for (auto it = elements.begin(); it != elements.end();) {
    Slot slot = slotOf(*it);
    auto owner = owners.find(slot);
    bool heldElsewhere = owner != owners.end() && owner->second != service &&
                         !(changing && changing->count(owner->second));
    auto [mine, fresh] = claimed.emplace(slot, service);
    if (!heldElsewhere && (fresh || mine->second == service)) {
      ++it;
      continue;
    }
    log::warning("service proxy: another service has this address and port already",
                 {{"service", service}, {"map", it->map}});
    it = elements.erase(it);
  }
}

void applyChanges(nft::Transaction& tx, const std::vector<Change>& changes) {
  using C = Change;
  static const Proxier::Programmed kNone;
  auto before = [](const C& c) -> const Proxier::Programmed& {
    return c.before ? *c.before : kNone;
  };
  // 1. Elements that go or change.
  for (const C& c : changes) {
    std::map<std::string, std::vector<nft::Bytes>> gone;
    for (const auto& e : before(c).elements)
      if (!c.after->elements.count(e)) gone[e.map].push_back(e.key);
    for (const auto& [map, keys] : gone) tx.deleteElements(kIp, Proxier::kTable, map, keys);
  }
  // 2. New chains and sets, then the rules of new and changed chains.
  for (const C& c : changes) {
    for (const auto& [name, timeout] : c.after->sets)
      if (!before(c).sets.count(name)) {
        nft::SetSpec set{kIp, Proxier::kTable, name, {DataType::kIpv4Addr}, {}};
        set.timeoutMs = timeout;
        tx.addSet(set);
      }
    for (const auto& [name, text] : c.after->chains)
      if (!before(c).chains.count(name)) tx.addChain({kIp, Proxier::kTable, name, std::nullopt});
  }
  for (const C& c : changes) {
    for (const auto& [name, rules] : *c.chains) {
      auto old = before(c).chains.find(name);
      if (old != before(c).chains.end()) {
        if (old->second == rules.text) continue;
        tx.flushChain(kIp, Proxier::kTable, name);
      }
      for (const Emit& e : rules.rules) e(tx, name);
    }
  }
  // 3. Elements that come or change.
  for (const C& c : changes) {
    std::map<std::string, std::vector<nft::SetElement>> added;
    for (const auto& e : c.after->elements)
      if (!before(c).elements.count(e))
        added[e.map].push_back(isPlainSet(e.map) ? nft::SetElement{e.key, {}, {}}
                               : !e.data.empty() ? nft::SetElement{e.key, e.data, {}}
                                                 : nft::SetElement{e.key, {}, e.verdict});
    for (const auto& [map, elements] : added) tx.addElements(kIp, Proxier::kTable, map, elements);
  }
  // 4. Chains and sets nothing refers to any more.
  for (const C& c : changes)
    for (const auto& [name, text] : before(c).chains)
      if (!c.after->chains.count(name)) tx.flushChain(kIp, Proxier::kTable, name);
  for (const C& c : changes)
    for (const auto& [name, text] : before(c).chains)
      if (!c.after->chains.count(name)) tx.deleteChain(kIp, Proxier::kTable, name);
  for (const C& c : changes)
    for (const auto& [name, timeout] : before(c).sets)
      if (!c.after->sets.count(name)) tx.deleteSet(kIp, Proxier::kTable, name);
}
}  // namespace

void Proxier::addCountMaps(nft::Transaction& tx, const std::set<std::string>& needed,
                           std::set<std::string>& maps) const {
  bool added = false;
  for (const std::string& m : needed) {
    if (!maps.insert(m).second) continue;
    added = true;
    bool byAddress = startsWith(m, kIpsPrefix);
    // The slot field is typed as a mark (32 bits, host byte order): `nft list` needs a fixed
    // length for each field of a concatenation, which "integer" lacks.
    std::vector<DataType> key{DataType::kInetProto, DataType::kInetService, DataType::kMark};
    if (byAddress) key.insert(key.begin(), DataType::kIpv4Addr);
    tx.addSet({kIp, kTable, m, key, {DataType::kIpv4Addr, DataType::kInetService}});
  }
  if (!added) return;
  // One rule per map: `dnat to ip daddr . meta l4proto . th dport . numgen random mod N map
  // @ips-N` (a port with another endpoint count is not in the map, and the lookup misses).
  tx.flushChain(kIp, kTable, kDnatByCount);
  for (const std::string& m : maps) {
    bool byAddress = startsWith(m, kIpsPrefix);
    uint32_t n = static_cast<uint32_t>(
        std::stoul(m.substr(std::strlen(byAddress ? kIpsPrefix : kNodePortsPrefix))));
    Rule r(kIp, kTable, kDnatByCount);
    int i = 0;
    if (byAddress) {
      r.payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg32(i++));
    } else {
      r.fibDaddrLocal().ipDaddr({Ipv4Address{0x7f000000}, 8}, true);
    }
    r.meta(NFT_META_L4PROTO, reg32(i));
    r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(i + 1));
    i += 2;
    // The address and port land in the first two 32-bit registers.
    r.numgenRandom(n, reg32(i)).lookup(m, reg32(0), nft::kReg1).dnat(nft::kReg1, reg32(1));
    tx.addRule(r);
  }
}

namespace {

std::set<std::string> countMapsOf(const std::set<Proxier::Element>& elements) {
  std::set<std::string> out;
  for (const Proxier::Element& e : elements)
    if (startsWith(e.map, kIpsPrefix) || startsWith(e.map, kNodePortsPrefix)) out.insert(e.map);
  return out;
}

}  // namespace

void Proxier::changeHairpin(nft::Transaction& tx, const Programmed* before, const Programmed& after,
                            std::map<Ipv4Address, int>& refs) {
  std::vector<nft::SetElement> added;
  std::vector<nft::Bytes> removed;
  auto pair = [](Ipv4Address ip) { return Concat().ipv4(ip).ipv4(ip).bytes(); };
  for (Ipv4Address ip : after.hairpin)
    if ((!before || !before->hairpin.count(ip)) && refs[ip]++ == 0)
      added.push_back({pair(ip), {}, {}});
  if (before)
    for (Ipv4Address ip : before->hairpin)
      if (!after.hairpin.count(ip) && --refs[ip] == 0) {
        refs.erase(ip);
        removed.push_back(pair(ip));
      }
  if (!removed.empty()) tx.deleteElements(kIp, kTable, kHairpin, removed);
  if (!added.empty()) tx.addElements(kIp, kTable, kHairpin, added);
}

Result<void> Proxier::syncAll(const std::vector<Service>& services) {
  nft::Transaction tx;
  tx.addTable({kIp, kTable});
  tx.deleteTable({kIp, kTable});
  addBase(tx);
  std::map<std::string, Desired> desired;
  for (const Service& s : services) desired[s.key()] = build(s);
  // An address, protocol and port belongs to one service: the first by key.
  std::map<Slot, std::string> claimed;
  for (auto& [key, d] : desired) claim(key, d.programmed.elements, {}, nullptr, claimed);
  std::set<std::string> needed, maps;
  for (const auto& [key, d] : desired) needed.merge(countMapsOf(d.programmed.elements));
  addCountMaps(tx, needed, maps);
  std::vector<Change> changes;
  for (const auto& [key, d] : desired) changes.push_back({nullptr, &d.programmed, &d.chains});
  applyChanges(tx, changes);
  std::map<Ipv4Address, int> refs;
  for (const auto& [key, d] : desired) changeHairpin(tx, nullptr, d.programmed, refs);
  auto r = nft_.commit(tx);
  applied_.clear();
  owners_.clear();
  hairpinRefs_.clear();
  countMaps_.clear();
  if (!r.ok()) return std::move(r).error().context("sync the service proxy's table ip nave");
  for (auto& [key, d] : desired) {
    for (const Element& e : d.programmed.elements) owners_[slotOf(e)] = key;
    applied_[key] = std::move(d.programmed);
  }
  hairpinRefs_ = std::move(refs);
  countMaps_ = std::move(maps);
  services_.clear();
  for (const Service& s : services) services_[s.key()] = s;
  return {};
}

Result<void> Proxier::syncChanged(const std::map<std::string, std::optional<Service>>& changed) {
  std::map<std::string, Desired> desired;
  for (const auto& [key, s] : changed) desired[key] = s ? build(*s) : Desired{};
  // Keys held by services not in this change keep their owner.
  std::map<Slot, std::string> claimed;
  for (auto& [key, d] : desired) claim(key, d.programmed.elements, owners_, &changed, claimed);
  std::vector<Change> changes;
  for (const auto& [key, d] : desired) {
    auto old = applied_.find(key);
    changes.push_back({old == applied_.end() ? nullptr : &old->second, &d.programmed, &d.chains});
  }
  nft::Transaction tx;
  std::set<std::string> needed, maps = countMaps_;
  for (const auto& [key, d] : desired) needed.merge(countMapsOf(d.programmed.elements));
  addCountMaps(tx, needed, maps);
  applyChanges(tx, changes);
  std::map<Ipv4Address, int> refs = hairpinRefs_;
  for (const Change& c : changes) changeHairpin(tx, c.before, *c.after, refs);
  if (tx.empty()) return {};
  TRY(nft_.commit(tx));
  hairpinRefs_ = std::move(refs);
  countMaps_ = std::move(maps);
  deleteStaleFlows(changed);
  for (auto& [key, d] : desired)
    if (auto old = applied_.find(key); old != applied_.end())
      for (const Element& e : old->second.elements) owners_.erase(slotOf(e));
  for (auto& [key, d] : desired) {
    for (const Element& e : d.programmed.elements) owners_[slotOf(e)] = key;
    if (changed.at(key))
      applied_[key] = std::move(d.programmed);
    else
      applied_.erase(key);
  }
  return {};
}

namespace {

std::set<Ipv4Address> usableAddresses(const ServicePort& p, const std::string& node) {
  std::set<Ipv4Address> out;
  for (const Endpoint& e : usableEndpoints(p.endpoints)) out.insert(e.ip);
  for (const Endpoint& e : usableEndpoints(p.endpoints, &node)) out.insert(e.ip);
  return out;
}

}  // namespace

void Proxier::deleteStaleFlows(const std::map<std::string, std::optional<Service>>& changed) {
  std::vector<StaleFlow> flows;
  for (const auto& [key, now] : changed) {
    auto old = services_.find(key);
    if (old != services_.end()) {
      const Service& was = old->second;
      for (const ServicePort& op : was.ports) {
        if (op.protocol != IPPROTO_UDP) continue;
        std::set<Ipv4Address> kept;
        if (now)
          for (const ServicePort& np : now->ports)
            if (np.name == op.name && np.protocol == op.protocol && np.port == op.port)
              kept = usableAddresses(np, options_.nodeName);
        std::vector<Ipv4Address> destinations = was.externalIps;
        destinations.insert(destinations.end(), was.loadBalancerIps.begin(),
                            was.loadBalancerIps.end());
        if (was.hasClusterIp) destinations.push_back(was.clusterIp);
        for (Ipv4Address gone : usableAddresses(op, options_.nodeName)) {
          if (kept.count(gone)) continue;
          for (Ipv4Address d : destinations) flows.push_back({d, op.port, gone});
          if (op.nodePort) flows.push_back({Ipv4Address{}, op.nodePort, gone});
        }
      }
    }
    if (now)
      services_[key] = *now;
    else
      services_.erase(key);
  }
  if (!conntrack_ || flows.empty()) return;
  auto deleted = deleteStaleUdpFlows(*conntrack_, flows);
  if (!deleted.ok())
    log::warning("service proxy: stale UDP conntrack entries stay",
                 {{"error", deleted.error().message()}});
  else if (*deleted)
    log::info("service proxy: deleted stale UDP conntrack entries",
              {{"entries", std::to_string(*deleted)}});
}

Result<void> Proxier::uninstall() {
  services_.clear();
  applied_.clear();
  owners_.clear();
  hairpinRefs_.clear();
  countMaps_.clear();
  if (!TRY(nft_.hasTable({kIp, kTable}))) return {};
  nft::Transaction tx;
  tx.deleteTable({kIp, kTable});
  auto r = nft_.commit(tx);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return r;
  return {};
}

}  // namespace nave::network::proxy
