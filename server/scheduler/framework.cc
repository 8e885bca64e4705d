#include "server/scheduler/framework.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>

namespace nave::scheduler {

namespace {

constexpr char kHostnameLabel[] = "kubernetes.io/hostname";

std::optional<int64_t> parseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t k = i; k < s.size(); ++k)
    if (s[k] < '0' || s[k] > '9') return std::nullopt;
  try {
    return std::stoll(s);
  } catch (...) {
    return std::nullopt;
  }
}

bool matchRequirement(const Json& e, const std::string* value) {
  std::string op = getString(e, "operator");
  std::vector<std::string> values;
  if (const Json* vs = findMember(e, "values"); vs && vs->is_array())
    for (const Json& v : *vs)
      if (v.is_string()) values.push_back(v.get<std::string>());
  auto contains = [&] { return std::find(values.begin(), values.end(), *value) != values.end(); };
  if (op == "In") return value && contains();
  if (op == "NotIn") return !value || !contains();
  if (op == "Exists") return value != nullptr;
  if (op == "DoesNotExist") return value == nullptr;
  if (op == "Gt" || op == "Lt") {
    if (!value || values.size() != 1) return false;
    auto have = parseInt(*value), want = parseInt(values[0]);
    if (!have || !want) return false;
    return op == "Gt" ? *have > *want : *have < *want;
  }
  return false;
}

bool matchesTerm(const Json& term, const NodeInfo& node) {
  const Json* exprs = findMember(term, "matchExpressions");
  const Json* fields = findMember(term, "matchFields");
  bool hasExprs = exprs && exprs->is_array() && !exprs->empty();
  bool hasFields = fields && fields->is_array() && !fields->empty();
  if (!hasExprs && !hasFields) return false;  // an empty term selects no node
  if (hasExprs)
    for (const Json& e : *exprs)
      if (!matchRequirement(e, nodeLabel(node, getString(e, "key")))) return false;
  if (hasFields)
    for (const Json& e : *fields) {
      const std::string* v = getString(e, "key") == "metadata.name" ? &node.name() : nullptr;
      if (!matchRequirement(e, v)) return false;
    }
  return true;
}

bool spreadCounts(const PodInfo& pod, const SpreadConstraint& c, const PodInfo& other) {
  return !other.terminating && other.ns == pod.ns && c.selector &&
         c.selector->matches(other.labels);
}

bool hasAllKeys(const NodeInfo& node, const std::vector<SpreadConstraint>& cs, bool doNotSchedule) {
  for (const SpreadConstraint& c : cs)
    if (c.doNotSchedule == doNotSchedule && !nodeLabel(node, c.topologyKey)) return false;
  return true;
}

bool untoleratedNoScheduleTaint(const PodInfo& pod, const NodeInfo& node, const Taint** which) {
  for (const Taint& t : node.taints()) {
    if (t.effect != "NoSchedule" && t.effect != "NoExecute") continue;
    if (!anyTolerates(pod.tolerations, t)) {
      if (which) *which = &t;
      return true;
    }
  }
  return false;
}

// Whether a node counts for a spread constraint's domains (nodeAffinityPolicy,
// nodeTaintsPolicy).
bool spreadEligible(const PodInfo& pod, const SpreadConstraint& c, const NodeInfo& node) {
  if (c.honorNodeAffinity && !matchesNodeSelection(pod, node)) return false;
  if (c.honorNodeTaints && untoleratedNoScheduleTaint(pod, node, nullptr)) return false;
  return true;
}

}  // namespace

bool matchesNodeSelectorTerms(const Json& terms, const NodeInfo& node) {
  if (!terms.is_array()) return false;
  for (const Json& t : terms)
    if (matchesTerm(t, node)) return true;
  return false;
}

bool matchesNodeSelection(const PodInfo& pod, const NodeInfo& node) {
  for (const auto& [k, v] : pod.nodeSelector.items()) {
    const std::string* have = nodeLabel(node, k);
    if (!have || !v.is_string() || *have != v.get_ref<const std::string&>()) return false;
  }
  if (!pod.requiredNodeTerms.is_null() && !matchesNodeSelectorTerms(pod.requiredNodeTerms, node))
    return false;
  return true;
}

