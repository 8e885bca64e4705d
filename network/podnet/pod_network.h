// PodNetwork: a node's pod network, as the agent uses it for each pod sandbox.
//
// One Linux bridge per node (default "nave0") holding the gateway address (the first address
// of the node's pod CIDR, e.g. 10.42.0.1/24); a veth pair per sandbox, the host end on the
// bridge and the other end created in the sandbox's network namespace as eth0 with an
// address from the pod CIDR and a default route through the gateway. Addresses come from a
// small host-local allocator whose records live under `stateDir`, so they survive restarts
// and are never handed out twice. Traffic from the pod CIDR to outside the cluster CIDR is
// masqueraded; hostPort mappings are DNATed; both in an nftables table of nave's own,
// `ip nave-podnet` (nothing outside it is touched; layout in nat_table.h). Netlink goes through
// libmnl and nftables through libnftnl: no `ip` or `nft` programs are run.
//
// Everything acts on the network namespace of the thread that calls open() (the "host"; in
// the agent, the node's), whichever thread makes the later calls: its sockets are opened there
// once. Tests open it from a thread inside a namespace they created.
//
// Thread-safe: attach, detach and destroy of one PodNetwork run one at a time; two PodNetworks
// (or processes) on the same stateDir share the address records safely.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace nave::network {

struct PodNetworkOptions {
  std::string bridge = "nave0";
  std::string podCidr = "10.42.0.0/24";      // this node's; the gateway is its first address
  std::string clusterCidr = "10.42.0.0/16";  // traffic leaving it is masqueraded
  int mtu = 1500;                            // of the bridge and the veths (0: the default)
  std::string stateDir;                      // e.g. DATA/agent/run/podnet: IPAM records
};

struct HostPort {
  std::string protocol = "TCP";  // TCP, UDP or SCTP
  uint16_t hostPort = 0;
  uint16_t containerPort = 0;
  std::string hostIp;  // empty: every address of the node
};

struct PodAttachment {
  std::string sandboxId;
  std::string interfaceName;  // the host end of the veth
  std::string ip;             // the pod's IPv4 address, without prefix length
  std::string gateway;
  int prefixLength = 0;
};

class PodNetwork {
 public:
  // Creates (or adopts) the bridge, the nftables tables and the state directory, and turns
  // on IPv4 forwarding. Idempotent: a restarted agent opens the same network, keeping its pods'
  // links, addresses and hostPort mappings. kInvalid for bad options (a CIDR that does not
  // parse, a pod CIDR with host bits, smaller than /30 or outside the cluster CIDR, a bad
  // bridge name or MTU, a relative stateDir); kConflict when a link of the bridge's name is
  // not a bridge. A failure may leave the bridge or the table behind; the next open adopts them.
  static Result<std::unique_ptr<PodNetwork>> open(const PodNetworkOptions& options);
  virtual ~PodNetwork() = default;

  // Connects the sandbox whose network namespace is bound at `netnsPath` (its loopback is
  // already up): allocates an address (the one recorded for this sandbox if any), creates the
  // veth pair, configures eth0 and its default route, installs the hostPort mappings. Safe to
  // repeat for the same sandbox (returns the same attachment, keeps its veth, replaces its
  // hostPort mappings). On failure nothing this call created is left.
  // Errors: kInvalid (sandbox id, hostPorts, a file that is not a network namespace),
  // kNotFound (no such netnsPath), kUnavailable (no free address in the pod CIDR, or after
  // destroy()), kConflict (a hostPort mapped to another sandbox).
  virtual Result<PodAttachment> attach(const std::string& sandboxId, const std::string& netnsPath,
                                       const std::vector<HostPort>& hostPorts) = 0;
  // Removes the sandbox's veth, hostPort mappings and address record. `netnsPath` may
  // already be gone. Missing is not an error.
  virtual Result<void> detach(const std::string& sandboxId, const std::string& netnsPath) = 0;

  // The sandboxes with an address, e.g. to release those whose sandboxes no longer exist
  // after a restart.
  virtual std::vector<PodAttachment> list() const = 0;

  // Removes the sandboxes' veths, the bridge, the nftables tables and stateDir (uninstall;
  // tests). IPv4 forwarding stays on: other things on the node may rely on it. The object is
  // unusable afterwards (kUnavailable); destroying again is a no-op.
  virtual Result<void> destroy() = 0;
};

}  // namespace nave::network
