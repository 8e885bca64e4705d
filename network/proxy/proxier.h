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
//   service-endpoints-check   ip daddr . meta l4proto . th dport vmap @no-endpoint-services
//   nodeport-endpoints-check  fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports
//   reject-chain              reject (ICMP port unreachable)
//   mark-for-masquerade       meta mark |= 0x4000;  masquerading: marked -> masquerade
//
// Per service port P ("ns/name/tcp/http"): `service-P` picks among the endpoints with
// `numgen random mod N vmap { ... }` (only the node's endpoints in `local-P` for a Local
// traffic policy); `external-P` is where NodePort, LoadBalancer and external IPs arrive
// (masquerade, or for externalTrafficPolicy Local the source kept and only local endpoints);
// `endpoint-P__IP/PORT` DNATs (hairpin traffic masqueraded). The maps make the first packet's
// cost independent of the number of services; a port without usable endpoints is in the
// no-endpoint maps instead (reject, or drop when only a Local policy finds none).
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
  };

 private:
  struct Desired;
  Desired build(const Service& s) const;
  void addBase(nft::Transaction& tx) const;

  nft::NftSocket nft_;
  ProxierOptions options_;
  std::map<std::string, Programmed> applied_;  // by service key, as in the kernel
  // Which service holds each map key (a map, an address, protocol and port).
  std::map<std::pair<std::string, nft::Bytes>, std::string> owners_;
};

}  // namespace nave::network::proxy