CycleState preFilter(const PodInfo& pod, const Snapshot& snapshot) {
  CycleState state;
  const Json& podNsLabels = snapshot.nsLabels(pod.ns);
  bool podTerms = !pod.requiredAffinity.empty() || !pod.requiredAntiAffinity.empty();
  for (const auto& [name, node] : snapshot.nodes) {
    if (!podTerms && !node.hasPodsWithAffinity()) continue;  // nothing here to count
    for (const auto& [key, other] : node.pods()) {
      if (other->key == pod.key) continue;
      // Existing pods' required anti-affinity against the incoming pod.
      for (const AffinityTerm& t : other->requiredAntiAffinity) {
        const std::string* v = nodeLabel(node, t.topologyKey);
        if (v && termMatches(t, pod, podNsLabels))
          ++state.existingAntiAffinityCounts[{t.topologyKey, *v}];
      }
      const Json& otherNsLabels = snapshot.nsLabels(other->ns);
      if (!pod.requiredAffinity.empty()) {
        bool all = true;
        for (const AffinityTerm& t : pod.requiredAffinity)
          if (!termMatches(t, *other, otherNsLabels)) {
            all = false;
            break;
          }
        if (all)
          for (const AffinityTerm& t : pod.requiredAffinity)
            if (const std::string* v = nodeLabel(node, t.topologyKey))
              ++state.affinityCounts[{t.topologyKey, *v}];
      }
      for (const AffinityTerm& t : pod.requiredAntiAffinity)
        if (const std::string* v = nodeLabel(node, t.topologyKey);
            v && termMatches(t, *other, otherNsLabels))
          ++state.antiAffinityCounts[{t.topologyKey, *v}];
    }
  }

  for (const std::string& name : pod.claims) {
    CycleState::Claim c;
    c.name = name;
    auto pvc = snapshot.claims.find(pod.ns + "/" + name);
    if (pvc == snapshot.claims.end()) {
      if (state.volumeError.empty())
        state.volumeError = "persistentvolumeclaim \"" + name + "\" not found";
      continue;
    }
    const Json& claim = pvc->second;
    const Json& md = objectField(claim, "metadata");
    if (md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null()) {
      if (state.volumeError.empty())
        state.volumeError = "persistentvolumeclaim \"" + name + "\" is being deleted";
      continue;
    }
    const Json& spec = objectField(claim, "spec");
    if (std::string pvName = getString(spec, "volumeName"); !pvName.empty()) {
      auto pv = snapshot.volumes.find(pvName);
      if (pv == snapshot.volumes.end()) {
        c.missingVolume = true;
      } else if (const Json* pvSpec = findMember(pv->second, "spec")) {
        const Json* na = findMember(*pvSpec, "nodeAffinity");
        const Json* req = na ? findMember(*na, "required") : nullptr;
        if (req) c.volumeNodeTerms = req->value("nodeSelectorTerms", Json::array());
      }
    } else {
      std::string className = getString(spec, "storageClassName");
      if (className.empty())
        className =
            getString(objectField(md, "annotations"), "volume.beta.kubernetes.io/storage-class");
      auto sc = snapshot.storageClasses.find(className);
      if (sc == snapshot.storageClasses.end() ||
          getString(sc->second, "volumeBindingMode", "Immediate") != "WaitForFirstConsumer") {
        if (state.volumeError.empty())
          state.volumeError = "pod has unbound immediate PersistentVolumeClaims";
        continue;
      }
      c.waitForConsumer = true;
      c.provisioner = getString(sc->second, "provisioner") != "kubernetes.io/no-provisioner";
      if (const Json* t = findMember(sc->second, "allowedTopologies");
          t && t->is_array() && !t->empty())
        c.allowedTopologies = *t;
    }
    state.claims.push_back(std::move(c));
  }

  state.spread.resize(pod.spread.size());
  for (size_t i = 0; i < pod.spread.size(); ++i) {
    const SpreadConstraint& c = pod.spread[i];
    if (!c.doNotSchedule) continue;
    auto& s = state.spread[i];
    for (const auto& [name, node] : snapshot.nodes) {
      if (!hasAllKeys(node, pod.spread, true) || !spreadEligible(pod, c, node)) continue;
      int64_t& count = s.counts[*nodeLabel(node, c.topologyKey)];
      for (const auto& [key, other] : node.pods())
        if (other->key != pod.key && spreadCounts(pod, c, *other)) ++count;
    }
    s.minMatch = 0;
    if (!s.counts.empty()) {
      s.minMatch = INT64_MAX;
      for (const auto& [v, n] : s.counts) s.minMatch = std::min(s.minMatch, n);
    }
    if (static_cast<int64_t>(s.counts.size()) < c.minDomains) s.minMatch = 0;
  }
  return state;
}

