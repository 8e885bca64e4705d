// NetworkPolicyEnforcer: a node's enforcement of networking.k8s.io/v1 NetworkPolicies for the
// pods running on it (what kube-router's network policy controller does in k3s), with nftables.
// It follows pods, namespaces and NetworkPolicies through the agent's shared informers,
// computes what the policies mean for this node's pods (ruleset.h: the semantics) after every
// batch of changes, and brings the table `inet nave-netpol` (netpol_table.h: the layout) to it
// in one transaction; the first time, it replaces the whole table.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "server/controllers/informer_factory.h"

namespace nave::network::netpol {

struct NetworkPolicyOptions {
  std::string nodeName;  // whose pods are enforced for
};

class NetworkPolicyEnforcer {
 public:
  // Works in the calling thread's network namespace (the node's): turns on
  // net.bridge.bridge-nf-call-iptables there (traffic between two pods of the node is bridged,
  // and crosses the forward hook only so), opens nftables, registers with the factory's pods,
  // namespaces and networkpolicies informers (call it before the factory starts them) and starts
  // the worker, which programs the table once they have listed. Errors: kUnavailable, or the
  // kernel's, when nftables cannot be used.
  static Result<std::unique_ptr<NetworkPolicyEnforcer>> start(
      controllers::InformerFactory& informers, NetworkPolicyOptions options);
  virtual ~NetworkPolicyEnforcer() = default;

  // Stops the worker and waits for it. The table stays: the pods stay isolated while the agent
  // is away, and the next agent replaces it. Idempotent.
  virtual void stop() = 0;
  // Stops, then deletes the table (uninstall; tests).
  virtual Result<void> uninstall() = 0;
};

}  // namespace nave::network::netpol
