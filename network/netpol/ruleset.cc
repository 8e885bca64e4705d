#include "network/netpol/ruleset.h"

#include <algorithm>
#include <cstdio>

namespace nave::network::netpol {

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf + 16 - digits);
}

// Set names: "in_NS/NAME_RULE" and "out_NS/NAME_RULE[_PORT]" ('_' is in no Kubernetes name, so
// they cannot collide, and nft reads them as identifiers), shortened with a hash past what
// nftables allows (255 bytes).
std::string setName(const PolicyInfo& p, bool ingress, size_t rule, std::string_view port = {}) {
  std::string name = std::string(ingress ? "in_" : "out_") + p.ns + "/" + p.name + "_" +
                     std::to_string(rule) + (port.empty() ? "" : "_") + std::string(port);
  constexpr size_t kMax = 200;
  if (name.size() > kMax) name = name.substr(0, kMax - 17) + "_" + hex(fnv1a(name), 16);
  return name;
}

const char* protocolName(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_SCTP:
      return "sctp";
  }
  return "?";
}

// Sorted, with overlapping and adjacent ranges merged: the form an interval set takes them in.
std::vector<AddressRange> normalized(std::vector<AddressRange> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<AddressRange> out;
  for (const AddressRange& r : ranges) {
    if (!out.empty() &&
        (out.back().last.value == UINT32_MAX || r.first.value <= out.back().last.value + 1)) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

// One computation: indexes over the state, memos, and the ruleset built so far.
class Computation {
 public:
  Computation(const ClusterState& state, std::string_view nodeName)
      : state_(state), nodeName_(nodeName) {
    // Pods with the same labels (a workload's replicas) share a label id, so that a selector
    // is matched against each distinct label set once.
    std::map<Json, uint32_t> labelIds;
    for (const auto& [key, pod] : state.pods) {
      if (!pod.actionable()) continue;
      auto id = labelIds.try_emplace(pod.labels, static_cast<uint32_t>(labelIds.size())).first;
      podsByNamespace_[pod.ns].push_back(static_cast<uint32_t>(pods_.size()));
      pods_.push_back(&pod);
      labelsOf_.push_back(id->second);
    }
    labelSets_ = labelIds.size();
    seen_.assign(pods_.size(), 0);
    for (const auto& [key, policy] : state.policies)
      policiesByNamespace_[policy.ns].push_back(&policy);
  }

  Ruleset run() {
    for (uint32_t i = 0; i < pods_.size(); ++i) {
      const PodInfo& pod = *pods_[i];
      if (pod.nodeName != nodeName_) continue;
      std::vector<const PolicyInfo*> ingress, egress;
      for (const PolicyInfo* policy : policiesByNamespace_[pod.ns]) {
        if (!selects(policy->podSelector, memoOf(policy->podSelector), i)) continue;
        if (policy->ingress) ingress.push_back(policy);
        if (policy->egress) egress.push_back(policy);
      }
      if (!ingress.empty()) out_.ingressPods[*pod.ip] = addChain(ingressChain(pod, ingress));
      if (!egress.empty()) out_.egressPods[*pod.ip] = addChain(egressChain(egress));
    }
    return std::move(out_);
  }

 private:
  // A selector's matches so far, by label set id (-1: not known yet).
  std::vector<int8_t>& memoOf(const selectors::LabelSelector& selector) {
    auto& memo = matches_[&selector];
    if (memo.empty()) memo.assign(labelSets_, -1);
    return memo;
  }

  bool selects(const selectors::LabelSelector& selector, std::vector<int8_t>& memo, uint32_t pod) {
    int8_t& m = memo[labelsOf_[pod]];
    if (m < 0) m = selector.matches(pods_[pod]->labels) ? 1 : 0;
    return m == 1;
  }

  const Json& namespaceLabels(const std::string& ns) {
    auto it = state_.namespaces.find(ns);
    if (it != state_.namespaces.end()) return it->second.labels;
    // Pods may be seen before their namespace: it has at least its name label.
    auto [unknown, added] = unknownNamespaces_.try_emplace(ns);
    if (added) unknown->second = Json{{"kubernetes.io/metadata.name", ns}};
    return unknown->second;
  }

  // The pods a rule's pod peers match, each once.
  const std::vector<uint32_t>& peerPods(const PolicyInfo& policy, const PolicyRule& rule) {
    auto [it, added] = peerPods_.try_emplace(&rule);
    if (!added) return it->second;
    std::vector<uint32_t>& out = it->second;
    ++generation_;
    for (const PolicyPeer& peer : rule.peers) {
      if (peer.isBlock) continue;
      std::vector<int8_t>* memo = peer.pods ? &memoOf(*peer.pods) : nullptr;
      auto consider = [&](uint32_t pod) {
        if (seen_[pod] != generation_ && (!memo || selects(*peer.pods, *memo, pod))) {
          seen_[pod] = generation_;
          out.push_back(pod);
        }
      };
      if (!peer.namespaces) {
        for (uint32_t pod : podsByNamespace_[policy.ns]) consider(pod);
        continue;
      }
      for (const auto& [ns, pods] : podsByNamespace_) {
        if (!peer.namespaces->matches(namespaceLabels(ns))) continue;
        for (uint32_t pod : pods) consider(pod);
      }
    }
    return out;
  }

  // The set of a rule's peers: its pods' addresses and its ipBlocks' ranges.
  std::string peerSet(const PolicyInfo& policy, const PolicyRule& rule, bool ingress,
                      size_t index) {
    std::string name = setName(policy, ingress, index);
    if (out_.peerSets.contains(name)) return name;
    std::vector<AddressRange> ranges;
    for (const PolicyPeer& peer : rule.peers)
      if (peer.isBlock) ranges.insert(ranges.end(), peer.block.begin(), peer.block.end());
    for (uint32_t pod : peerPods(policy, rule))
      ranges.push_back({*pods_[pod]->ip, *pods_[pod]->ip});
    out_.peerSets[name] = normalized(std::move(ranges));
    return name;
  }

  // The set of an egress rule's destinations of a named port: each peer pod (every pod when the
  // rule has no peers) that has a container port of that name and protocol, with its number.
  std::string portSet(const PolicyInfo& policy, const PolicyRule& rule, size_t index,
                      size_t portIndex) {
    std::string name = setName(policy, false, index, std::to_string(portIndex));
    if (out_.portSets.contains(name)) return name;
    const PolicyPort& port = rule.ports[portIndex];
    auto& elements = out_.portSets[name];
    auto add = [&](const PodInfo& pod) {
      for (const ContainerPort& cp : pod.ports)
        if (cp.name == port.name && cp.protocol == port.protocol)
          elements.insert({*pod.ip, cp.port});
    };
    if (rule.peers.empty()) {
      for (const PodInfo* pod : pods_) add(*pod);
    } else {
      for (uint32_t pod : peerPods(policy, rule)) add(*pods_[pod]);
    }
    return name;
  }

  static void add(PodChain& chain, AllowRule rule) {
    if (std::find(chain.rules.begin(), chain.rules.end(), rule) == chain.rules.end())
      chain.rules.push_back(std::move(rule));
  }

  PodChain ingressChain(const PodInfo& pod, const std::vector<const PolicyInfo*>& policies) {
    PodChain chain{true, {}};
    for (const PolicyInfo* policy : policies) {
      for (size_t i = 0; i < policy->ingressRules.size(); ++i) {
        const PolicyRule& rule = policy->ingressRules[i];
        std::string peers = rule.peers.empty() ? "" : peerSet(*policy, rule, true, i);
        if (rule.ports.empty()) add(chain, {peers, "", 0, 0, 0});
        for (const PolicyPort& port : rule.ports) {
          if (port.name.empty()) {
            add(chain, {peers, "", port.protocol, port.port, port.endPort});
            continue;
          }
          // A named port means the selected pod's own port of that name.
          for (const ContainerPort& cp : pod.ports)
            if (cp.name == port.name && cp.protocol == port.protocol)
              add(chain, {peers, "", port.protocol, cp.port, cp.port});
        }
      }
    }
    return chain;
  }

  PodChain egressChain(const std::vector<const PolicyInfo*>& policies) {
    PodChain chain{false, {}};
    for (const PolicyInfo* policy : policies) {
      for (size_t i = 0; i < policy->egressRules.size(); ++i) {
        const PolicyRule& rule = policy->egressRules[i];
        std::string peers = rule.peers.empty() ? "" : peerSet(*policy, rule, false, i);
        if (rule.ports.empty()) add(chain, {peers, "", 0, 0, 0});
        for (size_t j = 0; j < rule.ports.size(); ++j) {
          const PolicyPort& port = rule.ports[j];
          if (port.name.empty())
            add(chain, {peers, "", port.protocol, port.port, port.endPort});
          else
            add(chain, {"", portSet(*policy, rule, i, j), port.protocol, 0, 0});
        }
      }
    }
    return chain;
  }

  // Names the chain after a hash of its rules, so that pods with the same rules share it.
  std::string addChain(PodChain chain) {
    auto [known, added] = chainNames_.try_emplace(chain);
    if (!added) return known->second;
    known->second = nameChain(std::move(chain));
    return known->second;
  }

  std::string nameChain(PodChain chain) {
    std::string text;
    for (const AllowRule& r : chain.rules) text += renderRule(r, chain.ingress) + "\n";
    uint64_t h = fnv1a(text);
    for (;; ++h) {  // a different chain of the same name: the next hash
      std::string name = (chain.ingress ? "in-" : "out-") + hex(h, 12);
      auto [it, added] = out_.chains.try_emplace(name, chain);
      if (added || it->second == chain) return name;
    }
  }

  const ClusterState& state_;
  std::string nodeName_;
  // Actionable pods, in key order; they are named by their index here.
  std::vector<const PodInfo*> pods_;
  std::vector<uint32_t> labelsOf_;  // a pod's label set id
  size_t labelSets_ = 0;
  std::map<std::string, std::vector<uint32_t>> podsByNamespace_;
  std::map<const selectors::LabelSelector*, std::vector<int8_t>> matches_;  // by label set id
  std::map<const PolicyRule*, std::vector<uint32_t>> peerPods_;
  std::vector<uint32_t> seen_;  // == generation_: seen by the current peerPods()
  uint32_t generation_ = 0;
  std::map<PodChain, std::string> chainNames_;
  std::map<std::string, std::vector<const PolicyInfo*>> policiesByNamespace_;
  std::map<std::string, Json> unknownNamespaces_;
  Ruleset out_;
};

}  // namespace

Ruleset computeRuleset(const ClusterState& state, std::string_view nodeName) {
  return Computation(state, nodeName).run();
}

std::string renderRule(const AllowRule& rule, bool ingress) {
  std::string s;
  if (!rule.peerSet.empty()) s += (ingress ? "ip saddr @" : "ip daddr @") + rule.peerSet + " ";
  if (rule.protocol != 0) s += std::string("meta l4proto ") + protocolName(rule.protocol) + " ";
  if (!rule.peerPortSet.empty()) s += "ip daddr . th dport @" + rule.peerPortSet + " ";
  if (rule.firstPort != 0) {
    s += "th dport " + std::to_string(rule.firstPort);
    if (rule.lastPort != rule.firstPort) s += "-" + std::to_string(rule.lastPort);
    s += " ";
  }
  return s + "accept";
}

}  // namespace nave::network::netpol
