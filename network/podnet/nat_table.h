// NatTable: the pod network's nftables table, `ip nave-podnet`, and nothing outside it.
//
//   chain prerouting  (nat, dstnat)   jump hostports           traffic arriving at the node
//   chain output      (nat, dstnat)   jump hostports           traffic the node itself sends
//   chain hostports   (each marks what it DNATs: meta mark set meta mark | 0x2000)
//                     dnat ip to ip daddr . meta l4proto . th dport map @hostports-ip
//                     fib daddr type local dnat ip to meta l4proto . th dport map @hostports
//   chain postrouting (nat, srcnat)
//     ip saddr POD_CIDR ip daddr != CLUSTER_CIDR masquerade        pods reaching the outside
//     meta mark & 0x2000 != 0 ip saddr POD_CIDR oifname BRIDGE masquerade
//                                                   hairpin: a pod to a hostPort on its node
//     ip saddr 127.0.0.0/8 oifname BRIDGE masquerade               localhost to a hostPort
//
// The two maps hold the hostPort mappings, valued with the pod's address and port:
// `hostports` for mappings on every node address, `hostports-ip` for those with a hostIP. A
// sandbox's mappings are found by that value, so attaching or detaching one is a small
// transaction of element changes, never a rebuild, and the base chains' rules are the same
// whatever the pods.
//
// Hairpin and localhost traffic is masqueraded so that replies return through the node,
// where conntrack undoes the DNAT (a pod answering another pod on the bridge directly would
// bypass it). Only hostPort traffic is (the mark): Service traffic between pods of one bridge
// keeps its pod source, which NetworkPolicy needs; its replies cross conntrack through
// br_netfilter, and the service proxy masquerades a pod reaching itself. Localhost needs route_localnet on the bridge, which PodNetwork sets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "network/netlink/ipv4.h"
#include "network/nftables/nft_socket.h"
#include "network/podnet/pod_network.h"

namespace nave::network {

// A validated hostPort mapping.
struct PortMapping {
  uint8_t protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP
  uint16_t hostPort = 0;
  uint16_t containerPort = 0;
  std::optional<Ipv4Address> hostIp;  // none: every address of the node
  std::string describe() const;       // "8080/TCP", "127.0.0.1:8080/TCP"
};

// kInvalid for an unknown protocol, a zero port, a hostIP that is not IPv4, or the same
// (hostIP, hostPort, protocol) twice. "0.0.0.0" means every address, like empty.
Result<std::vector<PortMapping>> parseHostPorts(const std::vector<HostPort>& hostPorts);

class NatTable {
 public:
  static constexpr char kName[] = "nave-podnet";
  static constexpr uint32_t kHostPortMark = 0x2000;  // the proxy's masquerade mark is 0x4000

  NatTable(Ipv4Prefix podCidr, Ipv4Prefix clusterCidr, std::string bridge)
      : podCidr_(podCidr), clusterCidr_(clusterCidr), bridge_(std::move(bridge)) {}

  // Creates the table, or brings an existing one to this layout in one transaction: chains
  // and their rules are rewritten, the maps and their elements are kept (a restarted agent
  // keeps its pods' hostPorts).
  Result<void> ensure(nft::NftSocket& nft) const;
  // Makes the maps hold exactly `mappings` for the pod at `podIp`, in one transaction.
  // kConflict when another pod holds one of the ports.
  Result<void> setHostPorts(nft::NftSocket& nft, Ipv4Address podIp,
                            const std::vector<PortMapping>& mappings) const;
  // Deletes the table; missing is not an error.
  Result<void> remove(nft::NftSocket& nft) const;

 private:
  Ipv4Prefix podCidr_, clusterCidr_;
  std::string bridge_;
};

}  // namespace nave::network