Status filterNodeUnschedulable(const PodInfo& pod, const NodeInfo& node) {
  if (!node.unschedulable()) return {};
  Taint t{"node.kubernetes.io/unschedulable", "", "NoSchedule"};
  if (anyTolerates(pod.tolerations, t)) return {};
  return Status::unschedulable("NodeUnschedulable", kReasonUnschedulable, true);
}

Status filterNodeName(const PodInfo& pod, const NodeInfo& node) {
  if (pod.nodeName.empty() || pod.nodeName == node.name()) return {};
  return Status::unschedulable("NodeName", kReasonNodeName, true);
}

Status filterTaintToleration(const PodInfo& pod, const NodeInfo& node) {
  const Taint* t = nullptr;
  if (!untoleratedNoScheduleTaint(pod, node, &t)) return {};
  return Status::unschedulable(
      "TaintToleration", "node(s) had untolerated taint {" + t->key + ": " + t->value + "}", true);
}

Status filterNodeAffinity(const PodInfo& pod, const NodeInfo& node) {
  if (matchesNodeSelection(pod, node)) return {};
  return Status::unschedulable("NodeAffinity", kReasonNodeAffinity, true);
}

Status filterNodePorts(const PodInfo& pod, const NodeInfo& node) {
  for (const HostPort& want : pod.hostPorts)
    for (const auto& [used, n] : node.usedPorts()) {
      if (used.port != want.port || used.protocol != want.protocol) continue;
      if (used.ip == want.ip || used.ip == "0.0.0.0" || want.ip == "0.0.0.0")
        return Status::unschedulable("NodePorts", kReasonNodePorts);
    }
  return {};
}

Status filterNodeResourcesFit(const PodInfo& pod, const NodeInfo& node, const Resources* reserved,
                              int64_t reservedPods) {
  Status s;
  s.plugin = "NodeResourcesFit";
  Resources used = node.requested();
  if (reserved) used.add(*reserved);
  int64_t pods = static_cast<int64_t>(node.pods().size()) + reservedPods;
  if (pods + 1 > node.allowedPods()) s.reasons.push_back("Too many pods");
  const Resources& want = pod.requests;
  auto check = [&](int64_t request, int64_t usedAmount, int64_t allocatable,
                   const std::string& name) {
    if (request > 0 && request > allocatable - usedAmount) {
      s.reasons.push_back("Insufficient " + name);
    }
  };
  check(want.milliCpu, used.milliCpu, node.allocatable().milliCpu, "cpu");
  check(want.memory, used.memory, node.allocatable().memory, "memory");
  check(want.ephemeralStorage, used.ephemeralStorage, node.allocatable().ephemeralStorage,
        "ephemeral-storage");
  for (const auto& [name, amount] : want.scalar) {
    auto a = node.allocatable().scalar.find(name);
    auto u = used.scalar.find(name);
    check(amount, u == used.scalar.end() ? 0 : u->second,
          a == node.allocatable().scalar.end() ? 0 : a->second, name);
  }
  if (s.reasons.empty()) return {};
  // Unschedulable even when the request exceeds the node's allocatable (Kubernetes 1.32;
  // 1.34 makes that UnschedulableAndUnresolvable, "Preemption is not helpful").
  s.code = Status::kUnschedulable;
  return s;
}

