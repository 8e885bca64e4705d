// NodeInfo and Snapshot: the scheduler's view of the cluster (the framework's NodeInfo and
// cache snapshot): each node with what its pods request, including pods the scheduler has
// assumed onto it but whose binding the informers have not shown yet.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/json.h"
#include "server/scheduler/pod_info.h"
#include "server/scheduler/resources.h"

namespace nave::scheduler {

class NodeInfo {
 public:
  NodeInfo() = default;
  explicit NodeInfo(const Json& node) { setNode(node); }

  void setNode(const Json& node);
  void addPod(PodInfoPtr pod);
  // Returns the pod removed, or null when it was not there.
  PodInfoPtr removePod(const std::string& key);

  const Json& node() const { return node_; }
  const std::string& name() const { return name_; }
  const Json& labels() const { return labels_; }
  const std::vector<Taint>& taints() const { return taints_; }
  bool unschedulable() const { return unschedulable_; }
  const Resources& allocatable() const { return allocatable_; }
  int64_t allowedPods() const { return allowedPods_; }
  const Resources& requested() const { return requested_; }
  const Resources& nonZeroRequested() const { return nonZeroRequested_; }
  const std::map<std::string, PodInfoPtr>& pods() const { return pods_; }
  // Host ports in use, with how many pods use each.
  const std::map<HostPort, int>& usedPorts() const { return usedPorts_; }
  bool hasPodsWithAffinity() const { return podsWithAffinity_ > 0; }

 private:
  Json node_ = Json::object();
  std::string name_;
  Json labels_ = Json::object();
  std::vector<Taint> taints_;
  bool unschedulable_ = false;
  Resources allocatable_;
  int64_t allowedPods_ = 0;
  Resources requested_, nonZeroRequested_;
  std::map<std::string, PodInfoPtr> pods_;  // by "namespace/name"
  std::map<HostPort, int> usedPorts_;
  int podsWithAffinity_ = 0;
};

// A label's value on a node, or nullptr.
const std::string* nodeLabel(const NodeInfo& node, const std::string& key);

struct Snapshot {
  std::map<std::string, NodeInfo> nodes;        // by name; only nodes with a Node object
  std::map<std::string, Json> namespaceLabels;  // for namespaceSelector in pod affinity
  // For VolumeBinding.
  std::map<std::string, Json> claims;          // PersistentVolumeClaims by "namespace/name"
  std::map<std::string, Json> volumes;         // PersistentVolumes by name
  std::map<std::string, Json> storageClasses;  // by name
  const Json& nsLabels(const std::string& ns) const;
};

}  // namespace nave::scheduler
