// The cluster as NetworkPolicy enforcement sees it: pods (labels, address, node, container
// ports), namespaces (labels) and policies with their selectors parsed, reduced from the
// API's JSON to plain values. What the policies mean is computed from these (ruleset.h).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "network/netlink/ipv4.h"
#include "server/selectors/selectors.h"

namespace nave::network::netpol {

struct ContainerPort {
  std::string name;  // empty for an unnamed port
  uint8_t protocol = IPPROTO_TCP;
  uint16_t port = 0;
  friend bool operator==(const ContainerPort&, const ContainerPort&) = default;
};

struct PodInfo {
  std::string ns, name, nodeName;
  Json labels = Json::object();
  std::optional<Ipv4Address> ip;  // status.podIP, when it is an IPv4 address
  bool hostNetwork = false;
  bool finished = false;             // phase Succeeded or Failed: its address may be reused
  std::vector<ContainerPort> ports;  // spec.containers[].ports (not init containers')

  // Whether policies apply to it at all, as a selected pod or as a peer: a running pod with an
  // address of its own (as kube-router: hostNetwork pods are neither selected nor peers).
  bool actionable() const { return ip.has_value() && !hostNetwork && !finished; }
  friend bool operator==(const PodInfo&, const PodInfo&) = default;
};

struct NamespaceInfo {
  std::string name;
  Json labels = Json::object();
  friend bool operator==(const NamespaceInfo&, const NamespaceInfo&) = default;
};

// An inclusive range of IPv4 addresses.
struct AddressRange {
  Ipv4Address first, last;
  friend bool operator==(const AddressRange&, const AddressRange&) = default;
  friend auto operator<=>(const AddressRange&, const AddressRange&) = default;
};

// One entry of a rule's `ports`.
struct PolicyPort {
  uint8_t protocol = IPPROTO_TCP;
  uint16_t port = 0;     // 0 (and no name): every port of the protocol
  uint16_t endPort = 0;  // with a numeric port: the last of the range [port, endPort]
  std::string name;      // a named container port instead of a number
};

// One entry of a rule's `from` or `to`.
struct PolicyPeer {
  // Pods: those `pods` selects (every pod when absent) in the namespaces `namespaces` selects
  // (when absent: the policy's own namespace).
  std::optional<selectors::LabelSelector> pods, namespaces;
  // An ipBlock instead: its IPv4 addresses, cidr minus except, as disjoint ranges (none for an
  // IPv6 block, which matches no IPv4 traffic).
  bool isBlock = false;
  std::vector<AddressRange> block;
};

struct PolicyRule {
  std::vector<PolicyPort> ports;  // empty: every port and protocol
  std::vector<PolicyPeer> peers;  // empty: every source (ingress) or destination (egress)
};

struct PolicyInfo {
  std::string ns, name;
  selectors::LabelSelector podSelector;
  // policyTypes; when the policy has none (the API server defaults them), Ingress, and Egress
  // when it has egress rules.
  bool ingress = false, egress = false;
  std::vector<PolicyRule> ingressRules, egressRules;
};

PodInfo parsePod(const Json& pod);
NamespaceInfo parseNamespace(const Json& ns);
// kInvalid for what the API server's validation refuses (bad selectors, CIDRs, protocols,
// ports): such a policy is not enforced at all, and the caller says so loudly.
Result<PolicyInfo> parsePolicy(const Json& policy);

// "10.0.0.0/8" minus each of `except` as disjoint ranges, in order; kInvalid for a malformed
// CIDR, and an empty list for an IPv6 one.
Result<std::vector<AddressRange>> blockRanges(const std::string& cidr,
                                              const std::vector<std::string>& except);

// Everything the informers hold, keyed as they key it ("namespace/name", or "name").
struct ClusterState {
  std::map<std::string, PodInfo> pods;
  std::map<std::string, NamespaceInfo> namespaces;
  std::map<std::string, PolicyInfo> policies;
};

}  // namespace nave::network::netpol
