// ResourceQuotaController: keeps a ResourceQuota's status (hard = spec.hard, used for each of
// its keys) current as objects of its namespace come and go (kube-controller-manager's
// resourcequota controller). Admission (server/api/limits_admission.cc) enforces the limits
// on create from the same arithmetic (server/api/quota.h).
#pragma once

#include "server/controllers/controller.h"

namespace nave::controllers {

class ResourceQuotaController final : public Controller {
 public:
  explicit ResourceQuotaController(ControllerContext& ctx);
  ~ResourceQuotaController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& key);

  ControllerContext& ctx_;
  Informer& quotas_;
  std::vector<std::pair<client::Resource, Informer*>> counted_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
