// Ruleset: what NetworkPolicies mean for the pods of one node, as the contents of the nftables
// table that enforces them (netpol_table.h shows the layout). A pure function of the cluster
// state, so that it is computed from scratch after every batch of changes and the table is
// brought to it by the difference from the last one.
//
// Semantics (networking.k8s.io/v1, as kube-router enforces them in k3s):
// - A pod is isolated for ingress (egress) when a policy of its namespace selects it with that
//   policy type; it then accepts (sends) new connections only as the union of those policies'
//   ingress (egress) rules allows. Pods nothing selects are not filtered. Replies and
//   connections established before a policy came are never filtered.
// - A rule allows traffic matching one of its peers (none: any address) and one of its ports
//   (none: any). Peers: podSelector (the policy's namespace), namespaceSelector (every pod of
//   those namespaces), both (those pods in those namespaces), ipBlock (cidr minus except). As
//   in kube-router, an ipBlock matches pod addresses too, not only addresses outside the
//   cluster (Kubernetes leaves that to the implementation).
// - Ports: protocol (TCP by default, UDP, SCTP), a number, a range (endPort), or a named port,
//   resolved against the destination pod's container ports: for ingress the selected pod, for
//   egress the peer pods (every pod of the cluster when the rule has no peers). A named port a
//   destination does not have allows nothing to it.
// - Not filtered (Kubernetes requires it): traffic from the node to its pods (probes), and a
//   pod's traffic to itself (through a Service). Traffic from pods to the node is not filtered
//   either: it does not cross the forward hook (kube-router filters it; Kubernetes says traffic
//   to and from the node is always allowed).
// - ICMP is filtered as any other protocol: rules without ports allow it (errors about allowed
//   connections pass as related). kube-router always lets echo and some errors through.
// - hostNetwork pods are neither selected nor peers; pods without an address yet, or finished,
//   are left out.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "network/netpol/cluster_state.h"

namespace nave::network::netpol {

// One accepting rule of a pod chain: a packet that matches every field given.
struct AllowRule {
  // The other end's address is in this peer set (`ip saddr @S` in an ingress chain, `ip daddr
  // @S` in an egress one); empty: any address.
  std::string peerSet;
  // The destination's address and port are in this set (egress to a named port).
  std::string peerPortSet;
  uint8_t protocol = 0;                  // 0: any
  uint16_t firstPort = 0, lastPort = 0;  // destination ports; 0: any
  friend bool operator==(const AllowRule&, const AllowRule&) = default;
  friend auto operator<=>(const AllowRule&, const AllowRule&) = default;
};

// What a pod may receive (ingress) or send (egress): its rules, then reject.
struct PodChain {
  bool ingress = true;
  std::vector<AllowRule> rules;
  friend bool operator==(const PodChain&, const PodChain&) = default;
  friend auto operator<=>(const PodChain&, const PodChain&) = default;
};

struct Ruleset {
  // Interval sets: a rule's peers as disjoint, non-adjacent, sorted address ranges.
  std::map<std::string, std::vector<AddressRange>> peerSets;
  // Concatenated sets: a peer pod's address and its port of a given name.
  std::map<std::string, std::set<std::pair<Ipv4Address, uint16_t>>> portSets;
  // Pod chains by name. Pods with the same rules share one, named after a hash of its rules.
  std::map<std::string, PodChain> chains;
  // This node's isolated pods, by address, and their chains.
  std::map<Ipv4Address, std::string> ingressPods, egressPods;
  friend bool operator==(const Ruleset&, const Ruleset&) = default;
};

// The ruleset for the pods on `nodeName`.
Ruleset computeRuleset(const ClusterState& state, std::string_view nodeName);

// A rule as nft syntax ("ip saddr @S meta l4proto tcp th dport 80 accept"): the text pod chains
// are named after, and what renderTable (netpol_table.h) writes.
std::string renderRule(const AllowRule& rule, bool ingress);

}  // namespace nave::network::netpol
