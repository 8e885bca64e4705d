// Where a DaemonSet's pods belong (pkg/controller/daemon and its util package): the pod a
// DaemonSet makes for a node, whether a node should run it, and which node a pod is meant for.
#pragma once

#include <string>

#include "common/json.h"
#include "server/controllers/object_util.h"

namespace nave::controllers::sets {

// The label the revision hash goes in, on pods and revisions.
inline constexpr char kRevisionHashLabel[] = "controller-revision-hash";

// The DaemonSet's pod template with the tolerations every daemon pod gets (not-ready and
// unreachable NoExecute without tolerationSeconds; disk-, memory-, pid-pressure and
// unschedulable NoSchedule; network-unavailable NoSchedule for hostNetwork pods) and the
// controller-revision-hash label.
Json daemonPodTemplate(const Json& daemonSet, const std::string& hash);
// The template pinned to `node` by a required node affinity term matching the field
// metadata.name (replacing the template's required terms, which the node satisfied).
Json pinToNode(Json templ, const std::string& node);

struct Placement {
  bool shouldRun = false;  // the node should have a daemon pod
  bool shouldContinueRunning =
      false;  // a pod already there may stay (only NoSchedule taints are untolerated)
};
// NodeShouldRunDaemonPod: spec.nodeName, the node selector and required node affinity of the
// template, and the node's taints against the tolerations of `templ` (a daemonPodTemplate).
Placement placeOn(const Json& templ, const Json& node);

// The node a daemon pod is for: spec.nodeName, else its metadata.name node affinity.
std::string targetNodeOf(const Json& pod);

using controllers::tolerates;  // server/controllers/object_util.h
// Whether the node satisfies a NodeSelector's terms (ORed; each term's requirements ANDed).
bool matchesNodeSelectorTerms(const Json& nodeSelector, const Json& node);

}  // namespace nave::controllers::sets