Status filterPodTopologySpread(const PodInfo& pod, const NodeInfo& node, const CycleState& state) {
  for (size_t i = 0; i < pod.spread.size(); ++i) {
    const SpreadConstraint& c = pod.spread[i];
    if (!c.doNotSchedule) continue;
    const std::string* v = nodeLabel(node, c.topologyKey);
    if (!v) return Status::unschedulable("PodTopologySpread", kReasonSpreadLabel, true);
    const auto& s = state.spread[i];
    auto it = s.counts.find(*v);
    int64_t match = it == s.counts.end() ? 0 : it->second;
    int64_t self = c.selector && c.selector->matches(pod.labels) ? 1 : 0;
    if (match + self - s.minMatch > c.maxSkew)
      return Status::unschedulable("PodTopologySpread", kReasonSpread);
  }
  return {};
}

Status filterInterPodAffinity(const PodInfo& pod, const NodeInfo& node, const CycleState& state) {
  if (!pod.requiredAffinity.empty()) {
    bool podsExist = true;
    for (const AffinityTerm& t : pod.requiredAffinity) {
      const std::string* v = nodeLabel(node, t.topologyKey);
      if (!v) return Status::unschedulable("InterPodAffinity", kReasonPodAffinity, true);
      auto it = state.affinityCounts.find({t.topologyKey, *v});
      if (it == state.affinityCounts.end() || it->second <= 0) podsExist = false;
    }
    if (!podsExist) {
      // The first of a group of pods with affinity to each other: allowed when no pod
      // matches yet and the pod matches its own terms.
      bool first = state.affinityCounts.empty();
      if (first)
        for (const AffinityTerm& t : pod.requiredAffinity)
          if (!(t.namespaces.contains(pod.ns) || t.namespaceSelector) || !t.selector ||
              !t.selector->matches(pod.labels))
            first = false;
      if (!first) return Status::unschedulable("InterPodAffinity", kReasonPodAffinity, true);
    }
  }
  for (const AffinityTerm& t : pod.requiredAntiAffinity) {
    const std::string* v = nodeLabel(node, t.topologyKey);
    if (!v) continue;
    auto it = state.antiAffinityCounts.find({t.topologyKey, *v});
    if (it != state.antiAffinityCounts.end() && it->second > 0)
      return Status::unschedulable("InterPodAffinity", kReasonPodAntiAffinity);
  }
  for (const auto& [tp, n] : state.existingAntiAffinityCounts) {
    const std::string* v = nodeLabel(node, tp.first);
    if (v && *v == tp.second && n > 0)
      return Status::unschedulable("InterPodAffinity", kReasonExistingAntiAffinity);
  }
  return {};
}

Status filterVolumeBinding(const PodInfo& pod, const NodeInfo& node, const CycleState& state) {
  for (const CycleState::Claim& c : state.claims) {
    if (c.missingVolume)
      return Status::unschedulable("VolumeBinding", kReasonVolumeMissingPv, true);
    if (!c.volumeNodeTerms.is_null() && !matchesNodeSelectorTerms(c.volumeNodeTerms, node))
      return Status::unschedulable("VolumeBinding", kReasonVolumeNodeAffinity, true);
    if (!c.waitForConsumer) continue;
    // Static volumes for WaitForFirstConsumer claims are not matched here: only a class
    // that provisions, within its allowed topologies, will do.
    bool fits = c.provisioner;
    if (fits && c.allowedTopologies.is_array()) {
      fits = false;
      for (const Json& term : c.allowedTopologies) {
        bool all = true;
        for (const Json& e : arrayField(term, "matchLabelExpressions")) {
          const std::string* v = nodeLabel(node, getString(e, "key"));
          const Json& values = arrayField(e, "values");
          if (!v || std::find(values.begin(), values.end(), Json(*v)) == values.end()) all = false;
        }
        fits = fits || all;
      }
    }
    if (!fits) return Status::unschedulable("VolumeBinding", kReasonVolumeBindConflict, true);
  }
  return {};
}

