// EndpointSliceController: the discovery.k8s.io/v1 EndpointSlices of every Service with a
// selector (kube-controller-manager's endpointslice controller).
//
// Each selected pod with an IPv4 address becomes an endpoint with conditions ready (Ready and
// not terminating, or publishNotReadyAddresses), serving (Ready) and terminating; its
// nodeName, its node's topology.kubernetes.io/zone, its hostname when the pod's subdomain is
// the Service, and a targetRef. Endpoints are grouped by their resolved ports, each group in
// slices of at most 100 endpoints named SERVICE-xxxxx, labelled kubernetes.io/service-name
// and endpointslice.kubernetes.io/managed-by, owned by the Service. Slices are updated in
// place (an endpoint stays in the slice it is in), filled before new ones are created; a
// Service with no endpoints keeps one empty placeholder slice; an ExternalName Service none.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "server/controllers/controller.h"
#include "server/controllers/endpoints/endpoint_util.h"

namespace nave::controllers {

class EndpointSliceController final : public Controller {
 public:
  static constexpr size_t kMaxEndpointsPerSlice = 100;

  explicit EndpointSliceController(ControllerContext& ctx);
  ~EndpointSliceController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& key);
  Json newSlice(const Json& service, const Json& ports) const;
  // Whether the informer shows the slices this controller created and deleted for the Service
  // (else a sync would work from a stale view and create duplicates: client-go's expectations).
  bool informerCaughtUp(const std::string& key, const std::vector<Json>& slices);

  ControllerContext& ctx_;
  Informer& services_;
  Informer& pods_;
  Informer& nodes_;
  Informer& slices_;
  endpoints::TriggerTimes triggerTimes_;
  struct Expected {
    std::set<std::string> created, deleted;  // slice names
    std::chrono::steady_clock::time_point since;
  };
  std::mutex mu_;
  std::map<std::string, Expected> expected_;  // by Service key; guarded by mu_
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
