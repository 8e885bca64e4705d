// Proxier: programs the services of a node into the nftables table `ip nave`, after kube-proxy's
// nftables mode, and touches nothing outside it.
//
//   nat-prerouting, nat-output (nat, dstnat)  jump services
//   nat-postrouting (nat, srcnat)             ct status dnat ip saddr . ip daddr @hairpin
//                                                 masquerade; jump masquerading (mark 0x4000)
//   filter-input, filter-forward, filter-output (filter, priority -110)
//                                             ct state new: the no-endpoint checks below
//   services
//     (marks)  ip saddr != CLUSTER_CIDR ip daddr . meta l4proto . th dport
//                  @masquerade-off-cluster meta mark set meta mark | 0x4000
//              ... @masquerade-external ...; fib daddr type local ... @masquerade-nodeports ...
//     ip daddr . meta l4proto . th dport vmap @service-ips
//     fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
//     jump dnat-by-endpoint-count
//   dnat-by-endpoint-count, one rule per endpoint count N in use:
//     dnat ip to ip daddr . meta l4proto . th dport . numgen random mod N map @ips-N
//     fib daddr type local ... dnat ip to meta l4proto . th dport . numgen random mod N
//         map @nodeports-N
//   service-endpoints-check   ip daddr . meta l4proto . th dport @no-endpoint-services reject
//                             ... @no-local-endpoint-services drop
//   nodeport-endpoints-check  fib daddr type local meta l4proto . th dport @no-endpoint-nodeports
//                                 reject
//   cluster-ips-check (forward, and output after DNAT: what no rule translated)
//                             ip daddr @cluster-ips reject (a port the service lacks)
//                             ip daddr SERVICE_CIDR drop (no such service)
//
// Most service ports are only map elements: each destination (ClusterIP, external and
// LoadBalancer address, NodePort) has N elements in the map of its endpoint count N, keyed by
// the endpoint slot, valued with the endpoint (internalTrafficPolicy Local: the node's
// endpoints for the ClusterIP). Adding, changing or deleting such a service changes elements
// only. Rules with NAT or jumps are another matter: any transaction adding one makes the
// kernel re-validate every chain reachable from the base chains, which with a chain per
// service (kube-proxy's layout) costs ~25 ms at 5,000 services on this machine.
//
// Ports that need per-service rules get chains reached through the verdict maps:
// `external-P` for externalTrafficPolicy Local (pods and the node itself go cluster-wide,
// outside traffic keeps its source and only reaches local endpoints, or is dropped), and with
// session affinity `service-P`/`local-P` (`ip saddr @affinity-... goto endpoint-...`, else
// `numgen random mod N vmap`) and `endpoint-P__IP/PORT` (`update @affinity-... { ip saddr }`,
// DNAT), P being "ns/name/tcp/portname". A port without usable endpoints is in the
// no-endpoint sets (ICMP port unreachable; drop when only a Local policy finds none).
//
// Not thread-safe: one sync thread owns it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "network/netlink/netlink_socket.h"
#include "network/nftables/nft_socket.h"
#include "network/proxy/service_model.h"

namespace nave::network::proxy {

struct ProxierOptions {
  std::string nodeName;      // endpoints with this nodeName are local
  Ipv4Prefix clusterCidr{};  // pod traffic; others reaching a ClusterIP are masqueraded
  // Traffic to addresses of it that no service holds is dropped (none: left alone).
  std::optional<Ipv4Prefix> serviceCidr;
};

class Proxier {
 public:
  static constexpr char kTable[] = "nave";
  static constexpr uint32_t kMasqueradeMark = 0x4000;

  // With `conntrack` (NETLINK_NETFILTER, same namespace), the conntrack entries of UDP flows
  // to endpoints that left a service are deleted after each change.
  Proxier(nft::NftSocket nft, ProxierOptions options,
          std::optional<NetlinkSocket> conntrack = std::nullopt)
      : nft_(std::move(nft)), options_(std::move(options)), conntrack_(std::move(conntrack)) {}

  // Replaces the table with one holding exactly `services`, in one transaction.
  Result<void> syncAll(const std::vector<Service>& services);
  // Applies the changes of some services (keyed "ns/name"; none: deleted) in one
  // transaction, touching only their chains and map elements. On failure nothing changed and
  // the caller should syncAll.
  Result<void> syncChanged(const std::map<std::string, std::optional<Service>>& changed);
  // Deletes the table (missing is no error).
  Result<void> uninstall();

  size_t serviceCount() const { return applied_.size(); }

  // The rules of one chain and the map elements of one service, computed (public for tests).
  struct Element {
    std::string map;
    nft::Bytes key;
    nft::Verdict verdict;  // of verdict maps
    nft::Bytes data;       // of data maps
    auto operator<=>(const Element& o) const {
      return std::tie(map, key, verdict.code, verdict.chain, data) <=>
             std::tie(o.map, o.key, o.verdict.code, o.verdict.chain, o.data);
    }
    bool operator==(const Element& o) const = default;
  };
  struct ChainRules;
  struct Programmed {
    std::set<Element> elements;
    std::map<std::string, std::string> chains;  // name -> text of its rules
    std::map<std::string, uint32_t> sets;       // affinity sets -> timeout (ms)
    std::set<Ipv4Address> hairpin;              // endpoint addresses
  };

 private:
  struct Desired;
  Desired build(const Service& s) const;
  void addBase(nft::Transaction& tx) const;
  // Adds to `tx` the hairpin set's changes for services going from `before` to `after`,
  // counting references in `refs` (a copy of hairpinRefs_ to keep once committed).
  // Creates the per-endpoint-count maps `desired` needs that the table lacks, and rewrites the
  // chain that looks them up.
  void addCountMaps(nft::Transaction& tx, const std::set<std::string>& needed,
                    std::set<std::string>& maps) const;
  static void changeHairpin(nft::Transaction& tx, const Programmed* before, const Programmed& after,
                            std::map<Ipv4Address, int>& refs);

  void deleteStaleFlows(const std::map<std::string, std::optional<Service>>& changed);

  nft::NftSocket nft_;
  ProxierOptions options_;
  std::optional<NetlinkSocket> conntrack_;
  std::map<std::string, Service> services_;    // as last applied, by key
  std::map<std::string, Programmed> applied_;  // by service key, as in the kernel
  // Which service holds each map key (a map, an address, protocol and port).
  std::map<std::pair<std::string, nft::Bytes>, std::string> owners_;
  // How many services have each endpoint address (the hairpin set holds those above 0).
  std::map<Ipv4Address, int> hairpinRefs_;
  std::set<std::string> countMaps_;  // the "ips-N" and "nodeports-N" maps in the table
};

}  // namespace nave::network::proxy
