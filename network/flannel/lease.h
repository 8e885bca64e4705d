// What a node tells the others about its pod network, read from its Node object the way
// flannel's Kubernetes subnet manager (k3s' flannel) reads it: the pod CIDR from
// spec.podCIDR, the backend and its data from flannel's annotations, the address to reach the
// node by from flannel.alpha.coreos.com/public-ip (or, for nodes without it, the InternalIP).
#pragma once

#include <optional>
#include <string>

#include "common/json.h"
#include "network/netlink/ipv4.h"
#include "network/netlink/rtnl.h"

namespace nave::network::flannel {

// flannel's Node annotations (nave writes them as flannel does, so that the names mean the
// same in a k3s-shaped cluster).
inline constexpr char kBackendTypeAnnotation[] = "flannel.alpha.coreos.com/backend-type";
inline constexpr char kBackendDataAnnotation[] = "flannel.alpha.coreos.com/backend-data";
inline constexpr char kPublicIpAnnotation[] = "flannel.alpha.coreos.com/public-ip";
inline constexpr char kSubnetManagerAnnotation[] = "flannel.alpha.coreos.com/kube-subnet-manager";

struct Lease {
  std::string node;
  Ipv4Prefix podCidr;
  Ipv4Address publicIp;
  std::string backendType;                     // "host-gw", "vxlan"; empty when not annotated
  std::optional<netlink::MacAddress> vtepMac;  // vxlan: the node's flannel.1 address

  friend bool operator==(const Lease& a, const Lease& b) = default;
};

// The node's lease; none while it has no (IPv4) pod CIDR or no address. Backend data that
// does not parse leaves vtepMac empty.
std::optional<Lease> leaseOf(const Json& node);

}  // namespace nave::network::flannel
