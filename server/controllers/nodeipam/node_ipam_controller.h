// NodeIpamController: gives every Node a pod CIDR (kube-controller-manager's nodeipam
// controller with its range allocator, as k3s runs it: --allocate-node-cidrs, the cluster CIDR
// cut into /24s).
//
// A Node without spec.podCIDRs gets the next free node CIDR in spec.podCIDR and spec.podCIDRs
// (a strategic merge patch, as the range allocator's). The CIDRs live only in the Node
// objects: before the first allocation every listed Node's CIDR is marked taken, so a
// restarted controller (or another server that takes the Lease over) hands nothing out twice,
// and a Node keeps its CIDR for its lifetime (the API refuses to change it). A deleted Node's
// CIDR is free again. When none is left, the Node gets the range allocator's event
// (CIDRNotAvailable) and waits until a Node is deleted. Where the service CIDR overlaps the
// cluster CIDR, it is never handed out.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "network/netlink/ipv4.h"
#include "server/controllers/controller.h"
#include "server/controllers/nodeipam/cidr_set.h"

namespace nave::controllers {

struct NodeIpamOptions {
  network::Ipv4Prefix clusterCidr;
  int nodeMaskSize = 24;
  std::optional<network::Ipv4Prefix> serviceCidr;

  // From the server's --cluster-cidr and --service-cidr (empty: none). The node mask size is
  // 24, as k3s' default, or the cluster CIDR's own length when that is longer. kInvalid for
  // CIDRs that do not parse or a cluster CIDR too large to cut (more than 65536 nodes).
  static Result<NodeIpamOptions> parse(const std::string& clusterCidr,
                                       const std::string& serviceCidr);
};

class NodeIpamController final : public Controller {
 public:
  // `options` come from NodeIpamOptions::parse.
  NodeIpamController(ControllerContext& ctx, const NodeIpamOptions& options);
  ~NodeIpamController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& name);
  // The node now holds `cidr` (seen in its spec): taken, and what it held before released.
  void holdLocked(const std::string& name, const network::Ipv4Prefix& cidr);
  void releaseLocked(const std::string& name);  // the node no longer holds anything

  ControllerContext& ctx_;
  Informer& nodes_;
  WorkQueue queue_;
  Workers workers_;
  std::mutex mu_;
  CidrSet cidrs_;                                    // guarded by mu_
  std::map<std::string, network::Ipv4Prefix> held_;  // node -> its CIDR; guarded by mu_
  std::set<std::string> waiting_;  // nodes that found the range full; guarded by mu_
};

}  // namespace nave::controllers
