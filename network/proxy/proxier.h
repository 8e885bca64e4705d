// Proxier: programs the services of a node into the nftables table `ip nave`, as kube-proxy's
// nftables mode does, and touches nothing outside it.
//
//   nat-prerouting, nat-output (nat, dstnat)  jump services
//   nat-postrouting (nat, srcnat)             jump masquerading
//   filter-input, filter-forward, filter-output (filter, priority -110)
//                                             ct state new: jump the endpoints checks below
//   services                  ip daddr . meta l4proto . th dport vmap @service-ips
//                             fib daddr type local ip daddr != 127/8 meta l4proto . th dport
//                                 vmap @service-nodeports
//   service-endpoints-check   ip daddr . meta l4proto . th dport @no-endpoint-services reject
//                             ... @no-local-endpoint-services drop
//   nodeport-endpoints-check  fib daddr type local meta l4proto . th dport @no-endpoint-nodeports
//                                 reject
//   nat-postrouting           ct status dnat ip saddr . ip daddr @hairpin masquerade;
//                             jump masquerading: marked (0x4000) -> masquerade
//
// Per service port P ("ns/name/tcp/http"): `service-P` DNATs to one of the endpoints with
// `dnat to numgen random mod N map { ... }` (only the node's endpoints in `local-P` for a
// Local traffic policy; traffic from outside the cluster CIDR to the ClusterIP is marked);
// `external-P` is where NodePort, LoadBalancer and external IPs arrive (marked, or for
// externalTrafficPolicy Local the source kept and only local endpoints). With session
// affinity, `service-P` goes to an `endpoint-P__IP/PORT` chain per endpoint that records the
// client in a set with a timeout (kube-proxy's layout). The maps make the first packet's cost
// independent of the number of services; a port without usable endpoints is in the
// no-endpoint sets instead (ICMP port unreachable, or drop when only a Local policy finds
// none). Changing a service's endpoints rewrites its chains without any jump, which keeps the
// kernel from re-validating the whole table.
//
// Not thread-safe: one sync thread owns it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "network/nftables/nft_socket.h"
#include "network/proxy/service_model.h"

namespace nave::network::proxy {

struct ProxierOptions {
  std::string nodeName;      // endpoints with this nodeName are local
  Ipv4Prefix clusterCidr{};  // pod traffic; others reaching a ClusterIP are masqueraded
};

class Proxier {
 public:
  static constexpr char kTable[] = "nave";
  static constexpr uint32_t kMasqueradeMark = 0x4000;

  Proxier(nft::NftSocket nft, ProxierOptions options)
      : nft_(std::move(nft)), options_(std::move(options)) {}

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
    nft::Verdict verdict;
    auto operator<=>(const Element& o) const {
      return std::tie(map, key, verdict.code, verdict.chain) <=>
             std::tie(o.map, o.key, o.verdict.code, o.verdict.chain);
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
  static void changeHairpin(nft::Transaction& tx, const Programmed* before,
                            const Programmed& after, std::map<Ipv4Address, int>& refs);

  nft::NftSocket nft_;
  ProxierOptions options_;
  std::map<std::string, Programmed> applied_;  // by service key, as in the kernel
  // Which service holds each map key (a map, an address, protocol and port).
  std::map<std::pair<std::string, nft::Bytes>, std::string> owners_;
  // How many services have each endpoint address (the hairpin set holds those above 0).
  std::map<Ipv4Address, int> hairpinRefs_;
};

}  // namespace nave::network::proxy