Status runFilters(const PodInfo& pod, const NodeInfo& node, const CycleState& state,
                  const Reservation* reserved) {
  if (Status s = filterNodeUnschedulable(pod, node); !s.ok()) return s;
  if (Status s = filterNodeName(pod, node); !s.ok()) return s;
  if (Status s = filterTaintToleration(pod, node); !s.ok()) return s;
  if (Status s = filterNodeAffinity(pod, node); !s.ok()) return s;
  if (Status s = filterNodePorts(pod, node); !s.ok()) return s;
  if (Status s = filterNodeResourcesFit(pod, node, reserved ? &reserved->requests : nullptr,
                                        reserved ? reserved->pods : 0);
      !s.ok())
    return s;
  if (Status s = filterVolumeBinding(pod, node, state); !s.ok()) return s;
  if (Status s = filterPodTopologySpread(pod, node, state); !s.ok()) return s;
  if (Status s = filterInterPodAffinity(pod, node, state); !s.ok()) return s;
  return {};
}

int64_t scoreLeastAllocated(const PodInfo& pod, const NodeInfo& node) {
  auto one = [](int64_t requested, int64_t capacity) -> int64_t {
    if (capacity <= 0 || requested > capacity) return 0;
    return (capacity - requested) * 100 / capacity;
  };
  int64_t cpu = one(node.nonZeroRequested().milliCpu + pod.nonZeroRequests.milliCpu,
                    node.allocatable().milliCpu);
  int64_t mem =
      one(node.nonZeroRequested().memory + pod.nonZeroRequests.memory, node.allocatable().memory);
  return (cpu + mem) / 2;
}

int64_t scoreBalancedAllocation(const PodInfo& pod, const NodeInfo& node) {
  auto fraction = [](int64_t requested, int64_t capacity) {
    if (capacity <= 0) return 1.0;
    return std::min(1.0, static_cast<double>(requested) / static_cast<double>(capacity));
  };
  double cpu =
      fraction(node.requested().milliCpu + pod.requests.milliCpu, node.allocatable().milliCpu);
  double mem = fraction(node.requested().memory + pod.requests.memory, node.allocatable().memory);
  double std = std::abs(cpu - mem) / 2;
  return static_cast<int64_t>((1 - std) * 100);
}

namespace {

// InterPodAffinity's raw scores: preferred terms of the incoming pod against existing pods,
// and existing pods' terms (required affinity with weight 1) against the incoming pod.
std::vector<int64_t> interPodAffinityScores(const PodInfo& pod, const Snapshot& snapshot,
                                            const std::vector<const NodeInfo*>& feasible) {
  std::vector<int64_t> out(feasible.size(), 0);
  bool podHasTerms = !pod.preferredAffinity.empty() || !pod.preferredAntiAffinity.empty();
  std::map<CycleState::TopologyPair, int64_t> scores;
  const Json& podNs = snapshot.nsLabels(pod.ns);
  for (const auto& [name, node] : snapshot.nodes) {
    if (!podHasTerms && !node.hasPodsWithAffinity()) continue;
    for (const auto& [key, other] : node.pods()) {
      const Json& otherNs = snapshot.nsLabels(other->ns);
      auto add = [&](const AffinityTerm& t, const PodInfo& target, const Json& nsl, int64_t w) {
        const std::string* v = nodeLabel(node, t.topologyKey);
        if (v && termMatches(t, target, nsl)) scores[{t.topologyKey, *v}] += w;
      };
      for (const AffinityTerm& t : pod.preferredAffinity) add(t, *other, otherNs, t.weight);
      for (const AffinityTerm& t : pod.preferredAntiAffinity) add(t, *other, otherNs, -t.weight);
      for (const AffinityTerm& t : other->requiredAffinity) add(t, pod, podNs, 1);
      for (const AffinityTerm& t : other->preferredAffinity) add(t, pod, podNs, t.weight);
      for (const AffinityTerm& t : other->preferredAntiAffinity) add(t, pod, podNs, -t.weight);
    }
  }
  if (scores.empty()) return out;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < feasible.size(); ++i) {
    for (const auto& [tp, s] : scores) {
      const std::string* v = nodeLabel(*feasible[i], tp.first);
      if (v && *v == tp.second) out[i] += s;
    }
    lo = std::min(lo, out[i]);
    hi = std::max(hi, out[i]);
  }
  for (int64_t& s : out)
    s = hi > lo ? static_cast<int64_t>(100.0 * static_cast<double>(s - lo) /
                                       static_cast<double>(hi - lo))
                : 0;
  return out;
}

