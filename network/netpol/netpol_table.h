// NetpolTable: the nftables table `inet nave-netpol`, all that NetworkPolicy enforcement keeps
// in the kernel (nothing outside it is touched):
//
//   chain egress   (filter, hook forward, priority filter)
//     ct state established,related accept   replies, and connections older than a policy
//     ip saddr . ip daddr @self accept      a pod reaching itself (through a Service)
//     ip saddr vmap @egress-pods            pods isolated for egress: goto their pod chain
//   chain ingress  (filter, hook forward, priority filter + 1)
//     ct state established,related accept
//     ip saddr . ip daddr @self accept
//     fib saddr type local accept           the node itself (probes)
//     ip daddr vmap @ingress-pods           pods isolated for ingress: goto their pod chain
//   chain in-HASH / out-HASH                a pod chain (ruleset.h), e.g.
//     ip saddr @in_default/web_0 meta l4proto tcp th dport 80 accept
//     counter reject
//   set in_NS/NAME_N, out_NS/NAME_N         the peers of rule N of a policy: an interval set
//   set out_NS/NAME_N_M                     destinations of named port M: address . port
//
// The forward hook sees routed traffic (to and from other nodes) and, with the node's
// net.bridge.bridge-nf-call-iptables=1, traffic bridged between two pods of the node. Every
// packet crosses both base chains, the sender's egress check and the receiver's ingress check:
// an accept ends only its own base chain, a reject ends the hook. Pod chains, sets and the map
// elements are found by lookups, so a packet's cost does not grow with the number of policies.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "common/result.h"
#include "network/netpol/ruleset.h"
#include "network/nftables/nft_socket.h"

namespace nave::network::netpol {

class NetpolTable {
 public:
  static constexpr char kName[] = "nave-netpol";

  explicit NetpolTable(nft::NftSocket nft) : nft_(std::move(nft)) {}

  // Makes the table hold `rules`, in one transaction: packets see the old rules or the new ones.
  // The first call, and the first after a failure, replaces whatever the table held (e.g. what
  // an earlier agent left); later calls change only what differs from the last applied rules.
  // Not thread-safe.
  Result<void> apply(const Ruleset& rules);
  // Deletes the table (missing is not an error); the next apply() starts over.
  Result<void> remove();
  // The number of operations in the last transaction apply() committed (0: nothing changed).
  size_t lastOperations() const { return lastOperations_; }

 private:
  nft::NftSocket nft_;
  std::optional<Ruleset> applied_;
  size_t lastOperations_ = 0;
};

// The same table as an nft script, as `nft -f` loads it (benchmarks compare that with apply())
// and as a readable dump. It defines the table; it does not delete an existing one.
std::string renderTable(const Ruleset& rules);

}  // namespace nave::network::netpol
