// Backend: the routes from this node to the other nodes' pod CIDRs, laid out as flannel's
// backends lay them out (k3s' --flannel-backend), in the network namespace it was opened in.
//
//   host-gw (nodes on one L2 network): per remote node
//     ip route replace POD_CIDR via NODE_IP proto 78
//   vxlan: a device flannel.1 (VNI 1, UDP port 8472, local NODE_IP, nolearning, MTU 50 below
//   the node's own device), holding the network address of this node's pod CIDR as a /32;
//   per remote node (its VtepMAC from its Node's annotations)
//     ip neigh replace POD_NET lladdr VTEP_MAC dev flannel.1 nud permanent
//     bridge fdb replace VTEP_MAC dev flannel.1 dst NODE_IP self permanent
//     ip route replace POD_CIDR via POD_NET dev flannel.1 onlink proto 78
//   where POD_NET is the network address of the remote pod CIDR (10.42.1.0).
//
// Routes carry a protocol number of nave's own (kRouteProtocol): whatever has it and belongs
// to no current node is removed, after a restart too. Nothing else is touched, apart from
// flannel.1 itself (made with vxlan, removed with host-gw) and its entries.
//
// Not thread-safe: one caller at a time (Flannel's single worker).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "network/flannel/lease.h"

namespace nave::network::flannel {

inline constexpr int kRouteProtocol = 78;  // `ip route show proto 78`
inline constexpr int kVxlanOverhead = 50;  // outer Ethernet, IPv4, UDP and VXLAN headers

struct BackendOptions {
  std::string type = "host-gw";  // or "vxlan"
  std::string nodeName;          // this node: its own lease is skipped
  Ipv4Address nodeIp;            // its InternalIP, the vxlan source address
  Ipv4Prefix podCidr;            // this node's
  std::string vxlanDevice = "flannel.1";
  uint32_t vni = 1;
  uint16_t port = 8472;  // flannel's (Linux's default is 4789)
};

class Backend {
 public:
  // Opens the backend in the calling thread's network namespace. vxlan creates the device
  // (or keeps one with the same settings, so that its MAC address stays; one with others is
  // made again) and sets its address; host-gw removes a vxlan device of that name left by an
  // earlier vxlan run. kInvalid for an unknown type.
  static Result<std::unique_ptr<Backend>> open(const BackendOptions& options);
  virtual ~Backend() = default;

  // The MTU for pods: that of the device holding the node IP (1500 when no device does),
  // less the encapsulation with vxlan.
  virtual int podMtu() const = 0;
  // The annotations of this node's Node object that tell the other nodes how to reach its
  // pods (flannel's backend-type, backend-data, public-ip, kube-subnet-manager).
  virtual Json annotations() const = 0;
  // Makes the routes (and vxlan's neighbour and forwarding entries) lead to exactly the pod
  // CIDRs of `leases`, skipping this node's, those of another backend type and, for vxlan,
  // those without a VtepMAC yet; removes what nave programmed for any other node. Writes only
  // what differs. A node that cannot be programmed (host-gw: its IP is not on a local
  // network) does not stop the others; the first such error is returned.
  virtual Result<void> sync(const std::vector<Lease>& leases) = 0;
  // Removes every route and entry it made, and the vxlan device (uninstall; tests).
  virtual Result<void> destroy() = 0;
};

}  // namespace nave::network::flannel
