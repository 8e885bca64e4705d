// IngressStatusController (kube-controller-manager group): writes status.loadBalancer.ingress
// of every Ingress the nave ingress controller serves: the InternalIPs of the Ready nodes,
// sorted, since every node's agent proxies ports 80 and 443 (as k3s' Traefik behind ServiceLB
// reports). `kubectl get ingress` shows them as ADDRESS.
#pragma once

#include "server/controllers/controller.h"

namespace nave::ingress {

class IngressStatusController final : public controllers::Controller {
 public:
  explicit IngressStatusController(controllers::ControllerContext& ctx);
  ~IngressStatusController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<controllers::Reconciled> reconcile(const std::string& key);
  void enqueueAll();

  controllers::ControllerContext& ctx_;
  controllers::Informer& ingresses_;
  controllers::Informer& classes_;
  controllers::Informer& nodes_;
  controllers::WorkQueue queue_;
  controllers::Workers workers_;
};

}  // namespace nave::ingress
