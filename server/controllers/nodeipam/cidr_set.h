// CidrSet: the node CIDRs of one cluster CIDR (10.42.0.0/16 cut into /24s), which are free
// and which are taken (kube-controller-manager's cidrset). Allocation goes round the range:
// it continues after the last CIDR handed out, so a released CIDR is not given again at once.
// Not thread-safe (the controller holds its mutex).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "common/result.h"
#include "network/netlink/ipv4.h"

namespace nave::controllers {

class CidrSet {
 public:
  // kInvalid when `nodeMaskSize` is shorter than the cluster CIDR's prefix, longer than 30, or
  // would make more than 65536 node CIDRs.
  static Result<CidrSet> create(network::Ipv4Prefix clusterCidr, int nodeMaskSize);

  // The next free node CIDR, now taken; none when every one is.
  std::optional<network::Ipv4Prefix> allocateNext();
  // Marks every node CIDR that `cidr` overlaps as taken (a node's CIDR, or a range such as
  // the service CIDR). kInvalid when `cidr` lies outside the cluster CIDR.
  Result<void> occupy(const network::Ipv4Prefix& cidr);
  // Frees every node CIDR that `cidr` overlaps. kInvalid when outside the cluster CIDR.
  Result<void> release(const network::Ipv4Prefix& cidr);

  size_t size() const { return used_.size(); }  // how many node CIDRs there are
  size_t allocated() const { return allocated_; }

 private:
  CidrSet(network::Ipv4Prefix cluster, int nodeMaskSize)
      : cluster_(cluster),
        nodeMaskSize_(nodeMaskSize),
        used_(size_t{1} << (nodeMaskSize - cluster.length), false) {}
  // The indexes of the node CIDRs `cidr` overlaps, [first, last].
  Result<std::pair<size_t, size_t>> indexes(const network::Ipv4Prefix& cidr) const;
  void mark(const network::Ipv4Prefix& cidr, bool used);

  network::Ipv4Prefix cluster_;
  int nodeMaskSize_;
  std::vector<bool> used_;
  size_t allocated_ = 0;
  size_t next_ = 0;  // where the next allocation starts looking
};

}  // namespace nave::controllers
