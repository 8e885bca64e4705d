// HorizontalPodAutoscalerController (autoscaling/v2): keeps a target's replicas within
// minReplicas..maxReplicas through its scale subresource, and computes replicas from metrics.
//
// No node publishes resource usage yet (no metrics API), so, as Kubernetes without
// metrics-server, an HPA with metrics reports AbleToScale=True (SucceededGetScale) and
// ScalingActive=False (FailedGetResourceMetric: "... no metrics returned from resource metrics
// API") with the matching Warning events, and `kubectl get hpa` shows <unknown> targets. It is
// looked at when the HPA or its target changes; there is nothing to poll for until usage is
// published.
#pragma once

#include "server/controllers/controller.h"

namespace nave::controllers {

class HorizontalPodAutoscalerController final : public Controller {
 public:
  explicit HorizontalPodAutoscalerController(ControllerContext& ctx);
  ~HorizontalPodAutoscalerController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& key);

  ControllerContext& ctx_;
  Informer& hpas_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
