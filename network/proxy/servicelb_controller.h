// ServiceLbController: k3s' ServiceLB without its per-service DaemonSet. A LoadBalancer
// Service without spec.loadBalancerClass gets status.loadBalancer.ingress = one
// {ip, ipMode: VIP} per Ready node (the node's ExternalIP when it has one, else its
// InternalIP), kept current as nodes come, go and change readiness. The nodes' service
// proxies route those addresses and the service ports to the service, so each node answers
// on its own address. Off with `--disable servicelb`.
#pragma once

#include "server/controllers/controller.h"

namespace nave::network::proxy {

class ServiceLbController final : public controllers::Controller {
 public:
  explicit ServiceLbController(controllers::ControllerContext& ctx);
  ~ServiceLbController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<controllers::Reconciled> reconcile(const std::string& key);
  Json ingress() const;  // for the nodes as they are now

  controllers::ControllerContext& ctx_;
  controllers::Informer& services_;
  controllers::Informer& nodes_;
  controllers::WorkQueue queue_;
  controllers::Workers workers_;
};

}  // namespace nave::network::proxy