// PodTopologySpread's scores for ScheduleAnyway constraints: fewer matching pods in the
// node's domain scores higher.
std::vector<int64_t> spreadScores(const PodInfo& pod, const Snapshot& snapshot,
                                  const std::vector<const NodeInfo*>& feasible) {
  std::vector<int64_t> out(feasible.size(), 0);
  std::vector<const SpreadConstraint*> cs;
  for (const SpreadConstraint& c : pod.spread)
    if (!c.doNotSchedule) cs.push_back(&c);
  if (cs.empty()) return out;
  // The pod's own constraints need every key on a node (others are left out); the system
  // defaults count each constraint where its key is.
  bool requireAll = !pod.spreadDefaulted;
  std::vector<bool> ignored(feasible.size(), false);
  std::vector<std::map<std::string, int64_t>> counts(cs.size());
  std::vector<std::set<std::string>> domains(cs.size());
  for (size_t i = 0; i < feasible.size(); ++i) {
    ignored[i] = requireAll && !hasAllKeys(*feasible[i], pod.spread, false);
    if (ignored[i]) continue;
    for (size_t k = 0; k < cs.size(); ++k) {
      const std::string* v = nodeLabel(*feasible[i], cs[k]->topologyKey);
      if (!v) continue;
      domains[k].insert(*v);
      if (cs[k]->topologyKey != kHostnameLabel) counts[k].emplace(*v, 0);
    }
  }
  auto matching = [&](const SpreadConstraint& c, const NodeInfo& node) {
    int64_t n = 0;
    for (const auto& [key, other] : node.pods())
      if (other->key != pod.key && spreadCounts(pod, c, *other)) ++n;
    return n;
  };
  for (const auto& [name, node] : snapshot.nodes) {
    if (requireAll && !hasAllKeys(node, pod.spread, false)) continue;
    for (size_t k = 0; k < cs.size(); ++k) {
      if (cs[k]->topologyKey == kHostnameLabel || !spreadEligible(pod, *cs[k], node)) continue;
      const std::string* v = nodeLabel(node, cs[k]->topologyKey);
      if (!v) continue;
      auto it = counts[k].find(*v);
      if (it != counts[k].end()) it->second += matching(*cs[k], node);
    }
  }
  int64_t lo = INT64_MAX, hi = 0;
  for (size_t i = 0; i < feasible.size(); ++i) {
    if (ignored[i]) continue;
    double score = 0;
    for (size_t k = 0; k < cs.size(); ++k) {
      const std::string* v = nodeLabel(*feasible[i], cs[k]->topologyKey);
      if (!v) continue;
      double weight = std::log(static_cast<double>(domains[k].size()) + 2);
      int64_t cnt =
          cs[k]->topologyKey == kHostnameLabel ? matching(*cs[k], *feasible[i]) : counts[k][*v];
      score += static_cast<double>(cnt) * weight + static_cast<double>(cs[k]->maxSkew - 1);
    }
    out[i] = static_cast<int64_t>(std::round(score));
    lo = std::min(lo, out[i]);
    hi = std::max(hi, out[i]);
  }
  for (size_t i = 0; i < feasible.size(); ++i) {
    if (ignored[i])
      out[i] = 0;
    else if (hi == 0)
      out[i] = 100;
    else
      out[i] = 100 * (hi + lo - out[i]) / hi;
  }
  return out;
}

}  // namespace

