// Flannel: the node's part that keeps routes to the other nodes' pods (k3s runs flannel with
// its Kubernetes subnet manager for this). It watches the Nodes through the agent's shared
// informer, programs the Backend from their leases (their spec.podCIDR and flannel
// annotations), and keeps this node's own flannel annotations on its Node, which is how the
// other nodes learn its public IP and, with vxlan, its VtepMAC.
//
// Level-triggered: any change to a lease, and start(), queue one full sync of every lease
// (the Backend writes only what differs); the annotations are patched when the Node lacks
// them. A single worker; failures are retried with backoff.
#pragma once

#include <string>

#include "network/flannel/backend.h"
#include "server/client/client.h"
#include "server/controllers/controller.h"
#include "server/controllers/informer_factory.h"

namespace nave::network::flannel {

class Flannel {
 public:
  // Asks `informers` for the Nodes informer: construct before the factory starts. `backend`
  // outlives this object.
  Flannel(client::Client& client, controllers::InformerFactory& informers, Backend& backend,
          std::string nodeName);
  ~Flannel() { stop(); }

  // Once the informers have listed: annotates the Node and syncs the routes, then follows
  // changes.
  void start();
  void stop() { workers_.stop(); }

 private:
  Result<controllers::Reconciled> reconcile(const std::string& key);

  client::Client& client_;
  Backend& backend_;
  const std::string nodeName_;
  const Json annotations_;
  controllers::Informer& nodes_;
  controllers::WorkQueue queue_;
  controllers::Workers workers_;
};

}  // namespace nave::network::flannel
