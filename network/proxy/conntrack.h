// Stale UDP conntrack entries. A UDP "connection" keeps its DNAT to an endpoint for as long as
// packets flow (the 5-tuple stays in conntrack), so a client reusing its socket would keep
// sending to an endpoint that is gone. kube-proxy deletes those entries when an endpoint leaves
// a UDP service; so does ServiceProxy (through Proxier), with ctnetlink.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "network/netlink/ipv4.h"
#include "network/netlink/netlink_socket.h"

namespace nave::network::proxy {

// UDP flows sent to `destination`:`port` (an unset destination: any address, for NodePorts)
// that were translated to `endpoint`.
struct StaleFlow {
  Ipv4Address destination;
  uint16_t port = 0;
  Ipv4Address endpoint;
};

// Deletes the conntrack entries of the namespace `nl` (NETLINK_NETFILTER) was opened in that
// match any of `flows`; returns how many were deleted. Entries that vanish meanwhile are no
// error.
Result<size_t> deleteStaleUdpFlows(NetlinkSocket& nl, const std::vector<StaleFlow>& flows);

}  // namespace nave::network::proxy
