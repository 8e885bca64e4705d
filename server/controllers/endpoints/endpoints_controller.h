// EndpointsController: the Endpoints object of every Service with a selector (kube-controller-
// manager's endpoint controller). Same name as the Service; one subset per distinct set of
// resolved ports (a named targetPort may be a different number on each pod), with the Ready
// pods' addresses (ip, nodeName, hostname, targetRef) and the others' as notReadyAddresses;
// with publishNotReadyAddresses every pod counts as ready, terminating ones included. Services
// without a selector are left to their users (the API server keeps default/kubernetes). Past
// 1000 addresses the list is truncated (ready ones kept first) and the Endpoints annotated
// endpoints.kubernetes.io/over-capacity: truncated; EndpointSlices have no such limit.
#pragma once

#include "server/controllers/controller.h"
#include "server/controllers/endpoints/endpoint_util.h"

namespace nave::controllers {

class EndpointsController final : public Controller {
 public:
  static constexpr size_t kMaxAddresses = 1000;

  explicit EndpointsController(ControllerContext& ctx);
  ~EndpointsController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

  // The subsets for the Service from these pods (of its namespace), packed and sorted.
  static Json desiredSubsets(const Json& service, const std::vector<Json>& pods);
  // Keeps at most kMaxAddresses addresses, ready ones first; true when some were dropped.
  static bool truncateSubsets(Json& subsets);

 private:
  Result<Reconciled> reconcile(const std::string& key);

  ControllerContext& ctx_;
  Informer& services_;
  Informer& pods_;
  Informer& endpoints_;
  endpoints::TriggerTimes triggerTimes_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