std::vector<NodeScore> scoreNodes(const PodInfo& pod, const Snapshot& snapshot,
                                  const std::vector<const NodeInfo*>& feasible) {
  std::vector<NodeScore> out(feasible.size());
  std::vector<int64_t> affinity(feasible.size(), 0), taints(feasible.size(), 0);
  int64_t maxAffinity = 0, maxTaints = 0;
  for (size_t i = 0; i < feasible.size(); ++i) {
    const NodeInfo& node = *feasible[i];
    out[i].node = node.name();
    out[i].plugins.resourcesFit = scoreLeastAllocated(pod, node);
    out[i].plugins.balancedAllocation = scoreBalancedAllocation(pod, node);
    for (const Json& pref : pod.preferredNodeTerms)
      if (matchesTerm(objectField(pref, "preference"), node)) affinity[i] += getInt(pref, "weight");
    maxAffinity = std::max(maxAffinity, affinity[i]);
    for (const Taint& t : node.taints()) {
      if (t.effect != "PreferNoSchedule") continue;
      bool tolerated = false;
      for (const Toleration& tol : pod.tolerations)
        if ((tol.effect.empty() || tol.effect == "PreferNoSchedule") && tolerates(tol, t))
          tolerated = true;
      if (!tolerated) ++taints[i];
    }
    maxTaints = std::max(maxTaints, taints[i]);
  }
  std::vector<int64_t> interPod = interPodAffinityScores(pod, snapshot, feasible);
  std::vector<int64_t> spread = spreadScores(pod, snapshot, feasible);
  for (size_t i = 0; i < feasible.size(); ++i) {
    auto& s = out[i];
    PluginScores& p = s.plugins;
    p.nodeAffinity = maxAffinity > 0 ? affinity[i] * 100 / maxAffinity : 0;
    p.taintToleration = maxTaints > 0 ? 100 - taints[i] * 100 / maxTaints : 100;
    p.interPodAffinity = interPod[i];
    p.topologySpread = spread[i];
    // The default profile's weights.
    s.total = p.resourcesFit * 1 + p.balancedAllocation * 1 + p.nodeAffinity * 2 +
              p.interPodAffinity * 2 + p.topologySpread * 2 + p.taintToleration * 3;
  }
  return out;
}

std::string selectHost(const std::vector<NodeScore>& scores, std::mt19937& rng) {
  std::string best;
  int64_t bestScore = INT64_MIN;
  int ties = 0;
  for (const NodeScore& s : scores) {
    if (s.total > bestScore) {
      bestScore = s.total;
      best = s.node;
      ties = 1;
    } else if (s.total == bestScore) {
      // Reservoir sampling: each of the tied nodes ends up chosen with equal chance.
      ++ties;
      if (std::uniform_int_distribution<int>(0, ties - 1)(rng) == 0) best = s.node;
    }
  }
  return best;
}

std::string fitErrorMessage(size_t numNodes, const std::map<std::string, Status>& statuses,
                            const std::string& postFilterMessage,
                            const std::string& preFilterMessage) {
  if (!preFilterMessage.empty()) {
    std::string msg =
        "0/" + std::to_string(numNodes) + " nodes are available: " + preFilterMessage + ".";
    if (!postFilterMessage.empty()) msg += " " + postFilterMessage + ".";
    return msg;
  }
  std::map<std::string, int> histogram;
  for (const auto& [node, status] : statuses)
    for (const std::string& r : status.reasons) ++histogram[r];
  std::vector<std::string> entries;
  for (const auto& [reason, n] : histogram) entries.push_back(std::to_string(n) + " " + reason);
  std::sort(entries.begin(), entries.end());
  std::string msg = "0/" + std::to_string(numNodes) + " nodes are available:";
  if (!entries.empty()) {
    msg += " ";
    for (size_t i = 0; i < entries.size(); ++i) msg += (i ? ", " : "") + entries[i];
    msg += ".";
  }
  if (!postFilterMessage.empty()) msg += " " + postFilterMessage + ".";
  return msg;
}

}  // namespace nave::scheduler
