#include "server/controllers/nodeipam/node_ipam_controller.h"

#include <cassert>
#include <cstdlib>

#include "common/log.h"

namespace nave::controllers {
namespace {

using network::Ipv4Prefix;

const client::Resource kNodes{"", "v1", "nodes"};
constexpr char kComponent[] = "cidrAllocator";  // the range allocator's event source
constexpr int kDefaultNodeMaskSize = 24;

// The node's IPv4 pod CIDRs (spec.podCIDRs; spec.podCIDR for objects that only have that).
std::vector<Ipv4Prefix> podCidrs(const Json& node) {
  const Json& spec = objectMember(node, "spec");
  std::vector<std::string> texts;
  if (const Json* list = findMember(spec, "podCIDRs"); list && list->is_array()) {
    for (const Json& c : *list)
      if (c.is_string()) texts.push_back(c.get<std::string>());
  }
  if (texts.empty() && !getString(spec, "podCIDR").empty())
    texts.push_back(getString(spec, "podCIDR"));
  std::vector<Ipv4Prefix> out;
  for (const std::string& t : texts) {
    if (auto p = Ipv4Prefix::parse(t); p.ok()) out.push_back(Ipv4Prefix{p->network(), p->length});
  }
  return out;
}

bool hasPodCidrs(const Json& node) {
  const Json* list = findMember(objectMember(node, "spec"), "podCIDRs");
  return (list && list->is_array() && !list->empty()) ||
         !getString(objectMember(node, "spec"), "podCIDR").empty();
}

CidrSet makeSet(const NodeIpamOptions& o) {
  auto set = CidrSet::create(o.clusterCidr, o.nodeMaskSize);
  if (!set.ok()) {  // NodeIpamOptions::parse checked this
    log::error("invalid node IPAM options", {{"error", set.error().message()}});
    std::abort();
  }
  if (o.serviceCidr) (void)set->occupy(*o.serviceCidr);  // kInvalid: no overlap
  return std::move(*set);
}

}  // namespace

Result<NodeIpamOptions> NodeIpamOptions::parse(const std::string& clusterCidr,
                                               const std::string& serviceCidr) {
  NodeIpamOptions o;
  auto cluster = Ipv4Prefix::parse(clusterCidr);
  if (!cluster.ok()) return std::move(cluster).error().context("cluster CIDR");
  o.clusterCidr = Ipv4Prefix{cluster->network(), cluster->length};
  o.nodeMaskSize = std::max(kDefaultNodeMaskSize, cluster->length);
  if (!serviceCidr.empty()) {
    auto service = Ipv4Prefix::parse(serviceCidr);
    if (!service.ok()) return std::move(service).error().context("service CIDR");
    o.serviceCidr = *service;
  }
  TRY(CidrSet::create(o.clusterCidr, o.nodeMaskSize));
  return o;
}

NodeIpamController::NodeIpamController(ControllerContext& ctx, const NodeIpamOptions& options)
    : ctx_(ctx),
      nodes_(ctx.informers.informer(kNodes)),
      queue_(std::chrono::milliseconds(100), std::chrono::seconds(30)),
      cidrs_(makeSet(options)) {
  nodes_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after == nullptr) {
      std::string name = getString(objectMember(*before, "metadata"), "name");
      std::set<std::string> waiting;
      {
        std::lock_guard lock(mu_);
        releaseLocked(name);
        waiting.swap(waiting_);
      }
      for (const std::string& w : waiting) queue_.add(w);  // a CIDR may be free now
      return;
    }
    std::string name = getString(objectMember(*after, "metadata"), "name");
    if (!hasPodCidrs(*after)) {
      queue_.add(name);
      return;
    }
    std::vector<Ipv4Prefix> cidrs = podCidrs(*after);
    std::lock_guard lock(mu_);
    waiting_.erase(name);
    if (!cidrs.empty()) holdLocked(name, cidrs[0]);
  });
}

void NodeIpamController::start() {
  // The informer has listed, but its handlers may still be on their way: take every listed
  // node's CIDR before the first allocation, as the range allocator does with its node list.
  {
    std::lock_guard lock(mu_);
    for (const Json& node : nodes_.list()) {
      std::vector<Ipv4Prefix> cidrs = podCidrs(node);
      if (!cidrs.empty()) holdLocked(getString(objectMember(node, "metadata"), "name"), cidrs[0]);
    }
  }
  workers_.start(queue_, 1, "nodeipam",
                 [this](const std::string& name) { return reconcile(name); });
}

void NodeIpamController::holdLocked(const std::string& name, const Ipv4Prefix& cidr) {
  auto it = held_.find(name);
  if (it != held_.end() && it->second == cidr) return;
  if (it != held_.end()) releaseLocked(name);
  if (auto r = cidrs_.occupy(cidr); !r.ok()) {
    // A CIDR from another cluster CIDR (the flag changed): the node keeps it, nothing is taken
    // (and releasing it later changes nothing).
    log::warning("a node's pod CIDR is outside the cluster CIDR",
                 {{"node", name}, {"podCIDR", cidr.toString()}, {"error", r.error().message()}});
  }
  held_[name] = cidr;
}

void NodeIpamController::releaseLocked(const std::string& name) {
  auto it = held_.find(name);
  if (it == held_.end()) return;
  Ipv4Prefix cidr = it->second;
  held_.erase(it);
  // Two nodes given the same CIDR by hand: it stays taken while one of them holds it.
  for (const auto& [other, c] : held_)
    if (c == cidr) return;
  (void)cidrs_.release(cidr);
}

Result<Reconciled> NodeIpamController::reconcile(const std::string& name) {
  auto node = nodes_.get(name);
  if (!node || hasPodCidrs(*node)) return Reconciled{};
  std::optional<Ipv4Prefix> given;
  {
    std::lock_guard lock(mu_);
    if (auto it = held_.find(name); it != held_.end()) {
      given = it->second;  // by an earlier patch the informer has not shown yet
    } else if ((given = cidrs_.allocateNext())) {
      held_[name] = *given;
    } else {
      waiting_.insert(name);
    }
  }
  if (!given) {
    log::warning("no pod CIDR is left for a node", {{"node", name}});
    ctx_.events.eventAs(kComponent, *node, "Normal", "CIDRNotAvailable",
                        "Node " + name + " status is now: CIDRNotAvailable");
    return Reconciled{};
  }
  const Ipv4Prefix cidr = *given;
  Json patch = {
      {"spec", {{"podCIDR", cidr.toString()}, {"podCIDRs", Json::array({cidr.toString()})}}}};
  auto r = ctx_.client.patch(kNodes, "", name, api::PatchType::kStrategic, dumpJson(patch));
  if (r.ok()) {
    log::info("Set node PodCIDR", {{"node", name}, {"podCIDR", cidr.toString()}});
    return Reconciled{};
  }
  // A timeout may have been applied after all: the CIDR stays taken until the node shows
  // what it got. Anything else did not set it: free it for the next try.
  if (!r.error().is(ErrorCode::kTimeout)) {
    std::lock_guard lock(mu_);
    if (auto it = held_.find(name); it != held_.end() && it->second == cidr) releaseLocked(name);
  }
  if (r.error().is(ErrorCode::kNotFound)) return Reconciled{};
  return std::move(r).error().context("set the pod CIDR of node " + name);
}

}  // namespace nave::controllers
