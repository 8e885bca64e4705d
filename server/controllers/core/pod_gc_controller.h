// PodGcController: removes pods nobody else will (kube-controller-manager's podgc):
// - terminated pods (Succeeded, Failed) beyond a threshold, oldest first (Kubernetes' default
//   --terminated-pod-gc-threshold is 12500);
// - pods bound to a node that does not exist (confirmed by a live read) and has not appeared
//   for a quarantine (40 s, as Kubernetes), force-deleted;
// - pods being deleted that were never scheduled (no kubelet will finish them), force-deleted.
#pragma once

#include <map>
#include <mutex>

#include "server/controllers/controller.h"

namespace nave::controllers {

class PodGcController final : public Controller {
 public:
  explicit PodGcController(ControllerContext& ctx, size_t terminatedThreshold = 12500,
                           std::chrono::milliseconds quarantine = std::chrono::seconds(40));
  ~PodGcController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& key);
  Result<void> forceDelete(const Json& pod, const std::string& why);

  ControllerContext& ctx_;
  size_t threshold_;
  std::chrono::milliseconds quarantine_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> missingSince_;  // node -> first seen missing
  Informer& pods_;
  Informer& nodes_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
