// The scheduling framework's default plugins as pure functions over PodInfo, NodeInfo and
// Snapshot: filters (with kube-scheduler's plugin names and failure reasons), scores (0-100,
// combined with the default weights), and the "0/N nodes are available: ..." message.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "server/scheduler/node_info.h"
#include "server/scheduler/pod_info.h"

namespace nave::scheduler {

// A filter's verdict on one node. kUnschedulableAndUnresolvable means preempting pods on
// the node would not help.
struct Status {
  enum Code { kSuccess, kUnschedulable, kUnschedulableAndUnresolvable };
  Code code = kSuccess;
  std::vector<std::string> reasons;
  std::string plugin;
  bool ok() const { return code == kSuccess; }
  static Status unschedulable(std::string plugin, std::string reason, bool unresolvable = false) {
    return {unresolvable ? kUnschedulableAndUnresolvable : kUnschedulable,
            {std::move(reason)},
            std::move(plugin)};
  }
};

// Failure reasons, worded as kube-scheduler's plugins word them.
inline constexpr char kReasonUnschedulable[] = "node(s) were unschedulable";
inline constexpr char kReasonNodeName[] = "node(s) didn't match the requested node name";
inline constexpr char kReasonNodeAffinity[] = "node(s) didn't match Pod's node affinity/selector";
inline constexpr char kReasonNodePorts[] =
    "node(s) didn't have free ports for the requested pod ports";
inline constexpr char kReasonPodAffinity[] = "node(s) didn't match pod affinity rules";
inline constexpr char kReasonPodAntiAffinity[] = "node(s) didn't match pod anti-affinity rules";
inline constexpr char kReasonExistingAntiAffinity[] =
    "node(s) didn't satisfy existing pods anti-affinity rules";
inline constexpr char kReasonSpread[] = "node(s) didn't match pod topology spread constraints";
inline constexpr char kReasonVolumeNodeAffinity[] = "node(s) had volume node affinity conflict";
inline constexpr char kReasonVolumeBindConflict[] =
    "node(s) didn't find available persistent volumes to bind";
inline constexpr char kReasonVolumeMissingPv[] =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
inline constexpr char kReasonSpreadLabel[] =
    "node(s) didn't match pod topology spread constraints (missing required label)";

// What PreFilter computes once per pod from the whole cluster (InterPodAffinity and
// PodTopologySpread), for the filters of every node.
struct CycleState {
  using TopologyPair = std::pair<std::string, std::string>;
  // Existing pods whose required anti-affinity selects the incoming pod, per topology pair.
  std::map<TopologyPair, int64_t> existingAntiAffinityCounts;
  // Pods matching all the incoming pod's required affinity terms / each anti-affinity term.
  std::map<TopologyPair, int64_t> affinityCounts, antiAffinityCounts;
  // Per DoNotSchedule spread constraint (same order as the pod's, ScheduleAnyway ones
  // included as empty entries): matching pods per domain, and the smallest count.
  struct Spread {
    std::map<std::string, int64_t> counts;
    int64_t minMatch = 0;
  };
  std::vector<Spread> spread;
  // VolumeBinding: why no node can do (a missing claim, an unbound Immediate one), and
  // what each of the pod's claims asks of a node.
  std::string volumeError;
  struct Claim {
    std::string name;
    bool missingVolume = false;    // bound to a PersistentVolume that does not exist
    Json volumeNodeTerms;          // the bound volume's required node affinity, or null
    bool waitForConsumer = false;  // unbound, WaitForFirstConsumer: provisioned for the node
    bool provisioner = false;  // its class provisions volumes (not kubernetes.io/no-provisioner)
    Json allowedTopologies;    // the class's, or null
  };
  std::vector<Claim> claims;
};

CycleState preFilter(const PodInfo& pod, const Snapshot& snapshot);

// Whether a node matches a NodeSelector's terms (ORed; each term's expressions and fields ANDed).
bool matchesNodeSelectorTerms(const Json& terms, const NodeInfo& node);
// spec.nodeSelector and required node affinity together.
bool matchesNodeSelection(const PodInfo& pod, const NodeInfo& node);

Status filterNodeUnschedulable(const PodInfo& pod, const NodeInfo& node);
Status filterNodeName(const PodInfo& pod, const NodeInfo& node);
Status filterTaintToleration(const PodInfo& pod, const NodeInfo& node);
Status filterNodeAffinity(const PodInfo& pod, const NodeInfo& node);
Status filterNodePorts(const PodInfo& pod, const NodeInfo& node);
// `reserved`: requests of higher-priority pods nominated to this node (after preemption).
Status filterNodeResourcesFit(const PodInfo& pod, const NodeInfo& node,
                              const Resources* reserved = nullptr, int64_t reservedPods = 0);
Status filterPodTopologySpread(const PodInfo& pod, const NodeInfo& node, const CycleState& state);
Status filterInterPodAffinity(const PodInfo& pod, const NodeInfo& node, const CycleState& state);
Status filterVolumeBinding(const PodInfo& pod, const NodeInfo& node, const CycleState& state);

struct Reservation {
  Resources requests;
  int64_t pods = 0;
};

// All filters in kube-scheduler's order; the first failure is the node's status.
Status runFilters(const PodInfo& pod, const NodeInfo& node, const CycleState& state,
                  const Reservation* reserved = nullptr);

// Scores of single plugins, before weighting (0-100 unless said otherwise).
int64_t scoreLeastAllocated(const PodInfo& pod, const NodeInfo& node);
int64_t scoreBalancedAllocation(const PodInfo& pod, const NodeInfo& node);

// Each plugin's normalized score (0-100), before weighting.
struct PluginScores {
  int64_t resourcesFit = 0;        // NodeResourcesFit (least allocated)
  int64_t balancedAllocation = 0;  // NodeResourcesBalancedAllocation
  int64_t nodeAffinity = 0;        // NodeAffinity (preferred terms)
  int64_t interPodAffinity = 0;    // InterPodAffinity (preferred terms)
  int64_t topologySpread = 0;      // PodTopologySpread (ScheduleAnyway)
  int64_t taintToleration = 0;     // TaintToleration (PreferNoSchedule)
};

struct NodeScore {
  std::string node;
  int64_t total = 0;
  PluginScores plugins;
};
// Scores the feasible nodes with the default plugins and weights: NodeResourcesFit 1,
// NodeResourcesBalancedAllocation 1, NodeAffinity 2, InterPodAffinity 2, PodTopologySpread 2,
// TaintToleration 3.
std::vector<NodeScore> scoreNodes(const PodInfo& pod, const Snapshot& snapshot,
                                  const std::vector<const NodeInfo*>& feasible);
// The best-scoring node, ties broken at random.
std::string selectHost(const std::vector<NodeScore>& scores, std::mt19937& rng);

// kube-scheduler's FitError text: "0/N nodes are available: <count> <reason>, ...." with
// the "<count> <reason>" entries sorted (or the PreFilter's reason instead, when PreFilter
// failed), then " <postFilterMessage>." when there is one.
std::string fitErrorMessage(size_t numNodes, const std::map<std::string, Status>& statuses,
                            const std::string& postFilterMessage = "",
                            const std::string& preFilterMessage = "");

}  // namespace nave::scheduler
