#include "server/controllers/nodeipam/cidr_set.h"

namespace nave::controllers {

using network::Ipv4Address;
using network::Ipv4Prefix;

Result<CidrSet> CidrSet::create(Ipv4Prefix clusterCidr, int nodeMaskSize) {
  Ipv4Prefix cluster{clusterCidr.network(), clusterCidr.length};
  if (nodeMaskSize < cluster.length || nodeMaskSize > 30 || nodeMaskSize - cluster.length > 16)
    return Error(ErrorCode::kInvalid, "node CIDR mask size " + std::to_string(nodeMaskSize) +
                                          " does not fit the cluster CIDR " + cluster.toString() +
                                          " (it must lie between its prefix length and 30, and "
                                          "at most 16 more than the prefix length)");
  return CidrSet(cluster, nodeMaskSize);
}

std::optional<Ipv4Prefix> CidrSet::allocateNext() {
  if (allocated_ == used_.size()) return std::nullopt;
  size_t i = next_;
  while (used_[i]) i = (i + 1) % used_.size();
  used_[i] = true;
  ++allocated_;
  next_ = (i + 1) % used_.size();
  uint32_t base = cluster_.network().value + (static_cast<uint32_t>(i) << (32 - nodeMaskSize_));
  return Ipv4Prefix{Ipv4Address{base}, nodeMaskSize_};
}

Result<std::pair<size_t, size_t>> CidrSet::indexes(const Ipv4Prefix& cidr) const {
  // Overlapping prefixes: one contains the other.
  Ipv4Prefix c{cidr.network(), cidr.length};
  if (!cluster_.contains(c) && !c.contains(cluster_))
    return Error(ErrorCode::kInvalid,
                 "CIDR " + cidr.toString() + " is outside the cluster CIDR " + cluster_.toString());
  if (c.contains(cluster_)) return std::pair<size_t, size_t>{0, used_.size() - 1};
  auto index = [&](Ipv4Address a) {
    return static_cast<size_t>((a.value - cluster_.network().value) >> (32 - nodeMaskSize_));
  };
  return std::pair<size_t, size_t>{index(c.network()), index(c.broadcast())};
}

void CidrSet::mark(const Ipv4Prefix& cidr, bool used) {
  auto [first, last] = *indexes(cidr);
  for (size_t i = first; i <= last; ++i) {
    if (used_[i] == used) continue;
    used_[i] = used;
    if (used) {
      ++allocated_;
    } else {
      --allocated_;
    }
  }
}

Result<void> CidrSet::occupy(const Ipv4Prefix& cidr) {
  TRY(indexes(cidr));
  mark(cidr, true);
  return {};
}

Result<void> CidrSet::release(const Ipv4Prefix& cidr) {
  TRY(indexes(cidr));
  mark(cidr, false);
  return {};
}

}  // namespace nave::controllers
