#include "server/scheduler/node_info.h"

namespace nave::scheduler {

void NodeInfo::setNode(const Json& node) {
  node_ = node;
  const Json& md = objectField(node, "metadata");
  name_ = getString(md, "name");
  labels_ = objectField(md, "labels");
  if (!labels_.is_object()) labels_ = Json::object();
  const Json& spec = objectField(node, "spec");
  unschedulable_ = getBool(spec, "unschedulable");
  taints_.clear();
  if (const Json* ts = findMember(spec, "taints"); ts && ts->is_array())
    for (const Json& t : *ts)
      taints_.push_back({getString(t, "key"), getString(t, "value"), getString(t, "effect")});
  const Json& status = objectField(node, "status");
  const Json& alloc = objectField(status, "allocatable");
  allocatable_ = Resources::fromList(alloc);
  allowedPods_ = 0;
  if (const Json* pods = findMember(alloc, "pods"))
    if (auto milli = parseMilliQuantity(*pods)) allowedPods_ = *milli / 1000;
}

void NodeInfo::addPod(PodInfoPtr pod) {
  removePod(pod->key);
  requested_.add(pod->requests);
  nonZeroRequested_.add(pod->nonZeroRequests);
  for (const HostPort& p : pod->hostPorts) ++usedPorts_[p];
  if (pod->hasAffinityTerms()) ++podsWithAffinity_;
  pods_[pod->key] = std::move(pod);
}

PodInfoPtr NodeInfo::removePod(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return nullptr;
  PodInfoPtr pod = std::move(it->second);
  pods_.erase(it);
  requested_.subtract(pod->requests);
  nonZeroRequested_.subtract(pod->nonZeroRequests);
  for (const HostPort& p : pod->hostPorts) {
    auto u = usedPorts_.find(p);
    if (u != usedPorts_.end() && --u->second == 0) usedPorts_.erase(u);
  }
  if (pod->hasAffinityTerms()) --podsWithAffinity_;
  return pod;
}

const std::string* nodeLabel(const NodeInfo& node, const std::string& key) {
  auto it = node.labels().find(key);
  if (it == node.labels().end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

const Json& Snapshot::nsLabels(const std::string& ns) const {
  static const Json kEmpty = Json::object();
  auto it = namespaceLabels.find(ns);
  return it == namespaceLabels.end() ? kEmpty : it->second;
}

}  // namespace nave::scheduler
